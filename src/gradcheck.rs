//! Finite-difference gradient checks for any [`Layer`] and any [`Model`]: does
//! `backward` differentiate what `forward` computes?
//!
//! For a layer, the objective is `L = Σ G ⊙ output` with a fixed random `G`; each element of
//! the input, of every parameter and (for recurrent layers) of the initial state is nudged by
//! `±step` and the central difference `(L₊ − L₋) / 2·step` compared with what `backward`
//! returned. The report gives, per tensor, the worst error relative to `max(1, |numeric|)`:
//!
//! ```text
//! error = |analytic − numeric| / max(1, |numeric|)
//! ```
//!
//! Every training forward pass is preceded by [`Layer::reseed`] with the same seed, so a
//! layer with dropout draws the same masks each time and the check sees one fixed function.
//! Run it in `f64`: the differences need the precision (cells are generic, so a cell written
//! for `f32` is checked as `f64`).
//!
//! # Example: check a layer, as a user would check a cell of their own
//! ```
//! use recurrent::gradcheck::GradCheck;
//! use recurrent::prelude::*;
//!
//! let mut rng = StdRng::seed_from_u64(3);
//! let mut gru = GruConfig::new(2, 3).with_return_sequences(true).init::<f64, _>(&mut rng)?;
//! let x = ndarray::Array3::from_shape_fn((2, 4, 2), |(b, t, i)| ((b + 2 * t + 3 * i) as f64).sin());
//! let report = GradCheck::new().check_layer(&mut gru, x.view().into_dyn(), None)?;
//! println!("{report}");
//! assert!(report.worst() < 1e-6, "{report}");
//! assert!(report.tensor("recurrent_kernel").is_some());
//! # Ok::<(), recurrent::Error>(())
//! ```

use std::fmt;

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

use crate::error::{Error, Result};
use crate::layers::{Layer, Mode, Params, State};
use crate::loss::Loss;
use crate::model::{masked_loss, Model};

/// How a check runs: the finite-difference step, the seed of `G` and of the dropout masks,
/// and the largest number of elements probed per tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheck {
    step: f64,
    seed: u64,
    max_probes: usize,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck { step: 1e-6, seed: 0, max_probes: usize::MAX }
    }
}

/// The result for one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorReport {
    /// `"input"`, `"initial h"`, `"initial c"`, or the parameter's name prefixed with its
    /// position in visiting order, e.g. `"#1 recurrent_kernel"` (names can repeat); for a
    /// model, the parameter's path ([`Model::param_paths`]), e.g. `"#1 lstm/recurrent_kernel"`.
    pub name: String,
    /// Elements compared.
    pub probed: usize,
    /// The worst `|analytic − numeric| / max(1, |numeric|)`.
    pub worst: f64,
    /// Row-major position of the worst element.
    pub at: usize,
    /// `backward`'s value there.
    pub analytic: f64,
    /// The central difference there.
    pub numeric: f64,
}

/// The worst error per tensor of one check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GradReport {
    /// One entry per tensor checked, in order: input, initial state, parameters.
    pub tensors: Vec<TensorReport>,
}

impl GradReport {
    /// The worst error over every tensor (0 for an empty report).
    pub fn worst(&self) -> f64 {
        self.tensors.iter().map(|t| t.worst).fold(0.0, f64::max)
    }

    /// The report of the first tensor whose name is `name` or ends with it after a space
    /// or a slash (`"kernel"` finds `"#0 kernel"` and `"#0 encoder/lstm/kernel"`).
    pub fn tensor(&self, name: &str) -> Option<&TensorReport> {
        self.tensors
            .iter()
            .find(|t| t.name == name || t.name.ends_with(&format!(" {name}")) || t.name.ends_with(&format!("/{name}")))
    }
}

impl fmt::Display for GradReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<28} {:>8} {:>12} {:>16} {:>16}", "tensor", "probed", "worst error", "analytic", "numeric")?;
        for t in &self.tensors {
            writeln!(
                f,
                "{:<28} {:>8} {:>12.3e} {:>16.9e} {:>16.9e}",
                t.name, t.probed, t.worst, t.analytic, t.numeric
            )?;
        }
        Ok(())
    }
}

/// Compares `analytic` with central differences of `f` over the elements of `x` (restored
/// exactly afterwards).
fn compare(
    name: String,
    x: &mut ArrayD<f64>,
    analytic: &ArrayViewD<'_, f64>,
    step: f64,
    max_probes: usize,
    f: &mut dyn FnMut(&ArrayD<f64>) -> Result<f64>,
) -> Result<TensorReport> {
    if analytic.shape() != x.shape() {
        return Err(Error::shape(
            format!("gradient check: gradient of {name}"),
            format!("{:?}", x.shape()),
            format!("{:?}", analytic.shape()),
        ));
    }
    let analytic = analytic.as_standard_layout();
    let analytic = analytic.as_slice().unwrap_or(&[]);
    let n = x.len();
    let stride = n.div_ceil(max_probes.max(1)).max(1);
    let mut rep = TensorReport { name, probed: 0, worst: 0.0, at: 0, analytic: 0.0, numeric: 0.0 };
    let mut k = 0;
    while k < n {
        let orig = x.as_slice().map(|s| s[k]).unwrap_or(0.0);
        set(x, k, orig + step);
        let up = f(x)?;
        set(x, k, orig - step);
        let down = f(x)?;
        set(x, k, orig);
        let numeric = (up - down) / (2.0 * step);
        let a = analytic.get(k).copied().unwrap_or(f64::NAN);
        let err = (a - numeric).abs() / numeric.abs().max(1.0);
        rep.probed += 1;
        if err > rep.worst || err.is_nan() || rep.probed == 1 {
            rep.worst = if err.is_nan() { f64::INFINITY } else { err.max(rep.worst) };
            rep.at = k;
            rep.analytic = a;
            rep.numeric = numeric;
        }
        k += stride;
    }
    Ok(rep)
}

fn set(x: &mut ArrayD<f64>, k: usize, v: f64) {
    if let Some(s) = x.as_slice_mut() {
        s[k] = v;
    }
}

/// Copies of every parameter, in visiting order.
fn param_values<P: Params<f64> + ?Sized>(layer: &P) -> Vec<(String, ArrayD<f64>)> {
    let mut out = Vec::new();
    layer.visit_params(&mut |p| out.push((p.name.to_string(), p.value.as_standard_layout().into_owned())));
    out
}

fn param_grads<P: Params<f64> + ?Sized>(layer: &P) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    layer.visit_params(&mut |p| out.push(p.grad.to_owned()));
    out
}

/// Sets parameter `index` (in visiting order) to `value`.
fn set_param<P: Params<f64> + ?Sized>(layer: &mut P, index: usize, value: &ArrayD<f64>) {
    let mut i = 0;
    layer.visit_params_mut(&mut |mut p| {
        if i == index {
            p.value.assign(value);
        }
        i += 1;
    });
}

fn random(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(-1.0..1.0))
}

impl GradCheck {
    /// Step `1e-6`, seed 0, every element probed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The finite-difference step. Defaults to `1e-6`.
    pub fn with_step(mut self, step: f64) -> Self {
        self.step = step;
        self
    }

    /// The seed of the objective's weights `G`, the random initial state and the layers'
    /// dropout masks. Defaults to `0`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Probes at most `n` evenly spaced elements per tensor (for large layers). Defaults to
    /// every element.
    pub fn with_max_probes(mut self, n: usize) -> Self {
        self.max_probes = n.max(1);
        self
    }

    fn check_step(&self) -> Result<()> {
        if self.step.is_finite() && self.step > 0.0 {
            Ok(())
        } else {
            Err(Error::config("gradient check step", "a finite number > 0", self.step))
        }
    }

    /// Checks `layer` at `input` (with an optional padding `mask`, as for
    /// [`Layer::forward_masked`]): the input gradient, every parameter's gradient and, for a
    /// recurrent layer, the initial state's (from a random initial state). The layer's
    /// parameters come back exactly as they were; its gradients are left zeroed plus one
    /// backward pass.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a step that is not finite and positive; any error of the
    /// layer's `forward` or `backward` at this input.
    pub fn check_layer<L: Layer<f64> + ?Sized>(
        &self,
        layer: &mut L,
        input: ArrayViewD<'_, f64>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<GradReport> {
        self.check_step()?;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let seed = self.seed;
        // A random initial state for recurrent layers, so its gradient is checked away from 0.
        let state = match layer.as_recurrent() {
            Some(r) => {
                let b = input.shape().first().copied().unwrap_or(0);
                let h = Array2::from_shape_fn((b, r.units()), |_| rng.random_range(-0.9..0.9));
                let c =
                    r.has_cell_state().then(|| Array2::from_shape_fn((b, r.units()), |_| rng.random_range(-1.0..1.0)));
                Some(State { h, c })
            }
            None => None,
        };
        let run = |layer: &mut L, x: ArrayViewD<'_, f64>, s: Option<&State<f64>>| -> Result<ArrayD<f64>> {
            layer.reseed(seed);
            match (layer.as_recurrent_mut(), s) {
                (Some(r), Some(s)) => {
                    let x3 = x
                        .into_dimensionality()
                        .map_err(|e| Error::shape("gradient check input", "rank 3", e.to_string()))?;
                    r.forward_masked_with_state(x3, mask, Some(s), Mode::Train)
                }
                _ => layer.forward_masked(x, mask, Mode::Train),
            }
        };
        let out = run(layer, input.view(), state.as_ref())?;
        let g = random(&mut rng, out.shape());
        layer.zero_grad();
        let dx = layer.backward(g.view())?;
        let dstate = layer.as_recurrent().and_then(|r| r.initial_state_grad().cloned());
        let grads = param_grads(layer);
        let params = param_values(layer);
        let objective = |out: ArrayD<f64>| (&g * &out).sum();

        let mut report = GradReport::default();
        let mut x = input.as_standard_layout().into_owned();
        let mut f = |xp: &ArrayD<f64>| -> Result<f64> { Ok(objective(run(layer, xp.view(), state.as_ref())?)) };
        report.tensors.push(compare("input".into(), &mut x, &dx.view(), self.step, self.max_probes, &mut f)?);
        if let (Some(s), Some(ds)) = (&state, &dstate) {
            let mut h = s.h.clone().into_dyn();
            let c0 = s.c.clone();
            let mut f = |hp: &ArrayD<f64>| -> Result<f64> {
                let hp = hp.clone().into_dimensionality().map_err(|e| Error::shape("h", "rank 2", e.to_string()))?;
                let st = State { h: hp, c: c0.clone() };
                Ok(objective(run(layer, input.view(), Some(&st))?))
            };
            report.tensors.push(compare(
                "initial h".into(),
                &mut h,
                &ds.h.view().into_dyn(),
                self.step,
                self.max_probes,
                &mut f,
            )?);
            if let (Some(c), Some(dc)) = (&s.c, &ds.c) {
                let mut cd = c.clone().into_dyn();
                let h0 = s.h.clone();
                let mut f = |cp: &ArrayD<f64>| -> Result<f64> {
                    let cp =
                        cp.clone().into_dimensionality().map_err(|e| Error::shape("c", "rank 2", e.to_string()))?;
                    let st = State { h: h0.clone(), c: Some(cp) };
                    Ok(objective(run(layer, input.view(), Some(&st))?))
                };
                report.tensors.push(compare(
                    "initial c".into(),
                    &mut cd,
                    &dc.view().into_dyn(),
                    self.step,
                    self.max_probes,
                    &mut f,
                )?);
            }
        }
        for (k, ((name, value), grad)) in params.into_iter().zip(grads).enumerate() {
            let mut v = value.clone();
            let mut f = |vp: &ArrayD<f64>| -> Result<f64> {
                set_param(layer, k, vp);
                let out = run(layer, input.view(), state.as_ref());
                set_param(layer, k, &value);
                Ok(objective(out?))
            };
            report.tensors.push(compare(
                format!("#{k} {name}"),
                &mut v,
                &grad.view(),
                self.step,
                self.max_probes,
                &mut f,
            )?);
        }
        Ok(report)
    }

    /// Checks a whole model on `(x, y)` under `loss`: the gradient of the loss with respect to
    /// every parameter of every part, and to the input when [`Model::backward`] says the input
    /// is differentiable (a [`crate::Sequential`] whose first layer takes features, not token
    /// ids). The loss is the one `fit` minimises: [`Model::forward_with_targets`] in
    /// [`Mode::Train`] (an encoder–decoder's teacher forcing included), padded positions of
    /// its mask left out. Any [`Model`] can be checked: [`crate::Sequential`],
    /// [`crate::EncoderDecoder`], or a composition of your own. The parameters come back
    /// exactly as they were.
    ///
    /// # Errors
    /// As [`GradCheck::check_layer`]; any error of the model or loss at these data.
    pub fn check_model<M: Model<f64> + ?Sized>(
        &self,
        model: &mut M,
        x: ArrayViewD<'_, f64>,
        y: ArrayViewD<'_, f64>,
        loss: &dyn Loss<f64>,
    ) -> Result<GradReport> {
        self.check_step()?;
        let seed = self.seed;
        let run = |m: &mut M, xp: ArrayViewD<'_, f64>| -> Result<(f64, ArrayD<f64>)> {
            m.reseed(seed);
            let out = m.forward_with_targets(xp, y.view(), Mode::Train)?;
            let l = masked_loss(m.name(), loss, out.mask.as_ref(), &out.pred.view(), &y)?;
            Ok((l.value, l.grad))
        };
        let (_, grad) = run(model, x.view())?;
        model.zero_grad();
        let dx = model.backward(grad.view())?;
        let grads = param_grads(model);
        let params = param_values(model);
        let paths = model.param_paths();
        let mut report = GradReport::default();
        if let Some(dx) = dx {
            let mut xc = x.as_standard_layout().into_owned();
            let mut f = |xp: &ArrayD<f64>| -> Result<f64> { Ok(run(model, xp.view())?.0) };
            report.tensors.push(compare("input".into(), &mut xc, &dx.view(), self.step, self.max_probes, &mut f)?);
        }
        for (k, ((name, value), grad)) in params.into_iter().zip(grads).enumerate() {
            let mut v = value.clone();
            let mut f = |vp: &ArrayD<f64>| -> Result<f64> {
                set_param(model, k, vp);
                let out = run(model, x.view());
                set_param(model, k, &value);
                Ok(out?.0)
            };
            let name = paths.get(k).cloned().unwrap_or(name);
            report.tensors.push(compare(
                format!("#{k} {name}"),
                &mut v,
                &grad.view(),
                self.step,
                self.max_probes,
                &mut f,
            )?);
        }
        Ok(report)
    }
}
