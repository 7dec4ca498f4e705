//! The recurrent layer: the loop over time and backpropagation through time, written once
//! for any [`Cell`].
//!
//! # Forward
//! ```text
//! X  (B, T, I)  →  time-major copy Xs (T·B, I)
//! GX = Xs W_x + b                                   one GEMM for all T steps  (T·B, G·H)
//! h_0 = h0 or 0 (c_0 likewise)
//! for t = 1..T:
//!     gh  = h_{t−1} W_h (+ b_h)                     one (B,H)·(H,G·H) product per step
//!     h_t, c_t = cell(GX_t, gh, h_{t−1}, c_{t−1})   element-wise, in place
//! output = [h_1 … h_T] as (B, T, H) if return_sequences, else h_T (B, H)
//! ```
//!
//! # Backward (BPTT)
//! ```text
//! dh = 0, dc = 0
//! for t = T..1:
//!     dh += dL/doutput at step t                    (only t = T without return_sequences)
//!     dGX_t, dgh_t, dh_prev, dc = cell′(...)        element-wise
//!     dh = dh_prev + dgh_t W_hᵀ                     one product per step
//! dW_x += Xsᵀ dGX ;  dW_h += [h_0 … h_{T−1}]ᵀ dGH ;  db += Σ rows dGX   (one GEMM each)
//! dX = dGX W_xᵀ ;  dh0 = dh ;  dc0 = dc
//! ```
//! The per-step gradients are gathered in `dGX` (and `dGH`) so the weight gradients are one
//! large product each instead of T small ones. All buffers live in a workspace sized once
//! per (B, T) and reused, so the step loops allocate nothing.

use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView3, ArrayViewD, Axis, Ix3};
use ndarray_rand::rand::Rng;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{Layer, Mode, ParamMut, ParamRef, Params};
use crate::layers::recurrent::cell::{BackwardStep, Cell, ForwardStep, Weights};
use crate::layers::recurrent::state::State;
use crate::linalg::{add_column_sums, gemm, step_gemm, Op};
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Buffers reused across calls of the same shape (time-major: row `t·B + b`).
#[derive(Debug, Clone, Default)]
struct Workspace<F> {
    batch: usize,
    steps: usize,
    /// Input, (T·B, I).
    xs: Vec<F>,
    /// Input projections, then whatever the cell keeps per step, (T·B, G·H).
    gx: Vec<F>,
    /// Separate recurrent projection of the current step, (B, G·H).
    gh: Vec<F>,
    /// Hidden states h_0 … h_T, ((T+1)·B, H).
    hs: Vec<F>,
    /// Cell states c_0 … c_T, ((T+1)·B, H); empty without a cell state.
    cs: Vec<F>,
    /// The cell's per-step cache, (T·B, W).
    cache: Vec<F>,
    /// dL/dGX, (T·B, G·H).
    dgx: Vec<F>,
    /// dL/dgh per step, (T·B, G·H); empty unless the cell keeps gh separate.
    dgh: Vec<F>,
    dh: Vec<F>,
    dh_prev: Vec<F>,
    dc: Vec<F>,
    dc_prev: Vec<F>,
    /// dL/dXs, (T·B, I).
    dxs: Vec<F>,
    /// W_hᵀ, (G·H, H): the backward step reads it row by row.
    wh_t: Vec<F>,
    /// Whether the buffers hold a training forward pass that backward may use.
    valid: bool,
}

/// A recurrent layer: one [`Cell`] stepped over time, with full BPTT.
///
/// The concrete layers are aliases: [`super::SimpleRnn`] is `Recurrent<F, SimpleRnnCell>`.
/// Weights follow the lecture's row-vector layout (see [`Weights`]).
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`.
/// An initial state, when given, is `(B, H)` (plus `c` `(B, H)` for cells with a cell state).
#[derive(Debug, Clone)]
pub struct Recurrent<F: Float, C: Cell<F>> {
    name: String,
    cell: C,
    input_size: usize,
    units: usize,
    return_sequences: bool,
    weights: Weights<F>,
    grads: Weights<F>,
    initial_state: Option<State<F>>,
    final_state: Option<State<F>>,
    initial_state_grad: Option<State<F>>,
    ws: Workspace<F>,
}

fn zeros_like<F: Float>(w: &Weights<F>) -> Weights<F> {
    Weights {
        kernel: Array2::zeros(w.kernel.raw_dim()),
        recurrent_kernel: Array2::zeros(w.recurrent_kernel.raw_dim()),
        bias: Array1::zeros(w.bias.raw_dim()),
        recurrent_bias: w.recurrent_bias.as_ref().map(|b| Array1::zeros(b.raw_dim())),
    }
}

/// A contiguous row-major slice of a standard-layout array.
fn flat<F, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice().unwrap_or(&[])
}

fn flat_mut<F, D: ndarray::Dimension>(a: &mut ndarray::Array<F, D>) -> &mut [F] {
    a.as_slice_mut().unwrap_or(&mut [])
}

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Builds a layer stepping `cell` over time, with the cell's default initialisation drawn
    /// from `rng`. The `*Config` builders ([`super::SimpleRnnConfig`]...) call this; use it
    /// directly for a cell of your own.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `input_size` or `units` is 0.
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
        let weights = cell.init_weights(rng, input_size, units);
        Ok(Recurrent {
            name: cell.default_name().to_string(),
            grads: zeros_like(&weights),
            weights,
            cell,
            input_size,
            units,
            return_sequences,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
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

    /// Sets whether to return every step's state. The weights are unaffected.
    pub fn set_return_sequences(&mut self, on: bool) {
        self.return_sequences = on;
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
        let kind = self.cell.kind();
        check_same(&format!("{kind} kernel"), self.weights.kernel.shape(), w.kernel.shape())?;
        check_same(
            &format!("{kind} recurrent_kernel"),
            self.weights.recurrent_kernel.shape(),
            w.recurrent_kernel.shape(),
        )?;
        check_same(&format!("{kind} bias"), self.weights.bias.shape(), w.bias.shape())?;
        match (&self.weights.recurrent_bias, &w.recurrent_bias) {
            (Some(a), Some(b)) => check_same(&format!("{kind} recurrent_bias"), a.shape(), b.shape())?,
            (None, None) => {}
            (Some(a), None) => {
                return Err(Error::shape(format!("{kind} recurrent_bias"), fmt_shape(a.shape()), "none"));
            }
            (None, Some(b)) => {
                return Err(Error::shape(format!("{kind} recurrent_bias"), "none", fmt_shape(b.shape())));
            }
        }
        check_finite(&format!("{kind} kernel"), &w.kernel)?;
        check_finite(&format!("{kind} recurrent_kernel"), &w.recurrent_kernel)?;
        check_finite(&format!("{kind} bias"), &w.bias)?;
        if let Some(b) = &w.recurrent_bias {
            check_finite(&format!("{kind} recurrent_bias"), b)?;
        }
        // Keep the standard (row-major) layout the kernels read.
        self.weights = Weights {
            kernel: w.kernel.as_standard_layout().into_owned(),
            recurrent_kernel: w.recurrent_kernel.as_standard_layout().into_owned(),
            bias: w.bias.as_standard_layout().into_owned(),
            recurrent_bias: w.recurrent_bias.map(|b| b.as_standard_layout().into_owned()),
        };
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

    fn check_state(&self, s: &State<F>, batch: usize) -> Result<()> {
        let want = [batch, self.units];
        let (kind, what) = (self.cell.kind(), "initial state");
        check_same(&format!("{kind} {what} h"), &want, s.h.shape())?;
        check_finite(&format!("{kind} {what} h"), &s.h)?;
        match (&s.c, C::HAS_CELL_STATE) {
            (Some(c), true) => {
                check_same(&format!("{kind} {what} c"), &want, c.shape())?;
                check_finite(&format!("{kind} {what} c"), c)?;
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
        let kind = self.cell.kind();
        let (b, t, i) = x.dim();
        if i != self.input_size {
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}) for {kind} with input size {}", self.input_size, self.input_size),
                fmt_shape(x.shape()),
            ));
        }
        check_nonempty(&format!("{} input", self.name), x.shape(), &["batch size", "time steps", "features"])?;
        check_finite(&format!("{} input", self.name), &x)?;
        if let Some(s) = initial {
            self.check_state(s, b)?;
        }
        self.ws.valid = false;
        self.final_state = None;
        self.initial_state_grad = None;

        let h = self.units;
        let gw = C::GATES * h;
        let cw = self.cell.cache_width(h);
        let ws = &mut self.ws;
        ws.batch = b;
        ws.steps = t;
        ws.xs.resize(t * b * i, F::zero());
        ws.gx.resize(t * b * gw, F::zero());
        ws.gh.resize(if C::SEPARATE_RECURRENT { b * gw } else { 0 }, F::zero());
        ws.hs.resize((t + 1) * b * h, F::zero());
        ws.cs.resize(if C::HAS_CELL_STATE { (t + 1) * b * h } else { 0 }, F::zero());
        ws.cache.resize(t * b * cw, F::zero());

        // Time-major copy of the input: row t·B + b holds x[b, t, :].
        for (ti, xt) in x.axis_iter(Axis(1)).enumerate() {
            for (bi, row) in xt.outer_iter().enumerate() {
                let dst = &mut ws.xs[(ti * b + bi) * i..(ti * b + bi + 1) * i];
                dst.iter_mut().zip(row.iter()).for_each(|(d, &s)| *d = s);
            }
        }
        // GX = Xs W_x + b for every step at once.
        let bias = flat(&self.weights.bias);
        for row in ws.gx.chunks_exact_mut(gw) {
            row.copy_from_slice(bias);
        }
        gemm(t * b, gw, i, F::one(), &ws.xs, Op::N, flat(&self.weights.kernel), Op::N, F::one(), &mut ws.gx)?;

        // Initial state.
        match initial {
            Some(s) => {
                ws.hs[..b * h].iter_mut().zip(s.h.iter()).for_each(|(d, &v)| *d = v);
                if let Some(c) = &s.c {
                    ws.cs[..b * h].iter_mut().zip(c.iter()).for_each(|(d, &v)| *d = v);
                }
            }
            None => {
                ws.hs[..b * h].iter_mut().for_each(|d| *d = F::zero());
                if C::HAS_CELL_STATE {
                    ws.cs[..b * h].iter_mut().for_each(|d| *d = F::zero());
                }
            }
        }

        let wh = flat(&self.weights.recurrent_kernel);
        let rbias = self.weights.recurrent_bias.as_ref().map(flat).unwrap_or(&[]);
        let bh = b * h;
        for step in 0..t {
            let (hs_done, hs_rest) = ws.hs.split_at_mut((step + 1) * bh);
            let h_prev = &hs_done[step * bh..];
            let h_next = &mut hs_rest[..bh];
            let (c_prev, c_next): (&[F], &mut [F]) = if C::HAS_CELL_STATE {
                let (cs_done, cs_rest) = ws.cs.split_at_mut((step + 1) * bh);
                (&cs_done[step * bh..], &mut cs_rest[..bh])
            } else {
                (&[], &mut [])
            };
            let gx_t = &mut ws.gx[step * b * gw..(step + 1) * b * gw];
            if C::SEPARATE_RECURRENT {
                for row in ws.gh.chunks_exact_mut(gw) {
                    row.copy_from_slice(rbias);
                }
                step_gemm(b, h, gw, h_prev, wh, &mut ws.gh, true);
            } else {
                step_gemm(b, h, gw, h_prev, wh, gx_t, true);
            }
            self.cell.forward_step(ForwardStep {
                batch: b,
                units: h,
                gx: gx_t,
                gh: &ws.gh,
                h_prev,
                c_prev,
                h: h_next,
                c: c_next,
                cache: &mut ws.cache[step * b * cw..(step + 1) * b * cw],
            });
        }

        // Outputs and the final state.
        let h_last = Array2::from_shape_vec((b, h), ws.hs[t * bh..].to_vec())
            .map_err(|e| Error::shape("final state", format!("({b}, {h})"), e.to_string()))?;
        let c_last = if C::HAS_CELL_STATE {
            Some(
                Array2::from_shape_vec((b, h), ws.cs[t * bh..].to_vec())
                    .map_err(|e| Error::shape("final cell state", format!("({b}, {h})"), e.to_string()))?,
            )
        } else {
            None
        };
        let out = if self.return_sequences {
            let hs = &ws.hs;
            Array3::from_shape_fn((b, t, h), |(bi, ti, k)| hs[(ti + 1) * bh + bi * h + k]).into_dyn()
        } else {
            h_last.clone().into_dyn()
        };
        self.final_state = Some(State { h: h_last, c: c_last });
        ws.valid = mode == Mode::Train;
        Ok(out)
    }

    /// Backpropagation through time; returns dL/dx `(B, T, I)`.
    fn backward_seq(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<Array3<F>> {
        if !self.ws.valid {
            return Err(Error::NoForwardCache { layer: self.name.clone() });
        }
        let (b, t, i, h) = (self.ws.batch, self.ws.steps, self.input_size, self.units);
        let want: Vec<usize> = if self.return_sequences { vec![b, t, h] } else { vec![b, h] };
        check_same(&format!("{} grad_output (must match the output)", self.name), &want, grad_output.shape())?;
        check_finite(&format!("{} grad_output", self.name), &grad_output)?;
        let g = grad_output.as_standard_layout();
        let g = g.as_slice().unwrap_or(&[]);

        let gw = C::GATES * h;
        let cw = self.cell.cache_width(h);
        let bh = b * h;
        let ws = &mut self.ws;
        ws.dgx.resize(t * b * gw, F::zero());
        ws.dgh.resize(if C::SEPARATE_RECURRENT { t * b * gw } else { 0 }, F::zero());
        for v in [&mut ws.dh, &mut ws.dh_prev] {
            v.clear();
            v.resize(bh, F::zero());
        }
        for v in [&mut ws.dc, &mut ws.dc_prev] {
            v.clear();
            v.resize(if C::HAS_CELL_STATE { bh } else { 0 }, F::zero());
        }
        ws.dxs.resize(t * b * i, F::zero());

        // W_hᵀ once per pass, so the per-step product streams contiguous rows.
        ws.wh_t.resize(gw * h, F::zero());
        let wh = flat(&self.weights.recurrent_kernel);
        for (r, row) in wh.chunks_exact(gw).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                ws.wh_t[c * h + r] = v;
            }
        }
        for step in (0..t).rev() {
            // The output's gradient enters at this step.
            if self.return_sequences {
                for bi in 0..b {
                    let src = &g[(bi * t + step) * h..(bi * t + step + 1) * h];
                    ws.dh[bi * h..(bi + 1) * h].iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                }
            } else if step == t - 1 {
                ws.dh.iter_mut().zip(g).for_each(|(d, &s)| *d += s);
            }
            let (c_prev, c_now): (&[F], &[F]) = if C::HAS_CELL_STATE {
                (&ws.cs[step * bh..(step + 1) * bh], &ws.cs[(step + 1) * bh..(step + 2) * bh])
            } else {
                (&[], &[])
            };
            let rows = step * b * gw..(step + 1) * b * gw;
            let dgh: &mut [F] = if C::SEPARATE_RECURRENT { &mut ws.dgh[rows.clone()] } else { &mut [] };
            self.cell.backward_step(BackwardStep {
                batch: b,
                units: h,
                gx: &ws.gx[rows.clone()],
                h_prev: &ws.hs[step * bh..(step + 1) * bh],
                c_prev,
                h: &ws.hs[(step + 1) * bh..(step + 2) * bh],
                c: c_now,
                cache: &ws.cache[step * b * cw..(step + 1) * b * cw],
                dh: &mut ws.dh,
                dc: &ws.dc,
                dgx: &mut ws.dgx[rows.clone()],
                dgh,
                dh_prev: &mut ws.dh_prev,
                dc_prev: &mut ws.dc_prev,
            });
            // dh_{t−1} = direct part + dgh_t W_hᵀ.
            let dgh_t = if C::SEPARATE_RECURRENT { &ws.dgh[rows] } else { &ws.dgx[rows] };
            step_gemm(b, gw, h, dgh_t, &ws.wh_t, &mut ws.dh_prev, true);
            std::mem::swap(&mut ws.dh, &mut ws.dh_prev);
            std::mem::swap(&mut ws.dc, &mut ws.dc_prev);
        }

        // Weight gradients: one product each over all T·B rows.
        let dgh_all: &[F] = if C::SEPARATE_RECURRENT { &ws.dgh } else { &ws.dgx };
        gemm(i, gw, t * b, F::one(), &ws.xs, Op::T, &ws.dgx, Op::N, F::one(), flat_mut(&mut self.grads.kernel))?;
        gemm(
            h,
            gw,
            t * b,
            F::one(),
            &ws.hs[..t * bh],
            Op::T,
            dgh_all,
            Op::N,
            F::one(),
            flat_mut(&mut self.grads.recurrent_kernel),
        )?;
        add_column_sums(&ws.dgx, gw, flat_mut(&mut self.grads.bias));
        if let Some(rb) = self.grads.recurrent_bias.as_mut() {
            add_column_sums(&ws.dgh, gw, flat_mut(rb));
        }
        // dXs = dGX W_xᵀ, then back to batch-major.
        gemm(t * b, i, gw, F::one(), &ws.dgx, Op::N, flat(&self.weights.kernel), Op::T, F::zero(), &mut ws.dxs)?;
        let dxs = &ws.dxs;
        let dx = Array3::from_shape_fn((b, t, i), |(bi, ti, k)| dxs[(ti * b + bi) * i + k]);

        let dh0 = Array2::from_shape_vec((b, h), ws.dh.clone())
            .map_err(|e| Error::shape("initial state gradient", format!("({b}, {h})"), e.to_string()))?;
        let dc0 = if C::HAS_CELL_STATE {
            Some(
                Array2::from_shape_vec((b, h), ws.dc.clone())
                    .map_err(|e| Error::shape("initial cell state gradient", format!("({b}, {h})"), e.to_string()))?,
            )
        } else {
            None
        };
        self.initial_state_grad = Some(State { h: dh0, c: dc0 });
        Ok(dx)
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
        let shape = input.shape().to_vec();
        let x = input.into_dimensionality::<Ix3>().map_err(|_| {
            Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {}): rank 3", self.input_size),
                format!("{} (rank {})", fmt_shape(&shape), shape.len()),
            )
        })?;
        let init = self.initial_state.take();
        let out = self.forward_with_state(x, init.as_ref(), mode);
        self.initial_state = init;
        out
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        Ok(self.backward_seq(grad_output)?.into_dyn())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
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
        format!("units={}{sep}{extra}, return_sequences={}", self.units, self.return_sequences)
    }
}
