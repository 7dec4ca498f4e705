//! Gradient clipping: [`clip_grad_norm`], [`clip_grad_value`] and the [`GradientClip`]
//! setting an optimiser applies before each update.
//!
//! Both functions follow PyTorch (`torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`):
//!
//! ```text
//! clip_grad_norm:   N = √( Σ_params Σ_elements g² )        one global 2-norm over every gradient
//!                   c = min( max_norm / (N + 1e-6), 1 )
//!                   g ← c · g                               every gradient, by the same c
//! clip_grad_value:  g ← min( max(g, −c), c )                element-wise
//! ```
//!
//! Because of the `1e-6`, a clipped gradient's norm is `max_norm · N / (N + 1e-6)`, a hair
//! below `max_norm`. Keras 3's `global_clipnorm` scales by `min(max_norm / N, 1)` without it,
//! and its `clipnorm` clips each tensor on its own.
//!
//! Parameters of frozen layers ([`crate::Layer::set_trainable`]) are left out: they neither
//! count in the norm nor get clipped, as PyTorch skips parameters without a gradient and
//! Keras clips only the trainable variables' gradients.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{trainable_flags, Params};
use crate::optim::state::{is_trainable, positive, GradScale};
use crate::shape::check_finite;

/// Scales every gradient of `params` by one factor so that their global 2-norm is at most
/// `max_norm` (PyTorch's `clip_grad_norm_` with `norm_type = 2`); returns the norm **before**
/// clipping.
///
/// The norm is accumulated in `f64` for both `f32` and `f64`. Gradients with a norm at most
/// `max_norm` are left unchanged.
///
/// # Errors
/// [`Error::InvalidConfig`] if `max_norm` is not finite and `> 0`; [`Error::NonFinite`] if a
/// gradient holds NaN or an infinity (PyTorch would return a non-finite norm and scale by
/// it). On error no gradient changes.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// use recurrent::clip_grad_norm;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(1, 1).init::<f64, _>(&mut rng)?;
/// dense.forward(array![[3.0]].into_dyn().view(), Mode::Train)?;
/// dense.backward(array![[1.0]].into_dyn().view())?; // dL/dW = 3, dL/db = 1
/// let norm = clip_grad_norm(&mut dense, 1.0)?;
/// assert!((norm - 10f64.sqrt()).abs() < 1e-15);      // √(3² + 1²), before clipping
/// let scale = 1.0 / (10f64.sqrt() + 1e-6);
/// assert!((dense.kernel_grad()[[0, 0]] - 3.0 * scale).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn clip_grad_norm<F: Float>(params: &mut dyn Params<F>, max_norm: F) -> Result<F> {
    positive("gradient clip max_norm", max_norm)?;
    check_grads_finite("clip_grad_norm", params)?;
    Ok(clip_norm_checked(params, max_norm))
}

/// Clamps every gradient element of `params` to `[−clip_value, clip_value]` (PyTorch's
/// `clip_grad_value_`).
///
/// # Errors
/// [`Error::InvalidConfig`] if `clip_value` is not finite and `> 0`; [`Error::NonFinite`] if
/// a gradient holds NaN or an infinity. On error no gradient changes.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// use recurrent::clip_grad_value;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(1, 1).init::<f64, _>(&mut rng)?;
/// dense.forward(array![[3.0]].into_dyn().view(), Mode::Train)?;
/// dense.backward(array![[-0.2]].into_dyn().view())?; // dL/dW = −0.6, dL/db = −0.2
/// clip_grad_value(&mut dense, 0.5)?;
/// assert_eq!(dense.kernel_grad()[[0, 0]], -0.5);
/// assert_eq!(dense.bias_grad()[0], -0.2);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn clip_grad_value<F: Float>(params: &mut dyn Params<F>, clip_value: F) -> Result<()> {
    positive("gradient clip value", clip_value)?;
    check_grads_finite("clip_grad_value", params)?;
    clip_value_checked(params, clip_value);
    Ok(())
}

/// Gradient clipping an optimiser applies before each update (see the module docs for the
/// formulas); set it with the optimisers' `with_gradient_clip`.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// // Adam that rescales the gradients to a global norm of at most 1 before every step.
/// let adam = Adam::<f64>::new(0.01).with_gradient_clip(GradientClip::Norm(1.0));
/// assert_eq!(adam.gradient_clip, Some(GradientClip::Norm(1.0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub enum GradientClip<F> {
    /// Rescale all gradients together to a global 2-norm of at most this value
    /// ([`clip_grad_norm`]). Must be finite and `> 0`.
    Norm(F),
    /// Clamp every gradient element to `[−c, c]` ([`clip_grad_value`]). Must be finite and
    /// `> 0`.
    Value(F),
}

impl<F: Float> GradientClip<F> {
    /// Clips the gradients of `params`.
    ///
    /// # Errors
    /// As [`clip_grad_norm`] and [`clip_grad_value`]; on error no gradient changes.
    pub fn apply(&self, params: &mut dyn Params<F>) -> Result<()> {
        match *self {
            GradientClip::Norm(max_norm) => clip_grad_norm(params, max_norm).map(|_| ()),
            GradientClip::Value(c) => clip_grad_value(params, c),
        }
    }

    /// Checks the threshold without touching any gradient.
    pub(crate) fn validate(&self) -> Result<()> {
        match *self {
            GradientClip::Norm(max_norm) => positive("gradient clip max_norm", max_norm),
            GradientClip::Value(c) => positive("gradient clip value", c),
        }
    }

    /// What this clipping would do to the gradients of `params` (known to be finite), as a
    /// scale an update applies element by element, leaving the gradients themselves alone
    /// until the update is known to succeed.
    pub(crate) fn scale(&self, params: &dyn Params<F>) -> GradScale<F> {
        match *self {
            GradientClip::Norm(max_norm) => {
                let (_, coef) = norm_and_coefficient(params, max_norm);
                coef.map_or(GradScale::Keep, GradScale::Mul)
            }
            GradientClip::Value(c) => GradScale::Clamp(c),
        }
    }
}

fn check_grads_finite<F: Float>(what: &str, params: &dyn Params<F>) -> Result<()> {
    let flags = trainable_flags(params);
    let mut first: Option<Error> = None;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        if first.is_none() && is_trainable(&flags, n) {
            if let Err(e) = check_finite(format_args!("{what} gradient of parameter {n} ({})", p.name), &p.grad) {
                first = Some(e);
            }
        }
        n += 1;
    });
    first.map_or(Ok(()), Err)
}

/// The global 2-norm of the gradients (accumulated in f64) and, if it is over `max_norm`, the
/// factor that scales it down (PyTorch's `max_norm / (N + 1e-6)`).
fn norm_and_coefficient<F: Float>(params: &dyn Params<F>, max_norm: F) -> (F, Option<F>) {
    let flags = trainable_flags(params);
    let mut sum_sq = 0f64;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        if is_trainable(&flags, n) {
            sum_sq += p.grad.iter().map(|g| g.to_f64_exact() * g.to_f64_exact()).sum::<f64>();
        }
        n += 1;
    });
    let total = sum_sq.sqrt();
    let coef = max_norm.to_f64_exact() / (total + 1e-6);
    (F::of(total), (coef < 1.0).then(|| F::of(coef)))
}

fn clip_norm_checked<F: Float>(params: &mut dyn Params<F>, max_norm: F) -> F {
    let (total, coef) = norm_and_coefficient(params, max_norm);
    if let Some(c) = coef {
        map_trainable_grads(params, |g| g * c);
    }
    total
}

fn clip_value_checked<F: Float>(params: &mut dyn Params<F>, c: F) {
    map_trainable_grads(params, |g| g.max(-c).min(c));
}

/// Applies `f` to every gradient element of the trainable parameters.
fn map_trainable_grads<F: Float>(params: &mut dyn Params<F>, f: impl Fn(F) -> F) {
    let flags = trainable_flags(params);
    let mut n = 0usize;
    params.visit_params_mut(&mut |mut p| {
        if is_trainable(&flags, n) {
            p.grad.mapv_inplace(&f);
        }
        n += 1;
    });
}
