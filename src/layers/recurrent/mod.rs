//! Recurrent layers: one time loop with BPTT ([`Recurrent`]) and the cells stepped on it
//! ([`SimpleRnnCell`], [`LstmCell`], [`GruCell`]).

mod cell;
mod core;
mod dynamic;
mod gru;
mod lstm;
mod simple;
mod state;
mod trace;

pub use self::cell::{BackwardStep, Cell, ForwardStep, LateKernel, Weights};
pub use self::core::Recurrent;
pub use self::dynamic::RecurrentLayer;
pub use self::gru::{Gru, GruCell, GruConfig};
pub use self::lstm::{Lstm, LstmCell, LstmConfig};
pub use self::simple::{SimpleRnn, SimpleRnnCell, SimpleRnnConfig};
pub use self::state::State;
pub use self::trace::GradientTrace;
