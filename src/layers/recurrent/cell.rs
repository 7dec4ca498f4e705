//! The [`Cell`] trait: what one time step of a recurrent layer computes, and how to
//! differentiate it. The loop over time and BPTT live in [`super::Recurrent`], once.
//!
//! A cell with `G` gate blocks of `H` units sees, per step and for the whole batch at once:
//!
//! ```text
//! gx = x_t W_x + b                 (B, G·H)   computed for all steps by one GEMM before the loop
//! gh = h_{t−1} W_h[:, :E] (+ b_h)  (B, E)     one GEMM per step, E = (G − L)·H "early" columns
//! ```
//!
//! * When [`Cell::separate_recurrent`] is false the loop adds `gh` into `gx` in place and the
//!   cell reads the sum from `gx` (SimpleRNN, LSTM). Cells that need `gh` on its own (the
//!   GRU with `reset_after`, whose candidate multiplies `r ⊙ gh_n`) set it and get both, and
//!   the layer keeps a recurrent bias `b_h`.
//! * The last [`Cell::late_gates`] = L blocks of `W_h` are not multiplied by `h_{t−1}` but by
//!   a vector `u_t` (B, H) the cell computes during the step (the original GRU's `r ⊙ h_{t−1}`).
//!   The cell stores `u_t` in the first `H` columns of its cache row and calls
//!   [`LateKernel::forward`] for `u_t W_h[:, E:]`; the loop forms that block's weight
//!   gradient from the stored `u_t`.
//!
//! All buffers are row-major `(B, ·)` slices. A cell may overwrite `gx` during the forward
//! step with whatever its backward step needs (gate activations): the loop keeps `gx` of
//! every step for the backward pass.

use std::fmt::Debug;

use ndarray::{Array1, Array2};
use ndarray_rand::rand::Rng;

use crate::error::Result;
use crate::float::Float;
use crate::linalg::{step_gemm, Mat, MatMut};

/// The late blocks of the recurrent kernel, for cells with [`Cell::late_gates`] > 0.
#[derive(Debug, Clone, Copy)]
pub struct LateKernel<'a, F> {
    /// `W_h`, (H, G·H).
    wh: &'a [F],
    /// `W_hᵀ`, (G·H, H); empty in the forward pass.
    wh_t: &'a [F],
    units: usize,
    gates: usize,
    late: usize,
}

impl<'a, F: Float> LateKernel<'a, F> {
    pub(crate) fn new(wh: &'a [F], wh_t: &'a [F], units: usize, gates: usize, late: usize) -> Self {
        LateKernel { wh, wh_t, units, gates, late }
    }

    /// `out (B, L·H) = u (B, H) · W_h[:, E:]`.
    pub fn forward(&self, batch: usize, u: &[F], out: &mut [F]) {
        let (h, gw, lw) = (self.units, self.gates * self.units, self.late * self.units);
        let e = gw - lw;
        step_gemm(
            Mat::new(u, batch, h),
            Mat::strided(self.wh.get(e..).unwrap_or(&[]), h, lw, gw),
            MatMut::new(out, batch, lw),
            false,
        );
    }

    /// `out (B, H) (+)= dgx[:, E:] · W_h[:, E:]ᵀ`, reading the late columns of the whole
    /// `dgx` (B, G·H) (backward pass only).
    pub fn backward(&self, batch: usize, dgx: &[F], out: &mut [F], accumulate: bool) {
        let (h, gw, lw) = (self.units, self.gates * self.units, self.late * self.units);
        let e = gw - lw;
        step_gemm(
            Mat::strided(dgx.get(e..).unwrap_or(&[]), batch, lw, gw),
            Mat::new(self.wh_t.get(e * h..).unwrap_or(&[]), lw, h),
            MatMut::new(out, batch, h),
            accumulate,
        );
    }
}

/// Buffers of one forward step. `B` = batch, `H` = units, `G` = [`Cell::gates`].
#[derive(Debug)]
pub struct ForwardStep<'a, F> {
    /// Batch size `B`.
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// `(B, G·H)`: `x_t W_x + b`, plus `h_{t−1} W_h` on the early columns unless the cell
    /// keeps it separate. The cell may overwrite it with what its backward step needs.
    pub gx: &'a mut [F],
    /// `(B, E)`: `h_{t−1} W_h[:, :E] + b_h` for cells with [`Cell::separate_recurrent`];
    /// empty otherwise.
    pub gh: &'a [F],
    /// `(B, H)`: the previous hidden state.
    pub h_prev: &'a [F],
    /// `(B, H)`: the previous cell state (empty for cells without one).
    pub c_prev: &'a [F],
    /// `(B, H)`: the new hidden state, written by the cell.
    pub h: &'a mut [F],
    /// `(B, H)`: the new cell state, written by the cell (empty for cells without one).
    pub c: &'a mut [F],
    /// `(B, W)`: per-step scratch kept for backward, `W` = [`Cell::cache_width`]. Cells with
    /// late gates store `u_t` in its first `H` columns.
    pub cache: &'a mut [F],
    /// The late blocks of `W_h` (only meaningful with [`Cell::late_gates`] > 0).
    pub late: LateKernel<'a, F>,
    /// `(B, L·H)` scratch for `u_t W_h[:, E:]` (empty without late gates).
    pub late_out: &'a mut [F],
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
    /// `(B, G·H)`: the cell writes dL/dgx (for late blocks: dL/d(u_t W_h[:, E:]), which is the
    /// same quantity).
    pub dgx: &'a mut [F],
    /// `(B, E)`: the cell writes dL/dgh when [`Cell::separate_recurrent`]; else empty (the
    /// loop uses the early columns of `dgx`, which equal it).
    pub dgh: &'a mut [F],
    /// `(B, H)`: the cell writes the part of dL/dh_{t−1} that does not go through `gh`
    /// (the GRU's `z ⊙ dh`, or what flows through `u_t`); the loop adds `dgh · W_h[:, :E]ᵀ`.
    pub dh_prev: &'a mut [F],
    /// `(B, H)`: the cell writes dL/dc_{t−1} (empty for cells without a cell state).
    pub dc_prev: &'a mut [F],
    /// The late blocks of `W_h`, for dL/du_t = dgx_late · W_h[:, E:]ᵀ.
    pub late: LateKernel<'a, F>,
    /// `(B, H)` scratch for dL/du_t (empty without late gates).
    pub late_scratch: &'a mut [F],
}

/// The weights of a recurrent layer, packed by gate: `G` blocks of `H` columns.
///
/// ```text
/// kernel            W_x  (I, G·H)
/// recurrent_kernel  W_h  (H, G·H)
/// bias              b    (G·H)       combined bias for SimpleRNN, LSTM and the original GRU
/// recurrent_bias    b_h  (G·H)       only for cells that keep it apart (GRU with reset_after)
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
/// Implemented by [`super::SimpleRnnCell`], [`super::LstmCell`] and [`super::GruCell`]; a new
/// cell type needs only this trait, not a new time loop.
pub trait Cell<F: Float>: Debug + Clone + Send + Sync + 'static {
    /// Gate blocks `G` (1 for SimpleRNN, 4 for LSTM, 3 for GRU).
    fn gates(&self) -> usize;

    /// Whether the cell carries a cell state `c` besides `h` (the LSTM).
    fn has_cell_state(&self) -> bool {
        false
    }

    /// Whether the cell needs `gh = h W_h + b_h` apart from `gx`; such cells keep a recurrent
    /// bias `b_h`.
    fn separate_recurrent(&self) -> bool {
        false
    }

    /// Trailing gate blocks whose recurrent product takes a cell-computed `u_t` instead of
    /// `h_{t−1}` (see the module docs). `0` for all but the original GRU.
    fn late_gates(&self) -> usize {
        0
    }

    /// The layer type as Keras prints it, e.g. `"SimpleRNN"`.
    fn kind(&self) -> &'static str;

    /// The layer's default name, e.g. `"simple_rnn"`.
    fn default_name(&self) -> &'static str;

    /// Scalars per batch row the forward step keeps in its per-step cache (at least `H` for
    /// cells with late gates).
    fn cache_width(&self, _units: usize) -> usize {
        0
    }

    /// Initial weights for `input_size` inputs and `units` units (Keras's defaults).
    ///
    /// # Errors
    /// [`crate::Error::TooLarge`] for sizes whose element counts overflow or are over
    /// [`crate::limits::MAX_ELEMENTS`]; [`crate::Error::OutOfMemory`] when a weight cannot be
    /// allocated. ([`super::Recurrent::new`] checks the sizes before calling this.)
    fn init_weights<R: Rng + ?Sized>(&self, rng: &mut R, input_size: usize, units: usize) -> Result<Weights<F>>;

    /// Computes `h_t` (and `c_t`) for the whole batch.
    fn forward_step(&self, s: ForwardStep<'_, F>);

    /// Backpropagates one step; see [`BackwardStep`] for what it must write.
    fn backward_step(&self, s: BackwardStep<'_, F>);

    /// A one-line description of the cell's options for `summary()`-style output.
    fn config_summary(&self) -> String {
        String::new()
    }
}
