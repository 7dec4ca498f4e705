//! The [`Cell`] trait: what one time step of a recurrent layer computes, and how to
//! differentiate it. The loop over time and BPTT live in [`super::Recurrent`], once.
//!
//! A cell describes itself: its parameters ([`ParamSpec`]: name, shape, initialiser and the
//! [`Role`] the loop gives it), its state (`h`, plus an optional second part `c` of any width),
//! and how many gate columns `G·H` its input projection has. Per step and for the whole batch
//! at once, the loop hands the cell
//!
//! ```text
//! gx = x_t W_x + b                  (B, G·H)  for all steps by one product before the loop
//! gh = h̃_{t−1} W_h[:, :E] (+ b_h)   (B, E)    the recurrent product, one per step
//! h̃_{t−1} = h_{t−1} ⊙ m_h                     (with recurrent dropout; else h_{t−1} itself)
//! ```
//!
//! * `W_x` is the parameter with [`Role::InputKernel`], `b` the one with [`Role::InputBias`],
//!   `W_h` the one with [`Role::RecurrentKernel`] and `b_h` the one with
//!   [`Role::RecurrentBias`]. The loop forms their gradients with one product each after the
//!   backward loop. Parameters with [`Role::Own`] are the cell's alone: it reads them in its
//!   steps and forms their gradients in [`Cell::backward_params`].
//! * `E` = [`Cell::recurrent_columns`]: how many leading columns of `W_h` the loop multiplies
//!   by `h̃_{t−1}` (all of them by default). The recurrent product is the hook
//!   [`Cell::recurrent_product`], whose default is this packed dense product; a cell with
//!   `E = 0` may do its own recurrent work there (an IndRNN's element-wise `u ⊙ h`), or in
//!   its step.
//! * When [`Cell::separate_recurrent`] is false the loop adds `gh` into the first `E`
//!   columns of `gx` and the cell reads the sum there (SimpleRNN, LSTM). A cell that needs
//!   `gh` on its own (the GRU with `reset_after`, whose candidate multiplies `r ⊙ gh_n`) sets
//!   it and gets both.
//!
//! All buffers are row-major `(B, ·)` slices. A cell may overwrite `gx` during the forward
//! step with whatever its backward step needs (gate activations): the loop keeps `gx` of
//! every step for the backward pass, along with the states and the cell's own per-step
//! [`cache`](ForwardStep::cache).
//!
//! Randomness (a cell's own dropout or zoneout masks) is drawn once per forward pass in
//! [`Cell::begin_sequence`], from the layer's seeded source, for the whole batch on the
//! calling thread, so results do not depend on how many threads run the loop.

use std::fmt::Debug;

use ndarray::{ArrayD, IxDyn};
use ndarray_rand::rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::Mode;
use crate::linalg::{gemm_packed, Mat, MatMut, PackedB};

/// How a parameter starts (Keras's initialisers, drawn from the caller's generator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// All zeros.
    Zeros,
    /// Every element the same value.
    Constant(f64),
    /// `U[−l, l]`, `l = sqrt(6 / (fan_in + fan_out))` for a 2-D `(fan_in, fan_out)` shape
    /// (see [`crate::init::glorot_uniform`]).
    GlorotUniform,
    /// A matrix with orthonormal columns (or rows, if wide), see [`crate::init::orthogonal`].
    Orthogonal,
    /// `U[low, high)`.
    Uniform {
        /// Lower end, included.
        low: f64,
        /// Upper end, excluded.
        high: f64,
    },
    /// A vector of `values.len()` equal blocks, block `k` filled with `values[k]` (the LSTM's
    /// bias with the forget block at 1).
    Blocks(Vec<f64>),
}

impl Init {
    /// Draws a parameter of `shape`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the initialiser does not fit the shape (Glorot and
    /// orthogonal need 2-D, blocks must divide the length); [`Error::TooLarge`] or
    /// [`Error::OutOfMemory`] for a shape that cannot be held.
    pub fn draw<F: Float, R: Rng + ?Sized>(&self, rng: &mut R, shape: &[usize], what: &str) -> Result<ArrayD<F>> {
        let n = crate::limits::elements(format_args!("{what} {shape:?}"), shape)?;
        let two_d = || match shape {
            &[r, c] => Ok((r, c)),
            _ => Err(Error::config(format!("{what} initialiser {self:?}"), "a 2-D shape", format!("{shape:?}"))),
        };
        let data: Vec<F> = match self {
            Init::Zeros => crate::limits::try_vec(n, F::zero(), what)?,
            Init::Constant(v) => crate::limits::try_vec(n, F::of(*v), what)?,
            Init::GlorotUniform => {
                let (r, c) = two_d()?;
                crate::init::glorot_uniform::<F, R>(rng, r, c)?.into_raw_vec_and_offset().0
            }
            Init::Orthogonal => {
                let (r, c) = two_d()?;
                crate::init::orthogonal::<F, R>(rng, r, c)?.into_raw_vec_and_offset().0
            }
            Init::Uniform { low, high } => {
                if !(low.is_finite() && high.is_finite() && low < high) {
                    return Err(Error::config(
                        format!("{what} uniform initialiser"),
                        "finite bounds with low < high",
                        format!("[{low}, {high})"),
                    ));
                }
                let mut v = crate::limits::try_with_capacity(n, what)?;
                v.extend((0..n).map(|_| F::of(low + (high - low) * rng.random::<f64>())));
                v
            }
            Init::Blocks(values) => {
                let k = values.len();
                if shape.len() != 1 || k == 0 || n % k != 0 {
                    return Err(Error::config(
                        format!("{what} block initialiser"),
                        format!("a vector whose length divides into {k} blocks"),
                        format!("{shape:?}"),
                    ));
                }
                let mut v = crate::limits::try_with_capacity(n, what)?;
                for &b in values {
                    v.extend(std::iter::repeat_n(F::of(b), n / k));
                }
                v
            }
        };
        ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::shape(what, format!("{shape:?}"), e.to_string()))
    }
}

/// What the loop does with a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `W_x` `(I, G·H)`: the input projection of every step, one product before the loop.
    /// Every cell has exactly one.
    InputKernel,
    /// `b` `(G·H)`: added to the input projection.
    InputBias,
    /// `W_h` `(H, G·H)`: its first [`Cell::recurrent_columns`] columns multiply `h̃_{t−1}`
    /// each step; the rest are the cell's to use (the original GRU's late candidate block).
    RecurrentKernel,
    /// `b_h` `(E)`: added to the recurrent product (cells with [`Cell::separate_recurrent`]).
    RecurrentBias,
    /// The cell's own: read in its steps, its gradient formed in [`Cell::backward_params`].
    Own,
}

/// One parameter a cell declares: its name (the file format's and the visitor's), shape,
/// initialiser and role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The name, unique within the cell, e.g. `"kernel"`.
    pub name: String,
    /// The shape, computed from the input size and units.
    pub shape: Vec<usize>,
    /// How it starts.
    pub init: Init,
    /// What the loop does with it.
    pub role: Role,
}

impl ParamSpec {
    /// A parameter spec.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, init: Init, role: Role) -> Self {
        ParamSpec { name: name.into(), shape, init, role }
    }
}

/// The values of a cell's parameters, in the order of [`Cell::params`], as flat row-major
/// slices.
#[derive(Debug, Clone, Copy)]
pub struct CellParams<'a, F> {
    values: &'a [&'a [F]],
    /// The recurrent kernel's columns past `E`, packed for the engine (forward: `W_h[:, E:]`;
    /// backward: its transpose), for a cell's own product on them (Cho's GRU).
    late: Option<DenseRecurrent<'a, F>>,
}

impl<'a, F> CellParams<'a, F> {
    pub(crate) fn new(values: &'a [&'a [F]]) -> Self {
        CellParams { values, late: None }
    }

    /// The same parameters with the packed late block of the recurrent kernel.
    pub(crate) fn with_late(self, late: Option<DenseRecurrent<'a, F>>) -> Self {
        CellParams { late, ..self }
    }

    /// Parameter `i` (its index in [`Cell::params`]), row-major; empty if there is none.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [F] {
        self.values.get(i).copied().unwrap_or(&[])
    }
}

impl<'a, F: Copy> CellParams<'a, F> {
    /// The packed late block, when the loop packed one.
    pub(crate) fn late(&self) -> Option<DenseRecurrent<'a, F>> {
        self.late
    }
}

/// The gradient accumulators of a cell's parameters, in the order of [`Cell::params`].
#[derive(Debug)]
pub struct CellGrads<'a, 'b, F> {
    grads: &'a mut [&'b mut [F]],
}

impl<'a, 'b, F> CellGrads<'a, 'b, F> {
    pub(crate) fn new(grads: &'a mut [&'b mut [F]]) -> Self {
        CellGrads { grads }
    }

    /// The accumulated gradient of parameter `i`, row-major; add to it, never overwrite.
    /// Empty if there is none.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut [F] {
        match self.grads.get_mut(i) {
            Some(g) => g,
            None => &mut [],
        }
    }
}

/// What [`Cell::begin_sequence`] sees: called once per forward pass, before the first step,
/// for the whole batch, on the calling thread.
pub struct SequenceStart<'a, F> {
    /// Training or inference.
    pub mode: Mode,
    /// Batch size `B`.
    pub batch: usize,
    /// Time steps `T`.
    pub steps: usize,
    /// Input features `I`.
    pub input_size: usize,
    /// Units `H`.
    pub units: usize,
    /// The layer's seeded random source (a fresh stream for every training pass).
    pub rng: &'a mut dyn RngCore,
    /// `(B, Q)`, `Q` = [`Cell::sequence_width`]: write what the steps should read (masks).
    pub sequence: &'a mut [F],
    /// The parameters.
    pub params: CellParams<'a, F>,
}

impl<F> Debug for SequenceStart<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceStart")
            .field("mode", &self.mode)
            .field("batch", &self.batch)
            .field("steps", &self.steps)
            .field("input_size", &self.input_size)
            .field("units", &self.units)
            .field("sequence_len", &self.sequence.len())
            .finish_non_exhaustive()
    }
}

/// The recurrent product of one step: `out (+)= h̃_{t−1} W_h[:, :E]` for the default dense
/// product, or whatever a cell computes from `h̃_{t−1}` in [`Cell::recurrent_product`].
#[derive(Debug)]
pub struct RecurrentProduct<'a, F> {
    /// Batch size `B` (of this thread's part).
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// `(B, H)`: `h̃_{t−1}`, the previous state as recurrent products see it (with recurrent
    /// dropout applied).
    pub h: &'a [F],
    /// `(B, ·)` rows `stride` apart, `cols` wide: the first `E` columns of `gx` (to add to),
    /// or `gh` for cells with [`Cell::separate_recurrent`] (already holding `b_h`).
    pub out: &'a mut [F],
    /// Elements between the starts of two rows of `out`.
    pub stride: usize,
    /// Columns of `out` (`E`).
    pub cols: usize,
    /// The parameters.
    pub params: CellParams<'a, F>,
    pub(crate) dense: Option<DenseRecurrent<'a, F>>,
}

/// `W_h[:, :E]` as the engine reads it (packed once per pass).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DenseRecurrent<'a, F> {
    pub(crate) raw: Mat<'a, F>,
    pub(crate) packed: &'a PackedB<F>,
}

impl<F: Float> RecurrentProduct<'_, F> {
    /// The default: `out += h̃_{t−1} W_h[:, :E]` through the packed product (nothing when the
    /// cell has no recurrent kernel or `E = 0`).
    ///
    /// # Errors
    /// Only on a crate bug (buffers the loop sized wrongly).
    pub fn dense(self) -> Result<()> {
        match self.dense {
            Some(d) if self.cols > 0 => gemm_packed(
                Mat::new(self.h, self.batch, self.units),
                d.raw,
                d.packed,
                MatMut::strided(self.out, self.batch, self.cols, self.stride),
                true,
            ),
            _ => Ok(()),
        }
    }
}

/// The backward of [`RecurrentProduct`]: `dh += dgh W_h[:, :E]ᵀ` by default.
#[derive(Debug)]
pub struct RecurrentProductBackward<'a, F> {
    /// Batch size `B` (of this thread's part).
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// `(B, ·)` rows `stride` apart, `cols` wide: dL/d(the recurrent product's output).
    pub dout: &'a [F],
    /// Elements between the starts of two rows of `dout`.
    pub stride: usize,
    /// Columns of `dout` (`E`).
    pub cols: usize,
    /// `(B, H)`: add dL/dh̃_{t−1} here.
    pub dh: &'a mut [F],
    /// The parameters.
    pub params: CellParams<'a, F>,
    pub(crate) dense: Option<DenseRecurrent<'a, F>>,
}

impl<F: Float> RecurrentProductBackward<'_, F> {
    /// The default: `dh += dout W_h[:, :E]ᵀ` through the packed product.
    ///
    /// # Errors
    /// Only on a crate bug (buffers the loop sized wrongly).
    pub fn dense(self) -> Result<()> {
        match self.dense {
            Some(d) if self.cols > 0 => gemm_packed(
                Mat::strided(self.dout, self.batch, self.cols, self.stride),
                d.raw,
                d.packed,
                MatMut::new(self.dh, self.batch, self.units),
                true,
            ),
            _ => Ok(()),
        }
    }
}

/// Buffers of one forward step. `B` = batch (of this thread's part), `H` = units,
/// `G` = [`Cell::gates`].
#[derive(Debug)]
pub struct ForwardStep<'a, F> {
    /// Training or inference.
    pub mode: Mode,
    /// Batch size `B`.
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// The step, counted in processing order from 0.
    pub step: usize,
    /// `(B, G·H)`: `x_t W_x + b`, plus the recurrent product on its first `E` columns unless
    /// the cell keeps it separate. The cell may overwrite it with what its backward step needs.
    pub gx: &'a mut [F],
    /// `(B, E)`: `h̃_{t−1} W_h[:, :E] + b_h` for cells with [`Cell::separate_recurrent`];
    /// empty otherwise.
    pub gh: &'a [F],
    /// `(B, H)`: the previous hidden state `h_{t−1}`.
    pub h_prev: &'a [F],
    /// `(B, H)`: `h̃_{t−1} = h_{t−1} ⊙ m_h`, the previous state as recurrent products see it
    /// (equal to `h_prev` without recurrent dropout). A cell with a product of its own on the
    /// previous state (the original GRU's `(r ⊙ h̃) W_hn`) reads this one.
    pub h_rec: &'a [F],
    /// `(B, H)`: the recurrent dropout mask `m_h` (already scaled by `1/(1−p)`); empty without
    /// recurrent dropout.
    pub rec_mask: &'a [F],
    /// `(B, S)`: the previous second state part (LSTM's `c`); empty for cells without one.
    pub c_prev: &'a [F],
    /// `(B, H)`: the new hidden state, written by the cell.
    pub h: &'a mut [F],
    /// `(B, S)`: the new second state part, written by the cell (empty without one).
    pub c: &'a mut [F],
    /// `(B, W)`: per-step values kept for backward, `W` = [`Cell::cache_width`].
    pub cache: &'a mut [F],
    /// `(B, K)`: scratch not kept, `K` = [`Cell::scratch_width`].
    pub scratch: &'a mut [F],
    /// `(B, Q)`: what [`Cell::begin_sequence`] wrote for these sequences.
    pub sequence: &'a [F],
    /// The parameters.
    pub params: CellParams<'a, F>,
}

/// Buffers of one backward step. Everything the forward step saw or wrote is readable.
#[derive(Debug)]
pub struct BackwardStep<'a, F> {
    /// Batch size `B`.
    pub batch: usize,
    /// Units `H`.
    pub units: usize,
    /// The step, counted in processing order from 0.
    pub step: usize,
    /// `(B, G·H)`: `gx` as the forward step left it.
    pub gx: &'a [F],
    /// `(B, H)`: `h_{t−1}`.
    pub h_prev: &'a [F],
    /// `(B, H)`: `h̃_{t−1}` (see [`ForwardStep::h_rec`]).
    pub h_rec: &'a [F],
    /// `(B, H)`: the recurrent dropout mask; empty without recurrent dropout. A cell that
    /// used `h_rec` itself multiplies the gradient it sends back through it by this mask.
    pub rec_mask: &'a [F],
    /// `(B, S)`: `c_{t−1}` (empty for cells without a second state part).
    pub c_prev: &'a [F],
    /// `(B, H)`: `h_t`.
    pub h: &'a [F],
    /// `(B, S)`: `c_t` (empty without one).
    pub c: &'a [F],
    /// `(B, W)`: the step's cache as the forward step left it.
    pub cache: &'a [F],
    /// `(B, Q)`: what [`Cell::begin_sequence`] wrote.
    pub sequence: &'a [F],
    /// The parameters.
    pub params: CellParams<'a, F>,
    /// `(B, H)`: dL/dh_t, all of it (from the output and from step t+1). The cell may
    /// overwrite it.
    pub dh: &'a mut [F],
    /// `(B, S)`: dL/dc_t carried from step t+1 (empty without a second state part).
    pub dc: &'a [F],
    /// `(B, G·H)`: the cell writes dL/dgx.
    pub dgx: &'a mut [F],
    /// `(B, E)`: the cell writes dL/dgh when [`Cell::separate_recurrent`]; else empty (the
    /// loop uses the first `E` columns of `dgx`, which equal it).
    pub dgh: &'a mut [F],
    /// `(B, H)`: the cell writes the part of dL/dh_{t−1} that does not go through the
    /// recurrent product (the GRU's `z ⊙ dh`); the loop adds the product's part.
    pub dh_prev: &'a mut [F],
    /// `(B, S)`: the cell writes dL/dc_{t−1} (empty without a second state part).
    pub dc_prev: &'a mut [F],
    /// `(B, D)`: per-step values the cell keeps for [`Cell::backward_params`],
    /// `D` = [`Cell::grad_cache_width`].
    pub dcache: &'a mut [F],
    /// `(B, K)`: scratch not kept, `K` = [`Cell::scratch_width`].
    pub scratch: &'a mut [F],
}

/// Everything one thread's part of the batch left after the backward loop, for
/// [`Cell::backward_params`]. Rows are time-major: row `t·B + b` is sample `b` at step `t`
/// (in processing order), `R = T·B` rows in all.
#[derive(Debug)]
pub struct ParamGrads<'a, 'b, F> {
    /// Samples `B` in this part.
    pub batch: usize,
    /// Steps `T`.
    pub steps: usize,
    /// Input features `I`.
    pub input_size: usize,
    /// Units `H`.
    pub units: usize,
    /// `(R, I)`: the inputs as the input kernel saw them (after input dropout).
    pub xs: &'a [F],
    /// `((T+1)·B, H)`: `h_0 … h_T`; the first `R` rows are each row's `h_{t−1}`.
    pub hs: &'a [F],
    /// `(R, H)`: each row's `h̃_{t−1}` (the first `R` rows of `hs` without recurrent dropout).
    pub h_rec: &'a [F],
    /// `((T+1)·B, S)`: `c_0 … c_T` (empty without a second state part).
    pub cs: &'a [F],
    /// `(R, G·H)`: `gx` as the forward steps left it.
    pub gx: &'a [F],
    /// `(R, W)`: the forward steps' caches.
    pub cache: &'a [F],
    /// `(R, G·H)`: dL/dgx of every step (zero on masked steps).
    pub dgx: &'a [F],
    /// `(R, E)`: dL/dgh (cells with [`Cell::separate_recurrent`]; else empty).
    pub dgh: &'a [F],
    /// `(R, D)`: what the backward steps kept in `dcache`.
    pub dcache: &'a [F],
    /// `(B, Q)`: what [`Cell::begin_sequence`] wrote.
    pub sequence: &'a [F],
    /// The parameters.
    pub params: CellParams<'a, F>,
    /// The gradient accumulators: add to the ones of the cell's own parameters (and of any
    /// columns of the recurrent kernel beyond `E` the cell used).
    pub grads: CellGrads<'a, 'b, F>,
}

/// The weights of a dense-gated recurrent layer (SimpleRNN, LSTM, GRU), packed by gate: `G`
/// blocks of `H` columns. A convenience view of the parameters with the four loop roles.
///
/// ```text
/// kernel            W_x  (I, G·H)     Role::InputKernel
/// recurrent_kernel  W_h  (H, G·H)     Role::RecurrentKernel
/// bias              b    (G·H)        Role::InputBias: the combined bias of SimpleRNN, LSTM, Cho's GRU
/// recurrent_bias    b_h  (G·H)        Role::RecurrentBias: cells that keep it apart (GRU with reset_after)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Weights<F> {
    /// Input kernel `W_x`, `(I, G·H)`.
    pub kernel: ndarray::Array2<F>,
    /// Recurrent kernel `W_h`, `(H, G·H)`.
    pub recurrent_kernel: ndarray::Array2<F>,
    /// Input bias `b`, `(G·H)`.
    pub bias: ndarray::Array1<F>,
    /// Recurrent bias `b_h`; `None` for cells with one combined bias.
    pub recurrent_bias: Option<ndarray::Array1<F>>,
}

/// One time step of a recurrent layer and its derivative.
///
/// Implemented by [`super::SimpleRnnCell`], [`super::LstmCell`] and [`super::GruCell`], and by
/// any cell written outside the crate: a new cell needs only this trait, not a new time loop.
/// The loop handles batching, masks, `go_backwards`, initial and final states, stateful
/// carry-over, dropout on the inputs and on the recurrent state, the gradient trace and
/// threads. `examples/custom_cell.rs` writes an IndRNN against the public API.
pub trait Cell<F: Float>: Debug + Clone + Send + Sync + 'static {
    /// The layer type as Keras prints it, e.g. `"SimpleRNN"` (the model file's kind).
    fn kind(&self) -> &'static str;

    /// The layer's default name, e.g. `"simple_rnn"`.
    fn default_name(&self) -> &'static str;

    /// Gate blocks `G`: the input projection `gx` has `G·H` columns.
    fn gates(&self) -> usize;

    /// The parameters for `input_size` inputs and `units` units, in visiting (and file) order.
    /// Exactly one has [`Role::InputKernel`] with shape `(I, G·H)`; at most one each of the
    /// other loop roles, with the shapes [`Role`] gives.
    fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec>;

    /// Width `S` of the second state part `c` (`0`: the state is `h` alone; the LSTM: `H`).
    fn cell_state_width(&self, units: usize) -> usize {
        let _ = units;
        0
    }

    /// `E`: leading columns of the [`Role::RecurrentKernel`] the default recurrent product
    /// multiplies by `h̃_{t−1}` (all `G·H` by default; `0` without a recurrent kernel).
    fn recurrent_columns(&self, units: usize) -> usize {
        self.gates() * units
    }

    /// Whether the cell needs `gh` apart from `gx` (with a [`Role::RecurrentBias`]).
    fn separate_recurrent(&self) -> bool {
        false
    }

    /// Scalars per batch row the forward step keeps in its per-step cache.
    fn cache_width(&self, units: usize) -> usize {
        let _ = units;
        0
    }

    /// Scalars per batch row the backward step keeps for [`Cell::backward_params`].
    fn grad_cache_width(&self, units: usize) -> usize {
        let _ = units;
        0
    }

    /// Scalars per batch row of per-step scratch, not kept.
    fn scratch_width(&self, units: usize) -> usize {
        let _ = units;
        0
    }

    /// Scalars per sample that [`Cell::begin_sequence`] writes once per forward pass.
    fn sequence_width(&self, input_size: usize, units: usize) -> usize {
        let _ = (input_size, units);
        0
    }

    /// Called once per forward pass before the first step (draw per-sequence masks here).
    fn begin_sequence(&self, s: SequenceStart<'_, F>) {
        let _ = s;
    }

    /// The recurrent product of one step, before [`Cell::forward_step`]. The default is the
    /// dense product `h̃_{t−1} W_h[:, :E]` ([`RecurrentProduct::dense`]).
    ///
    /// # Errors
    /// Whatever the product returns (only crate bugs for the default).
    fn recurrent_product(&self, p: RecurrentProduct<'_, F>) -> Result<()> {
        p.dense()
    }

    /// The backward of [`Cell::recurrent_product`], after [`Cell::backward_step`]: adds
    /// dL/dh̃_{t−1} to `p.dh`.
    ///
    /// # Errors
    /// Whatever the product returns (only crate bugs for the default).
    fn recurrent_product_backward(&self, p: RecurrentProductBackward<'_, F>) -> Result<()> {
        p.dense()
    }

    /// Computes `h_t` (and `c_t`) for the whole batch.
    fn forward_step(&self, s: ForwardStep<'_, F>);

    /// Backpropagates one step; see [`BackwardStep`] for what it must write.
    fn backward_step(&self, s: BackwardStep<'_, F>);

    /// After the backward loop, once per thread part in order: adds the gradients of the
    /// cell's own parameters (the loop forms those of the four loop roles).
    ///
    /// # Errors
    /// Whatever the cell's products return (only bugs: the loop sized every buffer).
    fn backward_params(&self, p: ParamGrads<'_, '_, F>) -> Result<()> {
        let _ = p;
        Ok(())
    }

    /// A one-line description of the cell's options for `summary()`-style output.
    fn config_summary(&self) -> String {
        String::new()
    }
}
