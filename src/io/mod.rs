//! Persistence and interchange: this crate's own model files ([`json`], with the layer kinds
//! they can hold in a [`registry`]) and PyTorch weights in safetensors files ([`torch`]).
//!
//! | want | use |
//! |---|---|
//! | keep a whole [`crate::Sequential`] (architecture, weights, optionally an optimiser's state) and get it back bit for bit | [`json::save`] / [`json::load`] |
//! | the same for any model of this crate, an [`crate::EncoderDecoder`] included | [`model_file::save`] / [`model_file::load`] |
//! | the same for a model holding a cell or layer of your own | [`Registry::register_cell`] / [`Registry::register`], then [`Registry::save`] / [`Registry::load`] |
//! | run a PyTorch `nn.RNN`/`nn.LSTM`/`nn.GRU`/`nn.Linear` here | [`torch::StateDict::load`], then [`torch::import_lstm`] (…) |
//! | hand weights trained here to PyTorch | [`torch::TorchRnn::export`], [`torch::export_linear`], [`torch::StateDict::save`] |
//! | deploy a [`crate::Sequential`] to ONNX Runtime, tract, OpenVINO, TensorRT… (feature `onnx`) | `onnx::export` |
//!
//! Both writers are atomic: they write a temporary file in the target's folder and rename it
//! over the target, so a failure part-way (a full disk, a serialisation error, a crash)
//! leaves any previous file as it was. Both readers check everything before they build a
//! layer and return an [`crate::Error`] (never a panic) for any file, however malformed.
//! `docs/interop.md` gives the file format and the PyTorch mapping table.

mod context;
pub(crate) mod file;
pub mod json;
pub mod model_file;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod registry;
pub mod torch;

pub use registry::{ParamShapes, Persist, Registry};
