//! Recurrent layers: one time loop with BPTT ([`Recurrent`]) and the cells stepped on it
//! ([`SimpleRnnCell`], [`LstmCell`], [`GruCell`], or a [`Cell`] of your own).

mod backward;
mod cell;
mod config;
mod core;
mod dynamic;
mod forward;
mod grads;
mod gru;
mod impls;
mod lstm;
mod simple;
mod state;
mod trace;
mod workspace;

pub use self::cell::{
    BackwardStep, Cell, CellGrads, CellParams, ForwardStep, Init, ParamGrads, ParamSpec, RecurrentProduct,
    RecurrentProductBackward, Role, SequenceStart, Weights,
};
pub use self::config::RecurrentConfig;
pub use self::core::Recurrent;
pub use self::dynamic::RecurrentLayer;
pub use self::gru::{Gru, GruCell, GruConfig};
pub use self::lstm::{Lstm, LstmCell, LstmConfig};
pub use self::simple::{SimpleRnn, SimpleRnnCell, SimpleRnnConfig};
pub use self::state::State;
pub use self::trace::GradientTrace;
