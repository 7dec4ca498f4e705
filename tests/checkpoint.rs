//! Callbacks that act, checkpoints and resuming: a run interrupted after epoch k, saved by
//! `ModelCheckpoint` and resumed in a fresh model and optimiser from the file ends bit for bit
//! where the uninterrupted run ends (weights, optimiser state, History, the last checkpoint
//! file); schedules in `fit` give the rates the hand-written loop gives; batch hooks see and
//! change the learning rate and can stop; `History` says who stopped and which epoch's
//! weights were restored; the history logger's files hold the History exactly.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ndarray::{Array2, Array3};
use recurrent::io::{json, model_file};
use recurrent::model::{
    BatchLogs, Callback, Checkpoint, Direction, EpochLogs, HistoryLogger, LearningRateScheduler, ModelCheckpoint,
    TrainingContext,
};
use recurrent::optim::{CosineAnnealingLR, OneCycleLR, PlateauMode, ReduceLROnPlateau, Schedule, ScheduleExt, StepLR};
use recurrent::prelude::*;

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("checkpoint_tests").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp folder");
    d
}

fn series() -> (Array3<f64>, Array2<f64>) {
    let s: Vec<f64> = (0..66).map(|k| (0.25 * k as f64).sin() + 0.2 * (1.3 * k as f64).cos()).collect();
    recurrent::data::windows(&s, 6).unwrap()
}

/// Dropout between layers and on the recurrent state: a resumed run must draw the same masks.
fn dropout_model() -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut m = Sequential::new(&[6, 1]).unwrap();
    m.add(GruConfig::new(1, 8).with_recurrent_dropout(0.2).init(&mut rng).unwrap()).unwrap();
    m.add(Dropout::new(0.3).unwrap()).unwrap();
    m.add(DenseConfig::new(8, 1).init(&mut rng).unwrap()).unwrap();
    m
}

const EPOCHS: usize = 7;
const BATCH: usize = 8;

/// The run's configuration: validation, a metric, a warm-up + cosine schedule per epoch, early
/// stopping (patient enough not to stop, so it carries state across the resume), a checkpoint
/// every epoch.
fn config(epochs: usize, path: &std::path::Path) -> FitConfig<f64> {
    config_with(
        epochs,
        path,
        LearningRateScheduler::new(
            CosineAnnealingLR::new(EPOCHS as u64 - 2, 1e-4).unwrap().with_warmup(2, 0.2).unwrap(),
        ),
    )
}

fn config_with(epochs: usize, path: &std::path::Path, schedule: LearningRateScheduler) -> FitConfig<f64> {
    FitConfig::new(epochs, BATCH)
        .with_seed(5)
        .with_validation_split(0.2)
        .with_metrics(vec![Metric::Mae])
        .with_callback(schedule)
        .with_callback(EarlyStopping::new(50).restore_best_weights(true))
        .with_callback(ModelCheckpoint::<Adam<f64>>::new(path))
        .quiet()
}

/// The same with schedules stepped per batch (one-cycle) and on a plateau (validation MAE
/// taken as higher-is-better with patience 0, so it reduces after every epoch but the
/// first): each resumes at the same step.
#[test]
fn resuming_continues_batch_and_plateau_schedules() {
    let (x, y) = series();
    let d = dir("resume_schedules");
    let schedules: [fn() -> LearningRateScheduler; 2] = [
        || LearningRateScheduler::new(OneCycleLR::new(0.05, (EPOCHS * 6) as u64).unwrap()),
        || {
            LearningRateScheduler::new(ReduceLROnPlateau::new().mode(PlateauMode::Max).factor(0.7).unwrap().patience(0))
                .monitor("val_mae")
        },
    ];
    for make in schedules {
        let (a, b) = (d.join("a.json"), d.join("b.json"));
        let mut straight = dropout_model();
        let mut adam = Adam::new(0.02);
        let h = straight.fit(&x, &y, &Mse, &mut adam, config_with(EPOCHS, &a, make())).unwrap();
        dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.02), config_with(4, &b, make())).unwrap();
        let Checkpoint { mut model, mut optimizer, resume } = Checkpoint::<f64, Adam<f64>>::load(&b).unwrap();
        let h2 = model.fit(&x, &y, &Mse, &mut optimizer, config_with(EPOCHS, &b, make()).with_resume(resume)).unwrap();
        assert_eq!(h2, h);
        assert_eq!(optimizer, adam, "the same final rate and moments");
        assert_eq!(model_file::to_vec(&*model).unwrap(), json::to_vec(&straight).unwrap());
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(adam.learning_rate < 0.01, "the schedule lowered the rate: {}", adam.learning_rate);
    }
}

#[test]
fn a_resumed_run_ends_bit_for_bit_where_an_uninterrupted_one_does() {
    let (x, y) = series();
    let d = dir("resume");
    let (straight_path, split_path) = (d.join("straight.json"), d.join("split.json"));

    // N epochs straight; its checkpoint after epoch N is kept.
    let mut straight = dropout_model();
    let mut adam = Adam::new(0.02);
    let h_straight = straight.fit(&x, &y, &Mse, &mut adam, config(EPOCHS, &straight_path)).unwrap();
    assert_eq!(h_straight.epochs.len(), EPOCHS);
    let straight_file = std::fs::read(&straight_path).unwrap();

    // k epochs, then the process "ends": only the checkpoint file survives.
    for k in [1, 3, 6] {
        let mut first = dropout_model();
        let h_first = first.fit(&x, &y, &Mse, &mut Adam::new(0.02), config(k, &split_path)).unwrap();
        assert_eq!(h_first.epochs[..], h_straight.epochs[..k], "the first k epochs are the straight run's");

        let ckpt = Checkpoint::<f64, Adam<f64>>::load(&split_path).unwrap();
        assert_eq!(ckpt.resume.epoch, k);
        assert_eq!(ckpt.optimizer.step_count() as usize, k * 6, "6 batches per epoch");
        let Checkpoint { mut model, mut optimizer, resume } = ckpt;
        let h = model.fit(&x, &y, &Mse, &mut optimizer, config(EPOCHS, &split_path).with_resume(resume)).unwrap();

        assert_eq!(h, h_straight, "k = {k}: the History, every value and field");
        assert_eq!(
            model_file::to_vec(&*model).unwrap(),
            json::to_vec(&straight).unwrap(),
            "k = {k}: the weights (EarlyStopping's restore included), bit for bit"
        );
        assert_eq!(optimizer, adam, "k = {k}: Adam's moments, step count and learning rate");
        assert_eq!(std::fs::read(&split_path).unwrap(), straight_file, "k = {k}: the last checkpoint, byte for byte");
    }
}

/// The test above can fail: resuming from the checkpoint's weights with a fresh optimiser (its
/// moments lost) or without the resume state (the schedule, early stopping and the epoch
/// count restarted) does not end where the straight run does.
#[test]
fn resuming_without_the_saved_state_ends_elsewhere() {
    let (x, y) = series();
    let d = dir("resume_control");
    let path = d.join("ckpt.json");
    let mut straight = dropout_model();
    straight.fit(&x, &y, &Mse, &mut Adam::new(0.02), config(EPOCHS, &d.join("straight.json"))).unwrap();
    let want = json::to_vec(&straight).unwrap();

    dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.02), config(3, &path)).unwrap();
    let ckpt = Checkpoint::<f64, Adam<f64>>::load(&path).unwrap();
    let mut model = ckpt.model;
    model.fit(&x, &y, &Mse, &mut Adam::new(0.02), config(EPOCHS, &path).with_resume(ckpt.resume)).unwrap();
    assert_ne!(model_file::to_vec(&*model).unwrap(), want, "a fresh Adam");

    let ckpt = Checkpoint::<f64, Adam<f64>>::load(&path).unwrap();
    let (mut model, mut opt) = (ckpt.model, ckpt.optimizer);
    model.fit(&x, &y, &Mse, &mut opt, config(EPOCHS - 3, &path)).unwrap();
    assert_ne!(model_file::to_vec(&*model).unwrap(), want, "no resume state");
}

#[test]
fn a_resume_that_does_not_fit_the_run_is_refused_before_training() {
    let (x, y) = series();
    let d = dir("resume_refused");
    let path = d.join("ckpt.json");
    dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.02), config(3, &path)).unwrap();
    let load = || Checkpoint::<f64, Adam<f64>>::load(&path).unwrap();
    let cases: Vec<(FitConfig<f64>, &str)> = vec![
        (config(3, &path), "resume epoch"),
        (
            FitConfig::new(EPOCHS, BATCH + 1).with_validation_split(0.2).with_metrics(vec![Metric::Mae]).quiet(),
            "batch size",
        ),
        (FitConfig::new(EPOCHS, BATCH).with_validation_split(0.2).with_metrics(vec![Metric::Mae]).quiet(), "callbacks"),
        (
            FitConfig::new(EPOCHS, BATCH)
                .with_validation_split(0.3)
                .with_metrics(vec![Metric::Mae])
                .with_callback(LearningRateScheduler::new(CosineAnnealingLR::new(5, 1e-4).unwrap()))
                .with_callback(EarlyStopping::new(50).restore_best_weights(true))
                .with_callback(ModelCheckpoint::<Adam<f64>>::new(&path))
                .quiet(),
            "training samples",
        ),
    ];
    for (cfg, what) in cases {
        let ckpt = load();
        let (mut model, mut opt) = (ckpt.model, ckpt.optimizer);
        let before = model_file::to_vec(&*model).unwrap();
        let e = model.fit(&x, &y, &Mse, &mut opt, cfg.with_resume(ckpt.resume)).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig { .. }) && e.to_string().contains(what), "{what}: {e}");
        assert_eq!(model_file::to_vec(&*model).unwrap(), before, "{what}: nothing trained");
    }
    // A checkpoint made for Adam, given SGD: refused before the first batch.
    let mut m = dropout_model();
    let before = json::to_vec(&m).unwrap();
    let e = m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), config(2, &d.join("other.json"))).unwrap_err();
    assert!(e.to_string().contains("ModelCheckpoint optimizer") && e.to_string().contains("Adam"), "{e}");
    assert_eq!(json::to_vec(&m).unwrap(), before);
    assert!(!d.join("other.json").exists());
}

/// Records the learning rate each epoch and each batch trains at.
struct Rates {
    epochs: Arc<Mutex<Vec<f64>>>,
    batches: Arc<Mutex<Vec<f64>>>,
}

impl Callback<f64> for Rates {
    fn on_epoch_begin(&mut self, _: usize, ctx: &mut TrainingContext<'_, f64>) -> Result<()> {
        self.epochs.lock().unwrap().push(ctx.learning_rate());
        Ok(())
    }
    fn on_batch_begin(&mut self, _: usize, ctx: &mut TrainingContext<'_, f64>) -> Result<()> {
        self.batches.lock().unwrap().push(ctx.learning_rate());
        Ok(())
    }
}

fn rates_of(schedule: impl Schedule + 'static, epochs: usize, monitor: Option<&str>) -> (Vec<f64>, Vec<f64>) {
    let (x, y) = series();
    let (e, b) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
    let mut sched = LearningRateScheduler::new(schedule);
    if let Some(m) = monitor {
        sched = sched.monitor(m);
    }
    let cfg = FitConfig::new(epochs, 10)
        .with_validation_split(0.2)
        .with_callback(sched)
        .with_callback(Rates { epochs: e.clone(), batches: b.clone() })
        .quiet();
    dropout_model().fit(&x, &y, &Mse, &mut Sgd::new(0.1), cfg).unwrap();
    let out = (e.lock().unwrap().clone(), b.lock().unwrap().clone());
    out
}

/// The rates PyTorch's loop trains at: start, then one step after each epoch (or batch).
/// Every weight's bits, in visiting order.
fn weight_bits(m: &Sequential<f64>) -> Vec<u64> {
    let mut out = Vec::new();
    m.visit_params(&mut |p| out.extend(p.value.iter().map(|v| v.to_bits())));
    out
}

fn hand_loop(mut s: impl Schedule, steps: usize) -> Vec<f64> {
    let mut opt = Sgd::<f64>::new(0.1);
    s.start(&mut opt).unwrap();
    let mut out = vec![opt.learning_rate()];
    for _ in 1..steps {
        s.step(&mut opt).unwrap();
        out.push(opt.learning_rate());
    }
    out
}

#[test]
fn schedules_in_fit_train_at_the_rates_of_the_hand_written_loop() {
    // 60 windows, 48 for training in batches of 10: 5 batches per epoch.
    let (epochs, batches) = rates_of(StepLR::new(2, 0.5).unwrap(), 5, None);
    assert_eq!(epochs, [0.1, 0.1, 0.05, 0.05, 0.025]);
    assert_eq!(batches.len(), 25);
    assert!(batches.chunks(5).zip(&epochs).all(|(b, e)| b.iter().all(|r| r == e)), "constant within an epoch");

    // Cosine to 0 over exactly the run: the last epoch trains above 0 (0 is never set).
    let (epochs, _) = rates_of(CosineAnnealingLR::new(6, 0.0).unwrap(), 6, None);
    assert_eq!(epochs, hand_loop(CosineAnnealingLR::new(6, 0.0).unwrap(), 6));
    assert!(epochs[5] > 0.0);

    // One-cycle per batch over 4 epochs × 5 batches.
    let (_, batches) = rates_of(OneCycleLR::new(0.4, 20).unwrap(), 4, None);
    assert_eq!(batches, hand_loop(OneCycleLR::new(0.4, 20).unwrap(), 20));
    // A cycle too short for the run is refused before the first batch.
    let (x, y) = series();
    let mut m = dropout_model();
    let cfg =
        FitConfig::new(4, 10).with_callback(LearningRateScheduler::new(OneCycleLR::new(0.4, 18).unwrap())).quiet();
    let mut opt = Sgd::new(0.1);
    let e = m.fit(&x, &y, &Mse, &mut opt, cfg).unwrap_err();
    assert!(e.to_string().contains("at least 23") && e.to_string().contains("18"), "{e}");
    assert_eq!(opt.learning_rate(), 0.1, "the refusal leaves the optimiser's rate as it was");

    // A later callback failing at the first epoch's start, after the schedule set its step-0
    // rate (0.4 / 25 for one-cycle): no step ran, so the optimiser gets its rate back.
    struct FailAtStart;
    impl Callback<f64> for FailAtStart {
        fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut TrainingContext<'_, f64>) -> recurrent::Result<()> {
            Err(Error::InvalidConfig { what: "test callback".into(), expected: "nothing".into(), got: "1".into() })
        }
    }
    let cfg = FitConfig::new(4, 10)
        .with_callback(LearningRateScheduler::new(OneCycleLR::new(0.4, 30).unwrap()))
        .with_callback(FailAtStart)
        .quiet();
    let before = weight_bits(&m);
    let e = m.fit(&x, &y, &Mse, &mut opt, cfg).unwrap_err();
    assert!(e.to_string().contains("test callback"), "{e}");
    assert_eq!(opt.learning_rate(), 0.1, "no step ran: the rate the schedule set is undone");
    assert_eq!(before, weight_bits(&m), "no step ran: the weights are as they were");

    // On a plateau: "loss" taken as higher-is-better never improves after epoch 1, so with
    // patience 1 the rate halves after epochs 3 and 5 (the step after epoch 2 counts one bad
    // epoch, after 3 two > patience).
    let plateau = || ReduceLROnPlateau::new().mode(PlateauMode::Max).factor(0.5).unwrap().patience(1);
    let (epochs, _) = rates_of(plateau(), 6, Some("loss"));
    assert_eq!(epochs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]);
    let bad = LearningRateScheduler::new(plateau()).monitor("accuracy");
    let e = Callback::<f64>::validate(&bad, &["loss".into(), "val_loss".into()]).unwrap_err();
    assert!(e.to_string().contains("accuracy"), "{e}");
}

/// Changes the rate and stops from batch hooks, and records what it saw.
/// (epoch, batch, loss, learning rate) per batch.
type Seen = Arc<Mutex<Vec<(usize, usize, f64, f64)>>>;

struct BatchActor {
    seen: Seen,
}

impl Callback<f64> for BatchActor {
    fn on_batch_begin(&mut self, batch: usize, ctx: &mut TrainingContext<'_, f64>) -> Result<()> {
        if batch == 2 {
            ctx.set_learning_rate(0.025)?;
        }
        assert!(ctx.set_learning_rate(-1.0).is_err(), "refused, and the rate kept");
        Ok(())
    }
    fn on_batch_end(&mut self, logs: &BatchLogs<f64>, ctx: &mut TrainingContext<'_, f64>) -> Result<()> {
        self.seen.lock().unwrap().push((logs.epoch, logs.batch, logs.loss, ctx.learning_rate()));
        if logs.epoch == 2 && logs.batch == 3 {
            ctx.stop();
        }
        Ok(())
    }
}

#[test]
fn batch_hooks_change_the_rate_and_stop_after_the_batch() {
    let (x, y) = series();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cfg = FitConfig::new(5, 10).with_callback(BatchActor { seen: seen.clone() }).quiet();
    let mut opt = Sgd::new(0.1);
    let h = dropout_model().fit(&x, &y, &Mse, &mut opt, cfg).unwrap();
    let seen = seen.lock().unwrap().clone();
    // 60 windows in batches of 10: 6 in epoch 1, then 3 in epoch 2 before the stop.
    let at: Vec<(usize, usize, f64)> = seen.iter().map(|&(e, b, _, lr)| (e, b, lr)).collect();
    assert_eq!(
        at,
        [
            (1, 1, 0.1),
            (1, 2, 0.025),
            (1, 3, 0.025),
            (1, 4, 0.025),
            (1, 5, 0.025),
            (1, 6, 0.025),
            (2, 1, 0.025),
            (2, 2, 0.025),
            (2, 3, 0.025)
        ]
    );
    assert_eq!(h.epochs.len(), 2);
    assert_eq!((h.stopped_epoch, h.stopped_by.as_deref()), (Some(2), Some("BatchActor")));
    // Epoch 2's loss is the mean over the 3 batches that ran (equal sizes).
    let mean = seen[6..].iter().map(|s| s.2).sum::<f64>() / 3.0;
    assert!((h.epochs[1].loss - mean).abs() < 1e-15, "{} vs {mean}", h.epochs[1].loss);
    let epoch1 = seen[..6].iter().map(|s| s.2).sum::<f64>() / 6.0;
    assert!((h.epochs[0].loss - epoch1).abs() < 1e-15);
}

/// Early stopping on "loss" taken as higher-is-better: epoch 1 stays the best (the loss falls),
/// so with patience 2 training stops after epoch 3 and epoch 1's weights come back.
#[test]
fn history_says_who_stopped_and_which_weights_were_restored() {
    let (x, y) = series();
    let d = dir("best_only");
    let es = || EarlyStopping::new(2).monitor("loss").direction(Direction::Max).restore_best_weights(true);
    let cfg = FitConfig::new(10, 8)
        .with_seed(3)
        .with_callback(es())
        .with_callback(
            ModelCheckpoint::<Adam<f64>>::new(d.join("best.json"))
                .best_only(true)
                .monitor("loss")
                .direction(Direction::Max),
        )
        .quiet();
    let mut m = dropout_model();
    let h = m.fit(&x, &y, &Mse, &mut Adam::new(0.01), cfg).unwrap();
    let loss = h.loss();
    assert!(loss[1] < loss[0] && loss[2] < loss[0], "the loss falls: {loss:?}");
    assert_eq!(h.epochs.len(), 3);
    assert_eq!((h.stopped_epoch, h.stopped_by.as_deref(), h.restored_epoch), (Some(3), Some("EarlyStopping"), Some(1)));
    assert_eq!(h.outcome(), "stopped by EarlyStopping after epoch 3; weights of epoch 1 restored");
    let text = h.to_string();
    assert!(
        text.starts_with(
            "history: stopped by EarlyStopping after epoch 3; weights of epoch 1 restored\n  last: epoch 3: loss"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("best loss {:.6} at epoch 3", loss[2])), "{text}");

    // The weights are epoch 1's: those of a one-epoch run (epoch 1 draws the same either way).
    let mut one = dropout_model();
    let h1 = one.fit(&x, &y, &Mse, &mut Adam::new(0.01), FitConfig::new(1, 8).with_seed(3).quiet()).unwrap();
    assert_eq!(json::to_vec(&m).unwrap(), json::to_vec(&one).unwrap());
    assert_eq!(h1.outcome(), "ran 1 epoch; weights of the last epoch (1) kept");
    assert_eq!((h1.stopped_epoch, h1.restored_epoch), (None, None));

    // Best-only checkpointing saved epoch 1 alone: its file holds epoch 1's weights.
    let ckpt = Checkpoint::<f64, Adam<f64>>::load(d.join("best.json")).unwrap();
    assert_eq!(ckpt.resume.epoch, 1);
    assert_eq!(ckpt.resume.history.epochs[..], h.epochs[..1]);
    assert_eq!(model_file::to_vec(&*ckpt.model).unwrap(), json::to_vec(&one).unwrap());
}

#[test]
fn the_history_logger_writes_the_history_exactly() {
    let (x, y) = series();
    let d = dir("logger");
    let (csv, js) = (d.join("h.csv"), d.join("h.json"));
    std::fs::write(&csv, "stale contents\n").unwrap();
    let cfg = FitConfig::new(4, 8)
        .with_validation_split(0.2)
        .with_metrics(vec![Metric::Mae])
        .with_callback(HistoryLogger::csv(&csv))
        .with_callback(HistoryLogger::json(&js))
        .quiet();
    let h = dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.01), cfg).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,loss,mae,val_loss,val_mae");
    assert_eq!(lines.len(), 5);
    for (line, e) in lines[1..].iter().zip(&h.epochs) {
        let v: Vec<f64> = line.split(',').map(|w| w.parse().unwrap()).collect();
        assert_eq!(v, [e.epoch as f64, e.loss, e.get("mae").unwrap(), e.val_loss.unwrap(), e.get("val_mae").unwrap()]);
    }
    let back: History<f64> = serde_json::from_slice(&std::fs::read(&js).unwrap()).unwrap();
    assert_eq!(back, h);

    // A logger that cannot write stops fit with an I/O error naming the path, and leaves no
    // temporary file behind.
    let missing = d.join("no such folder").join("h.csv");
    let cfg = FitConfig::new(2, 8).with_callback(HistoryLogger::csv(&missing)).quiet();
    let e = dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.01), cfg).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("no such folder"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

/// An epoch-end hook with the context: the old `on_epoch_end(logs, model)` callbacks still run.
struct OldStyle(Arc<Mutex<usize>>);

impl Callback<f64> for OldStyle {
    fn on_epoch_end(&mut self, _: &EpochLogs<f64>, _: &mut dyn Model<f64>) -> Result<recurrent::model::Control> {
        *self.0.lock().unwrap() += 1;
        Ok(recurrent::model::Control::Continue)
    }
}

#[test]
fn callbacks_written_for_the_old_hooks_still_run() {
    let (x, y) = series();
    let n = Arc::new(Mutex::new(0));
    let cfg = FitConfig::new(3, 8).with_callback(OldStyle(n.clone())).quiet();
    dropout_model().fit(&x, &y, &Mse, &mut Adam::new(0.01), cfg).unwrap();
    assert_eq!(*n.lock().unwrap(), 3);
}
