//! The recurrent layer: the loop over time and backpropagation through time, written once
//! for any [`Cell`].
//!
//! # Forward
//! ```text
//! X  (B, T, I)  →  time-major copy Xs (T·B, I)   (read from T down to 1 with go_backwards)
//! GX = Xs W_x + b                                   one GEMM for all T steps  (T·B, G·H)
//! h_0 = h0 or 0 (c_0 likewise)
//! for t = 1..T:
//!     gh  = h_{t−1} W_h[:, :E] (+ b_h)              one (B,H)·(H,E) product per step
//!     h_t, c_t = cell(GX_t, gh, h_{t−1}, c_{t−1})   element-wise, in place
//! output = [h_1 … h_T] as (B, T, H) if return_sequences, else h_T (B, H)
//! ```
//!
//! # Backward (BPTT)
//! ```text
//! dh = dL/dh_T from outside (return_state), else 0;  dc likewise
//! for t = T..1:
//!     dh += dL/doutput at step t                    (only t = T without return_sequences)
//!     trace[t] = ‖dh‖
//!     dGX_t, dgh_t, dh_prev, dc = cell′(...)        element-wise
//!     dh = dh_prev + dgh_t W_h[:, :E]ᵀ              one product per step
//! dW_x += Xsᵀ dGX ;  dW_h[:, :E] += [h_0 … h_{T−1}]ᵀ dGH ;  db += Σ rows dGX   (one GEMM each)
//! dW_h[:, E:] += [u_1 … u_T]ᵀ dGX[:, E:]            (cells with late gates only)
//! dX = dGX W_xᵀ ;  dh0 = dh ;  dc0 = dc
//! ```
//! The per-step gradients are gathered in `dGX` (and `dGH`) so the weight gradients are one
//! large product each instead of T small ones. All buffers live in a workspace sized once
//! per (B, T) and reused, so the step loops allocate nothing.

use ndarray::{Array2, Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD, Ix3};
use ndarray_rand::rand::{Rng, RngCore};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{Layer, Mode, ParamMut, ParamRef, Params};
use crate::layers::recurrent::cell::{BackwardStep, Cell, ForwardStep, LateKernel, Weights};
use crate::layers::recurrent::dynamic::RecurrentLayer;
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::trace::GradientTrace;
use crate::limits;
use crate::linalg::{add_column_sums, gemm, gemm_packed, pack, Mat, MatMut, PackedB};
use crate::parallel::{num_threads, ranges, run_all, split_chunks};
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Buffers reused across calls of the same shape (time-major: row `t·B + b`).
#[derive(Debug, Clone, Default)]
struct Workspace<F> {
    batch: usize,
    steps: usize,
    /// The batch split across threads, as (first sample, samples). Every per-sample buffer
    /// is laid out part by part, time-major inside a part: the row of sample b0 + j at step t
    /// is `T·b0 + t·bn + j` (with one part: `t·B + b`).
    parts: Vec<(usize, usize)>,
    /// ‖dL/dh_t‖² per part and step.
    sq_norms: Vec<F>,
    /// Input in processing order, (T·B, I).
    xs: Vec<F>,
    /// Input projections, then whatever the cell keeps per step, (T·B, G·H).
    gx: Vec<F>,
    /// Separate recurrent projection of the current step, (B, E).
    gh: Vec<F>,
    /// Late-gate product of the current step, (B, L·H).
    late: Vec<F>,
    /// Hidden states h_0 … h_T, ((T+1)·B, H).
    hs: Vec<F>,
    /// Cell states c_0 … c_T, ((T+1)·B, H); empty without a cell state.
    cs: Vec<F>,
    /// The cell's per-step cache, (T·B, W).
    cache: Vec<F>,
    /// dL/dGX, (T·B, G·H).
    dgx: Vec<F>,
    /// dL/dgh per step, (T·B, E); empty unless the cell keeps gh separate.
    dgh: Vec<F>,
    dh: Vec<F>,
    dh_prev: Vec<F>,
    dc: Vec<F>,
    dc_prev: Vec<F>,
    /// dL/du_t scratch for late gates, (B, H).
    du: Vec<F>,
    /// dL/dh_t and dL/dc_t of masked rows, kept across the cell's backward step, (B, 2H).
    carry: Vec<F>,
    /// dL/dXs, (T·B, I).
    dxs: Vec<F>,
    /// Which steps are real (true) or masked (false), in row order (part-major, processing
    /// order inside a part); empty when the pass has no mask.
    mask: Vec<bool>,
    /// W_hᵀ, (G·H, H): the backward step reads it row by row.
    wh_t: Vec<F>,
    /// W_h[:, :E] packed for the engine, once per forward pass.
    wh_packed: PackedB<F>,
    /// W_h[:, :E]ᵀ packed, once per backward pass.
    wh_t_packed: PackedB<F>,
    /// The next backward pass's results (dL/dx, the gradient trace, dL/dh_0, dL/dc_0),
    /// reserved ahead by `reserve_backward` and handed out by the pass.
    out_dx: Vec<F>,
    out_sq: Vec<F>,
    out_dh0: Vec<F>,
    out_dc0: Vec<F>,
    /// Whether the buffers hold a training forward pass that backward may use.
    valid: bool,
}

/// A recurrent layer: one [`Cell`] stepped over time, with full BPTT.
///
/// The concrete layers are aliases: [`super::SimpleRnn`], [`super::Lstm`] and [`super::Gru`]
/// are `Recurrent<F, SimpleRnnCell>`, `Recurrent<F, LstmCell>` and `Recurrent<F, GruCell>`.
/// Weights follow the lecture's row-vector layout (see [`Weights`]).
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`.
/// An initial state, when given, is `(B, H)` (plus `c` `(B, H)` for the LSTM).
///
/// # Options shared by every cell
/// * `return_sequences`: every step's state, or only the last.
/// * `go_backwards`: read the input from the last step to the first (Keras's option); the
///   output sequence is then in processing order, i.e. reversed.
/// * Initial state: [`Recurrent::set_initial_state`], or per call with
///   [`Recurrent::forward_with_state`].
/// * Keras's `return_state`: [`Recurrent::forward_return_state`] returns the output and the
///   final state together, and [`Recurrent::backward_with_state`] takes a gradient for that
///   final state (an encoder's state feeding a decoder).
/// * After `backward`: [`Recurrent::initial_state_grad`] and [`Recurrent::gradient_trace`].
#[derive(Debug, Clone)]
pub struct Recurrent<F: Float, C: Cell<F>> {
    name: String,
    cell: C,
    input_size: usize,
    units: usize,
    return_sequences: bool,
    go_backwards: bool,
    weights: Weights<F>,
    grads: Weights<F>,
    initial_state: Option<State<F>>,
    final_state: Option<State<F>>,
    initial_state_grad: Option<State<F>>,
    trace: Option<GradientTrace<F>>,
    ws: Workspace<F>,
}

/// Zero gradients shaped like `w`, reserved fallibly.
fn zeros_like<F: Float>(kind: &str, w: &Weights<F>) -> Result<Weights<F>> {
    Ok(Weights {
        kernel: limits::try_zeros(w.kernel.raw_dim(), format_args!("{kind} kernel gradient"))?,
        recurrent_kernel: limits::try_zeros(
            w.recurrent_kernel.raw_dim(),
            format_args!("{kind} recurrent_kernel gradient"),
        )?,
        bias: limits::try_zeros(w.bias.raw_dim(), format_args!("{kind} bias gradient"))?,
        recurrent_bias: match &w.recurrent_bias {
            Some(b) => Some(limits::try_zeros(b.raw_dim(), format_args!("{kind} recurrent_bias gradient"))?),
            None => None,
        },
    })
}

/// The shapes a layer's weights must have.
struct Shapes {
    kernel: [usize; 2],
    recurrent_kernel: [usize; 2],
    bias: [usize; 1],
    recurrent_bias: Option<[usize; 1]>,
}

/// Checks `w` against `want` (shapes, the recurrent bias's presence) and for finiteness.
fn check_weights<F: Float>(kind: &str, want: &Shapes, w: &Weights<F>) -> Result<()> {
    check_same(format_args!("{kind} kernel"), &want.kernel, w.kernel.shape())?;
    check_same(format_args!("{kind} recurrent_kernel"), &want.recurrent_kernel, w.recurrent_kernel.shape())?;
    check_same(format_args!("{kind} bias"), &want.bias, w.bias.shape())?;
    match (&want.recurrent_bias, &w.recurrent_bias) {
        (Some(a), Some(b)) => check_same(format_args!("{kind} recurrent_bias"), a, b.shape())?,
        (None, None) => {}
        (Some(a), None) => {
            return Err(Error::shape(format!("{kind} recurrent_bias"), fmt_shape(a), "none"));
        }
        (None, Some(b)) => {
            return Err(Error::shape(format!("{kind} recurrent_bias"), "none", fmt_shape(b.shape())));
        }
    }
    check_finite(format_args!("{kind} kernel"), &w.kernel)?;
    check_finite(format_args!("{kind} recurrent_kernel"), &w.recurrent_kernel)?;
    check_finite(format_args!("{kind} bias"), &w.bias)?;
    if let Some(b) = &w.recurrent_bias {
        check_finite(format_args!("{kind} recurrent_bias"), b)?;
    }
    Ok(())
}

/// Checks the element count of every parameter of a `cell` layer before anything is drawn:
/// kernel (I, G·H), recurrent kernel (H, G·H), and the G·H biases.
fn check_sizes<F: Float, C: Cell<F>>(cell: &C, input_size: usize, units: usize) -> Result<()> {
    let (kind, g) = (cell.kind(), cell.gates());
    let gates = if g == 1 { String::new() } else { format!("{g}·") };
    limits::elements(format_args!("{kind} kernel (I, {gates}H)"), &[input_size, g, units])?;
    limits::elements(format_args!("{kind} recurrent_kernel (H, {gates}H)"), &[units, g, units])?;
    Ok(())
}

/// The contiguous row-major data of an array. The layer keeps every weight and gradient in
/// standard layout (`new`, `set_weights`), so the error is a crate bug made loud, never a
/// silent empty slice.
fn flat<'a, F, D: ndarray::Dimension>(what: &str, a: &'a ndarray::Array<F, D>) -> Result<&'a [F]> {
    a.as_slice().ok_or_else(|| Error::shape(format!("{what} storage"), "row-major (standard layout)", "strided"))
}

fn flat_mut<'a, F, D: ndarray::Dimension>(what: &str, a: &'a mut ndarray::Array<F, D>) -> Result<&'a mut [F]> {
    a.as_slice_mut().ok_or_else(|| Error::shape(format!("{what} storage"), "row-major (standard layout)", "strided"))
}

/// `a` in standard (row-major) layout: moved when it already is, copied otherwise.
fn standard_array<F: Float, D: ndarray::Dimension>(a: ndarray::Array<F, D>) -> ndarray::Array<F, D> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

/// Every array of `w` in standard (row-major) layout.
fn standard<F: Float>(w: Weights<F>) -> Weights<F> {
    Weights {
        kernel: standard_array(w.kernel),
        recurrent_kernel: standard_array(w.recurrent_kernel),
        bias: standard_array(w.bias),
        recurrent_bias: w.recurrent_bias.map(standard_array),
    }
}

fn to_array2<F: Float>(what: &str, data: Vec<F>, rows: usize, cols: usize) -> Result<Array2<F>> {
    Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| Error::shape(what, format!("({rows}, {cols})"), e.to_string()))
}

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Builds a layer stepping `cell` over time, with the cell's default initialisation drawn
    /// from `rng`. The `*Config` builders ([`super::SimpleRnnConfig`]...) call this; use it
    /// directly for a cell of your own.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `input_size` or `units` is 0; [`Error::TooLarge`] if a
    /// weight's element count (`I·G·H`, `H·G·H`) overflows or is over
    /// [`crate::limits::MAX_ELEMENTS`] (checked before anything is drawn from `rng`);
    /// [`Error::OutOfMemory`] if the weights or their gradients cannot be allocated.
    pub fn new<R: Rng + ?Sized>(
        cell: C,
        input_size: usize,
        units: usize,
        return_sequences: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let kind = cell.kind();
        if input_size == 0 {
            return Err(Error::config(format!("{kind} input size"), "at least 1", 0));
        }
        if units == 0 {
            return Err(Error::config(format!("{kind} units"), "at least 1", 0));
        }
        check_sizes(&cell, input_size, units)?;
        let weights = standard(cell.init_weights(rng, input_size, units)?);
        Ok(Recurrent {
            name: cell.default_name().to_string(),
            grads: zeros_like(kind, &weights)?,
            weights,
            cell,
            input_size,
            units,
            return_sequences,
            go_backwards: false,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
            trace: None,
            ws: Workspace::default(),
        })
    }

    /// Builds a layer from weights already at hand (an imported file), without drawing or
    /// allocating a second set: `I` and `H` are read from the kernels, whose shapes must be
    /// `(I, G·H)` and `(H, G·H)`, the biases `(G·H)` (the recurrent bias present exactly
    /// when the cell keeps one), every value finite. Only the gradients are allocated
    /// (fallibly).
    pub(crate) fn from_weights(
        cell: C,
        weights: Weights<F>,
        return_sequences: bool,
        go_backwards: bool,
    ) -> Result<Self> {
        let kind = cell.kind();
        let (input_size, units) = (weights.kernel.nrows(), weights.recurrent_kernel.nrows());
        if input_size == 0 {
            return Err(Error::config(format!("{kind} input size"), "at least 1", 0));
        }
        if units == 0 {
            return Err(Error::config(format!("{kind} units"), "at least 1", 0));
        }
        check_sizes(&cell, input_size, units)?;
        let gw = cell.gates() * units;
        let shapes = Shapes {
            kernel: [input_size, gw],
            recurrent_kernel: [units, gw],
            bias: [gw],
            recurrent_bias: cell.separate_recurrent().then_some([gw]),
        };
        check_weights(kind, &shapes, &weights)?;
        let weights = standard(weights);
        Ok(Recurrent {
            name: cell.default_name().to_string(),
            grads: zeros_like(kind, &weights)?,
            weights,
            cell,
            input_size,
            units,
            return_sequences,
            go_backwards,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
            trace: None,
            ws: Workspace::default(),
        })
    }

    /// The cell (its options, such as the activation).
    pub fn cell(&self) -> &C {
        &self.cell
    }

    /// Input features `I`.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Units `H`.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Whether the output is every step's state `(B, T, H)` rather than the last `(B, H)`.
    pub fn return_sequences(&self) -> bool {
        self.return_sequences
    }

    /// Sets whether to return every step's state. The weights are unaffected; any training
    /// cache is dropped.
    pub fn set_return_sequences(&mut self, on: bool) {
        self.return_sequences = on;
        self.ws.valid = false;
    }

    /// Whether the input is read from the last step to the first.
    pub fn go_backwards(&self) -> bool {
        self.go_backwards
    }

    /// Sets whether to read the input from the last step to the first. Any training cache is
    /// dropped.
    pub fn set_go_backwards(&mut self, on: bool) {
        self.go_backwards = on;
        self.ws.valid = false;
    }

    /// The weights.
    pub fn weights(&self) -> &Weights<F> {
        &self.weights
    }

    /// The gradients accumulated by `backward`, in the same layout as the weights.
    pub fn grads(&self) -> &Weights<F> {
        &self.grads
    }

    /// Replaces all weights at once.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if any array's shape differs from the current one (or the
    /// recurrent bias is present for a cell without one, or missing for one with it);
    /// [`Error::NonFinite`] for NaN or infinities. The layer is unchanged on error.
    pub fn set_weights(&mut self, w: Weights<F>) -> Result<()> {
        let cur = &self.weights;
        let shapes = Shapes {
            kernel: [cur.kernel.nrows(), cur.kernel.ncols()],
            recurrent_kernel: [cur.recurrent_kernel.nrows(), cur.recurrent_kernel.ncols()],
            bias: [cur.bias.len()],
            recurrent_bias: cur.recurrent_bias.as_ref().map(|b| [b.len()]),
        };
        check_weights(self.cell.kind(), &shapes, &w)?;
        // Keep the standard (row-major) layout the kernels read.
        self.weights = standard(w);
        Ok(())
    }

    /// Sets the initial state used by [`Layer::forward`] (`None`: zeros). It is checked
    /// against the batch when a forward pass runs.
    pub fn set_initial_state(&mut self, state: Option<State<F>>) {
        self.initial_state = state;
    }

    /// The initial state set by [`Recurrent::set_initial_state`].
    pub fn initial_state(&self) -> Option<&State<F>> {
        self.initial_state.as_ref()
    }

    /// The state after the last step of the last forward pass (`h_T`, and `c_T`).
    pub fn final_state(&self) -> Option<&State<F>> {
        self.final_state.as_ref()
    }

    /// dL/d(initial state) from the last backward pass. When the forward pass started from
    /// zeros this is the gradient at zero.
    pub fn initial_state_grad(&self) -> Option<&State<F>> {
        self.initial_state_grad.as_ref()
    }

    /// ‖dL/dh_t‖ for every step of the last backward pass (see [`GradientTrace`]).
    pub fn gradient_trace(&self) -> Option<&GradientTrace<F>> {
        self.trace.as_ref()
    }

    fn check_state(&self, what: &str, s: &State<F>, batch: usize) -> Result<()> {
        let want = [batch, self.units];
        let kind = self.cell.kind();
        check_same(format_args!("{kind} {what} h"), &want, s.h.shape())?;
        check_finite(format_args!("{kind} {what} h"), &s.h)?;
        match (&s.c, self.cell.has_cell_state()) {
            (Some(c), true) => {
                check_same(format_args!("{kind} {what} c"), &want, c.shape())?;
                check_finite(format_args!("{kind} {what} c"), c)?;
            }
            (None, true) => {
                return Err(Error::shape(format!("{kind} {what} c"), fmt_shape(&want), "none"));
            }
            (Some(c), false) => {
                return Err(Error::shape(
                    format!("{kind} {what} c (this cell has no cell state)"),
                    "none",
                    fmt_shape(c.shape()),
                ));
            }
            (None, false) => {}
        }
        Ok(())
    }

    /// Runs the layer from an explicit initial state (`None`: zeros), ignoring the one set by
    /// [`Recurrent::set_initial_state`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` is not `(B, T, I)` or the state not `(B, H)`;
    /// [`Error::Empty`] if `B` or `T` is 0; [`Error::NonFinite`] if `x` or the state holds
    /// NaN or an infinity. The layer is unchanged on error.
    pub fn forward_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        self.forward_masked_with_state(x, None, initial, mode)
    }

    /// Runs the layer on variable-length sequences: `mask` `(B, T)` says which steps are
    /// real (`true`) and which are padding (`false`), and the initial state comes from
    /// [`Recurrent::set_initial_state`]. See [`Recurrent::forward_masked_with_state`].
    ///
    /// # Errors
    /// As [`Recurrent::forward_masked_with_state`].
    pub fn forward_masked(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        let init = self.initial_state.take();
        let out = self.forward_masked_with_state(x, mask, init.as_ref(), mode);
        self.initial_state = init;
        out
    }

    /// Runs the layer from an explicit initial state, skipping the steps `mask` marks as
    /// padding. For each sample independently:
    ///
    /// ```text
    /// if mask[b, t]:  (h_t, c_t) = cell(x_t, h_{t−1}, c_{t−1});  y_t = h_t
    /// else:           (h_t, c_t) = (h_{t−1}, c_{t−1});           y_t = 0
    /// ```
    ///
    /// So a masked step leaves the state unchanged and gives a zero output row (with
    /// `return_sequences`); without `return_sequences` the output is the state after the last
    /// real step (the initial state for a sample with no real step, as PyTorch's packed
    /// sequences). Inputs at masked steps have no influence, and their gradients are zero.
    /// With `go_backwards` the mask is read backwards along with the input, so each sample's
    /// real steps are processed from its last to its first. Leading (`pre`), trailing
    /// (`post`) and interior padding are all allowed. `mask: None` runs every step.
    ///
    /// # Errors
    /// As [`Recurrent::forward_with_state`]; [`Error::ShapeMismatch`] if `mask` is not
    /// `(B, T)`. The layer is unchanged on error.
    pub fn forward_masked_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        let kind = self.cell.kind();
        let (b, t, i) = x.dim();
        if i != self.input_size {
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}) for {kind} with input size {}", self.input_size, self.input_size),
                fmt_shape(x.shape()),
            ));
        }
        check_nonempty(format_args!("{} input", self.name), x.shape(), &["batch size", "time steps", "features"])?;
        check_finite(format_args!("{} input", self.name), &x)?;
        if let Some(s) = initial {
            self.check_state("initial state", s, b)?;
        }
        if let Some(m) = &mask {
            check_same(format_args!("{} mask (B, T)", self.name), &[b, t], m.shape())?;
        }
        self.ws.valid = false;
        self.final_state = None;
        self.initial_state_grad = None;
        self.trace = None;

        let d = Dims::new(&self.cell, t, i, self.units);
        let h = d.h;
        let name = &self.name;
        // Every buffer's element count, checked before anything is allocated: the largest
        // is T·B·G·H, which a modest input and a wide layer can push past any memory.
        let tb = limits::mul(format_args!("{name} workspace rows (T·B)"), t, b)?;
        let n_xs = limits::mul(format_args!("{name} workspace xs (T·B, I)"), tb, i)?;
        let n_gx = limits::mul(format_args!("{name} workspace gx (T·B, G·H)"), tb, d.gw)?;
        let n_hs = limits::elements(format_args!("{name} workspace hs ((T+1)·B, H)"), &[t + 1, b, h])?;
        let n_cache = limits::mul(format_args!("{name} workspace cache (T·B, W)"), tb, d.cw)?;
        // The output: every step's state, or a copy of the final one.
        let n_seq = if self.return_sequences {
            limits::elements(format_args!("{name} output (B, T, H)"), &[b, t, h])?
        } else {
            b * h
        };
        let ws = &mut self.ws;
        ws.batch = b;
        ws.steps = t;
        batch_parts(b, t, &d, &mut ws.parts);
        limits::try_resize(&mut ws.xs, n_xs, F::zero(), format_args!("{name} workspace xs (T·B, I)"))?;
        limits::try_resize(&mut ws.gx, n_gx, F::zero(), format_args!("{name} workspace gx (T·B, G·H)"))?;
        let n_gh = if d.sep { b * d.ew } else { 0 };
        limits::try_resize(&mut ws.gh, n_gh, F::zero(), format_args!("{name} workspace gh (B, E)"))?;
        limits::try_resize(&mut ws.late, b * d.lw, F::zero(), format_args!("{name} workspace late (B, L·H)"))?;
        limits::try_resize(&mut ws.hs, n_hs, F::zero(), format_args!("{name} workspace hs ((T+1)·B, H)"))?;
        let n_cs = if d.has_c { n_hs } else { 0 };
        limits::try_resize(&mut ws.cs, n_cs, F::zero(), format_args!("{name} workspace cs ((T+1)·B, H)"))?;
        limits::try_resize(&mut ws.cache, n_cache, F::zero(), format_args!("{name} workspace cache (T·B, W)"))?;
        // The results too, before the loop runs.
        let mut h_last = limits::try_with_capacity(b * h, format_args!("{name} final state (B, H)"))?;
        let n_c = if d.has_c { b * h } else { 0 };
        let mut c_last = limits::try_with_capacity(n_c, format_args!("{name} final cell state (B, H)"))?;
        let mut seq = limits::try_with_capacity(n_seq, format_args!("{name} output (B, T, H)"))?;

        // Input rows in processing order, part-major (see `Workspace`).
        let x = limits::try_standard(x, format_args!("{name} input copy (B, T, I)"))?;
        let xd = x.as_slice().ok_or_else(|| Error::shape("input copy", "row-major", "strided"))?;
        if b == 1 && !self.go_backwards {
            // One sequence read forwards: already in processing order.
            ws.xs.copy_from_slice(&xd[..t * i]);
        }
        for &(b0, bn) in ws.parts.iter().filter(|_| b > 1 || self.go_backwards) {
            let base = t * b0;
            for ti in 0..t {
                let src_t = if self.go_backwards { t - 1 - ti } else { ti };
                for bl in 0..bn {
                    let src = ((b0 + bl) * t + src_t) * i;
                    let dst = (base + ti * bn + bl) * i;
                    ws.xs[dst..dst + i].copy_from_slice(&xd[src..src + i]);
                }
            }
        }
        // The mask in row order (empty without one).
        ws.mask.clear();
        if let Some(m) = &mask {
            limits::try_resize(&mut ws.mask, tb, true, format_args!("{name} workspace mask (T·B)"))?;
            for &(b0, bn) in &ws.parts {
                for ti in 0..t {
                    let src_t = if self.go_backwards { t - 1 - ti } else { ti };
                    for bl in 0..bn {
                        ws.mask[t * b0 + ti * bn + bl] = m[[b0 + bl, src_t]];
                    }
                }
            }
        }
        // GX = Xs W_x + b for every step at once.
        let bias = flat("bias", &self.weights.bias)?;
        for row in ws.gx.chunks_exact_mut(d.gw) {
            row.copy_from_slice(bias);
        }
        gemm(
            Mat::new(&ws.xs, t * b, i),
            Mat::new(flat("kernel", &self.weights.kernel)?, i, d.gw),
            MatMut::new(&mut ws.gx, t * b, d.gw),
            true,
        )?;

        let wh = flat("recurrent_kernel", &self.weights.recurrent_kernel)?;
        ws.wh_packed.try_reserve(h, d.ew, format_args!("{name} packed recurrent_kernel"))?;
        pack(Mat::strided(wh, h, d.ew, d.gw), &mut ws.wh_packed)?;
        let rbias = match &self.weights.recurrent_bias {
            Some(b) => flat("recurrent_bias", b)?,
            None => &[],
        };
        let h0 =
            initial.map(|s| limits::try_standard(s.h.view(), format_args!("{name} initial state copy"))).transpose()?;
        let c0 = initial
            .and_then(|s| s.c.as_ref())
            .map(|c| limits::try_standard(c.view(), format_args!("{name} initial cell state copy")))
            .transpose()?;
        let shared = Shared { cell: &self.cell, d, wh, wh_packed: &ws.wh_packed, wh_t: &[], wh_t_packed: None, rbias };
        let parts = &ws.parts;
        if parts.len() == 1 {
            // One part: no threads, and none of the bookkeeping below.
            let bufs = ForwardBufs {
                gx: &mut ws.gx,
                gh: &mut ws.gh,
                late: &mut ws.late,
                hs: &mut ws.hs,
                cs: &mut ws.cs,
                cache: &mut ws.cache,
                mask: &ws.mask,
            };
            shared.forward_part(
                b,
                bufs,
                h0.as_ref().and_then(|a| a.as_slice()),
                c0.as_ref().and_then(|a| a.as_slice()),
            )?;
        } else {
            let jobs: Vec<_> = parts
                .iter()
                .zip(split_chunks(&mut ws.gx, t * d.gw, parts))
                .zip(split_chunks(&mut ws.gh, d.ew, parts))
                .zip(split_chunks(&mut ws.late, d.lw, parts))
                .zip(split_chunks(&mut ws.hs, (t + 1) * h, parts))
                .zip(split_chunks(&mut ws.cs, (t + 1) * h, parts))
                .zip(split_chunks(&mut ws.cache, t * d.cw, parts))
                .map(|((((((&(b0, bn), gx), gh), late), hs), cs), cache)| {
                    let h0 = h0.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                    let c0 = c0.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                    let shared = &shared;
                    let mask = if ws.mask.is_empty() { &[][..] } else { &ws.mask[t * b0..t * (b0 + bn)] };
                    move || shared.forward_part(bn, ForwardBufs { gx, gh, late, hs, cs, cache, mask }, h0, c0)
                })
                .collect();
            run_all(jobs).into_iter().collect::<Result<Vec<()>>>()?;
        }

        // Outputs (in processing order) and the final state, gathered from the parts.
        // Built by appending in (sample, step) order: no zero-fill before the copy.
        for &(b0, bn) in parts {
            let hs = &ws.hs[(t + 1) * b0 * h..(t + 1) * (b0 + bn) * h];
            h_last.extend_from_slice(&hs[t * bn * h..]);
            if d.has_c {
                c_last.extend_from_slice(&ws.cs[(t + 1) * b0 * h..(t + 1) * (b0 + bn) * h][t * bn * h..]);
            }
            if self.return_sequences && bn == 1 {
                // One sequence: h_1 … h_T are already contiguous.
                seq.extend_from_slice(&hs[h..]);
            } else if self.return_sequences {
                for bl in 0..bn {
                    for ti in 0..t {
                        let src = ((ti + 1) * bn + bl) * h;
                        seq.extend_from_slice(&hs[src..src + h]);
                    }
                }
            }
        }
        if self.return_sequences && !ws.mask.is_empty() {
            // Masked steps give zero output rows.
            for &(b0, bn) in parts {
                for bl in 0..bn {
                    for ti in 0..t {
                        if !ws.mask[t * b0 + ti * bn + bl] {
                            let dst = ((b0 + bl) * t + ti) * h;
                            seq[dst..dst + h].iter_mut().for_each(|v| *v = F::zero());
                        }
                    }
                }
            }
        }
        let out = if self.return_sequences {
            Array3::from_shape_vec((b, t, h), seq)
                .map_err(|e| Error::shape("output", format!("({b}, {t}, {h})"), e.to_string()))?
                .into_dyn()
        } else {
            seq.extend_from_slice(&h_last);
            to_array2("output", seq, b, h)?.into_dyn()
        };
        let h_last = to_array2("final state", h_last, b, h)?;
        let c_last = if d.has_c { Some(to_array2("final cell state", c_last, b, h)?) } else { None };
        self.final_state = Some(State { h: h_last, c: c_last });
        ws.valid = mode == Mode::Train;
        Ok(out)
    }

    /// Runs the layer and returns its output together with its final state, as Keras's
    /// `return_state=True` does (the state is also kept for [`Recurrent::final_state`]).
    ///
    /// # Errors
    /// As [`Recurrent::forward_with_state`].
    pub fn forward_return_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<(ArrayD<F>, State<F>)> {
        let out = self.forward_with_state(x, initial, mode)?;
        let state = self.final_state.clone().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        Ok((out, state))
    }

    /// Reserves everything the next backward pass allocates (its workspace, its results),
    /// so that pass cannot fail for memory once it starts accumulating gradients. A no-op
    /// when the memory is already there.
    ///
    /// # Errors
    /// [`Error::NoForwardCache`] without a training forward pass; [`Error::OutOfMemory`] if a
    /// buffer cannot be reserved (the layer is unchanged, its cache still valid).
    pub fn reserve_backward(&mut self) -> Result<()> {
        if !self.ws.valid {
            return Err(Error::NoForwardCache { layer: self.name.clone() });
        }
        let (b, t, i, h) = (self.ws.batch, self.ws.steps, self.input_size, self.units);
        let name = &self.name;
        // The forward pass checked these products (T·B·G·H, T·B·I, B·H are no larger than
        // its buffers), so only the reservations can fail here.
        let d = Dims::new(&self.cell, t, i, h);
        let ws = &mut self.ws;
        let (tb, bh) = (t * b, b * h);
        limits::try_resize(&mut ws.dgx, tb * d.gw, F::zero(), format_args!("{name} workspace dgx (T·B, G·H)"))?;
        let n_dgh = if d.sep { tb * d.ew } else { 0 };
        limits::try_resize(&mut ws.dgh, n_dgh, F::zero(), format_args!("{name} workspace dgh (T·B, E)"))?;
        let n_du = if d.lw > 0 { bh } else { 0 };
        limits::try_resize(&mut ws.du, n_du, F::zero(), format_args!("{name} workspace du (B, H)"))?;
        let n_carry = if ws.mask.is_empty() { 0 } else { 2 * bh };
        limits::try_resize(&mut ws.carry, n_carry, F::zero(), format_args!("{name} workspace carry (B, 2·H)"))?;
        limits::try_resize(&mut ws.dh, bh, F::zero(), format_args!("{name} workspace dh (B, H)"))?;
        limits::try_resize(&mut ws.dh_prev, bh, F::zero(), format_args!("{name} workspace dh_prev (B, H)"))?;
        let n_dc = if d.has_c { bh } else { 0 };
        limits::try_resize(&mut ws.dc, n_dc, F::zero(), format_args!("{name} workspace dc (B, H)"))?;
        limits::try_resize(&mut ws.dc_prev, n_dc, F::zero(), format_args!("{name} workspace dc_prev (B, H)"))?;
        limits::try_resize(&mut ws.dxs, tb * i, F::zero(), format_args!("{name} workspace dxs (T·B, I)"))?;
        let n_sq = ws.parts.len() * t;
        limits::try_reserve(&mut ws.sq_norms, n_sq, format_args!("{name} workspace gradient norms (T)"))?;
        limits::try_resize(&mut ws.wh_t, d.gw * h, F::zero(), format_args!("{name} workspace W_hᵀ (G·H, H)"))?;
        ws.wh_t_packed.try_reserve(d.ew, h, format_args!("{name} packed W_hᵀ"))?;
        limits::try_reserve(&mut ws.out_dx, tb * i, format_args!("{name} input gradient (B, T, I)"))?;
        limits::try_reserve(&mut ws.out_sq, t, format_args!("{name} gradient trace (T)"))?;
        limits::try_reserve(&mut ws.out_dh0, bh, format_args!("{name} initial state gradient (B, H)"))?;
        limits::try_reserve(&mut ws.out_dc0, n_dc, format_args!("{name} initial cell state gradient (B, H)"))?;
        Ok(())
    }

    /// Backpropagation through time with an extra gradient on the final state (for a final
    /// state that feeds something else, as an encoder's feeds a decoder). `None` means the
    /// final state gets gradient only through the output. Returns dL/dx `(B, T, I)`.
    ///
    /// # Errors
    /// As [`Layer::backward`]; [`Error::ShapeMismatch`] if `grad_final` is not `(B, H)` (with
    /// `c` exactly for the LSTM). Nothing is accumulated on error.
    pub fn backward_with_state(
        &mut self,
        grad_output: ArrayViewD<'_, F>,
        grad_final: Option<&State<F>>,
    ) -> Result<Array3<F>> {
        if !self.ws.valid {
            return Err(Error::NoForwardCache { layer: self.name.clone() });
        }
        let (b, t, i, h) = (self.ws.batch, self.ws.steps, self.input_size, self.units);
        let want: Vec<usize> = if self.return_sequences { vec![b, t, h] } else { vec![b, h] };
        check_same(format_args!("{} grad_output (must match the output)", self.name), &want, grad_output.shape())?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        if let Some(s) = grad_final {
            self.check_state("final state gradient", s, b)?;
        }
        self.reserve_backward()?;
        let name = &self.name;
        let g = limits::try_standard(grad_output, format_args!("{name} grad_output copy"))?;
        let g = g.as_slice().ok_or_else(|| Error::shape("grad_output copy", "row-major", "strided"))?;

        let d = Dims::new(&self.cell, t, i, h);
        let ws = &mut self.ws;
        let (bh, n_dc) = (b * h, if d.has_c { b * h } else { 0 });
        // The results, reserved above: taken, so the next pass reserves its own.
        let mut dx = std::mem::take(&mut ws.out_dx);
        let mut sq = std::mem::take(&mut ws.out_sq);
        let mut dh0 = std::mem::take(&mut ws.out_dh0);
        let mut dc0 = std::mem::take(&mut ws.out_dc0);
        sq.resize(t, F::zero());
        ws.sq_norms.clear();
        ws.sq_norms.resize(ws.parts.len() * t, F::zero());

        // W_hᵀ once per pass, so the per-step product streams contiguous rows.
        let wh = flat("recurrent_kernel", &self.weights.recurrent_kernel)?;
        for (r, row) in wh.chunks_exact(d.gw).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                ws.wh_t[c * h + r] = v;
            }
        }
        pack(Mat::new(&ws.wh_t[..d.ew * h], d.ew, h), &mut ws.wh_t_packed)?;
        let gf_h = grad_final
            .map(|s| limits::try_standard(s.h.view(), format_args!("{name} final state gradient copy")))
            .transpose()?;
        let gf_c = grad_final
            .and_then(|s| s.c.as_ref())
            .map(|c| limits::try_standard(c.view(), format_args!("{name} final cell state gradient copy")))
            .transpose()?;
        let shared = Shared {
            cell: &self.cell,
            d,
            wh,
            wh_packed: &ws.wh_packed,
            wh_t: &ws.wh_t,
            wh_t_packed: Some(&ws.wh_t_packed),
            rbias: &[],
        };
        let seq = self.return_sequences;
        let parts = &ws.parts;
        if parts.len() == 1 {
            // One part: no threads, and none of the bookkeeping below.
            let fwd = PartView { gx: &ws.gx, hs: &ws.hs, cs: &ws.cs, cache: &ws.cache };
            let bufs = BackwardBufs {
                dgx: &mut ws.dgx,
                dgh: &mut ws.dgh,
                dh: &mut ws.dh,
                dh_prev: &mut ws.dh_prev,
                dc: &mut ws.dc,
                dc_prev: &mut ws.dc_prev,
                du: &mut ws.du,
                carry: &mut ws.carry,
                sq_norms: &mut ws.sq_norms,
            };
            let mask = &ws.mask[..];
            let gf_h = gf_h.as_ref().and_then(|a| a.as_slice());
            let gf_c = gf_c.as_ref().and_then(|a| a.as_slice());
            shared.backward_part(0, b, g, seq, fwd, mask, bufs, gf_h, gf_c)?;
        } else {
            let jobs: Vec<_> = parts
                .iter()
                .zip(split_chunks(&mut ws.dgx, t * d.gw, parts))
                .zip(split_chunks(&mut ws.dgh, t * d.ew, parts))
                .zip(split_chunks(&mut ws.dh, h, parts))
                .zip(split_chunks(&mut ws.dh_prev, h, parts))
                .zip(split_chunks(&mut ws.dc, h, parts))
                .zip(split_chunks(&mut ws.dc_prev, h, parts))
                .zip(split_chunks(&mut ws.du, h, parts))
                .zip(split_chunks(&mut ws.carry, 2 * h, parts))
                .zip(split_chunks(&mut ws.sq_norms, t, &vec![(0, 1); parts.len()]))
                .map(|(((((((((&(b0, bn), dgx), dgh), dh), dh_prev), dc), dc_prev), du), carry), sq)| {
                    let rows = |unit: usize, v: &'_ [F]| -> std::ops::Range<usize> {
                        let _ = v;
                        unit * b0..unit * (b0 + bn)
                    };
                    let fwd = PartView {
                        gx: &ws.gx[rows(t * d.gw, &ws.gx)],
                        hs: &ws.hs[rows((t + 1) * h, &ws.hs)],
                        cs: if d.has_c { &ws.cs[rows((t + 1) * h, &ws.cs)] } else { &[] },
                        cache: &ws.cache[rows(t * d.cw, &ws.cache)],
                    };
                    let gf_h = gf_h.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                    let gf_c = gf_c.as_ref().and_then(|a| a.as_slice()).map(|s| &s[b0 * h..(b0 + bn) * h]);
                    let shared = &shared;
                    let bufs = BackwardBufs { dgx, dgh, dh, dh_prev, dc, dc_prev, du, carry, sq_norms: sq };
                    let mask = if ws.mask.is_empty() { &[][..] } else { &ws.mask[t * b0..t * (b0 + bn)] };
                    move || shared.backward_part(b0, bn, g, seq, fwd, mask, bufs, gf_h, gf_c)
                })
                .collect();
            run_all(jobs).into_iter().collect::<Result<Vec<()>>>()?;
        }

        // Weight gradients: one product each over all T·B rows (per part where the rows of
        // one operand are laid out per part).
        let (tb, gw, ew, lw) = (t * b, d.gw, d.ew, d.lw);
        let gk = flat_mut("kernel gradient", &mut self.grads.kernel)?;
        gemm(Mat::new(&ws.xs, tb, i).t(), Mat::new(&ws.dgx, tb, gw), MatMut::new(gk, i, gw), true)?;
        let grk = flat_mut("recurrent_kernel gradient", &mut self.grads.recurrent_kernel)?;
        for &(b0, bn) in parts {
            let (r0, rn) = (t * b0, t * bn);
            if ew > 0 {
                // h_{t−1} for the part's rows: its first T blocks of states.
                let hprev = &ws.hs[(t + 1) * b0 * h..(t + 1) * b0 * h + rn * h];
                let dg_early = if d.sep {
                    Mat::new(&ws.dgh[r0 * ew..(r0 + rn) * ew], rn, ew)
                } else {
                    Mat::strided(&ws.dgx[r0 * gw..(r0 + rn) * gw], rn, ew, gw)
                };
                gemm(Mat::new(hprev, rn, h).t(), dg_early, MatMut::strided(grk, h, ew, gw), true)?;
            }
            if lw > 0 {
                // The late blocks multiplied u_t, kept in the first H columns of each cache row.
                gemm(
                    Mat::strided(&ws.cache[r0 * d.cw..(r0 + rn) * d.cw], rn, h, d.cw).t(),
                    Mat::strided(&ws.dgx[r0 * gw + ew..(r0 + rn) * gw], rn, lw, gw),
                    MatMut::strided(&mut grk[ew..], h, lw, gw),
                    true,
                )?;
            }
        }
        add_column_sums(&ws.dgx, tb, gw, gw, flat_mut("bias gradient", &mut self.grads.bias)?);
        if let Some(rb) = self.grads.recurrent_bias.as_mut() {
            add_column_sums(&ws.dgh, tb, ew, ew, flat_mut("recurrent_bias gradient", rb)?);
        }
        // dXs = dGX W_xᵀ, then back to batch-major input positions.
        gemm(
            Mat::new(&ws.dgx, tb, gw),
            Mat::new(flat("kernel", &self.weights.kernel)?, i, gw).t(),
            MatMut::new(&mut ws.dxs, tb, i),
            false,
        )?;
        // Built by appending in (sample, position) order: no zero-fill before the copy.

        for (p, &(b0, bn)) in parts.iter().enumerate() {
            for bl in 0..bn {
                for pos in 0..t {
                    let ti = if self.go_backwards { t - 1 - pos } else { pos };
                    let src = (t * b0 + ti * bn + bl) * i;
                    dx.extend_from_slice(&ws.dxs[src..src + i]);
                }
            }
            for (s, &v) in sq.iter_mut().zip(&ws.sq_norms[p * t..(p + 1) * t]) {
                *s += v;
            }
        }
        // The parts left dL/dh_0 (dL/dc_0) of their rows in order in dh (dc).
        dh0.extend_from_slice(&ws.dh[..bh]);
        dc0.extend_from_slice(&ws.dc[..n_dc]);
        let dx = Array3::from_shape_vec((b, t, i), dx)
            .map_err(|e| Error::shape("input gradient", format!("({b}, {t}, {i})"), e.to_string()))?;
        let dh0 = to_array2("initial state gradient", dh0, b, h)?;
        let dc0 = if d.has_c { Some(to_array2("initial cell state gradient", dc0, b, h)?) } else { None };
        self.initial_state_grad = Some(State { h: dh0, c: dc0 });
        self.trace = Some(GradientTrace::new(sq.into_iter().map(|v| v.sqrt()).collect()));
        Ok(dx)
    }
}

/// Sizes of one pass: T steps, I inputs, H units, G·H gate columns of which the first E are
/// multiplied by h_{t−1} and the last L·H by the cell's u_t, and the cell's cache width.
#[derive(Debug, Clone, Copy)]
struct Dims {
    t: usize,
    h: usize,
    gates: usize,
    late_gates: usize,
    gw: usize,
    ew: usize,
    lw: usize,
    cw: usize,
    sep: bool,
    has_c: bool,
}

impl Dims {
    fn new<F: Float, C: Cell<F>>(cell: &C, t: usize, _i: usize, h: usize) -> Self {
        let (gates, late_gates) = (cell.gates(), cell.late_gates());
        let (gw, lw) = (gates * h, late_gates * h);
        Dims {
            t,
            h,
            gates,
            late_gates,
            gw,
            ew: gw - lw,
            lw,
            cw: cell.cache_width(h),
            sep: cell.separate_recurrent(),
            has_c: cell.has_cell_state(),
        }
    }
}

/// How the batch is split across threads: one part unless several threads are allowed and
/// the time loop is worth splitting.
fn batch_parts(b: usize, t: usize, d: &Dims, parts: &mut Vec<(usize, usize)>) {
    let threads = num_threads();
    // Multiply-adds of the recurrent products of the whole loop (saturating: only compared).
    let work = b.saturating_mul(t).saturating_mul(d.h).saturating_mul(d.gw);
    parts.clear();
    if threads > 1 && b >= 2 && work >= PARALLEL_LOOP_MIN {
        parts.extend(ranges(b, threads, 1));
    } else {
        parts.push((0, b));
    }
}

/// From this many multiply-adds in the time loop on, the batch is split across threads.
const PARALLEL_LOOP_MIN: usize = 1 << 21;

/// What every part reads: the cell, the sizes and the weights.
struct Shared<'a, F, C> {
    cell: &'a C,
    d: Dims,
    wh: &'a [F],
    wh_packed: &'a PackedB<F>,
    wh_t: &'a [F],
    wh_t_packed: Option<&'a PackedB<F>>,
    rbias: &'a [F],
}

/// One part's forward buffers (its share of the batch, time-major inside).
struct ForwardBufs<'a, F> {
    gx: &'a mut [F],
    gh: &'a mut [F],
    late: &'a mut [F],
    hs: &'a mut [F],
    cs: &'a mut [F],
    cache: &'a mut [F],
    /// The part's mask in row order; empty without one.
    mask: &'a [bool],
}

/// One part's forward results, read by its backward pass.
struct PartView<'a, F> {
    gx: &'a [F],
    hs: &'a [F],
    cs: &'a [F],
    cache: &'a [F],
}

/// One part's backward buffers.
struct BackwardBufs<'a, F> {
    dgx: &'a mut [F],
    dgh: &'a mut [F],
    dh: &'a mut [F],
    dh_prev: &'a mut [F],
    dc: &'a mut [F],
    dc_prev: &'a mut [F],
    du: &'a mut [F],
    carry: &'a mut [F],
    sq_norms: &'a mut [F],
}

impl<F: Float, C: Cell<F>> Shared<'_, F, C> {
    /// The time loop for `bn` sequences. Allocation-free.
    fn forward_part(&self, bn: usize, w: ForwardBufs<'_, F>, h0: Option<&[F]>, c0: Option<&[F]>) -> Result<()> {
        let Dims { t, h, gw, ew, cw, sep, has_c, gates, late_gates, .. } = self.d;
        let bh = bn * h;
        match h0 {
            Some(s) => w.hs[..bh].copy_from_slice(s),
            None => w.hs[..bh].iter_mut().for_each(|v| *v = F::zero()),
        }
        if has_c {
            match c0 {
                Some(s) => w.cs[..bh].copy_from_slice(s),
                None => w.cs[..bh].iter_mut().for_each(|v| *v = F::zero()),
            }
        }
        let wh_early = Mat::strided(self.wh, h, ew, gw);
        let late = LateKernel::new(self.wh, &[], h, gates, late_gates);
        for step in 0..t {
            let (hs_done, hs_rest) = w.hs.split_at_mut((step + 1) * bh);
            let h_prev = &hs_done[step * bh..];
            let h_next = &mut hs_rest[..bh];
            let (c_prev, c_next): (&[F], &mut [F]) = if has_c {
                let (cs_done, cs_rest) = w.cs.split_at_mut((step + 1) * bh);
                (&cs_done[step * bh..], &mut cs_rest[..bh])
            } else {
                (&[], &mut [])
            };
            let gx_t = &mut w.gx[step * bn * gw..(step + 1) * bn * gw];
            if sep {
                for row in w.gh.chunks_exact_mut(ew) {
                    row.copy_from_slice(&self.rbias[..ew]);
                }
                gemm_packed(Mat::new(h_prev, bn, h), wh_early, self.wh_packed, MatMut::new(w.gh, bn, ew), true)?;
            } else if ew > 0 {
                gemm_packed(
                    Mat::new(h_prev, bn, h),
                    wh_early,
                    self.wh_packed,
                    MatMut::strided(gx_t, bn, ew, gw),
                    true,
                )?;
            }
            self.cell.forward_step(ForwardStep {
                batch: bn,
                units: h,
                gx: gx_t,
                gh: w.gh,
                h_prev,
                c_prev,
                h: h_next,
                c: c_next,
                cache: &mut w.cache[step * bn * cw..(step + 1) * bn * cw],
                late,
                late_out: w.late,
            });
            if !w.mask.is_empty() {
                // A masked step carries the state over unchanged.
                for (bl, _) in w.mask[step * bn..(step + 1) * bn].iter().enumerate().filter(|(_, &m)| !m) {
                    h_next[bl * h..(bl + 1) * h].copy_from_slice(&h_prev[bl * h..(bl + 1) * h]);
                    if has_c {
                        c_next[bl * h..(bl + 1) * h].copy_from_slice(&c_prev[bl * h..(bl + 1) * h]);
                    }
                }
            }
        }
        Ok(())
    }

    /// BPTT for the part of `bn` sequences starting at `b0`. Leaves dL/dh_0 (and dL/dc_0)
    /// of its rows in `w.dh` (`w.dc`). Allocation-free.
    #[allow(clippy::too_many_arguments)]
    fn backward_part(
        &self,
        b0: usize,
        bn: usize,
        g: &[F],
        seq: bool,
        f: PartView<'_, F>,
        mask: &[bool],
        w: BackwardBufs<'_, F>,
        gf_h: Option<&[F]>,
        gf_c: Option<&[F]>,
    ) -> Result<()> {
        let Dims { t, h, gw, ew, cw, sep, has_c, gates, late_gates, .. } = self.d;
        let bh = bn * h;
        let (mut dh, mut dh_prev, mut dc, mut dc_prev) = (w.dh, w.dh_prev, w.dc, w.dc_prev);
        match gf_h {
            Some(s) => dh.copy_from_slice(s),
            None => dh.iter_mut().for_each(|v| *v = F::zero()),
        }
        if has_c {
            match gf_c {
                Some(s) => dc.copy_from_slice(s),
                None => dc.iter_mut().for_each(|v| *v = F::zero()),
            }
        }
        let wh_t_early = Mat::new(&self.wh_t[..ew * h], ew, h);
        let late = LateKernel::new(self.wh, self.wh_t, h, gates, late_gates);
        let packed = self.wh_t_packed.ok_or_else(|| Error::shape("packed W_hᵀ", "present", "missing"))?;
        for step in (0..t).rev() {
            // The output's gradient enters at this step.
            let step_mask = if mask.is_empty() { &[][..] } else { &mask[step * bn..(step + 1) * bn] };
            for bl in 0..bn {
                let bi = b0 + bl;
                let src = if seq {
                    // A masked step's output is the constant 0: no gradient enters there.
                    step_mask.get(bl).is_none_or(|&m| m).then_some((bi * t + step) * h)
                } else if step == t - 1 {
                    Some(bi * h)
                } else {
                    None
                };
                if let Some(src) = src {
                    for (d, &s) in dh[bl * h..(bl + 1) * h].iter_mut().zip(&g[src..src + h]) {
                        *d += s;
                    }
                }
            }
            w.sq_norms[step] = dh.iter().map(|&v| v * v).sum::<F>();
            let rows = step * bn * gw..(step + 1) * bn * gw;
            let erows = step * bn * ew..(step + 1) * bn * ew;
            let (c_prev, c_now): (&[F], &[F]) = if has_c {
                (&f.cs[step * bh..(step + 1) * bh], &f.cs[(step + 1) * bh..(step + 2) * bh])
            } else {
                (&[], &[])
            };
            // A masked step passes the state through: keep its incoming gradient (the cell's
            // backward step may use dh and dc as scratch).
            for (bl, _) in step_mask.iter().enumerate().filter(|(_, &m)| !m) {
                w.carry[2 * bl * h..(2 * bl + 1) * h].copy_from_slice(&dh[bl * h..(bl + 1) * h]);
                if has_c {
                    w.carry[(2 * bl + 1) * h..(2 * bl + 2) * h].copy_from_slice(&dc[bl * h..(bl + 1) * h]);
                }
            }
            let dgh: &mut [F] = if sep { &mut w.dgh[erows.clone()] } else { &mut [] };
            self.cell.backward_step(BackwardStep {
                batch: bn,
                units: h,
                gx: &f.gx[rows.clone()],
                h_prev: &f.hs[step * bh..(step + 1) * bh],
                c_prev,
                h: &f.hs[(step + 1) * bh..(step + 2) * bh],
                c: c_now,
                cache: &f.cache[step * bn * cw..(step + 1) * bn * cw],
                dh,
                dc,
                dgx: &mut w.dgx[rows.clone()],
                dgh,
                dh_prev,
                dc_prev,
                late,
                late_scratch: w.du,
            });
            // A masked step passed the state through: its gradient goes straight back, and
            // nothing reaches its gates (so neither the weights nor its input).
            for (bl, _) in step_mask.iter().enumerate().filter(|(_, &m)| !m) {
                dh_prev[bl * h..(bl + 1) * h].copy_from_slice(&w.carry[2 * bl * h..(2 * bl + 1) * h]);
                if has_c {
                    dc_prev[bl * h..(bl + 1) * h].copy_from_slice(&w.carry[(2 * bl + 1) * h..(2 * bl + 2) * h]);
                }
                w.dgx[rows.start + bl * gw..rows.start + (bl + 1) * gw].iter_mut().for_each(|v| *v = F::zero());
                if sep {
                    w.dgh[erows.start + bl * ew..erows.start + (bl + 1) * ew].iter_mut().for_each(|v| *v = F::zero());
                }
            }
            // dh_{t−1} = direct part + dgh_t W_h[:, :E]ᵀ.
            if ew > 0 {
                let dgh_t = if sep { Mat::new(&w.dgh[erows], bn, ew) } else { Mat::strided(&w.dgx[rows], bn, ew, gw) };
                gemm_packed(dgh_t, wh_t_early, packed, MatMut::new(dh_prev, bn, h), true)?;
            }
            std::mem::swap(&mut dh, &mut dh_prev);
            std::mem::swap(&mut dc, &mut dc_prev);
        }
        // After an odd number of swaps the result sits in the other buffer: bring it home.
        if t % 2 == 1 {
            dh_prev.copy_from_slice(dh);
            dc_prev.copy_from_slice(dc);
        }
        Ok(())
    }
}

impl<F: Float, C: Cell<F>> Params<F> for Recurrent<F, C> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        let (w, g) = (&self.weights, &self.grads);
        f(ParamRef { name: "kernel", value: w.kernel.view().into_dyn(), grad: g.kernel.view().into_dyn() });
        f(ParamRef {
            name: "recurrent_kernel",
            value: w.recurrent_kernel.view().into_dyn(),
            grad: g.recurrent_kernel.view().into_dyn(),
        });
        f(ParamRef { name: "bias", value: w.bias.view().into_dyn(), grad: g.bias.view().into_dyn() });
        if let (Some(v), Some(gr)) = (&w.recurrent_bias, &g.recurrent_bias) {
            f(ParamRef { name: "recurrent_bias", value: v.view().into_dyn(), grad: gr.view().into_dyn() });
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        let (w, g) = (&mut self.weights, &mut self.grads);
        f(ParamMut { name: "kernel", value: w.kernel.view_mut().into_dyn(), grad: g.kernel.view_mut().into_dyn() });
        f(ParamMut {
            name: "recurrent_kernel",
            value: w.recurrent_kernel.view_mut().into_dyn(),
            grad: g.recurrent_kernel.view_mut().into_dyn(),
        });
        f(ParamMut { name: "bias", value: w.bias.view_mut().into_dyn(), grad: g.bias.view_mut().into_dyn() });
        if let (Some(v), Some(gr)) = (w.recurrent_bias.as_mut(), g.recurrent_bias.as_mut()) {
            f(ParamMut { name: "recurrent_bias", value: v.view_mut().into_dyn(), grad: gr.view_mut().into_dyn() });
        }
    }
}

impl<F: Float, C: Cell<F>> Layer<F> for Recurrent<F, C> {
    fn kind(&self) -> &'static str {
        self.cell.kind()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, Some(self.input_size)]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        match input_shape {
            [t, i] if *i == self.input_size => {
                Ok(if self.return_sequences { vec![*t, self.units] } else { vec![self.units] })
            }
            _ => Err(Error::shape(
                format!("{} input", self.name),
                format!("(T, {}) per sample", self.input_size),
                fmt_shape(input_shape),
            )),
        }
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        Layer::forward_masked(self, input, None, mode)
    }

    fn forward_masked(
        &mut self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        let shape = input.shape().to_vec();
        let x = input.into_dimensionality::<Ix3>().map_err(|_| {
            Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}): rank 3", self.input_size),
                format!("{} (rank {})", fmt_shape(&shape), shape.len()),
            )
        })?;
        Recurrent::forward_masked(self, x, mask, mode)
    }

    fn output_mask(
        &self,
        _input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        Ok(if self.return_sequences { mask.map(|m| m.to_owned()) } else { None })
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        Ok(self.backward_with_state(grad_output, None)?.into_dyn())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn as_recurrent(&self) -> Option<&dyn RecurrentLayer<F>> {
        Some(self)
    }

    fn as_recurrent_mut(&mut self) -> Option<&mut dyn RecurrentLayer<F>> {
        Some(self)
    }

    fn into_recurrent(self: Box<Self>) -> std::result::Result<Box<dyn RecurrentLayer<F>>, Box<dyn Layer<F>>> {
        Ok(self)
    }

    fn clear_cache(&mut self) {
        self.ws.valid = false;
    }

    fn has_cache(&self) -> bool {
        self.ws.valid
    }

    fn config_summary(&self) -> String {
        let extra = self.cell.config_summary();
        let sep = if extra.is_empty() { "" } else { ", " };
        format!(
            "units={}{sep}{extra}, return_sequences={}, go_backwards={}",
            self.units, self.return_sequences, self.go_backwards
        )
    }
}

impl<F: Float, C: Cell<F>> RecurrentLayer<F> for Recurrent<F, C> {
    fn units(&self) -> usize {
        self.units
    }

    fn input_size(&self) -> usize {
        self.input_size
    }

    fn has_cell_state(&self) -> bool {
        self.cell.has_cell_state()
    }

    fn return_sequences(&self) -> bool {
        self.return_sequences
    }

    fn set_return_sequences(&mut self, on: bool) {
        Recurrent::set_return_sequences(self, on)
    }

    fn go_backwards(&self) -> bool {
        self.go_backwards
    }

    fn set_go_backwards(&mut self, on: bool) {
        Recurrent::set_go_backwards(self, on)
    }

    fn forward_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        Recurrent::forward_with_state(self, x, initial, mode)
    }

    fn forward_masked_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        Recurrent::forward_masked_with_state(self, x, mask, initial, mode)
    }

    fn backward_with_state(
        &mut self,
        grad_output: ArrayViewD<'_, F>,
        grad_final: Option<&State<F>>,
    ) -> Result<Array3<F>> {
        Recurrent::backward_with_state(self, grad_output, grad_final)
    }

    fn reserve_backward(&mut self) -> Result<()> {
        Recurrent::reserve_backward(self)
    }

    fn validate_state(&self, state: &State<F>, batch: usize) -> Result<()> {
        self.check_state("initial state", state, batch)
    }

    fn initial_state(&self) -> Option<&State<F>> {
        self.initial_state.as_ref()
    }

    fn set_initial_state(&mut self, state: Option<State<F>>) {
        self.initial_state = state;
    }

    fn final_state(&self) -> Option<&State<F>> {
        self.final_state.as_ref()
    }

    fn initial_state_grad(&self) -> Option<&State<F>> {
        self.initial_state_grad.as_ref()
    }

    fn gradient_trace(&self) -> Option<&GradientTrace<F>> {
        self.trace.as_ref()
    }

    fn fresh_copy(&self, rng: &mut dyn RngCore) -> Result<Box<dyn RecurrentLayer<F>>> {
        let weights = standard(self.cell.init_weights(rng, self.input_size, self.units)?);
        Ok(Box::new(Recurrent {
            name: self.name.clone(),
            grads: zeros_like(self.cell.kind(), &weights)?,
            weights,
            cell: self.cell.clone(),
            input_size: self.input_size,
            units: self.units,
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
            trace: None,
            ws: Workspace::default(),
        }))
    }
}
