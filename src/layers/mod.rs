//! Layers: the [`Layer`] trait, [`Dense`], [`Embedding`], [`Dropout`], the recurrent layers
//! built on one time loop, and the [`Bidirectional`] wrapper.

mod bidirectional;
mod dense;
mod dropout;
mod embedding;
mod layer;
mod masking;
pub mod recurrent;

pub use bidirectional::{Bidirectional, MergeMode};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig, SpatialDropout1D};
pub use embedding::{Embedding, EmbeddingConfig};
pub(crate) use layer::{trainable_flags, visit_part};
pub use layer::{Layer, Mode, ParamMut, ParamRef, Params};
pub use masking::Masking;
pub use recurrent::{
    Cell, GradientTrace, Gru, GruCell, GruConfig, Lstm, LstmCell, LstmConfig, Recurrent, RecurrentLayer, SimpleRnn,
    SimpleRnnCell, SimpleRnnConfig, State, Weights,
};
