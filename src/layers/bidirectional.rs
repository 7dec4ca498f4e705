//! [`Bidirectional`]: a recurrent layer run over the sequence in both directions.
//!
//! ```text
//! forward half:   h→_t  from x_1 … x_t
//! backward half:  h←_t  from x_T … x_t      (a copy of the layer with go_backwards, its
//!                                            outputs flipped back so position t lines up)
//! output_t = merge(h→_t, h←_t)              concat (default) [h→ | h←], sum, mul or average
//! ```
//!
//! This is PyTorch's `bidirectional=True` and Keras's `Bidirectional` wrapper: with
//! `return_sequences` the output is `(B, T, 2H)` for concat (else `(B, T, H)`); without it,
//! the merge of the forward half's last state and the backward half's last state (the one
//! after reading x_1).

use ndarray::{Array2, ArrayD, ArrayView2, ArrayView3, ArrayViewD, Axis, Ix3};
use ndarray_rand::rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{visit_part, Layer, Mode, ParamMut, ParamRef, Params};
use crate::layers::recurrent::{RecurrentLayer, State};
use crate::limits;
use crate::shape::{check_finite, check_same, fmt_shape};

/// How the two directions' outputs are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMode {
    /// `[forward | backward]` on the last axis (width 2H). Keras's and PyTorch's default.
    #[default]
    Concat,
    /// `forward + backward`.
    Sum,
    /// `forward ⊙ backward`.
    Mul,
    /// `(forward + backward) / 2`.
    Average,
}

#[derive(Debug, Clone)]
struct BiCache<F> {
    /// The forward half's output.
    fwd: ArrayD<F>,
    /// The backward half's output, aligned with the forward half's positions.
    bwd: ArrayD<F>,
    /// The halves' pass counts after this forward pass: a half run again on its own since
    /// (through `*_layer_mut`) holds another pass in its cache.
    passes: (u64, u64),
}

/// A recurrent layer and a go-backwards copy of it, run side by side and merged.
///
/// # Shapes
/// input `(B, T, I)` → `(B, T, 2H)` (concat) or `(B, T, H)` with `return_sequences`, else
/// `(B, 2H)` or `(B, H)`.
///
/// # Example
/// ```
/// use ndarray::Array3;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let lstm = LstmConfig::new(2, 4).with_return_sequences(true).init::<f64, _>(&mut rng)?;
/// let mut bi = Bidirectional::new(lstm, MergeMode::Concat, &mut rng)?;
/// assert_eq!(bi.param_count(), 2 * 4 * 4 * (2 + 4 + 1));
/// let y = bi.forward(Array3::<f64>::zeros((3, 7, 2)).into_dyn().view(), Mode::Infer)?;
/// assert_eq!(y.shape(), &[3, 7, 8]);
/// # Ok::<(), recurrent::Error>(())
/// ```
///
/// Only a recurrent layer can be wrapped; anything else is a type error, not a runtime one:
///
/// ```compile_fail
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let dense = DenseConfig::new(2, 3).init::<f64, _>(&mut rng).unwrap();
/// let bi = Bidirectional::new(dense, MergeMode::Concat, &mut rng); // Dense is not a RecurrentLayer
/// ```
#[derive(Debug)]
pub struct Bidirectional<F: Float> {
    name: String,
    merge: MergeMode,
    forward: Box<dyn RecurrentLayer<F>>,
    backward: Box<dyn RecurrentLayer<F>>,
    cache: Option<BiCache<F>>,
    /// The wrapper's own flag: `false` freezes both halves whatever their own flags say.
    trainable: bool,
}

/// Errs unless the two halves can run side by side: same input size, units and
/// `return_sequences`, and (when `directions` is set) opposite reading directions.
fn check_halves<F: Float>(
    forward: &dyn RecurrentLayer<F>,
    backward: &dyn RecurrentLayer<F>,
    directions: bool,
) -> Result<()> {
    let pairs = [
        ("input size", forward.input_size().to_string(), backward.input_size().to_string()),
        ("units", forward.units().to_string(), backward.units().to_string()),
        ("return_sequences", forward.return_sequences().to_string(), backward.return_sequences().to_string()),
    ];
    for (what, a, b) in pairs {
        if a != b {
            return Err(Error::config(
                format!("Bidirectional backward layer {what}"),
                format!("the forward layer's ({a})"),
                b,
            ));
        }
    }
    if directions && backward.go_backwards() == forward.go_backwards() {
        return Err(Error::config(
            "Bidirectional backward layer go_backwards",
            format!("the opposite of the forward layer's ({})", forward.go_backwards()),
            backward.go_backwards(),
        ));
    }
    Ok(())
}

impl<F: Float> Bidirectional<F> {
    /// Wraps the recurrent `layer` (any [`RecurrentLayer`]: SimpleRNN, LSTM, GRU or a
    /// [`crate::Recurrent`] on a cell of your own); the backward half is a copy of its
    /// configuration with fresh weights drawn from `rng`, reading the sequence the other way.
    ///
    /// # Errors
    /// [`Error::TooLarge`] or [`Error::OutOfMemory`] if the second half's weights cannot be
    /// held.
    pub fn new<L: RecurrentLayer<F> + 'static, R: RngCore>(layer: L, merge: MergeMode, rng: &mut R) -> Result<Self> {
        Self::from_boxed(Box::new(layer), merge, rng)
    }

    /// As [`Bidirectional::new`], for a boxed recurrent layer.
    ///
    /// # Errors
    /// As [`Bidirectional::new`].
    pub fn from_boxed<R: RngCore>(forward: Box<dyn RecurrentLayer<F>>, merge: MergeMode, rng: &mut R) -> Result<Self> {
        let mut backward = forward.fresh_copy(rng)?;
        backward.set_go_backwards(!forward.go_backwards());
        Ok(Self::assemble(forward, backward, merge))
    }

    /// Wraps two layers given explicitly (Keras's `backward_layer`); the backward one is set
    /// to read the sequence the other way from the forward one.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if they differ in input size, units or `return_sequences`.
    pub fn with_layers(
        forward: Box<dyn RecurrentLayer<F>>,
        mut backward: Box<dyn RecurrentLayer<F>>,
        merge: MergeMode,
    ) -> Result<Self> {
        check_halves(forward.as_ref(), backward.as_ref(), false)?;
        backward.set_go_backwards(!forward.go_backwards());
        Ok(Self::assemble(forward, backward, merge))
    }

    fn assemble(forward: Box<dyn RecurrentLayer<F>>, backward: Box<dyn RecurrentLayer<F>>, merge: MergeMode) -> Self {
        Bidirectional { name: "bidirectional".to_string(), merge, forward, backward, cache: None, trainable: true }
    }

    /// The merge mode.
    pub fn merge_mode(&self) -> MergeMode {
        self.merge
    }

    /// The forward half.
    pub fn forward_layer(&self) -> &dyn RecurrentLayer<F> {
        self.forward.as_ref()
    }

    /// The forward half, mutably (weights, initial state).
    pub fn forward_layer_mut(&mut self) -> &mut dyn RecurrentLayer<F> {
        self.forward.as_mut()
    }

    /// The backward half.
    pub fn backward_layer(&self) -> &dyn RecurrentLayer<F> {
        self.backward.as_ref()
    }

    /// The backward half, mutably (weights, initial state).
    pub fn backward_layer_mut(&mut self) -> &mut dyn RecurrentLayer<F> {
        self.backward.as_mut()
    }

    fn seq(&self) -> bool {
        self.forward.return_sequences()
    }

    /// Flips a `(B, T, H)` output along time (into a new array, reserved fallibly); leaves
    /// `(B, H)` alone.
    fn align(&self, a: ArrayD<F>, what: &str) -> Result<ArrayD<F>> {
        if self.seq() {
            let mut a = a;
            a.invert_axis(Axis(1));
            limits::try_map(&a, |&v| v, format_args!("{} {what} (B, T, H)", self.name))
        } else {
            Ok(a)
        }
    }

    /// `op` applied to `a` and `b` element by element (same shape), into a new array.
    fn zip_with(
        &self,
        a: ArrayViewD<'_, F>,
        b: ArrayViewD<'_, F>,
        op: impl Fn(F, F) -> F,
        what: &str,
    ) -> Result<ArrayD<F>> {
        check_same(format_args!("{} {what}", self.name), a.shape(), b.shape())?;
        let mut data = limits::try_with_capacity(a.len(), format_args!("{} {what}", self.name))?;
        data.extend(a.iter().zip(b.iter()).map(|(&x, &y)| op(x, y)));
        ArrayD::from_shape_vec(a.raw_dim(), data)
            .map_err(|e| Error::shape(format!("{} {what}", self.name), fmt_shape(a.shape()), e.to_string()))
    }

    /// `[f | b]` on the last axis, into memory reserved fallibly (the width doubles, so the
    /// element count is checked).
    fn concat(&self, f: &ArrayD<F>, b: &ArrayD<F>) -> Result<ArrayD<F>> {
        let what = format_args!("{} merged output (..., 2·H)", self.name);
        let h = f.shape().last().copied().unwrap_or(0);
        let mut shape = f.shape().to_vec();
        if let Some(last) = shape.last_mut() {
            *last = limits::mul(what, 2, h)?;
        }
        let n = limits::elements(what, &shape)?;
        let (fs, bs) = match (f.as_slice(), b.as_slice()) {
            (Some(fs), Some(bs)) => (fs, bs),
            _ => return Err(Error::shape("Bidirectional halves", "row-major (standard layout)", "strided")),
        };
        let mut data = limits::try_with_capacity(n, what)?;
        for (fr, br) in fs.chunks_exact(h.max(1)).zip(bs.chunks_exact(h.max(1))) {
            data.extend_from_slice(fr);
            data.extend_from_slice(br);
        }
        ArrayD::from_shape_vec(shape.as_slice(), data)
            .map_err(|e| Error::shape("Bidirectional merge", fmt_shape(&shape), e.to_string()))
    }

    /// Runs both halves from explicit initial states (`None`: zeros), PyTorch's `h0` for the
    /// two directions.
    ///
    /// # Errors
    /// As [`crate::Recurrent::forward_with_state`], for either half.
    pub fn forward_with_states(
        &mut self,
        x: ArrayView3<'_, F>,
        forward_state: Option<&State<F>>,
        backward_state: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        self.forward_masked_with_states(x, None, forward_state, backward_state, mode)
    }

    /// Runs both halves on padded sequences with a mask `(B, T)` (`true`: a real step). Each
    /// half skips the masked steps; the backward half reads the input and the mask from the
    /// end, so it runs over each sample's real steps in reverse, whatever the padding, and its
    /// output is put back in input order before merging. Masked positions give zero rows.
    ///
    /// # Errors
    /// As [`Bidirectional::forward_with_states`]; [`Error::ShapeMismatch`] if the mask is not
    /// `(B, T)`. Both halves are unchanged on error.
    pub fn forward_masked_with_states(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        forward_state: Option<&State<F>>,
        backward_state: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        // Check everything first, so an error leaves both halves as they were: the halves
        // still agree (their setters are reachable through `*_layer_mut`), the input fits, and
        // the states fit.
        check_halves(self.forward.as_ref(), self.backward.as_ref(), true)?;
        let (batch, _, feats) = x.dim();
        if feats != self.forward.input_size() {
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("(B, T, {})", self.forward.input_size()),
                fmt_shape(x.shape()),
            ));
        }
        if let Some(s) = forward_state {
            self.forward.validate_state(s, batch)?;
        }
        if let Some(s) = backward_state {
            self.backward.validate_state(s, batch)?;
        }
        if let Some(m) = &mask {
            check_same(format_args!("{} mask (B, T)", self.name), &[batch, x.dim().1], m.shape())?;
        }
        self.cache = None;
        let f = self.forward.forward_masked_with_state(x.view(), mask, forward_state, mode)?;
        let b = self.backward.forward_masked_with_state(x, mask, backward_state, mode)?;
        let b = self.align(b, "backward half output")?;
        // The halves were checked to agree, so their outputs have one shape.
        check_same(format_args!("{} backward half output", self.name), f.shape(), b.shape())?;
        let half = F::of(0.5);
        let out = match self.merge {
            MergeMode::Concat => self.concat(&f, &b)?,
            MergeMode::Sum => self.zip_with(f.view(), b.view(), |x, y| x + y, "merged output")?,
            MergeMode::Mul => self.zip_with(f.view(), b.view(), |x, y| x * y, "merged output")?,
            MergeMode::Average => self.zip_with(f.view(), b.view(), |x, y| (x + y) * half, "merged output")?,
        };
        if mode == Mode::Train {
            self.cache =
                Some(BiCache { fwd: f, bwd: b, passes: (self.forward.pass_count(), self.backward.pass_count()) });
        }
        Ok(out)
    }
}

impl<F: Float> Params<F> for Bidirectional<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        self.forward.visit_params(f);
        self.backward.visit_params(f);
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        self.forward.visit_params_mut(f);
        self.backward.visit_params_mut(f);
    }

    /// A half is trainable if both the wrapper and the half are (a half can be frozen on
    /// its own through [`Bidirectional::forward_layer_mut`]).
    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        visit_part(self.forward.as_ref(), self.trainable, f);
        visit_part(self.backward.as_ref(), self.trainable, f);
    }
}

impl<F: Float> Layer<F> for Bidirectional<F> {
    fn kind(&self) -> &'static str {
        "Bidirectional"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        self.forward.input_spec()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let mut out = self.forward.output_shape(input_shape)?;
        if self.merge == MergeMode::Concat {
            if let Some(last) = out.last_mut() {
                *last *= 2;
            }
        }
        Ok(out)
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        self.forward_masked(input, None, mode)
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
                format!("(B, T, {}): rank 3", self.forward.input_size()),
                format!("{} (rank {})", fmt_shape(&shape), shape.len()),
            )
        })?;
        let (fs, bs) = (self.forward.initial_state().cloned(), self.backward.initial_state().cloned());
        self.forward_masked_with_states(x, mask, fs.as_ref(), bs.as_ref(), mode)
    }

    fn output_mask(
        &self,
        _input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        Ok(if self.seq() { mask.map(|m| m.to_owned()) } else { None })
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let cache = match &self.cache {
            Some(c) if self.forward.has_cache() && self.backward.has_cache() => c,
            _ => return Err(Error::NoForwardCache { layer: self.name.clone() }),
        };
        if cache.passes != (self.forward.pass_count(), self.backward.pass_count()) {
            return Err(Error::NoForwardCache {
                layer: format!("{} (a half ran again on its own since the Bidirectional forward pass)", self.name),
            });
        }
        // A half reconfigured since the forward pass dropped its cache (its setters do), so
        // reaching here means both still match the cached outputs.
        check_halves(self.forward.as_ref(), self.backward.as_ref(), true)?;
        let mut want = cache.fwd.shape().to_vec();
        if self.merge == MergeMode::Concat {
            if let Some(last) = want.last_mut() {
                *last *= 2;
            }
        }
        check_same(format_args!("{} grad_output (must match the output)", self.name), &want, grad_output.shape())?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        let h = self.forward.units();
        let last = grad_output.ndim() - 1;
        let copy = |a: ArrayViewD<'_, F>, scale: F, what: &str| {
            limits::try_map(&a, |&v| v * scale, format_args!("{} {what}", self.name))
        };
        let (one, half) = (F::one(), F::of(0.5));
        let (gf, gb): (ArrayD<F>, ArrayD<F>) = match self.merge {
            MergeMode::Concat => (
                copy(grad_output.slice_axis(Axis(last), (0..h).into()), one, "forward half grad_output")?,
                copy(grad_output.slice_axis(Axis(last), (h..2 * h).into()), one, "backward half grad_output")?,
            ),
            MergeMode::Sum => (
                copy(grad_output.view(), one, "forward half grad_output")?,
                copy(grad_output.view(), one, "backward half grad_output")?,
            ),
            MergeMode::Mul => (
                self.zip_with(grad_output.view(), cache.bwd.view(), |g, o| g * o, "forward half grad_output")?,
                self.zip_with(grad_output.view(), cache.fwd.view(), |g, o| g * o, "backward half grad_output")?,
            ),
            MergeMode::Average => (
                copy(grad_output.view(), half, "forward half grad_output")?,
                copy(grad_output.view(), half, "backward half grad_output")?,
            ),
        };
        // The backward half produced its outputs in reading order; flip the gradient back.
        let gb = self.align(gb, "backward half grad_output")?;
        // Both halves' memory first: the second cannot then fail after the first has added
        // to its gradients.
        self.forward.reserve_backward()?;
        self.backward.reserve_backward()?;
        let dx_f = self.forward.backward_with_state(gf.view(), None)?;
        let dx_b = self.backward.backward_with_state(gb.view(), None)?;
        Ok((dx_f + dx_b).into_dyn())
    }

    fn clear_cache(&mut self) {
        self.cache = None;
        self.forward.clear_cache();
        self.backward.clear_cache();
    }

    fn has_cache(&self) -> bool {
        self.cache.is_some() && self.forward.has_cache() && self.backward.has_cache()
    }

    fn reseed(&mut self, seed: u64) {
        // Each half mixes its seed, so neighbouring seeds give independent streams.
        self.forward.reseed(seed);
        self.backward.reseed(seed.wrapping_add(1));
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    /// Sets the wrapper's flag and both halves' (as Keras's wrapper does). If a half refuses
    /// (a recurrent layer from outside the crate that keeps no flag), nothing changes.
    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        let before = self.forward.trainable();
        self.forward.set_trainable(trainable)?;
        if let Err(e) = self.backward.set_trainable(trainable) {
            // Putting back a flag the half held a moment ago: it took it before.
            let _ = self.forward.set_trainable(before);
            return Err(e);
        }
        self.trainable = trainable;
        Ok(())
    }

    fn config_summary(&self) -> String {
        format!("merge_mode={:?}, layer={} ({})", self.merge, self.forward.kind(), self.forward.config_summary())
    }
}
