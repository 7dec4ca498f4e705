//! ONNX export (feature `onnx`): a trained [`Sequential`] as an `.onnx` file that ONNX
//! Runtime, tract, OpenVINO, TensorRT and the other ONNX runtimes run.
//!
//! The file is an ONNX model of IR version [`IR_VERSION`] importing opset [`OPSET`] of the
//! default domain, protobuf-encoded with the types generated at build time from ONNX's own
//! schema (`proto/onnx.proto`, vendored). Its graph has one input named [`INPUT`] and one
//! output named [`OUTPUT`], with dynamic batch and time axes (`dim_param` `"batch"` and
//! `"time"`), in the model's dtype (`tensor(float)` for `f32`, `tensor(double)` for `f64`);
//! a model that starts with an [`crate::Embedding`] takes `int64` token ids `(batch, time)`.
//!
//! | layer | ONNX |
//! |---|---|
//! | [`crate::Dense`] | `MatMul` + `Add`, then its activation (`Tanh`, `Sigmoid`, `Relu`, `Softmax` on the last axis); on `(B, F)` and per time step on `(B, T, F)` alike |
//! | [`crate::Embedding`] | `Gather` on the table; with `mask_zero`, the mask `ids ≠ 0` |
//! | [`crate::Masking`] | the mask "any feature ≠ `mask_value`" and `Where` zeroing the masked steps |
//! | SimpleRNN, LSTM, GRU | the native `RNN`, `LSTM`, `GRU` op (weights converted to ONNX's layout and gate order), or a `Scan` running the cell written out in ONNX ops ([`Recurrence`]) |
//! | `go_backwards` | the input flipped along time and read forwards, which gives the crate's processing order (native; with `sequence_lens`, direction `"reverse"` and the output flipped), or a `Scan` reading backwards |
//! | [`crate::Bidirectional`] | direction `"bidirectional"` (one op, both halves); concat, or `Add`, `Mul`, `Add`·0.5 after it |
//! | dropout layers (`Dropout`, `SpatialDropout1D`) and the recurrent `dropout` options | nothing: they act only in training |
//!
//! `docs/interop.md` has the full mapping table (gate orders, weight shapes, biases).
//!
//! # What is refused
//! Each an `Err` naming the layer: a recurrent layer on a cell of your own (there is no ONNX
//! form of an arbitrary cell); a softmax activation inside a recurrent cell; a layer holding
//! an initial state set with `set_initial_state` unless initial states are graph inputs
//! ([`ExportOptions::with_initial_states`]); a stateful model; an empty model; a layer kind
//! this module does not know; non-finite weights. Only a [`Sequential`] can be exported:
//! other models (an encoder–decoder) are not exportable yet.
//!
//! # Masks
//! A mask made by `Masking` or `Embedding { mask_zero }` is computed in the graph from the
//! input. With [`Recurrence::Auto`] (the default) every recurrent layer the mask reaches is a
//! `Scan` whose step keeps the state and outputs zeros at masked steps, exactly as the crate
//! does, for any mask: trailing padding, leading padding or gaps. [`Recurrence::Native`]
//! passes the mask to the native op as `sequence_lens` (the count of real steps per sample),
//! which is exact only for trailing padding (`Padding::Post`); the graph cannot refuse other
//! masks at run time, so use it only for post-padded inputs. tract runs only the first form
//! (it does not implement `sequence_lens`).
//!
//! # Example
//! ```
//! use recurrent::io::onnx;
//! use recurrent::prelude::*;
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let mut model = Sequential::<f32>::new(&[5, 1])?;
//! model.add(LstmConfig::new(1, 4).init(&mut rng)?)?;
//! model.add(DenseConfig::new(4, 1).init(&mut rng)?)?;
//! let path = std::env::temp_dir().join(format!("recurrent-doc-{}.onnx", std::process::id()));
//! onnx::export(&model, &path)?;
//! let bytes = std::fs::read(&path)?;
//! assert_eq!(bytes, onnx::to_bytes(&model, &onnx::ExportOptions::default())?);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod emit;
mod graph;

#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use std::path::Path;

use prost::Message;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::file;
use crate::limits;
use crate::model::Sequential;

/// The opset of the default domain the files import.
pub const OPSET: i64 = 14;

/// The ONNX IR version written (the one that goes with opset 14).
pub const IR_VERSION: i64 = 7;

/// The name of the graph's input.
pub const INPUT: &str = "input";

/// The name of the graph's output.
pub const OUTPUT: &str = "output";

/// How recurrent layers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Recurrence {
    /// The native `RNN`/`LSTM`/`GRU` op where it computes the layer as every runtime
    /// implements it (an `f32` model, the ops' default activations, no mask); a `Scan`
    /// elsewhere (a mask, relu or another activation, `f64`, which ONNX Runtime's CPU
    /// recurrent ops do not implement). Exact everywhere, native where that is safe.
    #[default]
    Auto,
    /// Always the native op: non-default activations (relu, sigmoid, tanh only) go in its
    /// `activations` attribute and a mask becomes `sequence_lens`. What runtimes optimise
    /// best, but exact only where the runtime implements those attributes (tract ignores
    /// `activations` and refuses `sequence_lens`) and only for post-padded masks.
    Native,
    /// Always a `Scan` over the cell written out in ONNX ops: exact for every cell option and
    /// mask in any runtime with `Scan`, but opaque to runtimes that optimise the native ops.
    Scan,
}

/// Options of [`export_with`] and [`to_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ExportOptions {
    /// How recurrent layers are written ([`Recurrence::Auto`] by default).
    pub recurrence: Recurrence,
    /// Whether each recurrent layer gets graph inputs for its initial state (`false`: the
    /// graph starts from zeros). See [`ExportOptions::with_initial_states`].
    pub initial_states: bool,
}

impl ExportOptions {
    /// Sets how recurrent layers are written.
    pub fn with_recurrence(mut self, recurrence: Recurrence) -> Self {
        self.recurrence = recurrence;
        self
    }

    /// With `true`, each recurrent layer named `NAME` (its name with characters other than
    /// ASCII letters, digits and `_` replaced by `_`) gets a graph input `NAME.initial_h`, and
    /// an LSTM also `NAME.initial_c`, of shape `(D, batch, H)` (`D` = 2 for a
    /// `Bidirectional`, index 0 the half that reads forwards), which the runtime must then
    /// be given (zeros reproduce the default). ONNX graph inputs cannot be optional with a
    /// dynamic batch, hence an option rather than always-present inputs.
    pub fn with_initial_states(mut self, on: bool) -> Self {
        self.initial_states = on;
        self
    }
}

/// The model as the bytes of an `.onnx` file.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the layer for what has no ONNX form (see the module
/// docs); [`Error::NonFinite`] for a NaN or infinite weight; [`Error::TooLarge`] for a model
/// over protobuf's 2 GiB limit.
pub fn to_bytes<F: Float>(model: &Sequential<F>, options: &ExportOptions) -> Result<Vec<u8>> {
    let proto = emit::model(model, options)?;
    graph::check_model(&proto)?;
    let len = proto.encoded_len();
    // Protobuf messages are limited to 2 GiB (larger models need ONNX's external data).
    if len > i32::MAX as usize {
        return Err(Error::too_large("ONNX file (one protobuf message)", format!("{} bytes", i32::MAX), len));
    }
    let mut out = limits::try_with_capacity(len, "ONNX file bytes")?;
    proto
        .encode(&mut out)
        .map_err(|e| Error::format("ONNX file", "a protobuf encoding within the reserved buffer", e))?;
    Ok(out)
}

/// Writes the model to `path` as an ONNX file, with [`ExportOptions::default`].
///
/// # Errors
/// As [`export_with`].
pub fn export<F: Float>(model: &Sequential<F>, path: impl AsRef<Path>) -> Result<()> {
    export_with(model, path, &ExportOptions::default())
}

/// Writes the model to `path` as an ONNX file, atomically: a temporary file in the same
/// folder is written, synced and renamed over `path`, so an error leaves an existing file
/// as it was.
///
/// # Errors
/// As [`to_bytes`] (nothing is written then); [`Error::Io`] if the file cannot be written
/// or renamed.
pub fn export_with<F: Float>(model: &Sequential<F>, path: impl AsRef<Path>, options: &ExportOptions) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(model, options)?;
    file::write_atomic(path, |w| w.write_all(&bytes).map_err(|e| file::write_error(path, &e)))
}
