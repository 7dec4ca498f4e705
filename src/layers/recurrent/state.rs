//! The recurrent state carried between steps: `h`, and `c` for cells that have one.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A recurrent layer's state for a batch: `h` `(B, H)`, and `c` `(B, H)` for the LSTM.
///
/// Used for initial states (given to a forward pass), final states (read after it) and
/// initial-state gradients (read after a backward pass).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: serde::Serialize + serde::de::DeserializeOwned")]
pub struct State<F> {
    /// The hidden state, `(B, H)`.
    pub h: Array2<F>,
    /// The cell state, `(B, H)`; `None` for cells without one (SimpleRNN, GRU).
    pub c: Option<Array2<F>>,
}

impl<F> State<F> {
    /// A state with a hidden part only (SimpleRNN, GRU).
    pub fn new(h: Array2<F>) -> Self {
        State { h, c: None }
    }

    /// A state with hidden and cell parts (LSTM).
    pub fn with_cell(h: Array2<F>, c: Array2<F>) -> Self {
        State { h, c: Some(c) }
    }
}
