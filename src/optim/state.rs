//! The checks every optimiser step runs before anything changes, the per-parameter buffers
//! stateful optimisers keep, and the two-pass update that makes a step all or nothing.
//!
//! State is a list of arrays per kind of buffer (`exp_avg`, `momentum_buffer`, ...), one
//! array per parameter in the visitor's fixed order. A list is empty until the step that
//! creates it; after that its length and shapes must match the parameters at every step.
//!
//! Frozen parameters ([`crate::Layer::set_trainable`], reported by
//! [`Params::visit_trainable`]) keep their place in the lists, so freezing and unfreezing
//! between steps changes no list; a step leaves a frozen parameter, its gradient and its
//! buffer values as they were, and does not check its gradient (the optimiser does not read
//! it).
//!
//! A step is a transaction: [`update`] first computes every new value (weights and buffers)
//! without storing it and checks that all are finite, and only then computes them again and
//! stores them. An update that would overflow leaves weights, gradients and state as they
//! were. The second pass repeats the arithmetic of the first exactly, so what is stored is
//! what was checked; the cost is one more pass of element-wise arithmetic per step, small
//! beside the forward and backward passes that made the gradients.

use std::fmt::Display;

use ndarray::{ArrayD, IxDyn, Zip};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{trainable_flags, Params};
use crate::limits::try_zeros;
use crate::shape::{check_finite, fmt_index, fmt_shape};

/// Checks `params` before a step of `optimizer`: every non-empty buffer list in `buffers`
/// (`(name, arrays)`) has one array per parameter with the parameter's shape, every
/// gradient has its parameter's shape, and every trainable parameter's gradient holds only
/// finite values.
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
    check_state(optimizer, params, buffers)?;
    let flags = trainable_flags(params);
    let mut grad_error: Option<Error> = None;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        if grad_error.is_none() {
            if p.grad.shape() != p.value.shape() {
                grad_error = Some(Error::shape(
                    format!("{optimizer} gradient of parameter {n} ({}), against its value", p.name),
                    fmt_shape(p.value.shape()),
                    fmt_shape(p.grad.shape()),
                ));
            } else if is_trainable(&flags, n) {
                // A frozen parameter's gradient is not read, so it is not checked either.
                let finite = check_finite(format_args!("{optimizer} gradient of parameter {n} ({})", p.name), &p.grad);
                grad_error = finite.err();
            }
        }
        n += 1;
    });
    grad_error.map_or(Ok(()), Err)
}

/// Checks that every non-empty buffer list in `buffers` has one array per parameter of
/// `params`, shaped as that parameter.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming the list and both shape lists.
pub(crate) fn check_state<F: Float>(
    optimizer: &str,
    params: &dyn Params<F>,
    buffers: &[(&str, &[ArrayD<F>])],
) -> Result<()> {
    let mut state_mismatch = false;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        for (_, list) in buffers {
            if !list.is_empty() && list.get(n).is_none_or(|s| s.shape() != p.value.shape()) {
                state_mismatch = true;
            }
        }
        n += 1;
    });
    if state_mismatch || buffers.iter().any(|(_, list)| !list.is_empty() && list.len() != n) {
        return Err(state_error(optimizer, params, buffers));
    }
    Ok(())
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

/// Whether parameter `n` is trainable, from [`trainable_flags`] (a parameter the visitor gave
/// no flag for is).
#[inline]
pub(crate) fn is_trainable(flags: &[bool], n: usize) -> bool {
    flags.get(n).copied().unwrap_or(true)
}

/// Whether any parameter of `params` is trainable (a step with none changes nothing at all,
/// not even a step count, as a Keras optimiser given no gradients).
pub(crate) fn any_trainable<F: Float>(params: &dyn Params<F>) -> bool {
    let flags = trainable_flags(params);
    let mut count = 0usize;
    params.visit_params(&mut |_| count += 1);
    (0..count).any(|n| is_trainable(&flags, n))
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

/// How an update sees the gradients: as they are, or as a [`crate::GradientClip`] would
/// leave them. Applied element by element, so clipping changes no gradient before the step
/// is known to succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum GradScale<F> {
    /// Unchanged.
    Keep,
    /// Multiplied by a factor below 1 (clipping by the global norm).
    Mul(F),
    /// Clamped to `[−c, c]` (clipping by value).
    Clamp(F),
}

impl<F: Float> GradScale<F> {
    #[inline(always)]
    pub(crate) fn apply(self, g: F) -> F {
        match self {
            GradScale::Keep => g,
            GradScale::Mul(c) => g * c,
            GradScale::Clamp(c) => g.max(-c).min(c),
        }
    }
}

/// One buffer list an update reads and writes: its name (for messages) and its arrays, one
/// per parameter; an empty list is created (zeros) by the update.
pub(crate) type Slot<'a, F> = (&'static str, &'a mut Vec<ArrayD<F>>);

/// The most buffer lists one update handles (RMSprop's `square_avg`, `grad_avg` and
/// `momentum_buffer`).
const MAX_SLOTS: usize = 3;

/// Applies an element-wise `rule` to every trainable parameter of `params` as one
/// transaction (frozen ones, and their buffer values and gradients, are left as they are).
///
/// `rule(θ, g, s)` gets a weight, its (scaled) gradient and the element's buffer values in
/// `s[..slots.len()]` (the rest are 0), updates `s` in place and returns the new weight. On
/// success every weight, every buffer and (when `scale` clips) every gradient holds its new
/// value, and empty lists have been created. If any new weight or buffer value would be NaN or
/// infinite, nothing at all changes and the error names the parameter and the first such
/// element.
///
/// The caller has checked the gradients ([`check_step`]): their shapes and the buffers'
/// shapes match the parameters, and they are finite.
///
/// # Errors
/// [`Error::NonFinite`] as above; [`Error::TooLarge`] or [`Error::OutOfMemory`] if new
/// buffers cannot be allocated; [`Error::ShapeMismatch`] if a buffer does not fit (which
/// [`check_step`] rules out).
pub(crate) fn update<F: Float, R>(
    optimizer: &str,
    params: &mut dyn Params<F>,
    slots: &mut [Slot<'_, F>],
    scale: GradScale<F>,
    rule: R,
) -> Result<()>
where
    R: Fn(F, F, &mut [F; MAX_SLOTS]) -> F,
{
    if slots.len() > MAX_SLOTS {
        return Err(Error::config(
            format!("{optimizer} state"),
            format!("at most {MAX_SLOTS} buffer lists"),
            slots.len(),
        ));
    }
    let flags = trainable_flags(params);
    let created = create_missing(optimizer, params, slots)?;
    let outcome = check_pass(optimizer, params, &flags, slots, scale, &rule);
    if let Err(e) = outcome {
        for (made, (_, list)) in created.iter().zip(slots.iter_mut()) {
            if *made {
                list.clear();
            }
        }
        return Err(e);
    }
    commit_pass(params, &flags, slots, scale, &rule);
    Ok(())
}

/// Fills each empty list with zeros shaped as the parameters; returns which were filled.
fn create_missing<F: Float>(optimizer: &str, params: &dyn Params<F>, slots: &mut [Slot<'_, F>]) -> Result<Vec<bool>> {
    let mut shapes: Vec<IxDyn> = Vec::new();
    params.visit_params(&mut |p| shapes.push(p.value.raw_dim()));
    let mut created = Vec::with_capacity(slots.len());
    for (name, list) in slots.iter_mut() {
        let fresh = list.is_empty() && !shapes.is_empty();
        if fresh {
            let mut made = Vec::with_capacity(shapes.len());
            for (n, shape) in shapes.iter().enumerate() {
                made.push(try_zeros(shape.clone(), format_args!("{optimizer} state {name} of parameter {n}"))?);
            }
            **list = made;
        }
        created.push(fresh);
    }
    Ok(created)
}

/// The state arrays of parameter `n`, or `None` if a list does not reach it or does not
/// have `shape`.
fn arrays_at<'s, F: Float>(lists: &'s [&'s Vec<ArrayD<F>>], n: usize, shape: &[usize]) -> Option<Vec<&'s ArrayD<F>>> {
    lists.iter().map(|l| l.get(n).filter(|a| a.shape() == shape)).collect()
}

/// The first pass: computes every new value, stores none, and errs at the first parameter
/// with a non-finite one.
fn check_pass<F: Float, R>(
    optimizer: &str,
    params: &dyn Params<F>,
    flags: &[bool],
    slots: &[Slot<'_, F>],
    scale: GradScale<F>,
    rule: &R,
) -> Result<()>
where
    R: Fn(F, F, &mut [F; MAX_SLOTS]) -> F,
{
    let lists: Vec<&Vec<ArrayD<F>>> = slots.iter().map(|(_, l)| &**l).collect();
    let names: Vec<&str> = slots.iter().map(|(name, _)| *name).collect();
    let zero = F::zero();
    let mut error: Option<Error> = None;
    let mut n = 0usize;
    params.visit_params(&mut |p| {
        if error.is_some() {
            return;
        }
        if !is_trainable(flags, n) {
            n += 1;
            return;
        }
        let (v, g) = (&p.value, &p.grad);
        let Some(s) = arrays_at(&lists, n, v.shape()).filter(|_| g.shape() == v.shape()) else {
            error = Some(Error::shape(
                format!("{optimizer} state of parameter {n} ({})", p.name),
                fmt_shape(v.shape()),
                "buffers of another shape",
            ));
            return;
        };
        let fine =
            |t: F, s: &[F; MAX_SLOTS], k: usize| t.is_finite() & s[..k].iter().fold(true, |ok, x| ok & x.is_finite());
        let ok = match s.as_slice() {
            [] => Zip::from(v).and(g).fold(true, |ok, &t, &g| {
                let mut st = [zero; MAX_SLOTS];
                ok & fine(rule(t, scale.apply(g), &mut st), &st, 0)
            }),
            [a] => Zip::from(v).and(g).and(*a).fold(true, |ok, &t, &g, &a| {
                let mut st = [a, zero, zero];
                ok & fine(rule(t, scale.apply(g), &mut st), &st, 1)
            }),
            [a, b] => Zip::from(v).and(g).and(*a).and(*b).fold(true, |ok, &t, &g, &a, &b| {
                let mut st = [a, b, zero];
                ok & fine(rule(t, scale.apply(g), &mut st), &st, 2)
            }),
            [a, b, c] => Zip::from(v).and(g).and(*a).and(*b).and(*c).fold(true, |ok, &t, &g, &a, &b, &c| {
                let mut st = [a, b, c];
                ok & fine(rule(t, scale.apply(g), &mut st), &st, 3)
            }),
            _ => true,
        };
        if !ok {
            error = Some(locate(optimizer, n, p.name, v, g, &s, &names, scale, rule));
        }
        n += 1;
    });
    error.map_or(Ok(()), Err)
}

/// The error for parameter `n`, whose update has a non-finite value: which element, and
/// whether the weight or a buffer overflowed.
#[allow(clippy::too_many_arguments)]
fn locate<F: Float, R>(
    optimizer: &str,
    n: usize,
    name: &str,
    v: &ndarray::ArrayViewD<'_, F>,
    g: &ndarray::ArrayViewD<'_, F>,
    s: &[&ArrayD<F>],
    names: &[&str],
    scale: GradScale<F>,
    rule: &R,
) -> Error
where
    R: Fn(F, F, &mut [F; MAX_SLOTS]) -> F,
{
    let mut iters: Vec<_> = s.iter().map(|a| a.iter()).collect();
    for (flat, (&t, &gr)) in v.iter().zip(g.iter()).enumerate() {
        let mut st = [F::zero(); MAX_SLOTS];
        for (slot, it) in st.iter_mut().zip(iters.iter_mut()) {
            *slot = it.next().copied().unwrap_or_else(F::zero);
        }
        let new = rule(t, scale.apply(gr), &mut st);
        let bad = if !new.is_finite() {
            Some(("value", new))
        } else {
            names.iter().zip(&st).find(|(_, x)| !x.is_finite()).map(|(name, &x)| (*name, x))
        };
        if let Some((what, value)) = bad {
            return Error::NonFinite {
                what: format!("{optimizer} update of parameter {n} `{name}` (its new {what}; nothing was changed)"),
                index: fmt_index(v.shape(), flat),
                value: value.to_string(),
            };
        }
    }
    Error::NonFinite {
        what: format!("{optimizer} update of parameter {n} `{name}` (nothing was changed)"),
        index: "unknown".to_string(),
        value: "non-finite".to_string(),
    }
}

/// The second pass: the same arithmetic as [`check_pass`], stored.
fn commit_pass<F: Float, R>(
    params: &mut dyn Params<F>,
    flags: &[bool],
    slots: &mut [Slot<'_, F>],
    scale: GradScale<F>,
    rule: &R,
) where
    R: Fn(F, F, &mut [F; MAX_SLOTS]) -> F,
{
    let zero = F::zero();
    let wanted = slots.len();
    let mut n = 0usize;
    params.visit_params_mut(&mut |mut p| {
        let shape = p.value.shape().to_vec();
        let mut s: Vec<&mut ArrayD<F>> = Vec::with_capacity(slots.len());
        for (_, list) in slots.iter_mut() {
            match list.get_mut(n) {
                Some(a) if a.shape() == shape.as_slice() => s.push(a),
                _ => break,
            }
        }
        let trainable = is_trainable(flags, n);
        n += 1;
        if !trainable || s.len() != wanted || p.grad.shape() != shape.as_slice() {
            return; // frozen, or ruled out by the checks before
        }
        let (v, g) = (&mut p.value, &mut p.grad);
        match s.as_mut_slice() {
            [] => Zip::from(v).and(g).for_each(|t, g| {
                let gs = scale.apply(*g);
                let mut st = [zero; MAX_SLOTS];
                *t = rule(*t, gs, &mut st);
                *g = gs;
            }),
            [a] => Zip::from(v).and(g).and(&mut **a).for_each(|t, g, a| {
                let gs = scale.apply(*g);
                let mut st = [*a, zero, zero];
                *t = rule(*t, gs, &mut st);
                (*g, *a) = (gs, st[0]);
            }),
            [a, b] => Zip::from(v).and(g).and(&mut **a).and(&mut **b).for_each(|t, g, a, b| {
                let gs = scale.apply(*g);
                let mut st = [*a, *b, zero];
                *t = rule(*t, gs, &mut st);
                (*g, *a, *b) = (gs, st[0], st[1]);
            }),
            [a, b, c] => Zip::from(v).and(g).and(&mut **a).and(&mut **b).and(&mut **c).for_each(|t, g, a, b, c| {
                let gs = scale.apply(*g);
                let mut st = [*a, *b, *c];
                *t = rule(*t, gs, &mut st);
                (*g, *a, *b, *c) = (gs, st[0], st[1], st[2]);
            }),
            _ => {}
        }
    });
}
