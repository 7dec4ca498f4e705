//! # recurrent
//!
//! Recurrent neural networks in Rust, from the lecture "Introduction to RNNs" to models you
//! train: a [`Layer`] trait with backpropagation through time, the RNN family ([`SimpleRnn`],
//! [`Lstm`], [`Gru`]) on one recurrent core, [`Bidirectional`], [`Dense`], [`Embedding`] and
//! [`Masking`] layers, [activations](Activation), [losses](loss), [optimisers](optim) ([`Sgd`],
//! [`Adam`], [`AdamW`], [`RmsProp`]) with gradient clipping, and a [`Sequential`] model with
//! Keras-style `fit`,
//! generic over `f32` and `f64` and built on `ndarray`. The forward values and gradients of
//! SimpleRNN, LSTM, GRU (PyTorch's formulation), Dense, the activations, the losses and the
//! optimisers are checked against PyTorch (float64) in the test suite; Cho's GRU,
//! `Bidirectional`'s gradients and non-concat merges, `Embedding`, `Masking` and MAE are
//! checked by finite differences or a naive reference instead; and each recurrent layer
//! reports how its gradient fades over time ([`GradientTrace`]).
//!
//! The crate is open: a [`Cell`] written outside it gets the same time loop, masks, states,
//! dropout and threads as the built-in ones, and [`gradcheck`] checks any layer or model by
//! finite differences.
//!
//! ## The lecture's model in a minute
//!
//! Forecast the next value of a noisy sine wave from the 5 values before it, with a
//! SimpleRNN of 3 units and a Dense output:
//!
//! ```
//! use recurrent::prelude::*;
//! use recurrent::rand::Rng;
//!
//! // x_i = sin(0.2 i) + noise drawn uniformly from [−0.1, 0.1) with a fixed seed, cut into
//! // windows of 5 → X (15, 5, 1), y (15, 1).
//! let mut noise = StdRng::seed_from_u64(0);
//! let series: Vec<f64> = (0..20).map(|i| (0.2 * i as f64).sin() + noise.random_range(-0.1..0.1)).collect();
//! let (x, y) = recurrent::data::windows(&series, 5)?;
//!
//! let mut rng = StdRng::seed_from_u64(42);
//! let mut model = Sequential::new(&[5, 1])?;
//! model.add(SimpleRnnConfig::new(1, 3).init(&mut rng)?)?; // 3·(1 + 3 + 1) = 15 parameters
//! model.add(DenseConfig::new(3, 1).init(&mut rng)?)?;     // 3 + 1 = 4 parameters
//! println!("{}", model.summary());
//!
//! let mut sgd = Sgd::new(0.1);
//! let first = model.train_step(&x, &y, &Mse, &mut sgd)?;
//! let mut last = first;
//! for _ in 0..200 {
//!     last = model.train_step(&x, &y, &Mse, &mut sgd)?;
//! }
//! assert!(last < first);
//! let fitted = model.predict(&x)?; // (15, 1): one prediction per window
//! assert_eq!(fitted.shape(), &[15, 1]);
//!
//! // Forecast the unseen 21st value from the last 5 known ones (`recurrent::ndarray` is the
//! // ndarray this crate is built on, so no second dependency is needed).
//! let last = recurrent::ndarray::Array3::from_shape_fn((1, 5, 1), |(_, j, _)| series[15 + j]);
//! let next = model.predict(&last)?; // (1, 1)
//! assert_eq!(next.shape(), &[1, 1]);
//! # Ok::<(), recurrent::Error>(())
//! ```
//!
//! ## Where things are
//!
//! | module | what |
//! |---|---|
//! | [`layers`] | the [`Layer`] trait, [`Dense`], [`Embedding`], the recurrent loop [`Recurrent`] with its cells (SimpleRNN, LSTM, GRU), [`Bidirectional`] |
//! | [`activation`] | [`Activation`]: linear, tanh, sigmoid, relu, softmax |
//! | [`loss`] | [`Loss`]: MSE, MAE, binary and categorical cross-entropy (on probabilities or logits) |
//! | [`optim`] | [`Optimizer`]; [`Sgd`] (momentum, Nesterov), [`Adam`], [`AdamW`], [`RmsProp`] as PyTorch computes them; [`clip_grad_norm`], [`clip_grad_value`], [`GradientClip`] |
//! | [`model`] | [`Sequential`]: `add`, `forward`, `backward`, `train_step`, `predict`, `summary` |
//! | [`metrics`] | [`Metric`]: accuracy, precision, recall, F1 ([`ConfusionMatrix`]), MSE, MAE, RMSE, R² |
//! | [`data`] | [`data::windows`] for series, [`data::Batches`], [`data::train_val_split`], [`data::one_hot`], [`data::pad_sequences`] with masks |
//! | [`init`] | Glorot-uniform and orthogonal initialisers |
//! | [`io`] | model files ([`io::json`]: save/load a `Sequential`) and PyTorch weights ([`io::torch`]: safetensors both ways) |
//! | `io::onnx` (feature `onnx`) | export a `Sequential` to an ONNX file for ONNX Runtime, tract, OpenVINO, TensorRT… |
//!
//! Shapes are batch-first: sequences are `(B, T, features)`. Every public function checks
//! its arguments and returns [`Error`] naming what was expected and what came; nothing a
//! caller passes in makes the library panic. The guide in `docs/guide.md` teaches RNNs
//! through this crate, and `docs/architecture.md` shows how data flows through it.

#![warn(missing_docs)]

pub mod activation;
pub mod data;
pub mod error;
pub mod float;
pub mod gradcheck;
pub mod init;
pub mod io;
pub mod layers;
pub mod limits;
mod linalg;
pub mod loss;
mod math;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod optim;
mod parallel;
mod random;
mod shape;

pub use activation::Activation;
pub use data::{Batches, Padding, Truncating};
pub use error::{Error, Result};
pub use float::Float;
pub use io::{Persist, Registry};
pub use layers::{
    Bidirectional, Cell, Dense, DenseConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, GradientTrace, Gru,
    GruCell, GruConfig, Layer, Lstm, LstmCell, LstmConfig, Masking, MergeMode, Mode, ParamMut, ParamRef, Params,
    Recurrent, RecurrentLayer, SimpleRnn, SimpleRnnCell, SimpleRnnConfig, SpatialDropout1D, State, Weights,
};
#[doc(hidden)]
pub use linalg::bench as __bench;
pub use loss::{
    BinaryCrossEntropy, CategoricalCrossEntropy, Loss, LossOutput, Mae, Mse, SparseCategoricalCrossEntropy,
};
pub use metrics::{Average, ConfusionMatrix, Metric, ZeroDivision};
pub use model::{
    Callback, Decoding, EarlyStopping, EncoderDecoder, FitConfig, History, Model, ModelExt, ModelOutput, Sequential,
};
pub use optim::{
    clip_grad_norm, clip_grad_value, Adam, AdamW, EpsilonPlacement, GradientClip, Optimizer, RmsProp, Sgd,
};
pub use parallel::{num_threads, set_num_threads};

/// The `rand` crate this crate draws weights with (re-exported so seeds need no version match).
pub use ndarray_rand::rand;

/// The `ndarray` crate this crate is built on, re-exported: every array in its API is one of
/// these, so `recurrent::ndarray::Array3` (or `use recurrent::ndarray::{s, Array2}`) works
/// without adding `ndarray` to a project, and can never be a second, mismatched version.
pub use ndarray;

/// Everything a typical program needs, in one `use recurrent::prelude::*;`.
pub mod prelude {
    pub use crate::activation::Activation;
    pub use crate::data::{Padding, Truncating};
    pub use crate::error::{Error, Result};
    pub use crate::float::Float;
    pub use crate::layers::{
        Bidirectional, Dense, DenseConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, GradientTrace, Gru,
        GruConfig, Layer, Lstm, LstmConfig, Masking, MergeMode, Mode, Params, RecurrentLayer, SimpleRnn,
        SimpleRnnConfig, SpatialDropout1D, State, Weights,
    };
    pub use crate::loss::{BinaryCrossEntropy, CategoricalCrossEntropy, Loss, Mae, Mse, SparseCategoricalCrossEntropy};
    pub use crate::metrics::Metric;
    pub use crate::model::{
        Decoding, EarlyStopping, EncoderDecoder, FitConfig, History, LearningRateScheduler, Model, ModelCheckpoint,
        ModelExt, Sequential,
    };
    pub use crate::optim::{
        Adam, AdamW, CosineAnnealingLR, EpsilonPlacement, ExponentialLR, GradientClip, OneCycleLR, Optimizer,
        ReduceLROnPlateau, RmsProp, Schedule, ScheduleExt, Sgd, StepLR,
    };
    pub use ndarray_rand::rand::rngs::StdRng;
    pub use ndarray_rand::rand::SeedableRng;
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;
