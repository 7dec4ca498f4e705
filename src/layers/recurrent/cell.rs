//! The [`Cell`] trait: what one time step of a recurrent layer computes, and how to
//! differentiate it. The loop over time and BPTT live in [`super::Recurrent`], once.
//!
//! A cell with `G` gate blocks of `H` units sees, per step and for the whole batch at once:
//!
//! ```text
//! gx = x_t W_x + b            (B, G·H)   computed for all steps by one GEMM before the loop
//! gh = h_{t−1} W_h (+ b_h)    (B, G·H)   one GEMM per step
//! ```
//!
//! When [`Cell::SEPARATE_RECURRENT`] is false the loop adds `gh` into `gx` in place and the
//! cell reads the sum from `gx` (SimpleRNN, LSTM). Cells that need `gh` on its own (the GRU,
//! whose candidate multiplies `r ⊙ gh_n`) set it to true and get both.
//!
//! All buffers are row-major `(B, ·)` slices. A cell may overwrite `gx` during the forward
//! step with whatever its backward step needs (gate activations): the loop keeps `gx` of
//! every step for the backward pass.

use std::fmt::Debug;

use ndarray::{Array1, Array2};
use ndarray_rand::rand::Rng;

use crate::float::Float;

/// Buffers of one forward step. `B` = batch, `H` = units, `G` = [`Cell::GATES`].
#[derive(Debug)]
pub struct ForwardStep<'a, F> {
    /// Batch size `B`.
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// `(B, G·H)`: `x_t W_x + b`, plus `h_{t−1} W_h` unless the cell keeps it separate. The
    /// cell may overwrite it with what its backward step needs.
    pub gx: &'a mut [F],
    /// `(B, G·H)`: `h_{t−1} W_h + b_h` for cells with [`Cell::SEPARATE_RECURRENT`]; empty
    /// otherwise.
    pub gh: &'a [F],
    /// `(B, H)`: the previous hidden state.
    pub h_prev: &'a [F],
    /// `(B, H)`: the previous cell state (empty for cells without one).
    pub c_prev: &'a [F],
    /// `(B, H)`: the new hidden state, written by the cell.
    pub h: &'a mut [F],
    /// `(B, H)`: the new cell state, written by the cell (empty for cells without one).
    pub c: &'a mut [F],
    /// `(B, W)`: per-step scratch kept for backward, `W` = [`Cell::cache_width`].
    pub cache: &'a mut [F],
}

/// Buffers of one backward step. Everything the forward step saw or wrote is readable.
#[derive(Debug)]
pub struct BackwardStep<'a, F> {
    /// Batch size `B`.
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// `(B, G·H)`: `gx` as the forward step left it.
    pub gx: &'a [F],
    /// `(B, H)`: `h_{t−1}`.
    pub h_prev: &'a [F],
    /// `(B, H)`: `c_{t−1}` (empty for cells without one).
    pub c_prev: &'a [F],
    /// `(B, H)`: `h_t`.
    pub h: &'a [F],
    /// `(B, H)`: `c_t` (empty for cells without one).
    pub c: &'a [F],
    /// `(B, W)`: the step's cache as the forward step left it.
    pub cache: &'a [F],
    /// `(B, H)`: dL/dh_t, all of it (from the output and from step t+1). The cell may
    /// overwrite it.
    pub dh: &'a mut [F],
    /// `(B, H)`: dL/dc_t carried from step t+1 (empty for cells without a cell state).
    pub dc: &'a [F],
    /// `(B, G·H)`: the cell writes dL/dgx.
    pub dgx: &'a mut [F],
    /// `(B, G·H)`: the cell writes dL/dgh when [`Cell::SEPARATE_RECURRENT`]; else empty
    /// (the loop uses `dgx`, which equals it).
    pub dgh: &'a mut [F],
    /// `(B, H)`: the cell writes the part of dL/dh_{t−1} that does not go through `gh`
    /// (for example the GRU's `z ⊙ dh`); the loop adds `dgh · W_hᵀ` to it.
    pub dh_prev: &'a mut [F],
    /// `(B, H)`: the cell writes dL/dc_{t−1} (empty for cells without a cell state).
    pub dc_prev: &'a mut [F],
}

/// The weights of a recurrent layer, packed by gate: `G` blocks of `H` columns.
///
/// ```text
/// kernel            W_x  (I, G·H)
/// recurrent_kernel  W_h  (H, G·H)
/// bias              b    (G·H)       combined bias for SimpleRNN and LSTM
/// recurrent_bias    b_h  (G·H)       only for cells that keep it apart (the GRU)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Weights<F> {
    /// Input kernel `W_x`, `(I, G·H)`.
    pub kernel: Array2<F>,
    /// Recurrent kernel `W_h`, `(H, G·H)`.
    pub recurrent_kernel: Array2<F>,
    /// Input bias `b`, `(G·H)`.
    pub bias: Array1<F>,
    /// Recurrent bias `b_h`, `(G·H)`; `None` for cells with one combined bias.
    pub recurrent_bias: Option<Array1<F>>,
}

/// One time step of a recurrent layer and its derivative.
///
/// Implemented by [`super::SimpleRnnCell`]; a new cell type needs only this trait, not a new
/// time loop.
pub trait Cell<F: Float>: Debug + Clone + Send + Sync + 'static {
    /// Gate blocks `G` (1 for SimpleRNN).
    const GATES: usize;
    /// Whether the cell carries a cell state `c` besides `h` (the LSTM).
    const HAS_CELL_STATE: bool;
    /// Whether the cell needs `gh = h W_h + b_h` apart from `gx` (and keeps a recurrent bias).
    const SEPARATE_RECURRENT: bool;

    /// The layer type as Keras prints it, e.g. `"SimpleRNN"`.
    fn kind(&self) -> &'static str;

    /// The layer's default name, e.g. `"simple_rnn"`.
    fn default_name(&self) -> &'static str;

    /// Scalars per batch row the forward step keeps in its per-step cache.
    fn cache_width(&self, _units: usize) -> usize {
        0
    }

    /// Initial weights for `input_size` inputs and `units` units (Keras's defaults).
    fn init_weights<R: Rng + ?Sized>(&self, rng: &mut R, input_size: usize, units: usize) -> Weights<F>;

    /// Computes `h_t` (and `c_t`) for the whole batch.
    fn forward_step(&self, s: ForwardStep<'_, F>);

    /// Backpropagates one step; see [`BackwardStep`] for what it must write.
    fn backward_step(&self, s: BackwardStep<'_, F>);

    /// A one-line description of the cell's options for `summary()`-style output.
    fn config_summary(&self) -> String {
        String::new()
    }
}
