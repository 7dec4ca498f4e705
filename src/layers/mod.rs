//! Layers: the [`Layer`] trait, [`Dense`], and the recurrent layers built on one time loop.

mod dense;
mod layer;
pub mod recurrent;

pub use dense::{Dense, DenseConfig};
pub use layer::{Layer, Mode, ParamMut, ParamRef, Params};
pub use recurrent::{Cell, Recurrent, SimpleRnn, SimpleRnnCell, SimpleRnnConfig, State, Weights};
