//! [`Recurrent`]: one [`Cell`] stepped over time with full BPTT. This file holds the layer,
//! its construction, parameters, options and states; the loop itself is in `forward.rs` and
//! `backward.rs`, its buffers in `workspace.rs`, the weight-gradient products in
//! `grads.rs` and the trait implementations in `impls.rs`.
//!
//! # Forward
//! ```text
//! X  (B, T, I)  →  time-major copy Xs (T·B, I)   (read from T down to 1 with go_backwards;
//!                                                  times the input dropout mask in training)
//! GX = Xs W_x + b                                   one GEMM for all T steps  (T·B, G·H)
//! h_0 = h0 or 0 (c_0 likewise)
//! for t = 1..T:
//!     h̃ = h_{t−1} ⊙ m_h                             (recurrent dropout, training only)
//!     gh  = h̃ W_h[:, :E] (+ b_h)                    the cell's recurrent product (default: one GEMM)
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
//!     dh = dh_prev + (dgh_t W_h[:, :E]ᵀ) ⊙ m_h       the product's backward (default: one GEMM)
//! dW_x += Xsᵀ dGX ;  dW_h[:, :E] += H̃ᵀ dGH ;  db += Σ rows dGX   (one GEMM each)
//! the cell's own parameters: Cell::backward_params
//! dX = (dGX W_xᵀ) ⊙ m_x ;  dh0 = dh ;  dc0 = dc
//! ```
//! The per-step gradients are gathered in `dGX` (and `dGH`) so the weight gradients are one
//! large product each instead of T small ones. All buffers live in a workspace sized once
//! per (B, T) and reused, so the step loops allocate nothing.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::recurrent::cell::{Cell, Init, ParamSpec, Role, Weights};
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::trace::GradientTrace;
use crate::layers::recurrent::workspace::Workspace;
use crate::limits;
use crate::shape::{check_finite, check_same, fmt_shape};

/// Where the parameters with the loop's roles sit in the parameter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slots {
    pub(crate) kernel: usize,
    pub(crate) bias: Option<usize>,
    pub(crate) recurrent_kernel: Option<usize>,
    pub(crate) recurrent_bias: Option<usize>,
}

/// A recurrent layer: one [`Cell`] stepped over time, with full BPTT.
///
/// The concrete layers are aliases: [`super::SimpleRnn`], [`super::Lstm`] and [`super::Gru`]
/// are `Recurrent<F, SimpleRnnCell>`, `Recurrent<F, LstmCell>` and `Recurrent<F, GruCell>`;
/// a cell written outside the crate gets the same loop as `Recurrent<F, MyCell>`.
/// Parameters are the cell's [`ParamSpec`]s, in its order; the dense cells' weights follow
/// the lecture's row-vector layout (see [`Weights`]).
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`.
/// An initial state, when given, is `h` `(B, H)` (plus `c` `(B, S)` for cells with a second
/// state part, `S = H` for the LSTM).
///
/// # Options shared by every cell
/// * `return_sequences`: every step's state, or only the last.
/// * `go_backwards`: read the input from the last step to the first (Keras's option); the
///   output sequence is then in processing order, i.e. reversed.
/// * `dropout` and `recurrent_dropout` (Keras's): in training, the inputs and the state fed
///   to the recurrent product are multiplied by masks drawn once per sequence and kept for
///   every step (Gal and Ghahramani's variational dropout), scaled by `1/(1−p)`; off in
///   [`crate::Mode::Infer`]. The masks come from the layer's seeded source
///   ([`Recurrent::set_seed`]), so training is reproducible.
/// * Initial state: [`Recurrent::set_initial_state`], or per call with
///   [`Recurrent::forward_with_state`].
/// * Keras's `return_state`: [`Recurrent::forward_return_state`] returns the output and the
///   final state together, and [`Recurrent::backward_with_state`] takes a gradient for that
///   final state (an encoder's state feeding a decoder).
/// * After `backward`: [`Recurrent::initial_state_grad`] and [`Recurrent::gradient_trace`].
#[derive(Debug, Clone)]
pub struct Recurrent<F: Float, C: Cell<F>> {
    pub(crate) name: String,
    pub(crate) cell: C,
    pub(crate) input_size: usize,
    pub(crate) units: usize,
    pub(crate) return_sequences: bool,
    pub(crate) go_backwards: bool,
    pub(crate) specs: Vec<ParamSpec>,
    pub(crate) slots: Slots,
    pub(crate) params: Vec<ArrayD<F>>,
    pub(crate) grads: Vec<ArrayD<F>>,
    pub(crate) dropout: f64,
    pub(crate) recurrent_dropout: f64,
    pub(crate) seed: u64,
    pub(crate) draws: u64,
    /// Forward passes run (see `RecurrentLayer::pass_count`).
    pub(crate) passes: u64,
    pub(crate) initial_state: Option<State<F>>,
    pub(crate) final_state: Option<State<F>>,
    pub(crate) initial_state_grad: Option<State<F>>,
    pub(crate) trace: Option<GradientTrace<F>>,
    pub(crate) ws: Workspace<F>,
    /// Whether optimisers update the weights (see `Layer::set_trainable`).
    pub(crate) trainable: bool,
}

/// Checks a cell's parameter list against the loop's rules and finds the role slots.
fn slots_of<F: Float, C: Cell<F>>(cell: &C, specs: &[ParamSpec], input: usize, units: usize) -> Result<Slots> {
    let kind = cell.kind();
    // Every size first, before anything is drawn or allocated.
    for s in specs {
        limits::elements(
            format_args!("{kind} {} {:?} for input size {input} and {units} units", s.name, s.shape),
            &s.shape,
        )?;
    }
    let gw = limits::mul(format_args!("{kind} gate columns (G·H) for {units} units"), cell.gates(), units)?;
    let ew = cell.recurrent_columns(units);
    if ew > gw {
        return Err(Error::config(format!("{kind} recurrent_columns"), format!("at most G·H = {gw}"), ew));
    }
    let mut slots = Slots { kernel: usize::MAX, bias: None, recurrent_kernel: None, recurrent_bias: None };
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|o| o.name == s.name) {
            return Err(Error::config(
                format!("{kind} parameter names"),
                "unique names",
                format!("{:?} twice", s.name),
            ));
        }
        let (slot, want): (&mut Option<usize>, Vec<usize>) = match s.role {
            Role::InputKernel => {
                if slots.kernel != usize::MAX {
                    return Err(Error::config(format!("{kind} parameters"), "one input kernel", "two"));
                }
                check_same(format_args!("{kind} {} (input kernel)", s.name), &[input, gw], &s.shape)?;
                slots.kernel = i;
                continue;
            }
            Role::InputBias => (&mut slots.bias, vec![gw]),
            Role::RecurrentKernel => (&mut slots.recurrent_kernel, vec![units, gw]),
            Role::RecurrentBias => (&mut slots.recurrent_bias, vec![ew]),
            Role::Own => continue,
        };
        if slot.is_some() {
            return Err(Error::config(
                format!("{kind} parameters"),
                format!("at most one with role {:?}", s.role),
                "two",
            ));
        }
        check_same(format_args!("{kind} {} ({:?})", s.name, s.role), &want, &s.shape)?;
        *slot = Some(i);
    }
    if slots.kernel == usize::MAX {
        return Err(Error::config(format!("{kind} parameters"), "one with Role::InputKernel", "none"));
    }
    if ew > 0 && slots.recurrent_kernel.is_none() {
        return Err(Error::config(
            format!("{kind} recurrent_columns"),
            "0 for a cell without a Role::RecurrentKernel parameter",
            ew,
        ));
    }
    if slots.recurrent_bias.is_some() != cell.separate_recurrent() {
        return Err(Error::config(
            format!("{kind} recurrent bias"),
            "a Role::RecurrentBias parameter exactly when separate_recurrent() is true",
            format!("separate_recurrent = {}", cell.separate_recurrent()),
        ));
    }
    Ok(slots)
}

/// Draws every parameter of `specs` in order from `rng`.
fn draw_params<F: Float, R: Rng + ?Sized>(kind: &str, specs: &[ParamSpec], rng: &mut R) -> Result<Vec<ArrayD<F>>> {
    specs.iter().map(|s| s.init.draw::<F, R>(rng, &s.shape, &format!("{kind} {}", s.name))).collect()
}

/// Zero arrays shaped like `params` (their gradients).
fn zeros_like<F: Float>(kind: &str, specs: &[ParamSpec]) -> Result<Vec<ArrayD<F>>> {
    specs.iter().map(|s| limits::try_zeros(IxDyn(&s.shape), format_args!("{kind} {} gradient", s.name))).collect()
}

/// A generator for initialisers that draw nothing (zeros): any draw would be a bug.
struct NeverDraws;

impl ndarray_rand::rand::RngCore for NeverDraws {
    fn next_u32(&mut self) -> u32 {
        0
    }

    fn next_u64(&mut self) -> u64 {
        0
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
}

/// A dropout rate: in [0, 1).
pub(crate) fn check_rate(what: &str, p: f64) -> Result<()> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::config(what.to_string(), "a rate in [0, 1)", p))
    }
}

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// Builds a layer stepping `cell` over time, with the cell's initialisers drawing from
    /// `rng` in the order of [`Cell::params`]. The `*Config` builders
    /// ([`super::SimpleRnnConfig`]...) call this; use it directly for a cell of your own.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `input_size` or `units` is 0 or the cell's parameter list
    /// breaks the loop's rules (see [`Cell::params`]); [`Error::TooLarge`] or
    /// [`Error::OutOfMemory`] for sizes that cannot be held.
    pub fn new<R: Rng + ?Sized>(
        cell: C,
        input_size: usize,
        units: usize,
        return_sequences: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let specs = cell.params(input_size, units);
        Self::from_specs(cell, input_size, units, return_sequences, specs, rng)
    }

    fn from_specs<R: Rng + ?Sized>(
        cell: C,
        input_size: usize,
        units: usize,
        return_sequences: bool,
        specs: Vec<ParamSpec>,
        rng: &mut R,
    ) -> Result<Self> {
        let kind = cell.kind();
        if input_size == 0 {
            return Err(Error::config(format!("{kind} input size"), "at least 1", 0));
        }
        if units == 0 {
            return Err(Error::config(format!("{kind} units"), "at least 1", 0));
        }
        let slots = slots_of(&cell, &specs, input_size, units)?;
        let params = draw_params(kind, &specs, rng)?;
        Ok(Recurrent {
            name: cell.default_name().to_string(),
            grads: zeros_like(kind, &specs)?,
            params,
            specs,
            slots,
            cell,
            input_size,
            units,
            return_sequences,
            go_backwards: false,
            dropout: 0.0,
            recurrent_dropout: 0.0,
            seed: 0,
            draws: 0,
            passes: 0,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
            trace: None,
            ws: Workspace::default(),
            trainable: true,
        })
    }

    /// A layer whose parameters are all zeros, drawn from nothing: for loaders, which set
    /// every parameter from a file right after (a 4096-unit orthogonal draw thrown away would
    /// cost seconds).
    pub(crate) fn zeroed(cell: C, input_size: usize, units: usize, return_sequences: bool) -> Result<Self> {
        let specs: Vec<ParamSpec> = cell.params(input_size, units);
        let zeros: Vec<ParamSpec> = specs.iter().map(|s| ParamSpec { init: Init::Zeros, ..s.clone() }).collect();
        let mut never = NeverDraws;
        let mut layer = Self::from_specs(cell, input_size, units, return_sequences, zeros, &mut never)?;
        // Keep the cell's own initialisers on record (fresh copies draw from them).
        layer.specs = specs;
        Ok(layer)
    }

    /// A layer from its weights as they are (the PyTorch import). The cell's own parameters,
    /// if it has any, are zeros.
    ///
    /// # Errors
    /// As [`Recurrent::set_weights`], and [`Error::InvalidConfig`] for zero sizes.
    pub(crate) fn from_weights(
        cell: C,
        weights: Weights<F>,
        return_sequences: bool,
        go_backwards: bool,
    ) -> Result<Self> {
        let (input_size, units) = (weights.kernel.nrows(), weights.recurrent_kernel.nrows());
        let mut layer = Self::zeroed(cell, input_size, units, return_sequences)?;
        layer.set_weights(weights)?;
        layer.go_backwards = go_backwards;
        Ok(layer)
    }

    /// The same configuration with fresh parameters drawn from `rng` (no state, no cache).
    pub(crate) fn fresh(&self, rng: &mut dyn ndarray_rand::rand::RngCore) -> Result<Self> {
        let kind = self.cell.kind();
        Ok(Recurrent {
            name: self.name.clone(),
            cell: self.cell.clone(),
            input_size: self.input_size,
            units: self.units,
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            specs: self.specs.clone(),
            slots: self.slots,
            params: draw_params(kind, &self.specs, rng)?,
            grads: zeros_like(kind, &self.specs)?,
            dropout: self.dropout,
            recurrent_dropout: self.recurrent_dropout,
            seed: self.seed,
            draws: 0,
            passes: 0,
            initial_state: None,
            final_state: None,
            initial_state_grad: None,
            trace: None,
            ws: Workspace::default(),
            trainable: self.trainable,
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

    /// The input dropout rate (Keras's `dropout`), 0 when off.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Sets the input dropout rate: in training, each sample's input features are dropped
    /// with probability `p` by one mask kept for every step, and the rest scaled by
    /// `1/(1−p)`. Any training cache is dropped.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `p` is in [0, 1); the layer is unchanged.
    pub fn set_dropout(&mut self, p: f64) -> Result<()> {
        check_rate(&format!("{} dropout", self.cell.kind()), p)?;
        self.dropout = p;
        self.ws.valid = false;
        Ok(())
    }

    /// The recurrent dropout rate (Keras's `recurrent_dropout`), 0 when off.
    pub fn recurrent_dropout(&self) -> f64 {
        self.recurrent_dropout
    }

    /// Sets the recurrent dropout rate: in training, the state fed to the recurrent product
    /// is multiplied by one mask per sample, kept for every step (Gal and Ghahramani), scaled
    /// by `1/(1−p)`. The state itself (output, carry-over) is not dropped. Any training cache
    /// is dropped.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `p` is in [0, 1); the layer is unchanged.
    pub fn set_recurrent_dropout(&mut self, p: f64) -> Result<()> {
        check_rate(&format!("{} recurrent_dropout", self.cell.kind()), p)?;
        self.recurrent_dropout = p;
        self.ws.valid = false;
        Ok(())
    }

    /// The seed of the layer's random source (dropout masks, a cell's own draws).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Restarts the layer's random source from `seed`: the n-th training pass after this
    /// draws the same masks whatever came before. `fit` reseeds every layer at each epoch's start.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        self.draws = 0;
    }

    /// The generator of the next pass: a fresh stream per training pass; inference passes
    /// all read one fixed stream, so they are deterministic.
    pub(crate) fn pass_rng(&mut self, train: bool) -> StdRng {
        let counter = if train {
            self.draws += 1;
            self.draws - 1
        } else {
            u64::MAX
        };
        StdRng::seed_from_u64(crate::random::mix(self.seed, counter))
    }

    /// The cell's parameter list: names, shapes, initialisers and roles, in visiting order.
    pub fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// The parameter called `name`, if the cell has one.
    pub fn param(&self, name: &str) -> Option<ArrayViewD<'_, F>> {
        let i = self.specs.iter().position(|s| s.name == name)?;
        self.params.get(i).map(|a| a.view())
    }

    /// The gradient accumulated for the parameter called `name`.
    pub fn param_grad(&self, name: &str) -> Option<ArrayViewD<'_, F>> {
        let i = self.specs.iter().position(|s| s.name == name)?;
        self.grads.get(i).map(|a| a.view())
    }

    /// Replaces the parameter called `name`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if there is no such parameter or the shape differs;
    /// [`Error::NonFinite`] for NaN or infinities. The layer is unchanged on error.
    pub fn set_param(&mut self, name: &str, value: ArrayD<F>) -> Result<()> {
        let kind = self.cell.kind();
        let names: Vec<&str> = self.specs.iter().map(|s| s.name.as_str()).collect();
        let i = names
            .iter()
            .position(|&n| n == name)
            .ok_or_else(|| Error::shape(format!("{kind} parameter"), format!("one of {names:?}"), name))?;
        check_same(format_args!("{kind} {name}"), &self.specs[i].shape, value.shape())?;
        check_finite(format_args!("{kind} {name}"), &value)?;
        self.params[i] = value.as_standard_layout().into_owned();
        Ok(())
    }

    fn role_array(&self, of: &[ArrayD<F>], slot: Option<usize>) -> Option<ArrayD<F>> {
        slot.and_then(|i| of.get(i)).cloned()
    }

    fn as_weights(&self, of: &[ArrayD<F>]) -> Weights<F> {
        let two = |a: Option<ArrayD<F>>| {
            a.and_then(|a| a.into_dimensionality().ok()).unwrap_or_else(|| ndarray::Array2::zeros((0, 0)))
        };
        let one = |a: Option<ArrayD<F>>| a.and_then(|a| a.into_dimensionality().ok());
        Weights {
            kernel: two(self.role_array(of, Some(self.slots.kernel))),
            recurrent_kernel: two(self.role_array(of, self.slots.recurrent_kernel)),
            bias: one(self.role_array(of, self.slots.bias)).unwrap_or_else(|| ndarray::Array1::zeros(0)),
            recurrent_bias: one(self.role_array(of, self.slots.recurrent_bias)),
        }
    }

    /// The parameters with the loop's four roles as [`Weights`] (a copy). A role the cell
    /// does not have comes back empty (`(0, 0)` or length 0; `recurrent_bias` `None`).
    pub fn weights(&self) -> Weights<F> {
        self.as_weights(&self.params)
    }

    /// The gradients accumulated by `backward`, in the same layout as [`Recurrent::weights`].
    pub fn grads(&self) -> Weights<F> {
        self.as_weights(&self.grads)
    }

    /// Replaces the parameters with the loop's four roles at once (the cell's own parameters,
    /// if any, are kept: see [`Recurrent::set_param`]).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if any array's shape differs from the current one (or the
    /// recurrent bias is present for a cell without one, or missing for one with it);
    /// [`Error::NonFinite`] for NaN or infinities. The layer is unchanged on error.
    pub fn set_weights(&mut self, w: Weights<F>) -> Result<()> {
        let kind = self.cell.kind();
        let s = self.slots;
        let mut updates: Vec<(usize, ArrayD<F>, &str)> = vec![(s.kernel, w.kernel.into_dyn(), "kernel")];
        match s.recurrent_kernel {
            Some(i) => updates.push((i, w.recurrent_kernel.into_dyn(), "recurrent_kernel")),
            None if w.recurrent_kernel.is_empty() => {}
            None => {
                return Err(Error::shape(
                    format!("{kind} recurrent_kernel"),
                    "none (this cell has no recurrent kernel)",
                    fmt_shape(w.recurrent_kernel.shape()),
                ))
            }
        }
        match s.bias {
            Some(i) => updates.push((i, w.bias.into_dyn(), "bias")),
            None if w.bias.is_empty() => {}
            None => {
                return Err(Error::shape(
                    format!("{kind} bias"),
                    "none (this cell has no input bias)",
                    fmt_shape(w.bias.shape()),
                ))
            }
        }
        match (s.recurrent_bias, w.recurrent_bias) {
            (Some(i), Some(b)) => updates.push((i, b.into_dyn(), "recurrent_bias")),
            (None, None) => {}
            (Some(i), None) => {
                return Err(Error::shape(format!("{kind} recurrent_bias"), fmt_shape(self.params[i].shape()), "none"));
            }
            (None, Some(b)) => {
                return Err(Error::shape(format!("{kind} recurrent_bias"), "none", fmt_shape(b.shape())));
            }
        }
        for (i, a, name) in &updates {
            check_same(format_args!("{kind} {name}"), self.params[*i].shape(), a.shape())?;
        }
        for (_, a, name) in &updates {
            check_finite(format_args!("{kind} {name}"), a)?;
        }
        for (i, a, _) in updates {
            // Keep the standard (row-major) layout the kernels read.
            self.params[i] = a.as_standard_layout().into_owned();
        }
        Ok(())
    }

    /// Sets the initial state used by [`crate::Layer::forward`] (`None`: zeros). It is checked
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

    /// Width `S` of the second state part (0 without one).
    pub(crate) fn state_width(&self) -> usize {
        self.cell.cell_state_width(self.units)
    }

    pub(crate) fn check_state(&self, what: &str, s: &State<F>, batch: usize) -> Result<()> {
        let want = [batch, self.units];
        let kind = self.cell.kind();
        check_same(format_args!("{kind} {what} h"), &want, s.h.shape())?;
        check_finite(format_args!("{kind} {what} h"), &s.h)?;
        let sw = self.state_width();
        match (&s.c, sw > 0) {
            (Some(c), true) => {
                check_same(format_args!("{kind} {what} c"), &[batch, sw], c.shape())?;
                check_finite(format_args!("{kind} {what} c"), c)?;
            }
            (None, true) => {
                return Err(Error::shape(format!("{kind} {what} c"), fmt_shape(&[batch, sw]), "none"));
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
}
