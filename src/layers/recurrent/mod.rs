//! Recurrent layers: one time loop with BPTT ([`Recurrent`]) and the cells stepped on it.

mod cell;
mod core;
mod simple;
mod state;

pub use self::cell::{BackwardStep, Cell, ForwardStep, Weights};
pub use self::core::Recurrent;
pub use self::simple::{SimpleRnn, SimpleRnnCell, SimpleRnnConfig};
pub use self::state::State;
