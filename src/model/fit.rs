//! Keras-style training: `fit` (for every [`Model`], through [`ModelExt`]; a method of
//! [`Sequential`] too) with epochs, mini-batches, seeded shuffling, validation, metrics,
//! callbacks (see [`crate::model::Callback`]), resuming from a checkpoint, and a progress bar.

use std::collections::BTreeMap;
use std::fmt;

use ndarray::{Array, Array2, ArrayD, ArrayViewD, AsArray, Axis, Dimension, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Mode, Params};
use crate::limits::{try_with_capacity, try_zeros};
use crate::loss::Loss;
use crate::metrics::Metric;
use crate::model::callbacks::{BatchLogs, Callback, ResumeState, RunInfo, TrainingContext};
use crate::model::sequential::Named;
use crate::model::traits::{masked_loss, masked_positions, positions, Model, ModelOutput};
use crate::model::weights::{fit_weights, weighted_loss};
use crate::model::Sequential;
use crate::optim::Optimizer;
use crate::random::mix;
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
    /// Seed of the run's randomness: the same seed gives the same run, bit for bit. Epoch
    /// `k` shuffles with a generator seeded from `(seed, k)` and, before it, reseeds the
    /// model's dropout ([`Model::reseed`]) from `(seed, k)`, so no epoch's draws depend on the
    /// epochs before it (what resuming from a checkpoint relies on).
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
    /// Keras's `sample_weight`: one weight per sample of `x` `(N,)`, or per position `(N, T)`
    /// for a sequence output, multiplying that sample's (position's) loss; the loss is still
    /// divided by the number of samples (real positions), not by the sum of the weights (see
    /// [`Loss::compute_weighted`]). With a validation split, the weights of the held-out
    /// samples are not used: validation losses are unweighted. Finite and ≥ 0. Default none.
    pub sample_weight: Option<ArrayD<F>>,
    /// Keras's `class_weight`: a weight per class index, turned into a weight per sample (or
    /// per position) from the training targets (the argmax of one-hot or probability targets,
    /// the label of class-index targets, 0 or 1 for binary targets of one unit); classes left
    /// out weigh 1. Not used for validation. Not together with `sample_weight`. Default none.
    pub class_weight: Option<BTreeMap<usize, F>>,
    /// Where to go on from (Keras's `initial_epoch`, with everything else a checkpoint keeps):
    /// see [`FitConfig::with_resume`].
    pub resume: Option<ResumeState<F>>,
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
            .field("sample_weight", &self.sample_weight.as_ref().map(|w| w.shape().to_vec()))
            .field("class_weight", &self.class_weight)
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
            sample_weight: None,
            class_weight: None,
            resume: None,
        }
    }

    /// Weighs each sample's loss (`(N,)`) or each position's (`(N, T)`); see
    /// [`FitConfig::sample_weight`].
    ///
    /// ```
    /// use recurrent::prelude::*;
    /// // The second of three samples counts twice, the third not at all.
    /// let config = FitConfig::<f64>::new(10, 3).with_sample_weight(ndarray::array![1.0, 2.0, 0.0]);
    /// assert_eq!(config.sample_weight.map(|w| w.len()), Some(3));
    /// ```
    pub fn with_sample_weight<D: Dimension>(mut self, weights: Array<F, D>) -> Self {
        self.sample_weight = Some(weights.into_dyn());
        self
    }

    /// Weighs each class (index, weight); see [`FitConfig::class_weight`].
    ///
    /// ```
    /// use recurrent::prelude::*;
    /// // A rare class 1 counts five times; class 0 keeps weight 1.
    /// let config = FitConfig::<f64>::new(10, 8).with_class_weight([(1, 5.0)]);
    /// assert_eq!(config.class_weight.map(|c| c[&1]), Some(5.0));
    /// ```
    pub fn with_class_weight(mut self, weights: impl IntoIterator<Item = (usize, F)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
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

    /// Goes on from a checkpoint ([`crate::model::Checkpoint::load`], written by
    /// [`crate::model::ModelCheckpoint`]) instead of from epoch 1: training runs epochs
    /// `state.epoch + 1 ..= epochs`, with the state's seed, its [`History`] continued and each
    /// callback's saved state given back ([`Callback::load_state`]). Given the checkpoint's
    /// model and optimiser, the same data and callbacks of the same kinds in the same order,
    /// the run ends with the weights and the [`History`] an uninterrupted run gets, bit for
    /// bit: each epoch's shuffled order and dropout masks depend only on `(seed, epoch)`.
    ///
    /// A stateful model's carried states are not part of a checkpoint, nor are `shuffle`, the
    /// validation data, the sample or class weights and the metrics: give them as the
    /// interrupted run had them, or the result differs.
    ///
    /// `fit` refuses, before training ([`Error::InvalidConfig`]): a state whose epoch is not
    /// below `epochs`, whose run stopped early, whose batch size or number of training
    /// samples differ from this run's, or whose callbacks differ in number or names.
    pub fn with_resume(mut self, state: ResumeState<F>) -> Self {
        self.resume = Some(state);
        self
    }

    /// No progress bar and no epoch lines.
    pub fn quiet(mut self) -> Self {
        self.progress = false;
        self
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct EpochLogs<F> {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, each taken before that batch's update
    /// and weighted by the positions its loss averaged over: its samples, or under a mask its
    /// real positions (so it is the mean per real position, as `val_loss` is).
    pub loss: F,
    /// Loss on the validation data after the epoch (the mean per real position under a mask).
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

/// The record of a [`Sequential::fit`] run (Keras's `History`). Its `Display` is a short
/// summary: epochs run, why it ended, the weights it ended with, the last epoch and the best
/// monitored value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct History<F> {
    /// One entry per epoch that ran (after a resume: those before it too).
    pub epochs: Vec<EpochLogs<F>>,
    /// The epoch (from 1) after which a callback stopped training, if one did.
    pub stopped_epoch: Option<usize>,
    /// The callback that stopped it ([`Callback::name`], e.g. `"EarlyStopping"`).
    #[serde(default)]
    pub stopped_by: Option<String>,
    /// The epoch whose weights the model ended with, when a callback restored them
    /// ([`crate::EarlyStopping::restore_best_weights`]); `None` when the model ends with the
    /// last epoch's weights.
    #[serde(default)]
    pub restored_epoch: Option<usize>,
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

    /// The epoch (from 1) with the best value of a logged quantity, and the value (lowest
    /// for losses and errors, highest otherwise: [`crate::model::Direction::of`]; the first
    /// of equals). `None` if it was not logged.
    pub fn best(&self, name: &str) -> Option<(usize, F)> {
        let values = self.get(name)?;
        let min = crate::model::Direction::of(name) == crate::model::Direction::Min;
        let mut best: Option<(usize, F)> = None;
        for (e, v) in self.epochs.iter().zip(values) {
            let better = match best {
                None => true,
                Some((_, b)) => (min && v < b) || (!min && v > b),
            };
            if better {
                best = Some((e.epoch, v));
            }
        }
        best
    }

    /// What ended the run and which weights the model has, in words (the progress output's
    /// last line): `"stopped by EarlyStopping after epoch 7; weights of epoch 4 restored"`,
    /// `"ran 10 epochs"`.
    pub fn outcome(&self) -> String {
        let ran = self.epochs.last().map_or(0, |e| e.epoch);
        let mut out = match (self.stopped_epoch, &self.stopped_by) {
            (Some(e), Some(by)) => format!("stopped by {by} after epoch {e}"),
            (Some(e), None) => format!("stopped after epoch {e}"),
            (None, _) => format!("ran {ran} epoch{}", if ran == 1 { "" } else { "s" }),
        };
        match self.restored_epoch {
            Some(r) => out.push_str(&format!("; weights of epoch {r} restored")),
            None if ran > 0 => out.push_str(&format!("; weights of the last epoch ({ran}) kept")),
            None => {}
        }
        out
    }
}

impl<F: Float> fmt::Display for History<F> {
    /// ```text
    /// history: stopped by EarlyStopping after epoch 7; weights of epoch 4 restored
    ///   last: epoch 7: loss 0.120000, val_loss 0.300000
    ///   best val_loss 0.250000 at epoch 4
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "history: {}", self.outcome())?;
        if let Some(last) = self.epochs.last() {
            write!(f, "\n  last: {last}")?;
            let name = if last.val_loss.is_some() { "val_loss" } else { "loss" };
            if let Some((e, v)) = self.best(name) {
                write!(f, "\n  best {name} {v:.6} at epoch {e}")?;
            }
        }
        Ok(())
    }
}

/// Copies values into a buffer of the same parameters, reusing its storage.
fn snapshot_into<F: Float>(model: &dyn Params<F>, buf: &mut Vec<ArrayD<F>>) -> Result<()> {
    let mut k = 0;
    let mut failed = None;
    model.visit_params(&mut |p| {
        if failed.is_some() {
            return;
        }
        match buf.get_mut(k) {
            Some(b) if b.shape() == p.value.shape() => b.assign(&p.value),
            slot => match try_zeros(p.value.raw_dim(), "fit weight snapshot") {
                Ok(mut copy) => {
                    copy.assign(&p.value);
                    match slot {
                        Some(b) => *b = copy,
                        None => buf.push(copy),
                    }
                }
                Err(e) => failed = Some(e),
            },
        }
        k += 1;
    });
    buf.truncate(k);
    failed.map_or(Ok(()), Err)
}

/// Puts back values [`snapshot_into`] (or a callback) took, in visiting order.
pub(crate) fn restore<F: Float>(model: &mut dyn Params<F>, values: &[ArrayD<F>]) {
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
                let bar = indicatif::ProgressBar::new(epochs.saturating_mul(batches) as u64);
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
    fn push(
        &mut self,
        name: &str,
        mask: Option<&Array2<bool>>,
        pred: &ArrayViewD<'_, F>,
        y: &ArrayViewD<'_, F>,
    ) -> Result<()> {
        let (p, t) = masked_positions(name, mask, pred, y)?;
        self.pred.push(p);
        self.target.push(t);
        Ok(())
    }

    fn metrics(&self, metrics: &[Metric]) -> Result<Vec<(String, F)>> {
        if metrics.is_empty() || self.pred.is_empty() {
            return Ok(Vec::new());
        }
        let (p, t) = (concat("metric predictions", &self.pred)?, concat("metric targets", &self.target)?);
        metrics.iter().map(|m| Ok((m.name().to_string(), m.compute(p.view(), t.view())?))).collect()
    }
}

/// The parts stacked along the first axis, into memory reserved fallibly.
fn concat<F: Float>(what: &str, parts: &[ArrayD<F>]) -> Result<ArrayD<F>> {
    let Some(first) = parts.first() else {
        return Err(Error::Empty { what: what.to_string(), axis: "batches".into(), shape: "()".into() });
    };
    let mut shape = first.shape().to_vec();
    shape[0] = parts.iter().map(|a| a.shape()[0]).sum();
    if let Some(odd) = parts.iter().find(|a| a.shape()[1..] != first.shape()[1..]) {
        return Err(Error::shape(what, fmt_shape(&first.shape()[1..]), fmt_shape(&odd.shape()[1..])));
    }
    let mut out: ArrayD<F> = try_zeros(IxDyn(&shape), what)?;
    let mut at = 0;
    for a in parts {
        let rows = a.shape()[0];
        out.slice_axis_mut(Axis(0), (at..at + rows).into()).assign(a);
        at += rows;
    }
    Ok(out)
}

/// `e` with `what` prefixed by where it arose, e.g. `"validation x, at simple_rnn input"`.
fn at(ctx: &str, e: Error) -> Error {
    let join = |what: String| format!("{ctx}, at {what}");
    match e {
        Error::ShapeMismatch { what, expected, got } => Error::ShapeMismatch { what: join(what), expected, got },
        Error::Empty { what, axis, shape } => Error::Empty { what: join(what), axis, shape },
        Error::InvalidConfig { what, expected, got } => Error::InvalidConfig { what: join(what), expected, got },
        Error::NonFinite { what, index, value } => Error::NonFinite { what: join(what), index, value },
        Error::OutOfRange { what, expected, got, index } => {
            Error::OutOfRange { what: join(what), expected, got, index }
        }
        other => other,
    }
}

/// The sizes of the batches `n` samples make in batches of `batch` (the last may be smaller).
fn batch_sizes(n: usize, batch: usize) -> Vec<usize> {
    let mut sizes = vec![batch.min(n)];
    if n > batch && !n.is_multiple_of(batch) {
        sizes.push(n % batch);
    }
    sizes
}

/// A data set and what to call its two halves in messages.
struct Data<'v, F> {
    x: ArrayViewD<'v, F>,
    y: ArrayViewD<'v, F>,
    x_name: &'static str,
    y_name: &'static str,
}

/// Samples copied into one buffer reused for every batch, so a shuffled epoch allocates once.
struct BatchBuffer<F> {
    data: ArrayD<F>,
}

impl<F: Float> BatchBuffer<F> {
    /// Room for `rows` samples shaped as those of `src`.
    fn new(what: &str, src: &ArrayViewD<'_, F>, rows: usize) -> Result<Self> {
        let mut shape = src.shape().to_vec();
        shape[0] = rows;
        Ok(BatchBuffer { data: try_zeros(IxDyn(&shape), what)? })
    }

    /// The samples `idx` of `src`, in that order.
    fn gather(&mut self, src: &ArrayViewD<'_, F>, idx: &[usize]) -> ArrayViewD<'_, F> {
        for (k, &i) in idx.iter().enumerate() {
            self.data.index_axis_mut(Axis(0), k).assign(&src.index_axis(Axis(0), i));
        }
        self.data.slice_axis(Axis(0), (0..idx.len()).into())
    }
}

/// `fit`, `evaluate_in_batches` and `predict_in_batches` for every [`Model`], as methods
/// (implemented for every sized model and for `dyn Model`). [`Sequential`] has them as its
/// own methods too, which take precedence and do the same.
///
/// # Example: an encoder–decoder trained with `fit`
/// See [`crate::EncoderDecoder`]; any model of your own is trained the same way (see
/// [`Model`]).
pub trait ModelExt<F: Float>: Model<F> {
    /// Trains the model, Keras's `fit` (see [`Sequential::fit`] for everything it does and
    /// checks).
    ///
    /// # Errors
    /// As [`Sequential::fit`].
    fn fit<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        y: VY,
        loss: &dyn Loss<F>,
        optimizer: &mut dyn Optimizer<F>,
        config: FitConfig<F>,
    ) -> Result<History<F>>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b;

    /// The loss and metrics on `(x, y)`, in batches (see
    /// [`Sequential::evaluate_in_batches`]).
    ///
    /// # Errors
    /// As [`Sequential::evaluate_in_batches`].
    fn evaluate_in_batches<'a, 'b, VX, DX, VY, DY>(
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
        F: 'a + 'b;

    /// [`Model::predict`] in batches of `batch_size`, stacked (see
    /// [`Sequential::predict_in_batches`]).
    ///
    /// # Errors
    /// As [`Sequential::predict_in_batches`].
    fn predict_in_batches<'a, V, D>(&mut self, x: V, batch_size: usize) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a;
}

macro_rules! model_ext {
    ($this:ident => $dyn:expr) => {
        fn fit<'a, 'b, VX, DX, VY, DY>(
            &mut self,
            x: VX,
            y: VY,
            loss: &dyn Loss<F>,
            optimizer: &mut dyn Optimizer<F>,
            config: FitConfig<F>,
        ) -> Result<History<F>>
        where
            VX: AsArray<'a, F, DX>,
            DX: Dimension,
            VY: AsArray<'b, F, DY>,
            DY: Dimension,
            F: 'a + 'b,
        {
            let $this = self;
            fit($dyn, x.into().into_dyn(), y.into().into_dyn(), loss, optimizer, config)
        }

        fn evaluate_in_batches<'a, 'b, VX, DX, VY, DY>(
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
            let $this = self;
            evaluate_in_batches($dyn, x.into().into_dyn(), y.into().into_dyn(), loss, metrics, batch_size)
        }

        fn predict_in_batches<'a, V, D>(&mut self, x: V, batch_size: usize) -> Result<ArrayD<F>>
        where
            V: AsArray<'a, F, D>,
            D: Dimension,
            F: 'a,
        {
            let $this = self;
            predict_in_batches($dyn, x.into().into_dyn(), batch_size)
        }
    };
}

impl<F: Float, M: Model<F>> ModelExt<F> for M {
    model_ext!(this => this as &mut dyn Model<F>);
}

impl<F: Float> ModelExt<F> for dyn Model<F> {
    model_ext!(this => this);
}

impl<F: Float> Sequential<F> {
    /// Trains the model, Keras's `fit`: `config.epochs` passes over `(x, y)` in mini-batches
    /// of `config.batch_size`, shuffled each epoch with the seeded generator, with one
    /// optimiser step per batch; after each epoch the validation loss and the metrics are
    /// measured and the callbacks run. The same seed, data and starting weights give the same
    /// weights bit for bit. (Any [`Model`] is trained the same way through [`ModelExt::fit`].)
    ///
    /// Sequence outputs with a mask (from a [`crate::Masking`] layer) leave padded
    /// positions out of the loss and the metrics. Losses are means over real positions,
    /// Keras's and PyTorch's rule, in training as in validation: an epoch's training loss
    /// weighs each batch by its number of real positions (by its number of samples without a
    /// mask), as [`Sequential::evaluate_in_batches`] does, so the two curves of one run
    /// are comparable.
    ///
    /// # Checked before the first step
    /// Everything that does not need training to find out: the configuration (epochs, batch
    /// size, validation split, shuffling of a stateful model, and for a stateful model one
    /// batch size throughout); `x`, `y` and the validation data (sample counts, finite
    /// values, shapes through every layer, each named: `fit input x`, `fit targets y`,
    /// `validation x`, `validation y`); the optimiser ([`Optimizer::validate`]: its
    /// settings, and state made for other parameters); the callbacks
    /// ([`Callback::validate`], e.g. an [`crate::EarlyStopping`] `min_delta` or `monitor`); the
    /// loss and the metrics against every target ([`Loss::check_target`], and each metric
    /// on the targets' shape and labels), and against the model's predictions for the first
    /// batch of each set; the sample or class weights (shape, values ≥ 0 and finite, class
    /// indices the predictions have, not both at once). Such an error leaves the weights, the
    /// optimiser's state and a stateful model's carried states as they were.
    ///
    /// # Guard against divergence
    /// If a batch's loss is NaN or infinite, or an update would make a weight non-finite,
    /// training stops with [`Error::Diverged`] naming the epoch and batch, and the model
    /// keeps the last finite weights (those from before that batch), with the optimiser's
    /// state from the same point; what the batches before it learned is kept, and an error in
    /// the first batch leaves everything as it was. The other errors that can come after
    /// training began are a callback's (a checkpoint or log that cannot be written, a
    /// schedule's rate the optimiser refuses, such as a cosine reaching 0): the model then
    /// keeps the weights of the last batch that ran, and no [`History`] is returned. Any error
    /// before the first optimiser step gives the optimiser back the learning rate it came with.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for zero epochs or batch size, a validation split outside
    /// (0, 1) or leaving no sample on either side, shuffling a stateful model, batches of
    /// different sizes for a stateful model, a callback's setting, or a resume state that does
    /// not fit the run ([`FitConfig::with_resume`]);
    /// [`Error::ShapeMismatch`] if `x` and `y` (or the validation data) disagree on the
    /// number of samples or do not fit the model, the loss or a metric; [`Error::NonFinite`]
    /// and [`Error::OutOfRange`] for bad values in the data; [`Error::Diverged`]; any error
    /// of the loss, metrics, optimiser or callbacks.
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
        config: FitConfig<F>,
    ) -> Result<History<F>>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b,
    {
        fit(self, x.into().into_dyn(), y.into().into_dyn(), loss, optimizer, config)
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
        evaluate_in_batches(self, x.into().into_dyn(), y.into().into_dyn(), loss, metrics, batch_size)
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
        predict_in_batches(self, x.into().into_dyn(), batch_size)
    }
}

/// `fit` for any model (one copy of the code per scalar type, not per model type).
fn fit<F: Float>(
    model: &mut dyn Model<F>,
    x: ArrayViewD<'_, F>,
    y: ArrayViewD<'_, F>,
    loss: &dyn Loss<F>,
    optimizer: &mut dyn Optimizer<F>,
    mut config: FitConfig<F>,
) -> Result<History<F>> {
    let mut callbacks = std::mem::take(&mut config.callbacks);
    let resume = config.resume.take();
    if let Some(state) = &resume {
        config.seed = state.seed;
    }
    let n_all = x.shape().first().copied().unwrap_or(0);
    let (train, val) = check_fit(model, x, y, loss, &*optimizer, &config, &callbacks)?;
    let (xt, yt) = (train.x, train.y);
    let n_train = xt.shape()[0];
    let pred_shape = model.check_targets(xt.view(), yt.view())?;
    let weights = fit_weights(config.sample_weight.as_ref(), config.class_weight.as_ref(), n_all, &yt, &pred_shape)?
        .map(|w| w.slice_axis_move(Axis(0), (0..n_train).into()));
    let mut order: Vec<usize> = try_with_capacity(n_train, "fit sample order")?;
    order.extend(0..n_train);
    let batches = n_train.div_ceil(config.batch_size);
    let rows = config.batch_size.min(n_train);
    let mut buffers = if config.shuffle {
        Some((BatchBuffer::new("fit batch of x", &xt, rows)?, BatchBuffer::new("fit batch of y", &yt, rows)?))
    } else {
        None
    };
    let initial_epoch = match &resume {
        Some(state) => check_resume(state, &config, n_train, &callbacks)?,
        None => 0,
    };
    let run = RunInfo {
        epochs: config.epochs,
        initial_epoch,
        batches,
        batch_size: config.batch_size,
        samples: n_train,
        seed: config.seed,
    };
    let names = model.param_paths();
    for cb in callbacks.iter_mut() {
        cb.on_train_begin(model)?;
    }
    let mut history = History { epochs: Vec::new(), stopped_epoch: None, stopped_by: None, restored_epoch: None };
    if let Some(state) = resume {
        history = state.history;
        for (cb, saved) in callbacks.iter_mut().zip(state.callbacks) {
            if let Some(s) = saved.state {
                cb.load_state(s)?;
            }
        }
    }
    let progress = Progress::new(config.progress, config.epochs - initial_epoch, batches);
    let mut guard = Vec::new();
    let mut stop = false;
    // Calls one hook on every callback, each given a context that sees the others.
    macro_rules! each {
        ($epoch:expr, |$cb:ident, $ctx:ident| $call:expr) => {
            for i in 0..callbacks.len() {
                let was = stop;
                let (before, rest) = callbacks.split_at_mut(i);
                let Some(($cb, after)) = rest.split_first_mut() else { continue };
                let mut $ctx = TrainingContext {
                    model: &mut *model,
                    optimizer: &mut *optimizer,
                    run: &run,
                    epoch: $epoch,
                    history: &history,
                    stop: &mut stop,
                    others: (&*before, &*after),
                };
                $call?;
                if stop && !was && history.stopped_by.is_none() {
                    history.stopped_by = Some($cb.name());
                }
            }
        };
    }
    // A callback may set the learning rate before the first step (a schedule's step 0): an
    // error before any step then gives the optimiser its rate back, so nothing changed.
    let lr0 = optimizer.learning_rate();
    let mut stepped = false;
    let result = (|| -> Result<()> {
        for epoch in initial_epoch + 1..=config.epochs {
            // Epoch k's order and dropout masks come from (seed, k) alone, so a run resumed
            // at epoch k draws what an uninterrupted one does.
            if config.shuffle {
                for (k, slot) in order.iter_mut().enumerate() {
                    *slot = k;
                }
                order.shuffle(&mut StdRng::seed_from_u64(mix(config.seed ^ SHUFFLE_STREAM, epoch as u64)));
            }
            model.reseed(mix(config.seed, epoch as u64));
            each!(epoch, |cb, ctx| cb.on_epoch_begin(epoch, &mut ctx));
            let (mut total, mut weight) = (0.0f64, 0.0f64);
            let mut seen = Gathered::default();
            for (bi, idx) in order.chunks(config.batch_size).enumerate() {
                each!(epoch, |cb, ctx| cb.on_batch_begin(bi + 1, &mut ctx));
                let diverged = |what: String| Error::Diverged { epoch, batch: bi + 1, what };
                let (xb, yb) = match &mut buffers {
                    Some((bx, by)) => (bx.gather(&xt, idx), by.gather(&yt, idx)),
                    None => {
                        // Without shuffling a batch is a run of consecutive samples.
                        let r = idx[0]..idx[0] + idx.len();
                        (xt.slice_axis(Axis(0), r.clone().into()), yt.slice_axis(Axis(0), r.into()))
                    }
                };
                snapshot_into(&*model, &mut guard)?;
                let wb = weights.as_ref().map(|w| w.select(Axis(0), idx));
                let ModelOutput { pred, mask } = model.forward_with_targets(xb, yb.view(), Mode::Train)?;
                // Finite predictions and targets (both checked) whose loss overflows: the
                // model has diverged.
                let wv = wb.as_ref().map(|w| w.view());
                let out = match weighted_loss(model.name(), loss, mask.as_ref(), &pred.view(), &yb, wv.as_ref()) {
                    Err(e @ Error::NonFinite { .. }) => return Err(diverged(e.to_string())),
                    other => other?,
                };
                if !out.value.is_finite() {
                    return Err(diverged(format!("the loss is {}", out.value)));
                }
                if !config.metrics.is_empty() {
                    seen.push(model.name(), mask.as_ref(), &pred.view(), &yb)?;
                }
                // Positions the loss averaged over: real ones under a mask, else samples.
                let w = positions(mask.as_ref(), idx.len());
                model.zero_grad();
                if let Err(e) = model.backward(out.grad.view()) {
                    return Err(match e {
                        Error::NonFinite { .. } => diverged(e.to_string()),
                        other => other,
                    });
                }
                if let Err(e) = optimizer.step(&mut Named { model: &mut *model, names: &names }) {
                    // The optimisers of this crate change nothing on error; one from
                    // outside might have.
                    restore(&mut *model, &guard);
                    return Err(match e {
                        Error::NonFinite { .. } => diverged(e.to_string()),
                        other => other,
                    });
                }
                stepped = true;
                if !all_finite(&*model) {
                    restore(&mut *model, &guard);
                    return Err(diverged("the update made a weight non-finite".into()));
                }
                total += out.value.to_f64_exact() * w;
                weight += w;
                progress.batch(epoch, config.epochs, total / weight);
                let batch_logs = BatchLogs { epoch, batch: bi + 1, size: idx.len(), loss: out.value };
                each!(epoch, |cb, ctx| cb.on_batch_end(&batch_logs, &mut ctx));
                if stop {
                    break;
                }
            }
            let mut logs = EpochLogs {
                epoch,
                loss: F::of(total / weight),
                val_loss: None,
                metrics: seen.metrics(&config.metrics)?,
                val_metrics: Vec::new(),
            };
            if let Some(v) = &val {
                let (vl, vm) =
                    evaluate_in_batches(&mut *model, v.x.view(), v.y.view(), loss, &config.metrics, config.batch_size)?;
                logs.val_loss = Some(vl);
                logs.val_metrics = vm;
            }
            progress.epoch(&logs.to_string());
            each!(epoch, |cb, ctx| cb.on_epoch_end_with(&logs, &mut ctx));
            history.epochs.push(logs.clone());
            if stop {
                history.stopped_epoch = Some(epoch);
            }
            each!(epoch, |cb, ctx| cb.on_epoch_closed(&logs, &mut ctx));
            if stop {
                break;
            }
        }
        Ok(())
    })();
    if result.is_err() && !stepped {
        // The rate was accepted before, so setting it back cannot fail.
        let _ = optimizer.set_learning_rate(lr0);
    }
    result.inspect_err(|_| progress.finish())?;
    for cb in callbacks.iter_mut() {
        cb.on_train_end(model)?;
        if let Some(r) = cb.restored_epoch() {
            history.restored_epoch = Some(r);
        }
    }
    if history.stopped_epoch.is_some() || history.restored_epoch.is_some() {
        progress.epoch(&history.outcome());
    }
    progress.finish();
    Ok(history)
}

/// Mixed into the seed for the shuffling stream, so it differs from the dropout stream of
/// the same epoch.
const SHUFFLE_STREAM: u64 = 0x7368_7566_666c_6521;

/// Checks a resume state against the run (see [`FitConfig::with_resume`]); returns the epochs
/// it completed.
fn check_resume<F: Float>(
    state: &ResumeState<F>,
    config: &FitConfig<F>,
    n_train: usize,
    callbacks: &[Box<dyn Callback<F>>],
) -> Result<usize> {
    if state.epoch >= config.epochs {
        return Err(Error::config(
            "fit resume epoch",
            format!("below the run's epochs, {}", config.epochs),
            state.epoch,
        ));
    }
    if state.history.epochs.len() != state.epoch {
        return Err(Error::config(
            "fit resume history",
            format!("{} epochs (the state's epoch)", state.epoch),
            state.history.epochs.len(),
        ));
    }
    if let Some(e) = state.history.stopped_epoch {
        return Err(Error::config("fit resume", "a run that did not stop early", format!("stopped after epoch {e}")));
    }
    if state.batch_size != config.batch_size {
        return Err(Error::config(
            "fit resume batch size",
            format!("the checkpoint's, {}", state.batch_size),
            config.batch_size,
        ));
    }
    if state.samples != n_train {
        return Err(Error::config(
            "fit resume training samples",
            format!("the checkpoint's, {}", state.samples),
            n_train,
        ));
    }
    let mine: Vec<String> = callbacks.iter().map(|c| c.name()).collect();
    let saved: Vec<&str> = state.callbacks.iter().map(|c| c.name.as_str()).collect();
    if mine != saved {
        return Err(Error::config("fit resume callbacks", format!("the checkpoint's, {saved:?}"), format!("{mine:?}")));
    }
    Ok(state.epoch)
}

/// Every check `fit` can run before training (see [`Sequential::fit`]); returns the training
/// and validation sets.
#[allow(clippy::type_complexity)]
fn check_fit<'v, F: Float>(
    model: &mut dyn Model<F>,
    x: ArrayViewD<'v, F>,
    y: ArrayViewD<'v, F>,
    loss: &dyn Loss<F>,
    optimizer: &dyn Optimizer<F>,
    config: &'v FitConfig<F>,
    callbacks: &[Box<dyn Callback<F>>],
) -> Result<(Data<'v, F>, Option<Data<'v, F>>)> {
    let batch = config.batch_size;
    if config.epochs == 0 {
        return Err(Error::config("fit epochs", "at least 1", 0));
    }
    if batch == 0 {
        return Err(Error::config("fit batch size", "at least 1", 0));
    }
    if config.shuffle && model.is_stateful() {
        return Err(Error::config(
            "fit shuffle for a stateful model",
            "off (each batch continues the sequences of the one before)",
            "on",
        ));
    }
    let n = same_samples(&format!("{} fit targets y", model.name()), "x's", &x, &y)?;
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
            let xv = x.clone().slice_axis_move(Axis(0), (n_train..n).into());
            let yv = y.clone().slice_axis_move(Axis(0), (n_train..n).into());
            (n_train, Some(Data { x: xv, y: yv, x_name: "validation x", y_name: "validation y" }))
        }
        Validation::Data(data) => {
            let (xv, yv) = (data.0.view(), data.1.view());
            let nv = same_samples("validation y", "validation x's", &xv, &yv)?;
            if nv == 0 {
                return Err(Error::Empty {
                    what: "validation x".into(),
                    axis: "samples".into(),
                    shape: fmt_shape(xv.shape()),
                });
            }
            check_finite("validation x", &xv)?;
            check_finite("validation y", &yv)?;
            (n, Some(Data { x: xv, y: yv, x_name: "validation x", y_name: "validation y" }))
        }
    };
    if n_train == 0 {
        return Err(Error::Empty { what: "fit input x".into(), axis: "samples".into(), shape: fmt_shape(x.shape()) });
    }
    let train = Data {
        x: x.slice_axis_move(Axis(0), (0..n_train).into()),
        y: y.slice_axis_move(Axis(0), (0..n_train).into()),
        x_name: "fit input x",
        y_name: "fit targets y",
    };
    let sets: Vec<&Data<'v, F>> = std::iter::once(&train).chain(val.as_ref()).collect();
    let mut out_shapes = Vec::new();
    for d in &sets {
        model.check_input(d.x.view()).map_err(|e| at(d.x_name, e))?;
        out_shapes.push(model.check_targets(d.x.view(), d.y.view()).map_err(|e| at(d.y_name, e))?);
    }

    if model.is_stateful() {
        // Each batch continues the carried state, which has one batch size.
        let mut sizes: Vec<(&str, usize)> =
            sets.iter().flat_map(|d| batch_sizes(d.x.shape()[0], batch).into_iter().map(|b| (d.x_name, b))).collect();
        if let Some(b) = model.carried_batch() {
            sizes.insert(0, ("the carried state", b));
        }
        if let Some((what, b)) = sizes.iter().find(|(_, b)| *b != sizes[0].1) {
            return Err(Error::config(
                "fit batches of a stateful model",
                format!(
                    "one batch size throughout, {} as {} has (samples a multiple of the batch size {batch}, \
                     or reset_states() first)",
                    sizes[0].1, sizes[0].0
                ),
                format!("{what} in batches of {b}"),
            ));
        }
    }

    let names = model.param_paths();
    optimizer.validate(&Named { model: &mut *model, names: &names })?;
    let mut logged = vec!["loss".to_string()];
    logged.extend(config.metrics.iter().map(|m| m.name().to_string()));
    if val.is_some() {
        logged.push("val_loss".to_string());
        logged.extend(config.metrics.iter().map(|m| format!("val_{}", m.name())));
    }
    for cb in callbacks {
        cb.validate(&logged)?;
    }

    for (d, out_shape) in sets.iter().zip(&out_shapes) {
        // The first batch through the model as training will run it (states set aside),
        // for what needs predictions: masks, and losses defined outside the crate.
        let k = d.x.shape()[0].min(batch.max(2));
        let xb = d.x.slice_axis(Axis(0), (0..k).into());
        let yb = d.y.slice_axis(Axis(0), (0..k).into());
        let ModelOutput { pred, mask } = model.forward_stateless(xb, yb.view()).map_err(|e| at(d.x_name, e))?;
        masked_loss(model.name(), loss, mask.as_ref(), &pred.view(), &yb).map_err(|e| at(d.y_name, e))?;
        if mask.is_some() {
            // Padded positions may hold anything finite: check the real ones.
            let (p, t) =
                masked_positions(model.name(), mask.as_ref(), &pred.view(), &yb).map_err(|e| at(d.y_name, e))?;
            for m in &config.metrics {
                m.compute(p.view(), t.view()).map_err(|e| at(d.y_name, e))?;
            }
            continue;
        }
        // Every target, against the shape of the predictions to come.
        let mut full = vec![d.y.shape()[0]];
        full.extend_from_slice(out_shape);
        loss.check_target(&full, &d.y).map_err(|e| at(d.y_name, e))?;
        if !config.metrics.is_empty() {
            let one = [F::of(0.5)];
            let placeholder = ndarray::ArrayView1::from(&one[..]).into_dyn();
            let placeholder = placeholder
                .broadcast(IxDyn(&full))
                .ok_or_else(|| Error::shape(format!("{} predictions", d.y_name), fmt_shape(&full), "(1,)"))?;
            for m in &config.metrics {
                m.compute(placeholder.view(), d.y.view()).map_err(|e| at(d.y_name, e))?;
            }
        }
    }
    Ok((train, val))
}

/// `evaluate_in_batches` for any model.
fn evaluate_in_batches<F: Float>(
    model: &mut dyn Model<F>,
    x: ArrayViewD<'_, F>,
    y: ArrayViewD<'_, F>,
    loss: &dyn Loss<F>,
    metrics: &[Metric],
    batch_size: usize,
) -> Result<(F, Vec<(String, F)>)> {
    if batch_size == 0 {
        return Err(Error::config("batch size", "at least 1", 0));
    }
    let n = same_samples(&format!("{} targets y", model.name()), "x's", &x, &y)?;
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
        let ModelOutput { pred, mask } = model.forward_with_targets(xb, yb.view(), Mode::Infer)?;
        let out = masked_loss(model.name(), loss, mask.as_ref(), &pred.view(), &yb)?;
        let w = positions(mask.as_ref(), end - start);
        total += out.value.to_f64_exact() * w;
        weight += w;
        if !metrics.is_empty() {
            seen.push(model.name(), mask.as_ref(), &pred.view(), &yb)?;
        }
        start = end;
    }
    Ok((F::of(total / weight), seen.metrics(metrics)?))
}

/// `predict_in_batches` for any model.
fn predict_in_batches<F: Float>(
    model: &mut dyn Model<F>,
    x: ArrayViewD<'_, F>,
    batch_size: usize,
) -> Result<ArrayD<F>> {
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
        parts.push(model.predict(x.slice_axis(Axis(0), (start..end).into()))?);
        start = end;
    }
    concat("batched predictions", &parts)
}
