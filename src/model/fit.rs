//! Keras-style training: [`Sequential::fit`] with epochs, mini-batches, seeded shuffling,
//! validation, metrics, callbacks ([`EarlyStopping`]) and a progress bar.

use std::fmt;

use ndarray::{concatenate, Array, ArrayD, ArrayViewD, AsArray, Axis, Dimension};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand::SeedableRng;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Mode, Params};
use crate::loss::Loss;
use crate::metrics::Metric;
use crate::model::Sequential;
use crate::optim::Optimizer;
use crate::shape::{check_finite, fmt_shape};

/// Where validation data comes from.
#[derive(Debug, Clone, Default)]
pub enum Validation<F> {
    /// No validation.
    #[default]
    None,
    /// Hold out the **last** fraction of the samples, before shuffling (Keras's
    /// `validation_split`). Must lie in (0, 1) and leave at least one sample on each side.
    Split(f64),
    /// Explicit validation inputs and targets.
    Data(Box<(ArrayD<F>, ArrayD<F>)>),
}

/// What [`Sequential::fit`] does: epochs, batch size, shuffling, validation, metrics,
/// callbacks and the progress bar. (Gradient clipping is an optimiser setting, e.g.
/// [`crate::Sgd::with_gradient_clip`].)
///
/// Built with [`FitConfig::new`] and `with_*` methods:
/// ```
/// use recurrent::prelude::*;
/// use recurrent::metrics::Metric;
/// let config = FitConfig::<f64>::new(50, 16)
///     .with_validation_split(0.2)
///     .with_metrics(vec![Metric::Mae])
///     .with_callback(EarlyStopping::new(5).restore_best_weights(true))
///     .with_seed(7)
///     .quiet();
/// assert_eq!(config.epochs, 50);
/// ```
pub struct FitConfig<F: Float> {
    /// Passes over the training data. Must be at least 1.
    pub epochs: usize,
    /// Samples per gradient step (the last batch of an epoch may be smaller). At least 1.
    pub batch_size: usize,
    /// Shuffle the training samples before each epoch (with the seeded generator). Default
    /// on; must be off for a stateful model.
    pub shuffle: bool,
    /// Seed of the shuffling generator: the same seed gives the same run, bit for bit.
    pub seed: u64,
    /// Validation data (default none).
    pub validation: Validation<F>,
    /// Metrics reported per epoch, on the training batches and on the validation data.
    pub metrics: Vec<Metric>,
    /// Callbacks, called after each epoch in order.
    pub callbacks: Vec<Box<dyn Callback<F>>>,
    /// Show a progress bar and a line per epoch on standard error (default on). It stays
    /// quiet anyway when standard error is not a terminal, or without the `progress` feature.
    pub progress: bool,
}

impl<F: Float> fmt::Debug for FitConfig<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FitConfig")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("metrics", &self.metrics)
            .field("callbacks", &self.callbacks.len())
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

impl<F: Float> FitConfig<F> {
    /// `epochs` passes in batches of `batch_size`, shuffled with seed 0, no validation, no
    /// metrics, no callbacks, with a progress bar.
    pub fn new(epochs: usize, batch_size: usize) -> Self {
        FitConfig {
            epochs,
            batch_size,
            shuffle: true,
            seed: 0,
            validation: Validation::None,
            metrics: Vec::new(),
            callbacks: Vec::new(),
            progress: true,
        }
    }

    /// Sets the shuffling seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Turns shuffling on or off.
    pub fn with_shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// Holds out the last `fraction` of the samples for validation.
    pub fn with_validation_split(mut self, fraction: f64) -> Self {
        self.validation = Validation::Split(fraction);
        self
    }

    /// Validates on explicit data (any ranks: `x` `(N, …)`, `y` `(N, …)`).
    pub fn with_validation_data<DX: Dimension, DY: Dimension>(mut self, x: Array<F, DX>, y: Array<F, DY>) -> Self {
        self.validation = Validation::Data(Box::new((x.into_dyn(), y.into_dyn())));
        self
    }

    /// Sets the metrics reported per epoch.
    pub fn with_metrics(mut self, metrics: Vec<Metric>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Adds a callback.
    pub fn with_callback(mut self, callback: impl Callback<F> + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// No progress bar and no epoch lines.
    pub fn quiet(mut self) -> Self {
        self.progress = false;
        self
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLogs<F> {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by their sizes), each taken
    /// before that batch's update.
    pub loss: F,
    /// Loss on the validation data after the epoch.
    pub val_loss: Option<F>,
    /// Each metric on the epoch's training predictions, as `(name, value)`.
    pub metrics: Vec<(String, F)>,
    /// Each metric on the validation data after the epoch.
    pub val_metrics: Vec<(String, F)>,
}

impl<F: Float> EpochLogs<F> {
    /// A logged quantity by Keras's name: `"loss"`, `"val_loss"`, a metric's name, or
    /// `"val_"` followed by a metric's name.
    pub fn get(&self, name: &str) -> Option<F> {
        match name {
            "loss" => Some(self.loss),
            "val_loss" => self.val_loss,
            _ => match name.strip_prefix("val_") {
                Some(m) => self.val_metrics.iter().find(|(n, _)| n == m).map(|(_, v)| *v),
                None => self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
            },
        }
    }
}

impl<F: Float> fmt::Display for EpochLogs<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {}: loss {:.6}", self.epoch, self.loss)?;
        for (n, v) in &self.metrics {
            write!(f, ", {n} {v:.4}")?;
        }
        if let Some(v) = self.val_loss {
            write!(f, ", val_loss {v:.6}")?;
        }
        for (n, v) in &self.val_metrics {
            write!(f, ", val_{n} {v:.4}")?;
        }
        Ok(())
    }
}

/// The record of a [`Sequential::fit`] run (Keras's `History`).
#[derive(Debug, Clone, PartialEq)]
pub struct History<F> {
    /// One entry per epoch that ran.
    pub epochs: Vec<EpochLogs<F>>,
    /// The epoch (from 1) after which a callback stopped training, if one did.
    pub stopped_epoch: Option<usize>,
}

impl<F: Float> History<F> {
    /// The training loss per epoch.
    pub fn loss(&self) -> Vec<F> {
        self.epochs.iter().map(|e| e.loss).collect()
    }

    /// The validation loss per epoch (empty without validation).
    pub fn val_loss(&self) -> Vec<F> {
        self.epochs.iter().filter_map(|e| e.val_loss).collect()
    }

    /// A logged quantity per epoch by name (see [`EpochLogs::get`]); `None` if it was not
    /// logged.
    pub fn get(&self, name: &str) -> Option<Vec<F>> {
        self.epochs.iter().map(|e| e.get(name)).collect()
    }
}

/// Whether training goes on after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on to the next epoch.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Hooks called by [`Sequential::fit`].
pub trait Callback<F: Float> {
    /// Before the first epoch.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_train_begin(&mut self, model: &mut Sequential<F>) -> Result<()> {
        let _ = model;
        Ok(())
    }

    /// After each epoch, with what it measured; return [`Control::Stop`] to end training.
    ///
    /// # Errors
    /// Any error stops training and is returned by `fit`.
    fn on_epoch_end(&mut self, logs: &EpochLogs<F>, model: &mut Sequential<F>) -> Result<Control>;

    /// After the last epoch (also after an early stop).
    ///
    /// # Errors
    /// Any error is returned by `fit`.
    fn on_train_end(&mut self, model: &mut Sequential<F>) -> Result<()> {
        let _ = model;
        Ok(())
    }
}

/// Whether a monitored quantity should go down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracy, F1, R²).
    Max,
}

/// Stops training when a monitored quantity has stopped improving (Keras's
/// `EarlyStopping`).
///
/// An epoch improves on the best so far when it beats it by more than `min_delta`. After
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

    /// The smallest change that counts as an improvement (default 0).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
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
}

impl<F: Float> Callback<F> for EarlyStopping<F> {
    fn on_train_begin(&mut self, _model: &mut Sequential<F>) -> Result<()> {
        self.best = None;
        self.best_epoch = None;
        self.wait = 0;
        self.best_weights.clear();
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs<F>, model: &mut Sequential<F>) -> Result<Control> {
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
        let delta = F::of(self.min_delta);
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
                self.best_weights = snapshot(model);
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

    fn on_train_end(&mut self, model: &mut Sequential<F>) -> Result<()> {
        if self.restore_best && !self.best_weights.is_empty() {
            restore(model, &self.best_weights);
        }
        Ok(())
    }
}

/// Copies every parameter's value.
fn snapshot<F: Float>(model: &dyn Params<F>) -> Vec<ArrayD<F>> {
    let mut out = Vec::new();
    model.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

/// Copies values into a buffer of the same parameters, reusing its storage.
fn snapshot_into<F: Float>(model: &dyn Params<F>, buf: &mut Vec<ArrayD<F>>) {
    let mut k = 0;
    model.visit_params(&mut |p| {
        match buf.get_mut(k) {
            Some(b) if b.shape() == p.value.shape() => b.assign(&p.value),
            Some(b) => *b = p.value.to_owned(),
            None => buf.push(p.value.to_owned()),
        }
        k += 1;
    });
    buf.truncate(k);
}

fn restore<F: Float>(model: &mut dyn Params<F>, values: &[ArrayD<F>]) {
    let mut k = 0;
    model.visit_params_mut(&mut |mut p| {
        if let Some(v) = values.get(k) {
            if v.shape() == p.value.shape() {
                p.value.assign(v);
            }
        }
        k += 1;
    });
}

fn all_finite<F: Float>(model: &dyn Params<F>) -> bool {
    let mut ok = true;
    model.visit_params(&mut |p| ok &= p.value.iter().all(|v| v.is_finite()));
    ok
}

/// The progress display: an indicatif bar when the feature is on and stderr is a terminal.
struct Progress {
    #[cfg(feature = "progress")]
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(on: bool, epochs: usize, batches: usize) -> Self {
        #[cfg(feature = "progress")]
        {
            use std::io::IsTerminal;
            let bar = (on && std::io::stderr().is_terminal()).then(|| {
                let bar = indicatif::ProgressBar::new((epochs * batches) as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} batches, {elapsed} < {eta} {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            });
            Progress { bar }
        }
        #[cfg(not(feature = "progress"))]
        {
            let _ = (on, epochs, batches);
            Progress {}
        }
    }

    fn batch(&self, epoch: usize, epochs: usize, loss: f64) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            bar.set_message(format!("loss {loss:.5}"));
            bar.inc(1);
        }
        #[cfg(not(feature = "progress"))]
        let _ = (epoch, epochs, loss);
    }

    fn epoch(&self, line: &str) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.println(line);
        }
        #[cfg(not(feature = "progress"))]
        let _ = line;
    }

    fn finish(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The number of samples (first axis) of `x`, after checking `y` has as many.
fn same_samples<F: Float>(what: &str, whose: &str, x: &ArrayViewD<'_, F>, y: &ArrayViewD<'_, F>) -> Result<usize> {
    let (n, ny) = (x.shape().first().copied().unwrap_or(0), y.shape().first().copied().unwrap_or(0));
    if ny != n {
        return Err(Error::shape(
            format!("{what}: samples must equal {whose}"),
            format!("{n} samples"),
            format!("{ny} (y has shape {})", fmt_shape(y.shape())),
        ));
    }
    Ok(n)
}

/// Predictions and targets of the positions a loss counts, gathered over batches so metrics
/// can be computed over the whole epoch.
#[derive(Default)]
struct Gathered<F> {
    pred: Vec<ArrayD<F>>,
    target: Vec<ArrayD<F>>,
}

impl<F: Float> Gathered<F> {
    fn push(&mut self, model: &Sequential<F>, pred: &ArrayViewD<'_, F>, y: &ArrayViewD<'_, F>) -> Result<()> {
        let (p, t) = model.masked_positions(pred, y)?;
        self.pred.push(p);
        self.target.push(t);
        Ok(())
    }

    fn metrics(&self, metrics: &[Metric]) -> Result<Vec<(String, F)>> {
        if metrics.is_empty() || self.pred.is_empty() {
            return Ok(Vec::new());
        }
        let cat = |parts: &[ArrayD<F>]| -> Result<ArrayD<F>> {
            let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
            concatenate(Axis(0), &views)
                .map_err(|e| Error::shape("metric inputs", "batches of one shape", e.to_string()))
        };
        let (p, t) = (cat(&self.pred)?, cat(&self.target)?);
        metrics.iter().map(|m| Ok((m.name().to_string(), m.compute(p.view(), t.view())?))).collect()
    }
}

impl<F: Float> Sequential<F> {
    /// Trains the model, Keras's `fit`: `config.epochs` passes over `(x, y)` in mini-batches
    /// of `config.batch_size`, shuffled each epoch with the seeded generator, with one
    /// optimiser step per batch; after each epoch the validation loss and the metrics are
    /// measured and the callbacks run. The same seed, data and starting weights give the same
    /// weights bit for bit.
    ///
    /// Sequence outputs with a mask (from a [`crate::Masking`] layer) leave padded
    /// positions out of the loss and the metrics.
    ///
    /// # Guard against divergence
    /// If a batch's loss is NaN or infinite, or an update makes a weight non-finite, training
    /// stops with [`Error::Diverged`] naming the epoch and batch, and the model keeps the
    /// last finite weights (those from before that batch).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for zero epochs or batch size, a validation split outside
    /// (0, 1) or leaving no sample on either side, or shuffling a stateful model;
    /// [`Error::ShapeMismatch`] if `x` and `y` disagree on the number of samples or do not
    /// fit the model; [`Error::Diverged`]; any error of the loss, metrics, optimiser or
    /// callbacks.
    ///
    /// # Example
    /// ```
    /// use recurrent::prelude::*;
    /// let series: Vec<f64> = (0..60).map(|i| (0.2 * i as f64).sin()).collect();
    /// let (x, y) = recurrent::data::windows(&series, 5)?;
    /// let mut rng = StdRng::seed_from_u64(1);
    /// let mut model = Sequential::new(&[5, 1])?;
    /// model.add(SimpleRnnConfig::new(1, 8).init(&mut rng)?)?;
    /// model.add(DenseConfig::new(8, 1).init(&mut rng)?)?;
    /// let config = FitConfig::new(30, 8).with_validation_split(0.2).quiet();
    /// let history = model.fit(&x, &y, &Mse, &mut Sgd::new(0.1), config)?;
    /// assert_eq!(history.epochs.len(), 30);
    /// assert!(history.loss()[29] < history.loss()[0]);
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    pub fn fit<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        y: VY,
        loss: &dyn Loss<F>,
        optimizer: &mut dyn Optimizer<F>,
        mut config: FitConfig<F>,
    ) -> Result<History<F>>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b,
    {
        let (x, y) = (x.into().into_dyn(), y.into().into_dyn());
        if config.epochs == 0 {
            return Err(Error::config("fit epochs", "at least 1", 0));
        }
        if config.batch_size == 0 {
            return Err(Error::config("fit batch size", "at least 1", 0));
        }
        if config.shuffle && self.is_stateful() {
            return Err(Error::config(
                "fit shuffle for a stateful model",
                "off (each batch continues the sequences of the one before)",
                "on",
            ));
        }
        let n = same_samples(&format!("{} fit targets y", self.name()), "x's", &x, &y)?;
        check_finite("fit input x", &x)?;
        check_finite("fit targets y", &y)?;
        let (n_train, val) = match &config.validation {
            Validation::None => (n, None),
            Validation::Split(f) => {
                if !(*f > 0.0 && *f < 1.0) {
                    return Err(Error::config("validation split", "a fraction in (0, 1)", f));
                }
                let n_val = ((n as f64) * f).floor() as usize;
                if n_val == 0 || n_val >= n {
                    return Err(Error::config(
                        "validation split",
                        format!("a fraction leaving at least one of the {n} samples on each side"),
                        f,
                    ));
                }
                let n_train = n - n_val;
                let xv = x.slice_axis(Axis(0), (n_train..n).into()).to_owned();
                let yv = y.slice_axis(Axis(0), (n_train..n).into()).to_owned();
                (n_train, Some((xv, yv)))
            }
            Validation::Data(data) => {
                let (xv, yv) = &**data;
                same_samples("validation targets", "the validation inputs'", &xv.view(), &yv.view())?;
                (n, Some((xv.clone(), yv.clone())))
            }
        };
        if n_train == 0 {
            return Err(Error::Empty {
                what: "fit input x".into(),
                axis: "samples".into(),
                shape: fmt_shape(x.shape()),
            });
        }
        let (xt, yt) = (x.slice_axis(Axis(0), (0..n_train).into()), y.slice_axis(Axis(0), (0..n_train).into()));
        let mut rng = StdRng::seed_from_u64(config.seed);
        // Dropout masks follow the same seed: the same seed, data and starting weights give
        // the same training run.
        self.reseed(config.seed);
        let mut order: Vec<usize> = (0..n_train).collect();
        let batches = n_train.div_ceil(config.batch_size);
        let mut callbacks = std::mem::take(&mut config.callbacks);
        for cb in callbacks.iter_mut() {
            cb.on_train_begin(self)?;
        }
        let progress = Progress::new(config.progress, config.epochs, batches);
        let mut history = History { epochs: Vec::new(), stopped_epoch: None };
        let mut guard = Vec::new();
        let result = (|| -> Result<()> {
            for epoch in 1..=config.epochs {
                if config.shuffle {
                    order.shuffle(&mut rng);
                }
                let (mut total, mut weight) = (0.0f64, 0.0f64);
                let mut seen = Gathered::default();
                for (bi, idx) in order.chunks(config.batch_size).enumerate() {
                    let (xb, yb) = if config.shuffle {
                        (xt.select(Axis(0), idx), yt.select(Axis(0), idx))
                    } else {
                        let r = idx[0]..idx[0] + idx.len();
                        (
                            xt.slice_axis(Axis(0), r.clone().into()).to_owned(),
                            yt.slice_axis(Axis(0), r.into()).to_owned(),
                        )
                    };
                    snapshot_into(self, &mut guard);
                    let pred = self.forward(&xb, Mode::Train)?;
                    let out = self.masked_loss(loss, &pred.view(), &yb.view())?;
                    let diverged = |what: String| Error::Diverged { epoch, batch: bi + 1, what };
                    if !out.value.is_finite() {
                        return Err(diverged(format!("the loss is {}", out.value)));
                    }
                    if !config.metrics.is_empty() {
                        seen.push(self, &pred.view(), &yb.view())?;
                    }
                    self.zero_grad();
                    self.backward(&out.grad)?;
                    optimizer.step(self)?;
                    if !all_finite(self) {
                        restore(self, &guard);
                        return Err(diverged("the update made a weight non-finite".into()));
                    }
                    let w = idx.len() as f64;
                    total += out.value.to_f64_exact() * w;
                    weight += w;
                    progress.batch(epoch, config.epochs, total / weight);
                }
                let mut logs = EpochLogs {
                    epoch,
                    loss: F::of(total / weight),
                    val_loss: None,
                    metrics: seen.metrics(&config.metrics)?,
                    val_metrics: Vec::new(),
                };
                if let Some((xv, yv)) = &val {
                    let (vl, vm) = self.evaluate_in_batches(xv, yv, loss, &config.metrics, config.batch_size)?;
                    logs.val_loss = Some(vl);
                    logs.val_metrics = vm;
                }
                progress.epoch(&logs.to_string());
                let mut stop = false;
                for cb in callbacks.iter_mut() {
                    stop |= cb.on_epoch_end(&logs, self)? == Control::Stop;
                }
                history.epochs.push(logs);
                if stop {
                    history.stopped_epoch = Some(epoch);
                    break;
                }
            }
            Ok(())
        })();
        progress.finish();
        result?;
        for cb in callbacks.iter_mut() {
            cb.on_train_end(self)?;
        }
        Ok(history)
    }

    /// The loss and metrics of the model on `(x, y)`, run in batches of `batch_size` (padded
    /// positions of masked sequence outputs left out). The loss is the mean over samples (or
    /// over real positions) for the mean losses of [`crate::loss`], whatever the batching.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `batch_size` is 0; as [`Sequential::evaluate`].
    pub fn evaluate_in_batches<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        y: VY,
        loss: &dyn Loss<F>,
        metrics: &[Metric],
        batch_size: usize,
    ) -> Result<(F, Vec<(String, F)>)>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b,
    {
        let (x, y) = (x.into().into_dyn(), y.into().into_dyn());
        if batch_size == 0 {
            return Err(Error::config("batch size", "at least 1", 0));
        }
        let n = same_samples(&format!("{} targets y", self.name()), "x's", &x, &y)?;
        if n == 0 {
            return Err(Error::Empty {
                what: "evaluation input x".into(),
                axis: "samples".into(),
                shape: fmt_shape(x.shape()),
            });
        }
        let (mut total, mut weight) = (0.0f64, 0.0f64);
        let mut seen = Gathered::default();
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let xb = x.slice_axis(Axis(0), (start..end).into());
            let yb = y.slice_axis(Axis(0), (start..end).into());
            let pred = self.forward(xb, Mode::Infer)?;
            let out = self.masked_loss(loss, &pred.view(), &yb)?;
            let w = self.output_mask().map_or((end - start) as f64, |m| m.iter().filter(|&&v| v).count() as f64);
            total += out.value.to_f64_exact() * w;
            weight += w;
            if !metrics.is_empty() {
                seen.push(self, &pred.view(), &yb)?;
            }
            start = end;
        }
        Ok((F::of(total / weight), seen.metrics(metrics)?))
    }

    /// Predictions for `x` computed in batches of `batch_size` (Keras's `predict`), so a
    /// large input needs memory for one batch of activations at a time.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `batch_size` is 0; as [`Sequential::predict`].
    pub fn predict_in_batches<'a, V, D>(&mut self, x: V, batch_size: usize) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        let x = x.into().into_dyn();
        if batch_size == 0 {
            return Err(Error::config("batch size", "at least 1", 0));
        }
        let n = x.shape().first().copied().unwrap_or(0);
        if n == 0 {
            return Err(Error::Empty {
                what: "prediction input x".into(),
                axis: "samples".into(),
                shape: fmt_shape(x.shape()),
            });
        }
        let mut parts = Vec::new();
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            parts.push(self.predict(x.slice_axis(Axis(0), (start..end).into()))?);
            start = end;
        }
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        concatenate(Axis(0), &views).map_err(|e| Error::shape("batched predictions", "one shape", e.to_string()))
    }
}
