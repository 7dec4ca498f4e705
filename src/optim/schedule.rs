//! Learning-rate schedules, step for step as PyTorch's `torch.optim.lr_scheduler`:
//! [`StepLR`], [`ExponentialLR`], [`CosineAnnealingLR`] (with an optional linear warm-up),
//! [`OneCycleLR`] and [`ReduceLROnPlateau`].
//!
//! A schedule works with any [`Optimizer`], through [`Optimizer::learning_rate`] and
//! [`Optimizer::set_learning_rate`]. In a loop of your own, as in PyTorch, start it once
//! (what constructing a PyTorch scheduler does: it reads the optimiser's learning rate as the
//! base and sets the first value) and step it after each epoch (or each batch, for
//! [`OneCycleLR`]); [`ReduceLROnPlateau`] steps with the monitored value:
//!
//! ```
//! use recurrent::prelude::*;
//! use recurrent::optim::{Schedule, ScheduleExt, StepLR};
//! let mut opt = Sgd::<f64>::new(0.1);
//! let mut schedule = StepLR::new(2, 0.5)?;
//! schedule.start(&mut opt)?;
//! let mut seen = Vec::new();
//! for _epoch in 0..5 {
//!     seen.push(opt.learning_rate());
//!     // ... train one epoch with `opt` ...
//!     schedule.step(&mut opt)?;
//! }
//! assert_eq!(seen, [0.1, 0.1, 0.05, 0.05, 0.025]);
//! # Ok::<(), recurrent::Error>(())
//! ```
//!
//! In `fit`, wrap the schedule in a [`crate::model::LearningRateScheduler`] callback: it
//! starts the schedule before the first batch and steps it where this loop does, per epoch
//! or per batch as [`Schedule::unit`] says.
//!
//! The schedules compute in `f64` (PyTorch's Python floats), with PyTorch's own recursive
//! formulas, and keep their own current value: the optimiser is given `F::of(lr)`.
//! `tests/schedules.rs` compares every step with values PyTorch wrote
//! (`tests/data/lr_schedules.py`). Every setting is checked when the schedule is made; a
//! step is all or nothing (an error, e.g. an optimiser refusing a learning rate of 0, leaves
//! the schedule and the optimiser as they were).

use std::f64::consts::PI;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::optim::Optimizer;

/// When a schedule steps inside `fit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepUnit {
    /// Once per epoch (before each epoch after the first).
    Epoch,
    /// Once per batch (before each batch after the first).
    Batch,
}

/// A learning-rate schedule: a sequence of learning rates, one per step, from a base rate.
///
/// The trait is object-safe (`fit` holds a `Box<dyn Schedule>`); the methods taking an
/// optimiser are in [`ScheduleExt`], implemented for every schedule. Step `t = 0` is the
/// value [`Schedule::begin`] gives; each [`Schedule::advance`] moves to `t + 1`, as each
/// `scheduler.step()` does in PyTorch (whose `last_epoch` is `t`).
pub trait Schedule: fmt::Debug + Send {
    /// The schedule's name in messages (`"StepLR"`).
    fn name(&self) -> &'static str;

    /// Whether `fit` steps it per epoch or per batch.
    fn unit(&self) -> StepUnit {
        StepUnit::Epoch
    }

    /// Whether each step needs the monitored value ([`ReduceLROnPlateau`]).
    fn takes_metric(&self) -> bool {
        false
    }

    /// The most steps the schedule can take, if it has an end ([`OneCycleLR`]'s
    /// `total_steps`); `fit` checks the run fits before the first batch.
    fn max_steps(&self) -> Option<u64> {
        None
    }

    /// Steps taken since [`Schedule::begin`] (PyTorch's `last_epoch`); `None` before it.
    fn steps(&self) -> Option<u64>;

    /// The current learning rate (`None` before [`Schedule::begin`]).
    fn current(&self) -> Option<f64>;

    /// (Re)starts the schedule at step 0 from the optimiser's learning rate `base_lr`, and
    /// returns the learning rate of step 0.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `base_lr` that is not finite and `> 0`.
    fn begin(&mut self, base_lr: f64) -> Result<f64>;

    /// Moves to the next step and returns its learning rate; `metric` is the monitored value
    /// for a schedule that [takes one](Schedule::takes_metric), ignored otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] before [`Schedule::begin`], without a metric where one is
    /// needed, for a metric that is NaN or infinite, or past the end of a schedule that has
    /// one ([`OneCycleLR`]); the schedule is then unchanged.
    fn advance(&mut self, metric: Option<f64>) -> Result<f64>;

    /// The schedule (settings and position) as JSON, for checkpoints.
    ///
    /// # Errors
    /// [`Error::Format`] if it cannot be written as JSON.
    fn state(&self) -> Result<Value>;

    /// Restores a position saved by [`Schedule::state`] from a schedule with the same settings.
    ///
    /// # Errors
    /// [`Error::Format`] for JSON that is not this schedule's state, or
    /// [`Error::InvalidConfig`] for a state saved with other settings; the schedule is then
    /// unchanged.
    fn load_state(&mut self, state: Value) -> Result<()>;
}

/// The learning rate given to an optimiser: `F::of(lr)`, refused as the optimiser refuses it.
fn apply<F: Float>(opt: &mut dyn Optimizer<F>, lr: f64) -> Result<()> {
    opt.set_learning_rate(F::of(lr))
}

/// [`Schedule`]'s methods with an optimiser, for a loop of your own (implemented for every
/// schedule, boxed or not).
pub trait ScheduleExt: Schedule {
    /// Starts the schedule from the optimiser's current learning rate (the base) and sets
    /// the learning rate of step 0, as constructing a PyTorch scheduler does.
    ///
    /// # Errors
    /// As [`Schedule::begin`] and [`Optimizer::set_learning_rate`]; nothing changes then.
    fn start<F: Float>(&mut self, optimizer: &mut dyn Optimizer<F>) -> Result<()> {
        let saved = self.state()?;
        let lr = self.begin(optimizer.learning_rate().to_f64_exact())?;
        if let Err(e) = apply(optimizer, lr) {
            self.load_state(saved)?;
            return Err(e);
        }
        Ok(())
    }

    /// One step (PyTorch's `scheduler.step()`): the next learning rate, set on the optimiser.
    ///
    /// # Errors
    /// As [`Schedule::advance`] (e.g. not started, or a [`ReduceLROnPlateau`], which needs
    /// [`ScheduleExt::step_with`]) and [`Optimizer::set_learning_rate`] (a learning rate of
    /// 0, which [`CosineAnnealingLR`] reaches at `t_max` with `eta_min` 0, is refused by the
    /// optimisers); nothing changes then.
    fn step<F: Float>(&mut self, optimizer: &mut dyn Optimizer<F>) -> Result<()> {
        step_inner(self, optimizer, None)
    }

    /// One step with the monitored value (PyTorch's `scheduler.step(metric)`), for
    /// [`ReduceLROnPlateau`]; other schedules ignore the value.
    ///
    /// # Errors
    /// As [`ScheduleExt::step`]; [`Error::InvalidConfig`] for a NaN or infinite `metric`.
    fn step_with<F: Float>(&mut self, optimizer: &mut dyn Optimizer<F>, metric: f64) -> Result<()> {
        step_inner(self, optimizer, Some(metric))
    }
}

impl<S: Schedule + ?Sized> ScheduleExt for S {}

fn step_inner<F: Float, S: Schedule + ?Sized>(
    schedule: &mut S,
    optimizer: &mut dyn Optimizer<F>,
    metric: Option<f64>,
) -> Result<()> {
    let saved = schedule.state()?;
    let lr = schedule.advance(metric)?;
    if let Err(e) = apply(optimizer, lr) {
        schedule.load_state(saved)?;
        return Err(e);
    }
    Ok(())
}

/// Where a schedule is: PyTorch's `base_lrs[0]`, `last_epoch` and `group["lr"]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
struct Track {
    started: bool,
    base: f64,
    t: u64,
    lr: f64,
}

impl Track {
    fn begin(&mut self, name: &str, base: f64) -> Result<()> {
        if !(base.is_finite() && base > 0.0) {
            return Err(Error::config(format!("{name} base learning rate"), "finite and > 0", base));
        }
        *self = Track { started: true, base, t: 0, lr: base };
        Ok(())
    }

    fn check_started(&self, name: &str) -> Result<()> {
        if self.started {
            Ok(())
        } else {
            Err(Error::config(
                format!("{name} step"),
                "a started schedule (call start(&mut optimizer) first, as constructing a PyTorch scheduler does)",
                "not started",
            ))
        }
    }
}

fn finite(what: String, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::config(what, "a finite number", v))
    }
}

fn state_of<S: Serialize>(name: &str, s: &S) -> Result<Value> {
    serde_json::to_value(s).map_err(|e| Error::format(format!("{name} state"), "a value JSON can hold", e))
}

/// Replaces `current` with the schedule in `state` if its settings (everything but the
/// `"track"` and `"plateau"` positions) are `current`'s.
fn load_into<S: Serialize + DeserializeOwned>(name: &str, current: &mut S, state: Value) -> Result<()> {
    let incoming: S = serde_json::from_value(state.clone())
        .map_err(|e| Error::format(format!("{name} state"), format!("the state of a {name}"), e))?;
    let settings = |v: Value| -> Value {
        match v {
            Value::Object(mut m) => {
                m.remove("track");
                m.remove("plateau");
                Value::Object(m)
            }
            other => other,
        }
    };
    let (mine, theirs) = (settings(state_of(name, current)?), settings(state));
    if mine != theirs {
        return Err(Error::config(format!("{name} state's settings"), mine.to_string(), theirs));
    }
    *current = incoming;
    Ok(())
}

macro_rules! state_methods {
    ($name:literal) => {
        fn state(&self) -> Result<Value> {
            state_of($name, self)
        }

        fn load_state(&mut self, state: Value) -> Result<()> {
            load_into($name, self, state)
        }

        fn steps(&self) -> Option<u64> {
            self.track.started.then_some(self.track.t)
        }

        fn current(&self) -> Option<f64> {
            self.track.started.then_some(self.track.lr)
        }
    };
}

/// Multiplies the learning rate by `gamma` every `step_size` steps (PyTorch's `StepLR`):
/// `lr_t = base · gamma^⌊t / step_size⌋`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLR {
    step_size: u64,
    gamma: f64,
    track: Track,
}

impl StepLR {
    /// Decay by `gamma` every `step_size` steps.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `step_size` of 0, or a `gamma` that is not finite and
    /// `> 0`.
    pub fn new(step_size: u64, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(Error::config("StepLR step_size", "at least 1", 0));
        }
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(Error::config("StepLR gamma", "finite and > 0", gamma));
        }
        Ok(StepLR { step_size, gamma, track: Track::default() })
    }
}

impl Schedule for StepLR {
    fn name(&self) -> &'static str {
        "StepLR"
    }

    fn begin(&mut self, base_lr: f64) -> Result<f64> {
        self.track.begin(self.name(), base_lr)?;
        Ok(self.track.lr)
    }

    fn advance(&mut self, _metric: Option<f64>) -> Result<f64> {
        self.track.check_started(self.name())?;
        let t = self.track.t + 1;
        if t.is_multiple_of(self.step_size) {
            self.track.lr *= self.gamma;
        }
        self.track.t = t;
        Ok(self.track.lr)
    }

    state_methods!("StepLR");
}

/// Multiplies the learning rate by `gamma` every step (PyTorch's `ExponentialLR`):
/// `lr_t = base · gamma^t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExponentialLR {
    gamma: f64,
    track: Track,
}

impl ExponentialLR {
    /// Decay by `gamma` every step.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `gamma` that is not finite and `> 0`.
    pub fn new(gamma: f64) -> Result<Self> {
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(Error::config("ExponentialLR gamma", "finite and > 0", gamma));
        }
        Ok(ExponentialLR { gamma, track: Track::default() })
    }
}

impl Schedule for ExponentialLR {
    fn name(&self) -> &'static str {
        "ExponentialLR"
    }

    fn begin(&mut self, base_lr: f64) -> Result<f64> {
        self.track.begin(self.name(), base_lr)?;
        Ok(self.track.lr)
    }

    fn advance(&mut self, _metric: Option<f64>) -> Result<f64> {
        self.track.check_started(self.name())?;
        self.track.lr *= self.gamma;
        self.track.t += 1;
        Ok(self.track.lr)
    }

    state_methods!("ExponentialLR");
}

/// Cosine annealing from the base rate to `eta_min` over `t_max` steps (PyTorch's
/// `CosineAnnealingLR`), optionally after a linear warm-up.
///
/// Without warm-up, `lr_t = eta_min + (base − eta_min)·(1 + cos(π t / t_max)) / 2`; past
/// `t_max` the cosine goes on (back up over the next `t_max` steps), as PyTorch's does.
///
/// With [`CosineAnnealingLR::with_warmup`]`(w, s)`, the first `w` steps rise linearly from
/// `s · base` to the base rate,
///
/// ```text
/// lr_t = base · (s + (1 − s) · t / w)                                   for t < w
/// lr_t = eta_min + (base − eta_min)·(1 + cos(π (t − w) / t_max)) / 2    for t ≥ w
/// ```
///
/// which is PyTorch's `SequentialLR([LinearLR(start_factor=s, total_iters=w),
/// CosineAnnealingLR(T_max=t_max, eta_min)], milestones=[w])`. The values are computed with
/// PyTorch's recursive formulas (each step from the one before), so they agree with it to
/// rounding.
///
/// With `eta_min = 0` the rate is exactly 0 at `t = w + t_max`, which the optimisers refuse:
/// in `fit` the schedule steps *before* each epoch, so `t_max = epochs − w` never reaches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineAnnealingLR {
    t_max: u64,
    eta_min: f64,
    warmup: u64,
    start_factor: f64,
    track: Track,
}

impl CosineAnnealingLR {
    /// Anneal to `eta_min` over `t_max` steps, without warm-up.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `t_max` of 0 or above 2⁶² − 1, or an `eta_min` that is
    /// not finite and `>= 0`.
    pub fn new(t_max: u64, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(Error::config("CosineAnnealingLR t_max", "at least 1", 0));
        }
        // The step arithmetic works in i64 with 2·t_max; PyTorch's Python ints have no bound.
        if t_max > (i64::MAX / 2) as u64 {
            return Err(Error::config("CosineAnnealingLR t_max", format!("at most {}", i64::MAX / 2), t_max));
        }
        if !(eta_min.is_finite() && eta_min >= 0.0) {
            return Err(Error::config("CosineAnnealingLR eta_min", "finite and >= 0", eta_min));
        }
        Ok(CosineAnnealingLR { t_max, eta_min, warmup: 0, start_factor: 1.0, track: Track::default() })
    }

    /// Adds a linear warm-up of `steps` steps from `start_factor · base` (see the type's
    /// formula); the cosine's `t_max` steps come after it.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `start_factor` outside `(0, 1]`.
    pub fn with_warmup(mut self, steps: u64, start_factor: f64) -> Result<Self> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(Error::config("CosineAnnealingLR warm-up start_factor", "in (0, 1]", start_factor));
        }
        self.warmup = steps;
        self.start_factor = start_factor;
        Ok(self)
    }
}

impl Schedule for CosineAnnealingLR {
    fn name(&self) -> &'static str {
        "CosineAnnealingLR"
    }

    fn begin(&mut self, base_lr: f64) -> Result<f64> {
        self.track.begin(self.name(), base_lr)?;
        if self.warmup > 0 {
            self.track.lr = base_lr * self.start_factor;
        }
        Ok(self.track.lr)
    }

    fn advance(&mut self, _metric: Option<f64>) -> Result<f64> {
        self.track.check_started(self.name())?;
        let t = self.track.t + 1;
        let (w, s, lr) = (self.warmup, self.start_factor, self.track.lr);
        let next = if t < w {
            // LinearLR's step, end factor 1.
            lr * (1.0 + (1.0 - s) / (w as f64 * s + (t - 1) as f64 * (1.0 - s)))
        } else if t == w {
            // SequentialLR hands over: the cosine's closed form at its step 0.
            self.eta_min + (self.track.base - self.eta_min) * (1.0 + 0.0f64.cos()) / 2.0
        } else {
            let e = (t - w) as i64;
            let tm = self.t_max as i64;
            let (eta, base) = (self.eta_min, self.track.base);
            if (e - 1 - tm).rem_euclid(2 * tm) == 0 {
                lr + (base - eta) * (1.0 - (PI / tm as f64).cos()) / 2.0
            } else {
                (1.0 + (PI * e as f64 / tm as f64).cos()) / (1.0 + (PI * (e - 1) as f64 / tm as f64).cos()) * (lr - eta)
                    + eta
            }
        };
        self.track.t = t;
        self.track.lr = next;
        Ok(next)
    }

    state_methods!("CosineAnnealingLR");
}

/// The one-cycle policy (PyTorch's `OneCycleLR` with `anneal_strategy="cos"`,
/// `three_phase=False`): from `max_lr / div_factor` up to `max_lr` over the first
/// `pct_start` of `total_steps`, then down to `max_lr / (div_factor · final_div_factor)`,
/// both by cosine. Defaults as PyTorch's: `pct_start` 0.3, `div_factor` 25,
/// `final_div_factor` 1e4. It ignores the optimiser's learning rate (the base) and steps per
/// batch in `fit`. Momentum is not cycled (PyTorch's `cycle_momentum=False`): a schedule
/// changes the learning rate only.
///
/// ```text
/// initial = max_lr / div_factor, min = initial / final_div_factor
/// phase 1 ends at step e₁ = pct_start · total_steps − 1, phase 2 at e₂ = total_steps − 1
/// lr_t = cos_anneal(initial, max_lr, t / e₁)                 for t ≤ e₁
/// lr_t = cos_anneal(max_lr, min, (t − e₁) / (e₂ − e₁))       otherwise
/// cos_anneal(a, b, p) = b + (a − b)/2 · (1 + cos(π p))
/// ```
///
/// As in PyTorch, stepping past `t = total_steps` is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneCycleLR {
    max_lr: f64,
    total_steps: u64,
    pct_start: f64,
    div_factor: f64,
    final_div_factor: f64,
    track: Track,
}

impl OneCycleLR {
    /// A cycle of `total_steps` steps peaking at `max_lr`, with PyTorch's defaults.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a `max_lr` that is not finite and `> 0` or a
    /// `total_steps` of 0.
    pub fn new(max_lr: f64, total_steps: u64) -> Result<Self> {
        if !(max_lr.is_finite() && max_lr > 0.0) {
            return Err(Error::config("OneCycleLR max_lr", "finite and > 0", max_lr));
        }
        if total_steps == 0 {
            return Err(Error::config("OneCycleLR total_steps", "at least 1", 0));
        }
        let s = OneCycleLR {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            track: Track::default(),
        };
        s.check()?;
        Ok(s)
    }

    /// The fraction of the cycle spent rising (default 0.3), in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside `[0, 1]`, or if a phase would have no length.
    pub fn with_pct_start(mut self, pct_start: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&pct_start) {
            return Err(Error::config("OneCycleLR pct_start", "in [0, 1]", pct_start));
        }
        self.pct_start = pct_start;
        self.check()?;
        Ok(self)
    }

    /// The start rate is `max_lr / div_factor` (default 25).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless finite and `> 0`.
    pub fn with_div_factor(mut self, div_factor: f64) -> Result<Self> {
        if !(div_factor.is_finite() && div_factor > 0.0) {
            return Err(Error::config("OneCycleLR div_factor", "finite and > 0", div_factor));
        }
        self.div_factor = div_factor;
        Ok(self)
    }

    /// The final rate is the start rate divided by `final_div_factor` (default 1e4).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless finite and `> 0`.
    pub fn with_final_div_factor(mut self, final_div_factor: f64) -> Result<Self> {
        if !(final_div_factor.is_finite() && final_div_factor > 0.0) {
            return Err(Error::config("OneCycleLR final_div_factor", "finite and > 0", final_div_factor));
        }
        self.final_div_factor = final_div_factor;
        Ok(self)
    }

    /// The steps of the cycle.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    fn phase_ends(&self) -> (f64, f64) {
        (self.pct_start * self.total_steps as f64 - 1.0, self.total_steps as f64 - 1.0)
    }

    /// PyTorch divides by each phase's length: neither may be 0.
    fn check(&self) -> Result<()> {
        let (e1, e2) = self.phase_ends();
        if e1 == 0.0 || e2 == e1 {
            return Err(Error::config(
                "OneCycleLR pct_start · total_steps",
                "phases of non-zero length (pct_start · total_steps ≠ 1 and ≠ total_steps)",
                format!("pct_start {} of total_steps {}", self.pct_start, self.total_steps),
            ));
        }
        Ok(())
    }

    fn lr_at(&self, t: u64) -> f64 {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let anneal = |a: f64, b: f64, p: f64| b + (a - b) / 2.0 * ((PI * p).cos() + 1.0);
        let (e1, e2) = self.phase_ends();
        let t = t as f64;
        if t <= e1 {
            anneal(initial, self.max_lr, t / e1)
        } else {
            anneal(self.max_lr, min, (t - e1) / (e2 - e1))
        }
    }
}

impl Schedule for OneCycleLR {
    fn name(&self) -> &'static str {
        "OneCycleLR"
    }

    fn unit(&self) -> StepUnit {
        StepUnit::Batch
    }

    fn max_steps(&self) -> Option<u64> {
        Some(self.total_steps)
    }

    fn begin(&mut self, base_lr: f64) -> Result<f64> {
        self.track.begin(self.name(), base_lr)?;
        self.track.lr = self.lr_at(0);
        Ok(self.track.lr)
    }

    fn advance(&mut self, _metric: Option<f64>) -> Result<f64> {
        self.track.check_started(self.name())?;
        let t = self.track.t + 1;
        if t > self.total_steps {
            return Err(Error::config(
                "OneCycleLR step",
                format!("at most total_steps = {} steps", self.total_steps),
                format!("step {t}"),
            ));
        }
        self.track.t = t;
        self.track.lr = self.lr_at(t);
        Ok(self.track.lr)
    }

    state_methods!("OneCycleLR");
}

/// Whether lower or higher values of the monitored quantity are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` makes an improvement, PyTorch's `threshold_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// Better than `best · (1 ∓ threshold)`.
    Rel,
    /// Better than `best ∓ threshold`.
    Abs,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Plateau {
    /// `None` stands for PyTorch's initial ±infinity (JSON has no infinities).
    best: Option<f64>,
    num_bad: u64,
    cooldown_counter: u64,
}

/// Reduces the learning rate when a monitored value stops improving (PyTorch's
/// `ReduceLROnPlateau`), with its defaults: mode min, `factor` 0.1, `patience` 10,
/// `threshold` 1e-4 relative, `cooldown` 0, `min_lr` 0, `eps` 1e-8.
///
/// Each step: if the value improves on the best by more than the threshold it becomes the
/// best and the count of bad steps restarts, else the count grows; during a cooldown the
/// count stays 0; when the count exceeds `patience` the rate becomes
/// `max(lr · factor, min_lr)` (kept only if that changes it by more than `eps`), the
/// cooldown starts and the count restarts. Steps with [`ScheduleExt::step_with`]; in `fit`,
/// after each epoch with the monitored value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceLROnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: u64,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: u64,
    min_lr: f64,
    eps: f64,
    track: Track,
    plateau: Plateau,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        Self::new()
    }
}

impl ReduceLROnPlateau {
    /// PyTorch's defaults (see the type).
    pub fn new() -> Self {
        ReduceLROnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            track: Track::default(),
            plateau: Plateau { best: None, num_bad: 0, cooldown_counter: 0 },
        }
    }

    /// Whether lower or higher is better.
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self
    }

    /// The factor the rate is multiplied by, in `(0, 1)`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside `(0, 1)` (NaN included).
    pub fn factor(mut self, factor: f64) -> Result<Self> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(Error::config("ReduceLROnPlateau factor", "in (0, 1)", factor));
        }
        self.factor = factor;
        Ok(self)
    }

    /// Steps without improvement tolerated before a reduction.
    pub fn patience(mut self, patience: u64) -> Self {
        self.patience = patience;
        self
    }

    /// The threshold of an improvement and how it applies.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `threshold` is finite and `>= 0`.
    pub fn threshold(mut self, threshold: f64, mode: ThresholdMode) -> Result<Self> {
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(Error::config("ReduceLROnPlateau threshold", "finite and >= 0", threshold));
        }
        self.threshold = threshold;
        self.threshold_mode = mode;
        Ok(self)
    }

    /// Steps after a reduction during which bad steps are not counted.
    pub fn cooldown(mut self, cooldown: u64) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest rate a reduction goes to.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless finite and `>= 0`.
    pub fn min_lr(mut self, min_lr: f64) -> Result<Self> {
        if !(min_lr.is_finite() && min_lr >= 0.0) {
            return Err(Error::config("ReduceLROnPlateau min_lr", "finite and >= 0", min_lr));
        }
        self.min_lr = min_lr;
        Ok(self)
    }

    /// The smallest change a reduction must make to be applied.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless finite and `>= 0`.
    pub fn eps(mut self, eps: f64) -> Result<Self> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::config("ReduceLROnPlateau eps", "finite and >= 0", eps));
        }
        self.eps = eps;
        Ok(self)
    }

    fn is_better(&self, a: f64, best: Option<f64>) -> bool {
        let best = best.unwrap_or(match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }
}

impl Schedule for ReduceLROnPlateau {
    fn name(&self) -> &'static str {
        "ReduceLROnPlateau"
    }

    fn takes_metric(&self) -> bool {
        true
    }

    fn begin(&mut self, base_lr: f64) -> Result<f64> {
        self.track.begin(self.name(), base_lr)?;
        self.plateau = Plateau { best: None, num_bad: 0, cooldown_counter: 0 };
        Ok(self.track.lr)
    }

    fn advance(&mut self, metric: Option<f64>) -> Result<f64> {
        self.track.check_started(self.name())?;
        let Some(current) = metric else {
            return Err(Error::config(
                "ReduceLROnPlateau step",
                "the monitored value (step_with(optimizer, value))",
                "no value",
            ));
        };
        let current = finite("ReduceLROnPlateau monitored value".into(), current)?;
        let mut p = self.plateau;
        if self.is_better(current, p.best) {
            p.best = Some(current);
            p.num_bad = 0;
        } else {
            p.num_bad += 1;
        }
        if p.cooldown_counter > 0 {
            p.cooldown_counter -= 1;
            p.num_bad = 0;
        }
        if p.num_bad > self.patience {
            let old = self.track.lr;
            let new = (old * self.factor).max(self.min_lr);
            if old - new > self.eps {
                self.track.lr = new;
            }
            p.cooldown_counter = self.cooldown;
            p.num_bad = 0;
        }
        self.plateau = p;
        self.track.t += 1;
        Ok(self.track.lr)
    }

    state_methods!("ReduceLROnPlateau");
}
