//! `Sequential::fit`: determinism, validation, metrics, early stopping with restore-best,
//! and the guard against divergence.

use ndarray::{Array2, Array3, ArrayD};
use proptest::prelude::*;
use recurrent::model::{Callback, Control, EpochLogs, Model};
use recurrent::prelude::*;
use recurrent::Error;

fn data(n: usize) -> (ArrayD<f64>, ArrayD<f64>) {
    let series: Vec<f64> = (0..n + 5).map(|i| (0.3 * i as f64).sin() + 0.1 * (1.7 * i as f64).cos()).collect();
    let (x, y) = recurrent::data::windows(&series, 5).unwrap();
    (x.into_dyn(), y.into_dyn())
}

fn model(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[5, 1]).unwrap();
    m.add(GruConfig::new(1, 4).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn params(m: &Sequential<f64>) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    m.visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same seed, data and starting weights give the same weights, bit for bit.
    #[test]
    fn fit_with_a_fixed_seed_is_bit_identical(seed in any::<u64>(), batch in 1usize..12, epochs in 1usize..4) {
        let (x, y) = data(30);
        let run = || {
            let mut m = model(3);
            let cfg = FitConfig::new(epochs, batch).with_seed(seed).with_validation_split(0.2).quiet();
            let h = m.fit(&x, &y, &Mse, &mut Adam::new(0.01), cfg).unwrap();
            (params(&m), h)
        };
        let (a, ha) = run();
        let (b, hb) = run();
        prop_assert_eq!(a, b);
        prop_assert_eq!(ha, hb);
    }
}

#[test]
fn history_holds_losses_and_metrics_per_epoch() {
    let (x, y) = data(40);
    let mut m = model(1);
    let cfg = FitConfig::new(6, 8).with_validation_split(0.25).with_metrics(vec![Metric::Mae, Metric::Rmse]).quiet();
    let h = m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), cfg).unwrap();
    assert_eq!(h.epochs.len(), 6);
    assert_eq!(h.loss().len(), 6);
    assert_eq!(h.val_loss().len(), 6);
    assert_eq!(h.get("mae").unwrap().len(), 6);
    assert_eq!(h.get("val_rmse").unwrap().len(), 6);
    assert!(h.get("accuracy").is_none());
    assert!(h.loss()[5] < h.loss()[0], "training lowers the loss: {:?}", h.loss());
    // The last epoch's validation loss is the model's loss on the held-out tail (the last 10).
    let n = x.shape()[0];
    let xv = x.slice_axis(ndarray::Axis(0), (n - 10..n).into()).to_owned();
    let yv = y.slice_axis(ndarray::Axis(0), (n - 10..n).into()).to_owned();
    let direct = m.evaluate(&xv, &yv, &Mse).unwrap();
    assert!((h.val_loss()[5] - direct).abs() < 1e-12, "{} vs {direct}", h.val_loss()[5]);
    // RMSE² = MSE on the same data.
    let e = &h.epochs[5];
    let rmse = e.get("val_rmse").unwrap();
    assert!((rmse * rmse - direct).abs() < 1e-12);
}

#[test]
fn fit_checks_its_arguments_and_leaves_the_model_alone() {
    let (x, y) = data(20);
    let mut m = model(2);
    let before = params(&m);
    let bad = [
        FitConfig::new(0, 4).quiet(),
        FitConfig::new(1, 0).quiet(),
        FitConfig::new(1, 4).with_validation_split(1.0).quiet(),
        FitConfig::new(1, 4).with_validation_split(0.01).quiet(),
    ];
    for cfg in bad {
        assert!(matches!(m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), cfg), Err(Error::InvalidConfig { .. })));
    }
    let y_short = y.slice_axis(ndarray::Axis(0), (0..5).into()).to_owned();
    let err = m.fit(&x, &y_short, &Mse, &mut Sgd::new(0.1), FitConfig::new(1, 4).quiet()).unwrap_err();
    assert!(err.to_string().contains("20 samples"), "{err}");
    let mut nan = x.clone();
    nan[[3, 2, 0]] = f64::NAN;
    assert!(matches!(
        m.fit(&nan, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(1, 4).quiet()),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(params(&m), before);
    m.set_stateful(true);
    assert!(matches!(
        m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(1, 4).quiet()),
        Err(Error::InvalidConfig { .. })
    ));
}

fn logs(epoch: usize, val_loss: f64) -> EpochLogs<f64> {
    EpochLogs {
        epoch,
        loss: 1.0,
        val_loss: Some(val_loss),
        metrics: vec![("accuracy".into(), val_loss)],
        val_metrics: vec![],
    }
}

#[test]
fn early_stopping_counts_patience_and_min_delta() {
    let mut m = model(0);
    let mut es = EarlyStopping::new(2);
    es.on_train_begin(&mut m).unwrap();
    let seq = [1.0, 0.9, 0.95, 0.91];
    let got: Vec<Control> =
        seq.iter().enumerate().map(|(k, &v)| es.on_epoch_end(&logs(k + 1, v), &mut m).unwrap()).collect();
    assert_eq!(got, [Control::Continue, Control::Continue, Control::Continue, Control::Stop]);
    assert_eq!(es.best_epoch(), Some(2));
    assert_eq!(es.stopped_epoch(), Some(4));

    // Improvements smaller than min_delta do not count.
    let mut es = EarlyStopping::new(2).min_delta(0.02);
    es.on_train_begin(&mut m).unwrap();
    let got: Vec<Control> = [1.0, 0.995, 0.99]
        .iter()
        .enumerate()
        .map(|(k, &v)| es.on_epoch_end(&logs(k + 1, v), &mut m).unwrap())
        .collect();
    assert_eq!(got, [Control::Continue, Control::Continue, Control::Stop]);
    assert_eq!(es.best_epoch(), Some(1));

    // "accuracy" is maximised: a falling accuracy is no improvement.
    let mut es = EarlyStopping::new(1).monitor("accuracy");
    es.on_train_begin(&mut m).unwrap();
    assert_eq!(es.on_epoch_end(&logs(1, 0.8), &mut m).unwrap(), Control::Continue);
    assert_eq!(es.on_epoch_end(&logs(2, 0.7), &mut m).unwrap(), Control::Stop);

    // An unknown name is an error listing the known ones.
    let mut es = EarlyStopping::new(1).monitor("val_f1");
    let err = es.on_epoch_end(&logs(1, 0.5), &mut m).unwrap_err().to_string();
    assert!(err.contains("val_f1") && err.contains("val_loss") && err.contains("accuracy"), "{err}");
}

/// Validation data the model can only get worse on as it fits the training data: the
/// validation targets are the training targets negated.
#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let (x, y) = data(30);
    let yv = y.mapv(|v| -v);
    let patience = 3;

    // The reference: the same run for one epoch only (the best epoch, as we will see).
    let mut one = model(5);
    let cfg = FitConfig::new(1, 8).with_seed(1).quiet();
    one.fit(&x, &y, &Mse, &mut Sgd::new(0.2), cfg).unwrap();

    let mut m = model(5);
    let cfg = FitConfig::new(100, 8)
        .with_seed(1)
        .with_validation_data(x.clone(), yv.clone())
        .with_callback(EarlyStopping::new(patience).restore_best_weights(true))
        .quiet();
    let h = m.fit(&x, &y, &Mse, &mut Sgd::new(0.2), cfg).unwrap();
    let vl = h.val_loss();
    let best = vl.iter().enumerate().min_by(|a, b| a.1.partial_cmp(b.1).unwrap()).unwrap().0;
    assert_eq!(best, 0, "validation loss only rises here: {vl:?}");
    assert_eq!(h.stopped_epoch, Some(1 + patience));
    assert_eq!(h.epochs.len(), 1 + patience);
    assert_eq!(params(&m), params(&one), "the weights of epoch 1 are restored");
    assert!((m.evaluate(&x, &yv, &Mse).unwrap() - vl[0]).abs() < 1e-12);
}

/// A callback that records what it saw, to check the order of calls.
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Callback<f64> for Recorder {
    fn on_train_begin(&mut self, _: &mut dyn Model<f64>) -> recurrent::Result<()> {
        self.0.lock().unwrap().push("begin".into());
        Ok(())
    }
    fn on_epoch_end(&mut self, logs: &EpochLogs<f64>, _: &mut dyn Model<f64>) -> recurrent::Result<Control> {
        self.0.lock().unwrap().push(format!("epoch {}", logs.epoch));
        Ok(Control::Continue)
    }
    fn on_train_end(&mut self, _: &mut dyn Model<f64>) -> recurrent::Result<()> {
        self.0.lock().unwrap().push("end".into());
        Ok(())
    }
}

#[test]
fn callbacks_are_called_in_order() {
    let (x, y) = data(12);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut m = model(0);
    m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), FitConfig::new(2, 4).with_callback(Recorder(seen.clone())).quiet())
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["begin", "epoch 1", "epoch 2", "end"]);
}

#[test]
fn divergence_stops_training_and_keeps_the_last_finite_weights() {
    let (x, y) = data(16);
    let n = x.shape()[0];
    // One batch per epoch, no shuffling: the huge steps blow the weights up within a few
    // epochs. By hand: the epoch whose loss (or update) first goes non-finite, and the
    // weights from before it.
    let lr = 1e150;
    let mut reference = model(7);
    let mut expected = None;
    for epoch in 1..=10 {
        let before = params(&reference);
        let step = reference.train_step(&x, &y, &Mse, &mut Sgd::new(lr));
        let finite = params(&reference).iter().all(|a| a.iter().all(|v| v.is_finite()));
        if !matches!(step, Ok(l) if l.is_finite()) || !finite {
            expected = Some((epoch, before));
            break;
        }
    }
    let (bad_epoch, weights) = expected.expect("lr 1e150 diverges within 10 epochs");
    assert!(bad_epoch > 1, "at least one finite step first");

    let mut m = model(7);
    let cfg = FitConfig::new(10, n).with_shuffle(false).quiet();
    let err = m.fit(&x, &y, &Mse, &mut Sgd::new(lr), cfg).unwrap_err();
    match &err {
        Error::Diverged { epoch, batch, .. } => assert_eq!((*epoch, *batch), (bad_epoch, 1), "{err}"),
        other => panic!("expected Diverged, got {other}"),
    }
    assert_eq!(params(&m), weights);
    assert!(err.to_string().contains(&format!("epoch {bad_epoch}, batch 1")), "{err}");
}

#[test]
fn fit_on_masked_sequences_ignores_padding() {
    // Two copies of the same data, padded with different junk behind a Masking layer that
    // only looks at the padding value: identical training.
    let mut rng = StdRng::seed_from_u64(3);
    let lens = [4, 2, 3, 1, 4, 2];
    let mut x = Array3::<f64>::zeros((6, 4, 1));
    let mut y = Array3::<f64>::zeros((6, 4, 1));
    for (b, &l) in lens.iter().enumerate() {
        for t in 0..l {
            x[[b, t, 0]] = 0.1 + (b * 4 + t) as f64 * 0.05;
            y[[b, t, 0]] = (t as f64 * 0.3).sin();
        }
    }
    let build = |rng: &mut StdRng| {
        let mut m = Sequential::new(&[4, 1]).unwrap();
        m.add(Masking::new(0.0)).unwrap();
        m.add(LstmConfig::new(1, 3).with_return_sequences(true).init(rng).unwrap()).unwrap();
        m.add(DenseConfig::new(3, 1).init(rng).unwrap()).unwrap();
        m
    };
    let mut a = build(&mut rng);
    let mut rng = StdRng::seed_from_u64(3);
    let mut b = build(&mut rng);
    let mut y_junk = y.clone();
    for (bi, &l) in lens.iter().enumerate() {
        for t in l..4 {
            y_junk[[bi, t, 0]] = 50.0;
        }
    }
    let cfg = || FitConfig::new(3, 2).with_metrics(vec![Metric::Mae]).quiet();
    let ha = a.fit(&x.clone().into_dyn(), &y.into_dyn(), &Mse, &mut Sgd::new(0.1), cfg()).unwrap();
    let hb = b.fit(&x.into_dyn(), &y_junk.into_dyn(), &Mse, &mut Sgd::new(0.1), cfg()).unwrap();
    assert_eq!(ha, hb);
    assert_eq!(params(&a), params(&b));
    let _ = Array2::<f64>::zeros((1, 1));
}
