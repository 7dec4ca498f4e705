//! Callbacks for `fit` (Keras's `keras.callbacks`, typed): the [`Callback`] trait with its
//! per-epoch and per-batch hooks and the [`TrainingContext`] they act through (the model, the
//! optimiser's learning rate, stopping, the history so far), and the callbacks of the crate:
//! [`EarlyStopping`], [`LearningRateScheduler`], [`ModelCheckpoint`] (with [`Checkpoint`] and
//! [`ResumeState`] to resume from its files) and [`HistoryLogger`].

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::io::{file, model_file};
use crate::layers::Params;
use crate::model::fit::{restore, EpochLogs, History};
use crate::model::{EncoderDecoder, Model, Sequential};
use crate::optim::{Optimizer, Schedule, StepUnit};

/// Whether training goes on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on to the next epoch.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Whether a monitored quantity should go down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracy, F1, R²).
    Max,
}

impl Direction {
    /// The direction a logged quantity's name implies: [`Direction::Min`] for names
    /// containing `loss` and for `mse`, `mae`, `rmse` (with or without `val_`), else
    /// [`Direction::Max`].
    pub fn of(name: &str) -> Self {
        let base = name.strip_prefix("val_").unwrap_or(name);
        if base.contains("loss") || matches!(base, "mse" | "mae" | "rmse") {
            Direction::Min
        } else {
            Direction::Max
        }
    }
}

/// What one batch measured, for [`Callback::on_batch_end`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLogs<F> {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The batch within the epoch, counted from 1.
    pub batch: usize,
    /// Samples in the batch.
    pub size: usize,
    /// The batch's loss, before its update.
    pub loss: F,
}

/// A callback as `fit` holds it.
pub(crate) type Boxed<F> = Box<dyn Callback<F>>;

/// What a run is: fixed for the whole of one `fit` call.
#[derive(Debug, Clone)]
pub(crate) struct RunInfo {
    pub(crate) epochs: usize,
    pub(crate) initial_epoch: usize,
    pub(crate) batches: usize,
    pub(crate) batch_size: usize,
    pub(crate) samples: usize,
    pub(crate) seed: u64,
}

/// What a hook can see and do: the model, the optimiser's learning rate, stopping, the run
/// and the history so far.
pub struct TrainingContext<'a, F: Float> {
    pub(crate) model: &'a mut dyn Model<F>,
    pub(crate) optimizer: &'a mut dyn Optimizer<F>,
    pub(crate) run: &'a RunInfo,
    pub(crate) epoch: usize,
    pub(crate) history: &'a History<F>,
    pub(crate) stop: &'a mut bool,
    /// The other callbacks (those before and after the one called), for checkpoints.
    pub(crate) others: (&'a [Boxed<F>], &'a [Boxed<F>]),
}

impl<F: Float> TrainingContext<'_, F> {
    /// The model being trained.
    pub fn model(&mut self) -> &mut dyn Model<F> {
        &mut *self.model
    }

    /// The optimiser (reach its concrete type by upcasting to `&dyn Any`).
    pub fn optimizer(&mut self) -> &mut dyn Optimizer<F> {
        &mut *self.optimizer
    }

    /// The optimiser's learning rate.
    pub fn learning_rate(&self) -> F {
        self.optimizer.learning_rate()
    }

    /// Changes the optimiser's learning rate from the next batch on.
    ///
    /// # Errors
    /// As [`Optimizer::set_learning_rate`] (not finite and `> 0`); the rate is then unchanged.
    pub fn set_learning_rate(&mut self, lr: F) -> Result<()> {
        self.optimizer.set_learning_rate(lr)
    }

    /// Asks `fit` to stop: after this epoch, or from a batch hook after this batch (the
    /// epoch is then measured over the batches that ran).
    pub fn stop(&mut self) {
        *self.stop = true;
    }

    /// Whether a stop has been asked for.
    pub fn stopping(&self) -> bool {
        *self.stop
    }

    /// The current epoch, counted from 1.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The epochs the run goes to.
    pub fn epochs(&self) -> usize {
        self.run.epochs
    }

    /// The epochs done before this `fit` call (those of the checkpoint it resumed from).
    pub fn initial_epoch(&self) -> usize {
        self.run.initial_epoch
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.run.batches
    }

    /// The run's seed (shuffling and dropout).
    pub fn seed(&self) -> u64 {
        self.run.seed
    }

    /// The epochs so far (from [`Callback::on_epoch_closed`] on, this one included).
    pub fn history(&self) -> &History<F> {
        self.history
    }

    /// What resuming after this epoch needs, with `own` the calling callback's state (see
    /// [`Callback::state`]) and every other callback's taken now; meant for
    /// [`Callback::on_epoch_closed`], where every state is that of the epoch's end.
    ///
    /// # Errors
    /// Any error of a callback's [`Callback::state`].
    pub fn resume_state(&self, own: Option<Value>) -> Result<ResumeState<F>> {
        let (before, after) = self.others;
        let mut callbacks = Vec::with_capacity(before.len() + after.len() + 1);
        for cb in before {
            callbacks.push(CallbackState { name: cb.name(), state: cb.state()? });
        }
        callbacks.push(CallbackState { name: String::new(), state: own });
        for cb in after {
            callbacks.push(CallbackState { name: cb.name(), state: cb.state()? });
        }
        Ok(ResumeState {
            epoch: self.epoch,
            seed: self.run.seed,
            batch_size: self.run.batch_size,
            samples: self.run.samples,
            history: self.history.clone(),
            callbacks,
        })
    }
}

/// One callback's saved state in a [`ResumeState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackState {
    /// The callback's [`Callback::name`] (checked when loading; empty for the callback that
    /// wrote the checkpoint, which fills it in).
    pub name: String,
    /// Its [`Callback::state`].
    pub state: Option<Value>,
}

/// Where a run was after an epoch: what `fit` needs to go on from there exactly as if it had
/// not stopped ([`crate::model::FitConfig::with_resume`]). [`ModelCheckpoint`] saves it beside
/// the model and the optimiser's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct ResumeState<F> {
    /// Epochs completed.
    pub epoch: usize,
    /// The run's seed: epoch `k`'s shuffling and dropout masks come from `(seed, k)` alone.
    pub seed: u64,
    /// The batch size (the batches of an epoch depend on it).
    pub batch_size: usize,
    /// Training samples (the shuffled order depends on them).
    pub samples: usize,
    /// The epochs so far.
    pub history: History<F>,
    /// Each callback's state, in order.
    pub callbacks: Vec<CallbackState>,
}

/// Hooks called by `fit` ([`Sequential::fit`], [`crate::model::ModelExt::fit`]), Keras's
/// `keras.callbacks.Callback` with types.
///
/// # When each hook runs
/// ```text
/// validate(logged names)                       before anything is trained
/// on_train_begin(model)
/// for each epoch:
///     on_epoch_begin(epoch, ctx)
///     for each batch:
///         on_batch_begin(batch, ctx)           before the batch's forward pass
///         (forward, loss, backward, one optimiser step)
///         on_batch_end(batch logs, ctx)        a stop requested here ends the epoch after this batch
///     (validation)
///     on_epoch_end_with(epoch logs, ctx)       calls on_epoch_end(logs, model) unless overridden
///     (the epoch goes into the History)
///     on_epoch_closed(epoch logs, ctx)         every callback's epoch end has run: checkpoints write here
/// on_train_end(model)                          also after a stop; EarlyStopping restores weights here
/// ```
/// Every callback sees every hook, in the order they were added.
///
/// Every hook has a default that does nothing, so a
/// callback implements only what it needs. The older hooks take the model as a
/// `&mut dyn Model` (reach a concrete type with
/// [`downcast_mut`](trait.Model.html#method.downcast_mut)); the newer ones a
/// [`TrainingContext`], which also reaches the optimiser's learning rate and can stop training.
///
/// # Example: halve the learning rate when the loss goes up
/// ```
/// use recurrent::model::{Callback, EpochLogs, TrainingContext};
/// use recurrent::prelude::*;
///
/// struct HalveOnRise { last: Option<f64> }
///
/// impl Callback<f64> for HalveOnRise {
///     fn on_epoch_end_with(&mut self, logs: &EpochLogs<f64>, ctx: &mut TrainingContext<'_, f64>) -> Result<()> {
///         if self.last.is_some_and(|l| logs.loss > l) {
///             let lr = ctx.learning_rate();
///             ctx.set_learning_rate(lr / 2.0)?;
///         }
///         self.last = Some(logs.loss);
///         Ok(())
///     }
/// }
///
/// let x = ndarray::Array3::from_shape_fn((16, 4, 1), |(b, t, _)| ((b + t) as f64 * 0.3).sin());
/// let y = x.index_axis(ndarray::Axis(1), 3).to_owned();
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut model = Sequential::new(&[4, 1])?;
/// model.add(SimpleRnnConfig::new(1, 4).init(&mut rng)?)?;
/// model.add(DenseConfig::new(4, 1).init(&mut rng)?)?;
/// let config = FitConfig::new(5, 4).with_callback(HalveOnRise { last: None }).quiet();
/// model.fit(&x, &y, &Mse, &mut Sgd::new(0.5), config)?;
/// # Ok::<(), recurrent::Error>(())
/// ```
pub trait Callback<F: Float> {
    /// The callback's name, in messages and to match saved states when resuming (default:
    /// its type's name without the path).
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        let base = full.split('<').next().unwrap_or(full);
        base.rsplit("::").next().unwrap_or(base).to_string()
    }

    /// Called by `fit` before anything is trained, with the names each epoch will log
    /// (`"loss"`, the metrics' names, and with validation `"val_loss"` and `"val_"` followed
    /// by each metric's name): return an error for a setting that cannot work, so that it
    /// fails before the first step rather than after the first epoch. The default accepts
    /// everything.
    ///
    /// # Errors
    /// Any error stops `fit` before training and is returned by it.
    fn validate(&self, logged: &[String]) -> Result<()> {
        let _ = logged;
        Ok(())
    }

    /// Before the first epoch.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_train_begin(&mut self, model: &mut dyn Model<F>) -> Result<()> {
        let _ = model;
        Ok(())
    }

    /// Before each epoch (counted from 1), before its first batch.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let _ = (epoch, ctx);
        Ok(())
    }

    /// Before each batch (counted from 1 within its epoch).
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_batch_begin(&mut self, batch: usize, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let _ = (batch, ctx);
        Ok(())
    }

    /// After each batch's optimiser step, with its loss.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_batch_end(&mut self, logs: &BatchLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let _ = (logs, ctx);
        Ok(())
    }

    /// After each epoch, with what it measured; return [`Control::Stop`] to end training.
    /// Called by the default [`Callback::on_epoch_end_with`]; the default continues.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_epoch_end(&mut self, logs: &EpochLogs<F>, model: &mut dyn Model<F>) -> Result<Control> {
        let _ = (logs, model);
        Ok(Control::Continue)
    }

    /// After each epoch, with what it measured and the context: what `fit` calls. The
    /// default calls [`Callback::on_epoch_end`] and stops if it says so; override one or the
    /// other.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_epoch_end_with(&mut self, logs: &EpochLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        if self.on_epoch_end(logs, ctx.model())? == Control::Stop {
            ctx.stop();
        }
        Ok(())
    }

    /// After every callback's end of the epoch, with the epoch in the history: the run is as
    /// a resume after this epoch would find it ([`TrainingContext::resume_state`]).
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_epoch_closed(&mut self, logs: &EpochLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let _ = (logs, ctx);
        Ok(())
    }

    /// After the last epoch (also after an early stop).
    ///
    /// # Errors
    /// Any error is returned by `fit`.
    fn on_train_end(&mut self, model: &mut dyn Model<F>) -> Result<()> {
        let _ = model;
        Ok(())
    }

    /// The epoch whose weights this callback gave the model back at the end of training, if
    /// it did ([`EarlyStopping::restore_best_weights`]); `fit` records it in
    /// [`History::restored_epoch`].
    fn restored_epoch(&self) -> Option<usize> {
        None
    }

    /// What the callback carries from epoch to epoch, for checkpoints (`None`: nothing).
    ///
    /// # Errors
    /// [`Error::Format`] if it cannot be written as JSON.
    fn state(&self) -> Result<Option<Value>> {
        Ok(None)
    }

    /// Takes back a state [`Callback::state`] gave, when `fit` resumes (after
    /// [`Callback::on_train_begin`]).
    ///
    /// # Errors
    /// [`Error::Format`] for a state that is not this callback's; the default refuses any
    /// state, as a callback without one has nothing to take back.
    fn load_state(&mut self, state: Value) -> Result<()> {
        Err(Error::format(format!("{} state", self.name()), "none (this callback keeps no state)", state))
    }
}

/// Stops training when a monitored quantity has stopped improving (Keras's
/// `EarlyStopping`).
///
/// An epoch improves on the best so far when it beats it by more than `min_delta` (taken as
/// `|min_delta|`, as Keras does; NaN and infinities are refused before training). After
/// `patience` epochs in a row without improvement, training stops. With
/// `restore_best_weights`, the model ends with the weights of the best epoch (whether or not
/// training stopped early).
///
/// The monitored quantity defaults to `"val_loss"`, falling back to `"loss"` when there is
/// no validation data; its direction is [`Direction::Min`] for names containing `loss` or
/// `error` (`mse`, `mae`, `rmse`) and [`Direction::Max`] otherwise.
#[derive(Debug, Clone)]
pub struct EarlyStopping<F> {
    monitor: Option<String>,
    direction: Option<Direction>,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<F>,
    best_epoch: Option<usize>,
    wait: usize,
    best_weights: Vec<ArrayD<F>>,
    stopped_epoch: Option<usize>,
    restored: Option<usize>,
}

/// What [`EarlyStopping`] carries from epoch to epoch, saved in checkpoints.
#[derive(Serialize, Deserialize)]
#[serde(bound = "F: Float")]
struct EarlyStoppingState<F> {
    best: Option<F>,
    best_epoch: Option<usize>,
    wait: usize,
    best_weights: Vec<ArrayD<F>>,
    stopped_epoch: Option<usize>,
}

impl<F: Float> EarlyStopping<F> {
    /// Stops after `patience` epochs without improvement of the validation loss.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            monitor: None,
            direction: None,
            patience,
            min_delta: 0.0,
            restore_best: false,
            best: None,
            best_epoch: None,
            wait: 0,
            best_weights: Vec::new(),
            stopped_epoch: None,
            restored: None,
        }
    }

    /// Monitors another logged quantity (`"loss"`, `"accuracy"`, `"val_f1"`...).
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = Some(name.into());
        self
    }

    /// Sets whether lower or higher is better (default: from the name).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// The smallest change that counts as an improvement (default 0); a negative value
    /// counts as its absolute value, as in Keras.
    ///
    /// The value must be finite: [`Sequential::fit`] refuses NaN or an infinity before it
    /// trains ([`Callback::validate`], [`Error::InvalidConfig`] naming `EarlyStopping
    /// min_delta`), since no change would ever count as an improvement and training would
    /// stop after `patience` epochs, with the first epoch's weights if they are restored.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Whether to end with the best epoch's weights (default false).
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best = on;
        self
    }

    /// The epoch (from 1) with the best monitored value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The epoch after which training was stopped, if it was.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The epoch whose weights the model was given back at the end of training, if any.
    pub fn restored_epoch(&self) -> Option<usize> {
        self.restored
    }
}

impl<F: Float> Callback<F> for EarlyStopping<F> {
    /// Refuses a `min_delta` that is NaN or infinite, and a `monitor` that no epoch will log.
    fn validate(&self, logged: &[String]) -> Result<()> {
        if !self.min_delta.is_finite() {
            return Err(Error::config("EarlyStopping min_delta", "a finite number", self.min_delta));
        }
        if let Some(name) = &self.monitor {
            if !logged.contains(name) {
                return Err(Error::config("EarlyStopping monitor", format!("one of {}", logged.join(", ")), name));
            }
        }
        Ok(())
    }

    fn on_train_begin(&mut self, _model: &mut dyn Model<F>) -> Result<()> {
        self.best = None;
        self.best_epoch = None;
        self.wait = 0;
        self.best_weights.clear();
        self.stopped_epoch = None;
        self.restored = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs<F>, model: &mut dyn Model<F>) -> Result<Control> {
        let name = match &self.monitor {
            Some(m) => m.clone(),
            None if logs.val_loss.is_some() => "val_loss".to_string(),
            None => "loss".to_string(),
        };
        let value = logs.get(&name).ok_or_else(|| {
            let mut known = vec!["loss".to_string()];
            if logs.val_loss.is_some() {
                known.push("val_loss".into());
            }
            known.extend(logs.metrics.iter().map(|(n, _)| n.clone()));
            known.extend(logs.val_metrics.iter().map(|(n, _)| format!("val_{n}")));
            Error::config("EarlyStopping monitor", format!("one of {}", known.join(", ")), &name)
        })?;
        let dir = self.direction.unwrap_or_else(|| {
            let base = name.strip_prefix("val_").unwrap_or(&name);
            if base.contains("loss") || matches!(base, "mse" | "mae" | "rmse") {
                Direction::Min
            } else {
                Direction::Max
            }
        });
        if !self.min_delta.is_finite() {
            return Err(Error::config("EarlyStopping min_delta", "a finite number", self.min_delta));
        }
        let delta = F::of(self.min_delta.abs());
        let improved = match self.best {
            None => true,
            Some(best) => match dir {
                Direction::Min => value < best - delta,
                Direction::Max => value > best + delta,
            },
        };
        if improved {
            self.best = Some(value);
            self.best_epoch = Some(logs.epoch);
            self.wait = 0;
            if self.restore_best {
                self.best_weights = snapshot(&*model);
            }
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.wait >= self.patience {
            self.stopped_epoch = Some(logs.epoch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, model: &mut dyn Model<F>) -> Result<()> {
        if self.restore_best && !self.best_weights.is_empty() {
            restore(model, &self.best_weights);
            self.restored = self.best_epoch;
        }
        Ok(())
    }

    fn restored_epoch(&self) -> Option<usize> {
        self.restored
    }

    fn state(&self) -> Result<Option<Value>> {
        let state = EarlyStoppingState {
            best: self.best,
            best_epoch: self.best_epoch,
            wait: self.wait,
            best_weights: self.best_weights.clone(),
            stopped_epoch: self.stopped_epoch,
        };
        serde_json::to_value(&state)
            .map(Some)
            .map_err(|e| Error::format("EarlyStopping state", "a value JSON can hold", e))
    }

    fn load_state(&mut self, state: Value) -> Result<()> {
        let s: EarlyStoppingState<F> = serde_json::from_value(state)
            .map_err(|e| Error::format("EarlyStopping state", "the state of an EarlyStopping", e))?;
        self.best = s.best;
        self.best_epoch = s.best_epoch;
        self.wait = s.wait;
        self.best_weights = s.best_weights;
        self.stopped_epoch = s.stopped_epoch;
        Ok(())
    }
}

/// Copies every parameter's value.
fn snapshot<F: Float>(model: &dyn Params<F>) -> Vec<ArrayD<F>> {
    let mut out = Vec::new();
    model.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

/// Runs a [`Schedule`] in `fit` (Keras's `LearningRateScheduler`, with PyTorch's schedules):
/// it starts the schedule from the optimiser's learning rate before the first batch, then
/// steps it before each epoch after the first ([`StepUnit::Epoch`]) or before each batch
/// after the first ([`StepUnit::Batch`], [`crate::optim::OneCycleLR`]), so epoch `e`
/// trains at the schedule's step `e − 1` and batch `b` (counted over the run from 0) at its
/// step `b`: the rates PyTorch's loop (`scheduler.step()` after each epoch or batch) trains
/// with. A [`crate::optim::ReduceLROnPlateau`] steps after each epoch with the monitored value
/// (default `"val_loss"`, or `"loss"` without validation).
///
/// Its state is saved in checkpoints; a run resumed from one goes on with the same rates.
///
/// ```
/// use recurrent::model::LearningRateScheduler;
/// use recurrent::optim::CosineAnnealingLR;
/// use recurrent::prelude::*;
/// let config = FitConfig::<f64>::new(20, 16)
///     .with_callback(LearningRateScheduler::new(CosineAnnealingLR::new(18, 1e-4)?.with_warmup(2, 0.1)?))
///     .quiet();
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug)]
pub struct LearningRateScheduler {
    schedule: Box<dyn Schedule>,
    monitor: Option<String>,
}

impl LearningRateScheduler {
    /// Runs `schedule` (not yet started: `fit` starts it).
    pub fn new(schedule: impl Schedule + 'static) -> Self {
        LearningRateScheduler { schedule: Box::new(schedule), monitor: None }
    }

    /// The logged quantity a metric-taking schedule steps with (`"val_loss"`, `"accuracy"`...).
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = Some(name.into());
        self
    }

    /// The schedule, where it is.
    pub fn schedule(&self) -> &dyn Schedule {
        &*self.schedule
    }

    /// Advances until the schedule has taken `target` steps, setting each rate; all or nothing.
    fn catch_up<F: Float>(&mut self, target: u64, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        while self.schedule.steps().is_some_and(|s| s < target) {
            self.advance(None, ctx)?;
        }
        Ok(())
    }

    fn advance<F: Float>(&mut self, metric: Option<f64>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let saved = self.schedule.state()?;
        let lr = self.schedule.advance(metric)?;
        if let Err(e) = ctx.set_learning_rate(F::of(lr)) {
            self.schedule.load_state(saved)?;
            return Err(e);
        }
        Ok(())
    }
}

impl<F: Float> Callback<F> for LearningRateScheduler {
    fn name(&self) -> String {
        format!("LearningRateScheduler({})", self.schedule.name())
    }

    /// Refuses a `monitor` that no epoch will log.
    fn validate(&self, logged: &[String]) -> Result<()> {
        if let Some(name) = &self.monitor {
            if !logged.contains(name) {
                return Err(Error::config(
                    "LearningRateScheduler monitor",
                    format!("one of {}", logged.join(", ")),
                    name,
                ));
            }
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        if epoch == ctx.initial_epoch() + 1 {
            // Checked before the optimiser's rate is touched, so this error changes nothing.
            if let (StepUnit::Batch, Some(max)) = (self.schedule.unit(), self.schedule.max_steps()) {
                let needed = (ctx.epochs() * ctx.batches_per_epoch()).saturating_sub(1) as u64;
                if needed > max {
                    return Err(Error::config(
                        format!("LearningRateScheduler {} steps", self.schedule.name()),
                        format!("at least {needed} (epochs × batches per epoch − 1, one step before each batch after the first)"),
                        max,
                    ));
                }
            }
            match self.schedule.current() {
                // Resumed (or started by hand): the optimiser trains at the schedule's rate.
                Some(lr) => ctx.set_learning_rate(F::of(lr))?,
                None => {
                    let lr = self.schedule.begin(ctx.learning_rate().to_f64_exact())?;
                    ctx.set_learning_rate(F::of(lr))?;
                }
            }
        }
        if self.schedule.unit() == StepUnit::Epoch && !self.schedule.takes_metric() {
            self.catch_up(epoch as u64 - 1, ctx)?;
        }
        Ok(())
    }

    fn on_batch_begin(&mut self, batch: usize, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        if self.schedule.unit() == StepUnit::Batch && !self.schedule.takes_metric() {
            let done = (ctx.epoch() - 1) * ctx.batches_per_epoch() + batch - 1;
            self.catch_up(done as u64, ctx)?;
        }
        Ok(())
    }

    fn on_epoch_end_with(&mut self, logs: &EpochLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        if self.schedule.takes_metric() {
            let name = self
                .monitor
                .clone()
                .unwrap_or_else(|| if logs.val_loss.is_some() { "val_loss" } else { "loss" }.to_string());
            let value = logs
                .get(&name)
                .ok_or_else(|| Error::config("LearningRateScheduler monitor", "a quantity the epoch logged", &name))?;
            self.advance(Some(value.to_f64_exact()), ctx)?;
        }
        Ok(())
    }

    fn state(&self) -> Result<Option<Value>> {
        self.schedule.state().map(Some)
    }

    fn load_state(&mut self, state: Value) -> Result<()> {
        self.schedule.load_state(state)
    }
}

/// What a checkpoint's `"optimizer"` field holds: the optimiser's state and where the run was.
#[derive(Serialize, Deserialize)]
#[serde(bound = "F: Float, O: Serialize + DeserializeOwned")]
struct CheckpointState<F, O> {
    optimizer: O,
    training: ResumeState<F>,
}

#[derive(Serialize)]
#[serde(bound = "F: Float, O: Serialize")]
struct CheckpointStateOut<'a, F, O> {
    optimizer: &'a O,
    training: &'a ResumeState<F>,
}

/// Saves the model after an epoch (Keras's `ModelCheckpoint`): every epoch, or only when a
/// monitored quantity improves ([`ModelCheckpoint::best_only`]). The file is a model file
/// ([`crate::io::model_file`]: a [`Sequential`] or an [`EncoderDecoder`]) written atomically
/// (a failure leaves the previous file as it was), whose `"optimizer"` field holds the
/// optimiser's state (`O`, the optimiser `fit` is given: checked before the first batch) and
/// a [`ResumeState`]: the epoch, the [`History`] so far, every callback's state (schedules,
/// early stopping) and the seed. [`Checkpoint::load`] reads it back, and
/// [`crate::model::FitConfig::with_resume`] goes on from it bit for bit.
///
/// ```no_run
/// use recurrent::model::{Checkpoint, ModelCheckpoint};
/// use recurrent::prelude::*;
/// # let (x, y) = (ndarray::Array3::<f64>::zeros((8, 4, 1)), ndarray::Array2::<f64>::zeros((8, 1)));
/// # let mut model = Sequential::<f64>::new(&[4, 1])?;
/// let config = FitConfig::new(10, 4).with_callback(ModelCheckpoint::<Adam<f64>>::new("run.json")).quiet();
/// model.fit(&x, &y, &Mse, &mut Adam::new(0.01), config)?;
/// // Later, or in another process, go on to epoch 20:
/// let mut ckpt = Checkpoint::<f64, Adam<f64>>::load("run.json")?;
/// let config = FitConfig::new(20, 4).with_callback(ModelCheckpoint::<Adam<f64>>::new("run.json"));
/// ckpt.model.fit(&x, &y, &Mse, &mut ckpt.optimizer, config.with_resume(ckpt.resume).quiet())?;
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug)]
pub struct ModelCheckpoint<O> {
    path: PathBuf,
    best_only: bool,
    monitor: Option<String>,
    direction: Option<Direction>,
    best: Option<f64>,
    saved: Option<usize>,
    optimizer: PhantomData<fn() -> O>,
}

impl<O> ModelCheckpoint<O> {
    /// Saves to `path` after every epoch (each save replaces the last).
    pub fn new(path: impl AsRef<Path>) -> Self {
        ModelCheckpoint {
            path: path.as_ref().to_path_buf(),
            best_only: false,
            monitor: None,
            direction: None,
            best: None,
            saved: None,
            optimizer: PhantomData,
        }
    }

    /// Saves only after an epoch whose monitored quantity beats every earlier one (strictly).
    pub fn best_only(mut self, on: bool) -> Self {
        self.best_only = on;
        self
    }

    /// The quantity that decides "best" (default `"val_loss"`, or `"loss"` without validation).
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = Some(name.into());
        self
    }

    /// Whether lower or higher is better (default: from the name, [`Direction::of`]).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// The epoch last saved, if any.
    pub fn saved_epoch(&self) -> Option<usize> {
        self.saved
    }

    /// Where it saves.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Serialize, Deserialize)]
struct ModelCheckpointState {
    best: Option<f64>,
    saved: Option<usize>,
}

fn optimizer_name<O>() -> &'static str {
    let full = std::any::type_name::<O>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

impl<F: Float, O: Optimizer<F> + Serialize + DeserializeOwned> Callback<F> for ModelCheckpoint<O> {
    /// Refuses a `monitor` that no epoch will log.
    fn validate(&self, logged: &[String]) -> Result<()> {
        if let Some(name) = &self.monitor {
            if !logged.contains(name) {
                return Err(Error::config("ModelCheckpoint monitor", format!("one of {}", logged.join(", ")), name));
            }
        }
        Ok(())
    }

    /// Refuses a model a model file cannot hold.
    fn on_train_begin(&mut self, model: &mut dyn Model<F>) -> Result<()> {
        if model.downcast_ref::<Sequential<F>>().is_none() && model.downcast_ref::<EncoderDecoder<F>>().is_none() {
            return Err(Error::config(
                format!("ModelCheckpoint model {}", model.name()),
                "a Sequential or an EncoderDecoder (what a model file holds)",
                "another model type",
            ));
        }
        Ok(())
    }

    /// Refuses an optimiser of another type than `O` before the first batch.
    fn on_epoch_begin(&mut self, _epoch: usize, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let opt: &dyn std::any::Any = &*ctx.optimizer;
        if !opt.is::<O>() {
            return Err(Error::config(
                "ModelCheckpoint optimizer",
                format!("the type the checkpoint was made for, {}", optimizer_name::<O>()),
                "an optimizer of another type",
            ));
        }
        Ok(())
    }

    fn on_epoch_closed(&mut self, logs: &EpochLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let mut best = self.best;
        if self.best_only {
            let name = self
                .monitor
                .clone()
                .unwrap_or_else(|| if logs.val_loss.is_some() { "val_loss" } else { "loss" }.to_string());
            let value = logs
                .get(&name)
                .ok_or_else(|| Error::config("ModelCheckpoint monitor", "a quantity the epoch logged", &name))?
                .to_f64_exact();
            let better = match (best, self.direction.unwrap_or_else(|| Direction::of(&name))) {
                (None, _) => value.is_finite(),
                (Some(b), Direction::Min) => value < b,
                (Some(b), Direction::Max) => value > b,
            };
            if !better {
                return Ok(());
            }
            best = Some(value);
        }
        let own = ModelCheckpointState { best, saved: Some(logs.epoch) };
        let own = serde_json::to_value(&own).map_err(|e| Error::format("ModelCheckpoint state", "JSON", e))?;
        let mut training = ctx.resume_state(Some(own))?;
        let me = ctx.others.0.len();
        training.callbacks[me].name = <Self as Callback<F>>::name(self);
        let opt: &dyn std::any::Any = &*ctx.optimizer;
        let optimizer = opt.downcast_ref::<O>().ok_or_else(|| {
            Error::config("ModelCheckpoint optimizer", optimizer_name::<O>(), "an optimizer of another type")
        })?;
        let state = CheckpointStateOut { optimizer, training: &training };
        model_file::save_with_optimizer(&*ctx.model, &state, &self.path)?;
        self.best = best;
        self.saved = Some(logs.epoch);
        Ok(())
    }

    fn state(&self) -> Result<Option<Value>> {
        let s = ModelCheckpointState { best: self.best, saved: self.saved };
        serde_json::to_value(&s).map(Some).map_err(|e| Error::format("ModelCheckpoint state", "JSON", e))
    }

    fn load_state(&mut self, state: Value) -> Result<()> {
        let s: ModelCheckpointState = serde_json::from_value(state)
            .map_err(|e| Error::format("ModelCheckpoint state", "the state of a ModelCheckpoint", e))?;
        self.best = s.best;
        self.saved = s.saved;
        Ok(())
    }
}

/// A checkpoint [`ModelCheckpoint`] wrote, read back: the model, the optimiser (`O`, with its
/// state) and where the run was.
pub struct Checkpoint<F: Float, O> {
    /// The model as it was after the saved epoch (reach its type with
    /// [`downcast_mut`](trait.Model.html#method.downcast_mut)).
    pub model: Box<dyn Model<F>>,
    /// The optimiser with its state.
    pub optimizer: O,
    /// What [`crate::model::FitConfig::with_resume`] needs.
    pub resume: ResumeState<F>,
}

impl<F: Float, O: std::fmt::Debug> std::fmt::Debug for Checkpoint<F, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("model", &self.model.name())
            .field("optimizer", &self.optimizer)
            .field("resume", &self.resume)
            .finish()
    }
}

impl<F: Float, O: Serialize + DeserializeOwned> Checkpoint<F, O> {
    /// Reads a checkpoint file.
    ///
    /// # Errors
    /// As [`model_file::load_with_optimizer`] ([`Error::Io`], [`Error::Format`]...);
    /// [`Error::Format`] for a model file without a training state, or one whose optimiser
    /// is not an `O`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_slice(&file::read(path.as_ref())?)
    }

    /// Reads a checkpoint from a file's bytes.
    ///
    /// # Errors
    /// As [`Checkpoint::load`], without the I/O.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let (model, state) = model_file::from_slice_with_optimizer::<F, CheckpointState<F, O>>(bytes)?;
        let state = state.ok_or_else(|| {
            Error::format("checkpoint", "a model file with a training state (from ModelCheckpoint)", "none")
        })?;
        Ok(Checkpoint { model, optimizer: state.optimizer, resume: state.training })
    }
}

/// How [`HistoryLogger`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// A header line (`epoch,loss,<metrics>,val_loss,<val_metrics>`), then a line per epoch.
    Csv,
    /// The [`History`] as JSON (`{"epochs": [...], "stopped_epoch": ..., ...}`).
    Json,
}

/// Writes the history to a file after every epoch (Keras's `CSVLogger`, and JSON). Each write
/// replaces the file atomically with the whole history so far, so an error or a crash never
/// leaves a half-written line, and a run resumed from a checkpoint rewrites the file from its
/// restored history (no epoch twice). Values are written in full precision.
#[derive(Debug, Clone)]
pub struct HistoryLogger {
    path: PathBuf,
    format: LogFormat,
}

impl HistoryLogger {
    /// Writes CSV to `path`.
    pub fn csv(path: impl AsRef<Path>) -> Self {
        HistoryLogger { path: path.as_ref().to_path_buf(), format: LogFormat::Csv }
    }

    /// Writes JSON to `path`.
    pub fn json(path: impl AsRef<Path>) -> Self {
        HistoryLogger { path: path.as_ref().to_path_buf(), format: LogFormat::Json }
    }
}

/// The history as CSV: one column per logged quantity, one line per epoch.
pub(crate) fn history_csv<F: Float>(history: &History<F>) -> String {
    let Some(first) = history.epochs.first() else { return String::new() };
    let mut names = vec!["loss".to_string()];
    names.extend(first.metrics.iter().map(|(n, _)| n.clone()));
    if first.val_loss.is_some() {
        names.push("val_loss".into());
        names.extend(first.val_metrics.iter().map(|(n, _)| format!("val_{n}")));
    }
    let mut out = format!("epoch,{}\n", names.join(","));
    for e in &history.epochs {
        out.push_str(&e.epoch.to_string());
        for n in &names {
            out.push(',');
            if let Some(v) = e.get(n) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out
}

impl<F: Float> Callback<F> for HistoryLogger {
    fn on_epoch_closed(&mut self, _logs: &EpochLogs<F>, ctx: &mut TrainingContext<'_, F>) -> Result<()> {
        let bytes = match self.format {
            LogFormat::Csv => history_csv(ctx.history()).into_bytes(),
            LogFormat::Json => serde_json::to_vec_pretty(ctx.history())
                .map_err(|e| Error::format("HistoryLogger history", "a value JSON can hold", e))?,
        };
        let path = &self.path;
        file::write_atomic(path, |w| w.write_all(&bytes).map_err(|e| file::write_error(path, &e)))
    }
}
