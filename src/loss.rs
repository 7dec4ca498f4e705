//! Loss functions: each returns the scalar loss and dL/dprediction in one call.
//!
//! Reductions and edge cases follow PyTorch's defaults (`reduction="mean"`), so the values
//! and gradients match `torch.nn.functional` to rounding:
//!
//! ```text
//! Mse                          L = (1/N) Σ (p − t)²                        dL/dp = 2(p − t)/N
//! Mae                          L = (1/N) Σ |p − t|                         dL/dp = sign(p − t)/N
//! BinaryCrossEntropy           L = −(1/N) Σ [t·max(ln p, −100) + (1−t)·max(ln(1−p), −100)]
//!   (on probabilities)         dL/dp = (p − t) / max((1 − p)·p, ε) / N,   ε = 1e-12 (as f32)
//! BinaryCrossEntropy           L = (1/N) Σ [max(z, 0) − z·t + ln(1 + e^(−|z|))]
//!   (from logits)              dL/dz = (σ(z) − t)/N
//! CategoricalCrossEntropy      L = −(1/R) Σ_r Σ_k t_rk·max(ln p_rk, −100)  dL/dp = −t/(R·max(p, ε))  (0 where t = 0)
//!   (on probabilities)
//! CategoricalCrossEntropy      L = (1/R) Σ_r [ (Σ_k t_rk)·logsumexp(z_r) − Σ_k t_rk z_rk ]
//!   (from logits)              dL/dz = ((Σ_k t_rk)·softmax(z_r) − t_r)/R
//! SparseCategoricalCrossEntropy  the categorical losses with t one-hot at the class index
//! ```
//!
//! N counts every element; R counts rows, i.e. every position but the last (class) axis, so
//! a many-to-many output (B, T, K) averages over all B·T positions.
//!
//! # Weights
//!
//! [`Loss::compute_weighted`] takes a weight per sample `(B,)` or per position `(B, T)` (any
//! leading axes of the prediction; for the class losses, not the class axis) and is Keras's
//! `sample_weight` with the reduction `"sum_over_batch_size"`: each element's (or row's) term
//! is multiplied by the weight of its sample or position, and the sum is divided by the same
//! N or R as without weights, **not** by the sum of the weights:
//!
//! ```text
//! L_w = (1/N) Σ_e w(e)·ℓ_e          dL_w/dp_e = w(e)·dℓ_e/dp_e / N        (R and rows for the class losses)
//! ```
//!
//! So weights of 1 give the unweighted loss bit for bit, a weight of 2 counts a sample as
//! two would, and weights of 0 leave a sample out while it still counts in N. Weights must be
//! finite and ≥ 0.
//!
//! # Probabilities at 0 and 1
//!
//! Both cross-entropies on probabilities follow one rule, PyTorch's for binary
//! cross-entropy: every log is clamped at −100, so a probability of exactly 0 where the
//! target wants it costs 100 (per element or row, times the target), never ∞; and the
//! gradient's denominator is clamped at ε = 1e-12 (rounded to f32, 9.999999960041972e-13:
//! `max((1 − p)·p, ε)` for the binary loss, `max(p, ε)` for the categorical one), so the
//! gradient stays finite in f32 too and never turns into NaN downstream. Wherever PyTorch's
//! result is finite this is PyTorch's result: the categorical loss equals `nll_loss(log p)`
//! for every `p ≥ 1e-12` at a target position (the fixtures go down to 2.5e-13 where the
//! target is 0), and only a probability of exactly 0, where PyTorch gives ∞ and NaN, is
//! caught by the clamp. Keras clips probabilities to `[1e-7, 1 − 1e-7]` instead (a loss of
//! at most 16.1 per element, and a zero gradient below 1e-7), which differs from PyTorch
//! already at 1e-8; after a linear output, the `from_logits` forms are stable for any finite
//! logits and preferable whenever saturation matters.

use std::fmt::Debug;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

use crate::activation::sigmoid;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::limits::{try_vec, try_with_capacity, try_zeros};
use crate::shape::{check_finite, check_nonempty, check_range, check_same, fmt_index, fmt_shape};

/// The value of a loss and its gradient with respect to the prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct LossOutput<F> {
    /// The scalar loss (mean-reduced).
    pub value: F,
    /// dL/dprediction, with the prediction's shape.
    pub grad: ArrayD<F>,
}

/// A differentiable loss between a prediction and a target.
///
/// Implementations check shapes and values before computing, so a mismatch is an `Err`,
/// never a panic.
pub trait Loss<F: Float>: Debug {
    /// A short name such as `"mse"`.
    fn name(&self) -> &'static str;

    /// Computes the loss and dL/dprediction.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shapes disagree, [`Error::Empty`] for an empty
    /// prediction, [`Error::NonFinite`] for NaN or infinite values, and
    /// [`Error::OutOfRange`] for values outside a loss's domain (probabilities outside
    /// [0, 1], class labels outside [0, K)).
    fn compute(&self, prediction: &ArrayViewD<'_, F>, target: &ArrayViewD<'_, F>) -> Result<LossOutput<F>>;

    /// Checks `target` against a prediction of shape `prediction_shape` as
    /// [`Loss::compute`] would (its shape, that it is finite, that it lies in the loss's
    /// domain: probabilities in [0, 1], class labels in [0, K)), without a prediction.
    /// [`crate::Sequential::fit`] runs it over all the targets before training, so a bad
    /// target in the last batch fails before the first step. The default accepts everything:
    /// a loss defined outside the crate is checked by `compute`, batch by batch.
    ///
    /// # Errors
    /// As [`Loss::compute`], for the target.
    fn check_target(&self, prediction_shape: &[usize], target: &ArrayViewD<'_, F>) -> Result<()> {
        let _ = (prediction_shape, target);
        Ok(())
    }

    /// Computes only the loss value.
    ///
    /// # Errors
    /// As [`Loss::compute`].
    fn value(&self, prediction: &ArrayViewD<'_, F>, target: &ArrayViewD<'_, F>) -> Result<F> {
        Ok(self.compute(prediction, target)?.value)
    }

    /// The loss with a weight per sample or per position, Keras's `sample_weight` (see the
    /// [module docs](self#weights)): `weights` has the shape of the prediction's leading axes,
    /// `(B,)` or `(B, T)`, and multiplies the terms of its sample or position; the sum is
    /// divided by the count the unweighted loss divides by, not by the sum of the weights.
    /// Weights of 1 give [`Loss::compute`]'s result.
    ///
    /// The losses of this crate compute it in one pass, bit for bit as [`Loss::compute`] when
    /// every weight is 1. The default, for a loss written outside the crate, builds it from
    /// per-sample losses: it runs [`Loss::compute`] on each sample (or position) on its own,
    /// as a batch of one, and returns `Σ_i w_i·L_i / M` over the `M` samples or positions,
    /// with the gradients scaled alike. That is exact for a loss that is a mean over its
    /// samples or positions, as every mean-reduced loss is.
    ///
    /// # Errors
    /// As [`Loss::compute`]; [`Error::ShapeMismatch`] if `weights` is not shaped as leading
    /// axes of the prediction (and of the target); [`Error::NonFinite`] or
    /// [`Error::OutOfRange`] for a weight that is NaN, infinite or negative.
    fn compute_weighted(
        &self,
        prediction: &ArrayViewD<'_, F>,
        target: &ArrayViewD<'_, F>,
        weights: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        per_block_weighted(self, prediction, target, weights)
    }
}

/// Checks `w` as weights for a prediction of shape `shape`: rank 1 to `max_rank`, shaped as
/// the prediction's leading axes, finite and ≥ 0.
fn check_weights<F: Float>(name: &str, shape: &[usize], max_rank: usize, w: &ArrayViewD<'_, F>) -> Result<()> {
    let r = w.ndim();
    if r == 0 || r > max_rank || shape.get(..r) != Some(w.shape()) {
        let options: Vec<String> = (1..=max_rank.min(shape.len())).map(|k| fmt_shape(&shape[..k])).collect();
        return Err(Error::shape(
            format!("{name} sample weights (one per sample or per position)"),
            options.join(" or "),
            fmt_shape(w.shape()),
        ));
    }
    check_finite(format_args!("{name} sample weights"), w)?;
    if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| **v < F::zero()) {
        return Err(Error::OutOfRange {
            what: format!("{name} sample weights"),
            expected: "weights ≥ 0".into(),
            got: v.to_string(),
            index: fmt_index(w.shape(), i),
        });
    }
    Ok(())
}

/// The weight of every element of an array shaped `shape` (`lead` axes weighted by `w`, the
/// rest sharing their position's weight), in logical row-major order.
fn spread<F: Float>(name: &str, shape: &[usize], w: &ArrayViewD<'_, F>) -> Result<Vec<F>> {
    let mut padded = w.shape().to_vec();
    padded.resize(shape.len(), 1);
    let w = w
        .view()
        .into_shape_with_order(padded)
        .map_err(|e| Error::shape(format!("{name} sample weights"), fmt_shape(shape), e.to_string()))?;
    let all = w
        .broadcast(IxDyn(shape))
        .ok_or_else(|| Error::shape(format!("{name} sample weights"), fmt_shape(shape), fmt_shape(w.shape())))?;
    let mut out = try_with_capacity(all.len(), format_args!("{name} weights per element"))?;
    out.extend(all.iter().copied());
    Ok(out)
}

/// [`Loss::compute_weighted`]'s default: each weighted block (sample or position) through
/// [`Loss::compute`] as a batch of one.
fn per_block_weighted<F: Float, L: Loss<F> + ?Sized>(
    loss: &L,
    p: &ArrayViewD<'_, F>,
    t: &ArrayViewD<'_, F>,
    w: &ArrayViewD<'_, F>,
) -> Result<LossOutput<F>> {
    let name = loss.name();
    check_weights(name, p.shape(), p.ndim(), w)?;
    let r = w.ndim();
    if t.shape().get(..r) != Some(w.shape()) {
        return Err(Error::shape(
            format!("{name} target (its leading axes must match the sample weights)"),
            format!("{} then any", fmt_shape(w.shape())),
            fmt_shape(t.shape()),
        ));
    }
    let blocks: F = count(w.len());
    let mut grad: ArrayD<F> = try_zeros(p.raw_dim(), format_args!("{name} weighted loss gradient"))?;
    let mut value = F::zero();
    for (flat, &wi) in w.iter().enumerate() {
        let at = ndarray::IxDyn(&unravel(w.shape(), flat));
        let (mut pb, mut tb, mut gb) = (p.view(), t.view(), grad.view_mut());
        for k in (0..r).rev() {
            pb = pb.index_axis_move(Axis(k), at[k]);
            tb = tb.index_axis_move(Axis(k), at[k]);
            gb = gb.index_axis_move(Axis(k), at[k]);
        }
        let out = loss.compute(&pb.insert_axis(Axis(0)), &tb.insert_axis(Axis(0)))?;
        value += out.value * wi;
        let g = out.grad.index_axis_move(Axis(0), 0);
        if g.shape() != gb.shape() {
            return Err(Error::shape(
                format!("{name} gradient of one sample"),
                fmt_shape(gb.shape()),
                fmt_shape(g.shape()),
            ));
        }
        Zip::from(&mut gb).and(&g).for_each(|d, &s| *d = s * wi / blocks);
    }
    finite(name, LossOutput { value: value / blocks, grad })
}

/// The multi-index of row-major position `flat` in an array shaped `shape`.
fn unravel(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut at = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            at[k] = flat % d;
            flat /= d;
        }
    }
    at
}

fn check_pair<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<()> {
    check_same(format_args!("{name} target (must match the prediction)"), p.shape(), t.shape())?;
    check_nonempty(format_args!("{name} prediction"), p.shape(), &["batch size", "axis 1", "axis 2", "axis 3"])?;
    check_finite(format_args!("{name} prediction"), p)?;
    check_finite(format_args!("{name} target"), t)?;
    Ok(())
}

/// The target checks of the losses whose target has the prediction's shape: that shape,
/// finite values and, with `unit`, values in [0, 1].
fn check_same_target<F: Float>(name: &str, shape: &[usize], t: &ArrayViewD<'_, F>, unit: bool) -> Result<()> {
    check_same(format_args!("{name} target (must match the prediction)"), shape, t.shape())?;
    check_finite(format_args!("{name} target"), t)?;
    if unit {
        check_range(format_args!("{name} target"), t, F::zero(), F::one())?;
    }
    Ok(())
}

fn count<F: Float>(n: usize) -> F {
    F::of(n as f64)
}

/// Errs with [`Error::NonFinite`] if finite inputs gave a non-finite loss or gradient (an
/// overflow, as `(3e38 − (−3e38))²` in `f32`): an `Ok` would hand training an infinity.
fn finite<F: Float>(name: &str, out: LossOutput<F>) -> Result<LossOutput<F>> {
    if !out.value.is_finite() {
        return Err(Error::NonFinite {
            what: format!("{name} loss value (it overflowed)"),
            index: "[]".into(),
            value: out.value.to_string(),
        });
    }
    check_finite(format_args!("{name} loss gradient (it overflowed)"), &out.grad)?;
    Ok(out)
}

/// Mean squared error, PyTorch's `F.mse_loss` (mean over every element).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mse;

impl<F: Float> Loss<F> for Mse {
    fn name(&self) -> &'static str {
        "mse"
    }

    fn check_target(&self, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
        check_same_target("mse", shape, t, false)
    }

    fn compute(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
        check_pair("mse", p, t)?;
        mse(p, t, None)
    }

    fn compute_weighted(
        &self,
        p: &ArrayViewD<'_, F>,
        t: &ArrayViewD<'_, F>,
        w: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        check_pair("mse", p, t)?;
        check_weights("mse", p.shape(), p.ndim(), w)?;
        mse(p, t, Some(&spread("mse", p.shape(), w)?))
    }
}

/// The weight of element (or row) `i`: 1 without weights. Multiplying by an exact 1 changes
/// no bit, so weights of 1 give the unweighted results bit for bit.
#[inline(always)]
fn weight_at<F: Float>(w: Option<&[F]>, i: usize) -> F {
    w.and_then(|w| w.get(i)).copied().unwrap_or_else(F::one)
}

/// `(p − t)` element by element, in logical row-major order.
fn differences<F: Float>(name: &str, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<Vec<F>> {
    let mut diff = try_with_capacity(p.len(), format_args!("{name} differences"))?;
    diff.extend(p.iter().zip(t.iter()).map(|(&a, &b)| a - b));
    Ok(diff)
}

/// A gradient in logical row-major order, shaped as the prediction.
fn shaped<F: Float>(name: &str, shape: &[usize], g: Vec<F>) -> Result<ArrayD<F>> {
    ArrayD::from_shape_vec(IxDyn(shape), g)
        .map_err(|e| Error::shape(format!("{name} loss gradient"), fmt_shape(shape), e.to_string()))
}

fn mse<F: Float>(p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, w: Option<&[F]>) -> Result<LossOutput<F>> {
    let n: F = count(p.len());
    let diff = differences("mse", p, t)?;
    let value = diff.iter().enumerate().map(|(i, &d)| d * d * weight_at(w, i)).sum::<F>() / n;
    let two = F::of(2.0);
    let grad = diff.iter().enumerate().map(|(i, &d)| weight_at(w, i) * two * d / n).collect();
    finite("mse", LossOutput { value, grad: shaped("mse", p.shape(), grad)? })
}

/// Mean absolute error, PyTorch's `F.l1_loss`; the gradient at `p = t` is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mae;

impl<F: Float> Loss<F> for Mae {
    fn name(&self) -> &'static str {
        "mae"
    }

    fn check_target(&self, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
        check_same_target("mae", shape, t, false)
    }

    fn compute(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
        check_pair("mae", p, t)?;
        mae(p, t, None)
    }

    fn compute_weighted(
        &self,
        p: &ArrayViewD<'_, F>,
        t: &ArrayViewD<'_, F>,
        w: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        check_pair("mae", p, t)?;
        check_weights("mae", p.shape(), p.ndim(), w)?;
        mae(p, t, Some(&spread("mae", p.shape(), w)?))
    }
}

fn mae<F: Float>(p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, w: Option<&[F]>) -> Result<LossOutput<F>> {
    let n: F = count(p.len());
    let diff = differences("mae", p, t)?;
    let value = diff.iter().enumerate().map(|(i, d)| d.abs() * weight_at(w, i)).sum::<F>() / n;
    let grad = diff
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if d > F::zero() {
                weight_at(w, i) / n
            } else if d < F::zero() {
                -weight_at(w, i) / n
            } else {
                F::zero()
            }
        })
        .collect();
    finite("mae", LossOutput { value, grad: shaped("mae", p.shape(), grad)? })
}

/// Binary cross-entropy, the lecture's log loss `−y ln ŷ − (1 − y) ln(1 − ŷ)`, mean over
/// every element.
///
/// [`BinaryCrossEntropy::new`] takes probabilities (after a sigmoid) and clips as PyTorch's
/// `F.binary_cross_entropy`; [`BinaryCrossEntropy::from_logits`] takes raw scores and is
/// PyTorch's `F.binary_cross_entropy_with_logits` (stable, no clipping). Targets may be soft
/// but must lie in [0, 1].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BinaryCrossEntropy {
    /// `true` if predictions are logits rather than probabilities. Defaults to `false`.
    pub from_logits: bool,
}

impl BinaryCrossEntropy {
    /// Log loss on probabilities in [0, 1].
    pub fn new() -> Self {
        BinaryCrossEntropy { from_logits: false }
    }

    /// Log loss on logits (the sigmoid is folded into the loss).
    pub fn from_logits() -> Self {
        BinaryCrossEntropy { from_logits: true }
    }

    /// The clamp PyTorch applies to `p·(1 − p)` in the gradient: `1e-12` rounded to f32.
    pub fn epsilon<F: Float>() -> F {
        F::of(f64::from(1e-12_f32))
    }
}

impl<F: Float> Loss<F> for BinaryCrossEntropy {
    fn name(&self) -> &'static str {
        if self.from_logits {
            "binary_crossentropy_from_logits"
        } else {
            "binary_crossentropy"
        }
    }

    fn check_target(&self, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
        check_same_target(<Self as Loss<F>>::name(self), shape, t, true)
    }

    fn compute(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
        self.checked(p, t)?;
        self.binary(p, t, None)
    }

    fn compute_weighted(
        &self,
        p: &ArrayViewD<'_, F>,
        t: &ArrayViewD<'_, F>,
        w: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        let name = <Self as Loss<F>>::name(self);
        self.checked(p, t)?;
        check_weights(name, p.shape(), p.ndim(), w)?;
        let out = self.binary(p, t, Some(&spread(name, p.shape(), w)?))?;
        finite(name, out)
    }
}

impl BinaryCrossEntropy {
    fn checked<F: Float>(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<()> {
        let name = <Self as Loss<F>>::name(self);
        check_pair(name, p, t)?;
        check_range(format_args!("{name} target"), t, F::zero(), F::one())?;
        if !self.from_logits {
            check_range(format_args!("{name} prediction (probabilities)"), p, F::zero(), F::one())?;
        }
        Ok(())
    }

    /// The loss on checked inputs, each element's term weighted by `w` (1 without).
    fn binary<F: Float>(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, w: Option<&[F]>) -> Result<LossOutput<F>> {
        let name = <Self as Loss<F>>::name(self);
        let n: F = count(p.len());
        let one = F::one();
        let mut value = F::zero();
        let mut grad = try_with_capacity(p.len(), format_args!("{name} gradient"))?;
        if self.from_logits {
            for (i, (&z, &t)) in p.iter().zip(t.iter()).enumerate() {
                let wi = weight_at(w, i);
                value += (z.max(F::zero()) - z * t + (-z.abs()).exp().ln_1p()) * wi;
                grad.push((sigmoid(z) - t) * wi / n);
            }
        } else {
            let floor = F::of(-100.0);
            let eps = Self::epsilon::<F>();
            for (i, (&p, &t)) in p.iter().zip(t.iter()).enumerate() {
                let wi = weight_at(w, i);
                value += ((t - one) * (-p).ln_1p().max(floor) - t * p.ln().max(floor)) * wi;
                grad.push((p - t) * wi / ((one - p) * p).max(eps) / n);
            }
        }
        Ok(LossOutput { value: value / n, grad: shaped(name, p.shape(), grad)? })
    }
}

/// Categorical cross-entropy over the last (class) axis, mean over rows.
///
/// [`CategoricalCrossEntropy::new`] takes probabilities (after a softmax), with each log
/// clamped at −100 and the gradient's denominator at ε = 1e-12, as the binary loss does
/// (see the [module docs](self#probabilities-at-0-and-1)): a probability of exactly 0 at a
/// target position gives a finite loss and gradient;
/// [`CategoricalCrossEntropy::from_logits`] takes raw scores (PyTorch's `F.cross_entropy`).
/// Targets are one-hot or soft class probabilities in [0, 1], with the prediction's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoricalCrossEntropy {
    /// `true` if predictions are logits rather than probabilities. Defaults to `false`.
    pub from_logits: bool,
}

impl CategoricalCrossEntropy {
    /// Cross-entropy on probabilities.
    pub fn new() -> Self {
        CategoricalCrossEntropy { from_logits: false }
    }

    /// Cross-entropy on logits (the softmax is folded into the loss).
    pub fn from_logits() -> Self {
        CategoricalCrossEntropy { from_logits: true }
    }
}

/// Checks the shape of a class-axis prediction and returns (rows, classes).
fn class_dims(name: &str, shape: &[usize]) -> Result<(usize, usize)> {
    let Some((&k, lead)) = shape.split_last() else {
        return Err(Error::shape(format!("{name} prediction"), "(..., classes)", fmt_shape(shape)));
    };
    Ok((lead.iter().product(), k))
}

/// The checks of class-index targets `t` for a prediction of `shape` `(…, K)`: shape `(…)` or
/// `(…, 1)`, finite, integers in `[0, K)`.
fn check_labels<F: Float>(name: &str, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
    let (_, k) = class_dims(name, shape)?;
    let lead = &shape[..shape.len() - 1];
    let mut with_one = lead.to_vec();
    with_one.push(1);
    if t.shape() != lead && t.shape() != with_one.as_slice() {
        return Err(Error::shape(
            format!("{name} target (class labels)"),
            format!("{} or {}", fmt_shape(lead), fmt_shape(&with_one)),
            fmt_shape(t.shape()),
        ));
    }
    check_finite(format_args!("{name} target"), t)?;
    if let Some((i, label)) = t.iter().enumerate().find(|(_, l)| {
        let idx = l.to_f64_exact();
        !(idx >= 0.0 && idx < k as f64 && idx.fract() == 0.0)
    }) {
        return Err(Error::OutOfRange {
            what: format!("{name} target (class labels)"),
            expected: format!("integer class indices in [0, {k})"),
            got: label.to_string(),
            index: fmt_index(t.shape(), i),
        });
    }
    Ok(())
}

/// The categorical loss on checked inputs, each row's term weighted by `w` (1 without).
fn categorical<F: Float>(
    from_logits: bool,
    p: &ArrayViewD<'_, F>,
    t: &ArrayViewD<'_, F>,
    w: Option<&[F]>,
) -> Result<LossOutput<F>> {
    let k = p.shape()[p.ndim() - 1];
    let r: F = count(p.len() / k);
    // `iter` walks in logical row-major order whatever the memory layout.
    let mut pv: Vec<F> = try_with_capacity(p.len(), "cross-entropy prediction copy")?;
    pv.extend(p.iter().copied());
    let mut tv: Vec<F> = try_with_capacity(t.len(), "cross-entropy target copy")?;
    tv.extend(t.iter().copied());
    let mut gv = try_vec(pv.len(), F::zero(), "cross-entropy gradient")?;
    let mut value = F::zero();
    // The binary loss's clamps (see the module docs).
    let (floor, eps) = (F::of(-100.0), BinaryCrossEntropy::epsilon::<F>());
    for (row, ((zr, tr), gr)) in pv.chunks_exact(k).zip(tv.chunks_exact(k)).zip(gv.chunks_exact_mut(k)).enumerate() {
        let wr = weight_at(w, row);
        if from_logits {
            let tsum: F = tr.iter().copied().sum();
            let m = zr.iter().copied().fold(F::neg_infinity(), F::max);
            let s: F = zr.iter().map(|&z| (z - m).exp()).sum();
            let lse = m + s.ln();
            let tz: F = zr.iter().zip(tr).map(|(&z, &t)| t * z).sum();
            value += (tsum * lse - tz) * wr;
            for ((g, &z), &t) in gr.iter_mut().zip(zr).zip(tr) {
                *g = wr * (tsum * ((z - m).exp() / s) - t) / r;
            }
        } else {
            for ((g, &p), &t) in gr.iter_mut().zip(zr).zip(tr) {
                if t != F::zero() {
                    value -= t * p.ln().max(floor) * wr;
                    *g = -t * wr / (r * p.max(eps));
                }
            }
        }
    }
    let grad = ArrayD::from_shape_vec(p.shape(), gv)
        .map_err(|e| Error::shape("categorical cross-entropy gradient", fmt_shape(p.shape()), e.to_string()))?;
    Ok(LossOutput { value: value / r, grad })
}

impl<F: Float> Loss<F> for CategoricalCrossEntropy {
    fn name(&self) -> &'static str {
        if self.from_logits {
            "categorical_crossentropy_from_logits"
        } else {
            "categorical_crossentropy"
        }
    }

    fn check_target(&self, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
        let name = <Self as Loss<F>>::name(self);
        class_dims(name, shape)?;
        check_same_target(name, shape, t, true)
    }

    fn compute(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
        self.checked(p, t)?;
        categorical(self.from_logits, p, t, None)
    }

    fn compute_weighted(
        &self,
        p: &ArrayViewD<'_, F>,
        t: &ArrayViewD<'_, F>,
        w: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        let name = <Self as Loss<F>>::name(self);
        self.checked(p, t)?;
        let rows = row_weights(name, p.shape(), w)?;
        finite(name, categorical(self.from_logits, p, t, Some(&rows))?)
    }
}

impl CategoricalCrossEntropy {
    fn checked<F: Float>(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<()> {
        let name = <Self as Loss<F>>::name(self);
        class_dims(name, p.shape())?;
        check_pair(name, p, t)?;
        check_range(format_args!("{name} target"), t, F::zero(), F::one())?;
        if !self.from_logits {
            check_range(format_args!("{name} prediction (probabilities)"), p, F::zero(), F::one())?;
        }
        Ok(())
    }
}

/// Checks `w` as weights of the rows of a class-axis prediction shaped `shape` (leading axes,
/// not the class axis) and returns each row's weight in row-major order.
fn row_weights<F: Float>(name: &str, shape: &[usize], w: &ArrayViewD<'_, F>) -> Result<Vec<F>> {
    let lead = &shape[..shape.len().saturating_sub(1)];
    check_weights(name, lead, lead.len(), w)?;
    spread(name, lead, w)
}

/// Categorical cross-entropy with integer class labels instead of one-hot targets
/// (Keras's `SparseCategoricalCrossentropy`, PyTorch's `F.cross_entropy` with indices).
///
/// The target holds one class index per row, stored as a float with an integral value, in
/// the prediction's shape without its last axis (or with a last axis of size 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SparseCategoricalCrossEntropy {
    /// `true` if predictions are logits rather than probabilities. Defaults to `false`.
    pub from_logits: bool,
}

impl SparseCategoricalCrossEntropy {
    /// Cross-entropy on probabilities with class-index targets.
    pub fn new() -> Self {
        SparseCategoricalCrossEntropy { from_logits: false }
    }

    /// Cross-entropy on logits with class-index targets.
    pub fn from_logits() -> Self {
        SparseCategoricalCrossEntropy { from_logits: true }
    }
}

impl<F: Float> Loss<F> for SparseCategoricalCrossEntropy {
    fn name(&self) -> &'static str {
        if self.from_logits {
            "sparse_categorical_crossentropy_from_logits"
        } else {
            "sparse_categorical_crossentropy"
        }
    }

    fn check_target(&self, shape: &[usize], t: &ArrayViewD<'_, F>) -> Result<()> {
        check_labels(<Self as Loss<F>>::name(self), shape, t)
    }

    fn compute(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
        self.sparse(p, t, None)
    }

    fn compute_weighted(
        &self,
        p: &ArrayViewD<'_, F>,
        t: &ArrayViewD<'_, F>,
        w: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        let name = <Self as Loss<F>>::name(self);
        class_dims(name, p.shape())?;
        let rows = row_weights(name, p.shape(), w)?;
        finite(name, self.sparse(p, t, Some(&rows))?)
    }
}

impl SparseCategoricalCrossEntropy {
    fn sparse<F: Float>(&self, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>, w: Option<&[F]>) -> Result<LossOutput<F>> {
        let name = <Self as Loss<F>>::name(self);
        let (rows, k) = class_dims(name, p.shape())?;
        check_nonempty(format_args!("{name} prediction"), p.shape(), &["batch size", "axis 1", "axis 2"])?;
        check_finite(format_args!("{name} prediction"), p)?;
        check_labels(name, p.shape(), t)?;
        if !self.from_logits {
            check_range(format_args!("{name} prediction (probabilities)"), p, F::zero(), F::one())?;
        }
        let mut onehot: ArrayD<F> = try_zeros(p.raw_dim(), format_args!("{name} one-hot targets"))?;
        {
            let mut rowsv = onehot
                .view_mut()
                .into_shape_with_order((rows, k))
                .map_err(|e| Error::shape(format!("{name} prediction"), "a reshapeable array", e.to_string()))?;
            // Every label was checked above to be an integer in [0, K).
            for (&label, mut row) in t.iter().zip(rowsv.axis_iter_mut(Axis(0))) {
                if let Some(one) = row.get_mut(label.to_f64_exact() as usize) {
                    *one = F::one();
                }
            }
        }
        categorical(self.from_logits, p, &onehot.view(), w)
    }
}
