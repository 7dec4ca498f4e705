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

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};

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
        let n: F = count(p.len());
        let diff = p - t;
        let value = diff.iter().map(|&d| d * d).sum::<F>() / n;
        let two = F::of(2.0);
        let grad = diff.mapv(|d| two * d / n);
        finite("mse", LossOutput { value, grad })
    }
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
        let n: F = count(p.len());
        let diff = p - t;
        let value = diff.iter().map(|d| d.abs()).sum::<F>() / n;
        let grad = diff.mapv(|d| {
            if d > F::zero() {
                F::one() / n
            } else if d < F::zero() {
                -F::one() / n
            } else {
                F::zero()
            }
        });
        finite("mae", LossOutput { value, grad })
    }
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
        let name = <Self as Loss<F>>::name(self);
        check_pair(name, p, t)?;
        check_range(format_args!("{name} target"), t, F::zero(), F::one())?;
        let n: F = count(p.len());
        let one = F::one();
        if self.from_logits {
            let mut value = F::zero();
            let grad = Zip::from(p).and(t).map_collect(|&z, &t| {
                value += z.max(F::zero()) - z * t + (-z.abs()).exp().ln_1p();
                (sigmoid(z) - t) / n
            });
            return Ok(LossOutput { value: value / n, grad });
        }
        check_range(format_args!("{name} prediction (probabilities)"), p, F::zero(), one)?;
        let floor = F::of(-100.0);
        let eps = Self::epsilon::<F>();
        let mut value = F::zero();
        let grad = Zip::from(p).and(t).map_collect(|&p, &t| {
            value += (t - one) * (-p).ln_1p().max(floor) - t * p.ln().max(floor);
            (p - t) / ((one - p) * p).max(eps) / n
        });
        Ok(LossOutput { value: value / n, grad })
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

fn categorical<F: Float>(from_logits: bool, p: &ArrayViewD<'_, F>, t: &ArrayViewD<'_, F>) -> Result<LossOutput<F>> {
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
    for ((zr, tr), gr) in pv.chunks_exact(k).zip(tv.chunks_exact(k)).zip(gv.chunks_exact_mut(k)) {
        if from_logits {
            let tsum: F = tr.iter().copied().sum();
            let m = zr.iter().copied().fold(F::neg_infinity(), F::max);
            let s: F = zr.iter().map(|&z| (z - m).exp()).sum();
            let lse = m + s.ln();
            let tz: F = zr.iter().zip(tr).map(|(&z, &t)| t * z).sum();
            value += tsum * lse - tz;
            for ((g, &z), &t) in gr.iter_mut().zip(zr).zip(tr) {
                *g = (tsum * ((z - m).exp() / s) - t) / r;
            }
        } else {
            for ((g, &p), &t) in gr.iter_mut().zip(zr).zip(tr) {
                if t != F::zero() {
                    value -= t * p.ln().max(floor);
                    *g = -t / (r * p.max(eps));
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
        let name = <Self as Loss<F>>::name(self);
        class_dims(name, p.shape())?;
        check_pair(name, p, t)?;
        check_range(format_args!("{name} target"), t, F::zero(), F::one())?;
        if !self.from_logits {
            check_range(format_args!("{name} prediction (probabilities)"), p, F::zero(), F::one())?;
        }
        categorical(self.from_logits, p, t)
    }
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
        categorical(self.from_logits, p, &onehot.view())
    }
}
