//! The checks every optimiser step runs before anything changes, and the per-parameter
//! buffers stateful optimisers keep.
//!
//! State is a list of arrays per kind of buffer (`exp_avg`, `momentum_buffer`, ...), one
//! array per parameter in the visitor's fixed order. A list is empty until the step that
//! creates it; after that its length and shapes must match the parameters at every step.

use std::fmt::Display;

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::Params;
use crate::shape::{check_finite, fmt_shape};

/// Checks `params` before a step of `optimizer`: every non-empty buffer list in `buffers`
/// (`(name, arrays)`) has one array per parameter with the parameter's shape, and every
/// gradient has its parameter's shape and holds only finite values.
///
/// # Errors
/// [`Error::ShapeMismatch`] if the parameters changed since the state was created or a
/// gradient's shape differs from its parameter's; [`Error::NonFinite`] for NaN or an
/// infinity in a gradient.
pub(crate) fn check_step<F: Float>(
    optimizer: &str,
    params: &dyn Params<F>,
    buffers: &[(&str, &[ArrayD<F>])],
) -> Result<()> {
    let mut grad_error: Option<Error> = None;
    let mut state_mismatch = false;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        for (_, list) in buffers {
            if !list.is_empty() && list.get(n).is_none_or(|s| s.shape() != p.value.shape()) {
                state_mismatch = true;
            }
        }
        if grad_error.is_none() {
            if p.grad.shape() != p.value.shape() {
                grad_error = Some(Error::shape(
                    format!("{optimizer} gradient of parameter {n} ({}), against its value", p.name),
                    fmt_shape(p.value.shape()),
                    fmt_shape(p.grad.shape()),
                ));
            } else if let Err(e) =
                check_finite(format_args!("{optimizer} gradient of parameter {n} ({})", p.name), &p.grad)
            {
                grad_error = Some(e);
            }
        }
        n += 1;
    });
    if state_mismatch || buffers.iter().any(|(_, list)| !list.is_empty() && list.len() != n) {
        return Err(state_error(optimizer, params, buffers));
    }
    grad_error.map_or(Ok(()), Err)
}

/// The error for state that no longer fits the parameters, naming both shape lists.
fn state_error<F: Float>(optimizer: &str, params: &dyn Params<F>, buffers: &[(&str, &[ArrayD<F>])]) -> Error {
    let mut shapes = Vec::new();
    params.visit_params(&mut |p| shapes.push(p.value.shape().to_vec()));
    let describe = |list: &mut dyn Iterator<Item = &[usize]>| {
        let all: Vec<String> = list.map(fmt_shape).collect();
        let noun = if all.len() == 1 { "parameter" } else { "parameters" };
        format!("{} {noun} shaped [{}]", all.len(), all.join(", "))
    };
    let (name, list) = buffers
        .iter()
        .find(|(_, list)| {
            !list.is_empty() && (list.len() != shapes.len() || list.iter().zip(&shapes).any(|(s, p)| s.shape() != p))
        })
        .copied()
        .unwrap_or(("state", &[]));
    Error::shape(
        format!(
            "{optimizer} state {name} (the parameters changed since the state was created; \
             call reset() to start afresh)"
        ),
        describe(&mut list.iter().map(|a| a.shape())),
        describe(&mut shapes.iter().map(|s| s.as_slice())),
    )
}

/// Errs with [`Error::InvalidConfig`] unless `value` is finite and `> 0`.
pub(crate) fn positive<F: Float>(what: impl Display, value: F) -> Result<()> {
    if value.is_finite() && value > F::zero() {
        Ok(())
    } else {
        Err(Error::config(what.to_string(), "a finite value > 0", value))
    }
}

/// Errs with [`Error::InvalidConfig`] unless `value` is finite and `>= 0`.
pub(crate) fn non_negative<F: Float>(what: impl Display, value: F) -> Result<()> {
    if value.is_finite() && value >= F::zero() {
        Ok(())
    } else {
        Err(Error::config(what.to_string(), "a finite value >= 0", value))
    }
}

/// Errs with [`Error::InvalidConfig`] unless `0 <= value < 1`.
pub(crate) fn unit_interval<F: Float>(what: impl Display, value: F) -> Result<()> {
    if value >= F::zero() && value < F::one() {
        Ok(())
    } else {
        Err(Error::config(what.to_string(), "a value in [0, 1)", value))
    }
}

/// `(1 − w)·a + w·b` the way `torch.lerp` evaluates it, so moments round as PyTorch's do.
#[inline(always)]
pub(crate) fn lerp<F: Float>(a: F, b: F, w: F) -> F {
    if w < F::of(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (F::one() - w)
    }
}
