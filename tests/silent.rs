//! Silent or misleading results (issue 10): each case here once returned `Ok` with a wrong
//! answer, or failed late with a message naming the wrong thing. Every test checks the
//! specific error and that nothing the caller had (weights, optimiser state) changed.

use ndarray::{array, Array2, Array3, ArrayD, IxDyn};
use recurrent::io::json;
use recurrent::prelude::*;
use recurrent::{Error, ParamMut, ParamRef};
use serde_json::Value;

// ───────────────────────────── helpers ─────────────────────────────

/// Every weight of `p`, bit for bit, with its name.
fn bits<F: Float, P: Params<F> + ?Sized>(p: &P) -> Vec<(String, Vec<u64>)> {
    let mut out = Vec::new();
    p.visit_params(&mut |p| {
        out.push((p.name.to_string(), p.value.iter().map(|v| v.to_f64_exact().to_bits()).collect()))
    });
    out
}

/// An optimiser's whole state (hyperparameters, step count, buffers) as JSON text.
fn state<S: serde::Serialize>(s: &S) -> String {
    serde_json::to_string(s).expect("optimiser state serialises")
}

fn rnn_model(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[5, 2]).unwrap();
    m.add(SimpleRnnConfig::new(2, 4).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn rnn_data(n: usize) -> (Array3<f64>, Array2<f64>) {
    let x = Array3::from_shape_fn((n, 5, 2), |(b, t, f)| ((b * 7 + t * 3 + f) as f64 * 0.37).sin());
    let y = Array2::from_shape_fn((n, 1), |(b, _)| (b as f64 * 0.5).cos());
    (x, y)
}

/// Parameters held directly, for driving an optimiser without a layer.
#[derive(Debug, Clone, PartialEq)]
struct Raw<F> {
    values: Vec<ArrayD<F>>,
    grads: Vec<ArrayD<F>>,
}

impl<F: Float> Params<F> for Raw<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        for (v, g) in self.values.iter().zip(&self.grads) {
            f(ParamRef { name: "w", value: v.view(), grad: g.view() });
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        for (v, g) in self.values.iter_mut().zip(self.grads.iter_mut()) {
            f(ParamMut { name: "w", value: v.view_mut(), grad: g.view_mut() });
        }
    }
}

/// Values and gradients of `r`, bit for bit (NaN compares equal to itself here).
fn raw_bits<F: Float>(r: &Raw<F>) -> Vec<Vec<u64>> {
    r.values.iter().chain(&r.grads).map(|a| a.iter().map(|v| v.to_f64_exact().to_bits()).collect()).collect()
}

fn raw<F: Float>(values: &[f64], grads: &[f64]) -> Raw<F> {
    let arr = |v: &[f64]| ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|&x| F::of(x)).collect()).unwrap();
    Raw { values: vec![arr(values), arr(&[0.5, -0.25])], grads: vec![arr(grads), arr(&[0.1, 0.2])] }
}

// ───────────────────────────── 1. optimiser kind in model files ─────────────────────────────

fn saved_with<S: serde::Serialize>(opt: &S) -> Vec<u8> {
    json::to_vec_with_optimizer(&rnn_model(1), opt).expect("save")
}

fn trained_adam() -> Adam<f64> {
    let mut m = rnn_model(1);
    let (x, y) = rnn_data(4);
    let mut adam = Adam::new(0.01).with_weight_decay(0.1);
    m.train_step(&x, &y, &Mse, &mut adam).unwrap();
    adam
}

fn format_err(e: Error) -> (String, String, String) {
    match e {
        Error::Format { what, expected, got } => (what, expected, got),
        other => panic!("expected Error::Format, got {other:?}"),
    }
}

#[test]
fn adam_state_does_not_load_as_sgd() {
    let bytes = saved_with(&trained_adam());
    let err = json::from_slice_with_optimizer::<f64, Sgd<f64>>(&bytes).map(|_| ()).unwrap_err();
    let text = err.to_string();
    let (what, _, _) = format_err(err);
    assert_eq!(what, "model file optimizer");
    assert!(text.contains("Adam") && text.contains("Sgd"), "names both kinds: {text}");
    // Adam and AdamW have the same fields: only the kind tells them apart.
    let err = json::from_slice_with_optimizer::<f64, AdamW<f64>>(&bytes).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("AdamW") && err.to_string().contains("\"Adam\""), "{err}");
    // The right kind still loads, state and all.
    let (_, back) = json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes).unwrap();
    assert_eq!(back, Some(trained_adam()));
    for (opt, name) in [(state(&Sgd::new(0.1)), "Sgd"), (state(&RmsProp::new(0.1)), "RmsProp")] {
        let v: Value = serde_json::from_str(&opt).unwrap();
        let bytes = saved_with(&v);
        let err = json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

/// Files written before the kind tag existed: loadable where the fields say which
/// optimiser it was, refused where they cannot.
#[test]
fn untagged_optimiser_state_loads_only_where_unambiguous() {
    let untagged = |v: String| -> Vec<u8> {
        let mut v: Value = serde_json::from_str(&v).unwrap();
        v.as_object_mut().unwrap().remove("kind");
        saved_with(&v)
    };
    // Sgd's fields are its own.
    let sgd = Sgd::new(0.1).with_momentum(0.9);
    let bytes = untagged(state(&sgd));
    assert_eq!(json::from_slice_with_optimizer::<f64, Sgd<f64>>(&bytes).unwrap().1, Some(sgd));
    assert!(json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes).is_err());
    // Adam's fields are not Sgd's.
    let bytes = untagged(state(&trained_adam()));
    let err = json::from_slice_with_optimizer::<f64, Sgd<f64>>(&bytes).map(|_| ()).unwrap_err();
    format_err(err);
    // Adam with weight decay 0.1 could have been AdamW: refused as either.
    for err in [
        json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes).map(|_| ()).unwrap_err(),
        json::from_slice_with_optimizer::<f64, AdamW<f64>>(&bytes).map(|_| ()).unwrap_err(),
    ] {
        let (_, expected, _) = format_err(err);
        assert!(expected.contains("kind"), "{expected}");
    }
    // Without weight decay the two take the same steps: loads as either.
    let plain = Adam::<f64>::new(0.01);
    let bytes = untagged(state(&plain));
    assert_eq!(json::from_slice_with_optimizer::<f64, Adam<f64>>(&bytes).unwrap().1, Some(plain));
    assert!(json::from_slice_with_optimizer::<f64, AdamW<f64>>(&bytes).unwrap().1.is_some());
}

// ───────────────────────────── 2. EarlyStopping min_delta ─────────────────────────────

#[test]
fn early_stopping_with_a_nan_min_delta_trains_nothing() {
    let (x, y) = rnn_data(12);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut m = rnn_model(2);
        let before = bits(&m);
        let cfg = FitConfig::new(20, 4)
            .with_validation_split(0.25)
            .with_callback(EarlyStopping::new(2).min_delta(bad).restore_best_weights(true))
            .quiet();
        let err = m.fit(&x, &y, &Mse, &mut Sgd::new(0.05), cfg).unwrap_err();
        match &err {
            Error::InvalidConfig { what, .. } => assert!(what.contains("EarlyStopping min_delta"), "{err}"),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        assert_eq!(bits(&m), before, "no training before the error");
    }
}

// ───────────────────────────── 3. cross-entropy at zero probability ─────────────────────────────

#[test]
fn categorical_cross_entropy_of_a_zero_probability_is_finite() {
    let p = array![[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]].into_dyn();
    let t = array![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]].into_dyn();
    let out = Loss::<f64>::compute(&CategoricalCrossEntropy::new(), &p.view(), &t.view()).unwrap();
    // ln 0 counts as −100, as binary cross-entropy's logs do (PyTorch's clamp).
    let want = (100.0 - 0.5f64.ln()) / 2.0;
    assert!((out.value - want).abs() < 1e-12, "{} vs {want}", out.value);
    assert!(out.grad.iter().all(|g| g.is_finite()), "{:?}", out.grad);
    let labels = array![0.0, 2.0].into_dyn();
    let sparse = Loss::<f64>::compute(&SparseCategoricalCrossEntropy::new(), &p.view(), &labels.view()).unwrap();
    assert_eq!(sparse, out);
}

/// A softmax head so sure of the wrong class that f32 rounds the right one to exactly 0.
#[test]
fn a_saturated_f32_softmax_head_trains_on() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut m = Sequential::<f32>::new(&[2]).unwrap();
    m.add(DenseConfig::new(2, 3).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    m.layer_as_mut::<Dense<f32>>(0).unwrap().set_kernel(array![[200.0, 0.0, -200.0], [0.0, 1.0, 0.0]]).unwrap();
    let x = array![[1.0f32, 0.0], [0.0, 1.0]];
    let y = array![[0.0f32, 0.0, 1.0], [0.0, 1.0, 0.0]];
    assert_eq!(m.predict(&x).unwrap()[[0, 2]], 0.0, "saturated");
    let mut sgd = Sgd::new(0.1);
    for _ in 0..3 {
        let loss = m.train_step(&x, &y, &CategoricalCrossEntropy::new(), &mut sgd).unwrap();
        assert!(loss.is_finite() && loss >= 50.0, "{loss}");
    }
    assert!(bits(&m).iter().all(|(_, b)| b.iter().all(|&v| f64::from_bits(v).is_finite())));
}

// ───────────────────────────── 4. fit checks before the first step ─────────────────────────────

fn fit_err(cfg: FitConfig<f64>, y: Option<Array2<f64>>) -> (Error, bool) {
    let (x, y0) = rnn_data(12);
    let y = y.unwrap_or(y0);
    let mut m = rnn_model(3);
    let before = bits(&m);
    let err = m.fit(&x, &y, &Mse, &mut Sgd::new(0.1), cfg).unwrap_err();
    (err, bits(&m) == before)
}

#[test]
fn fit_checks_validation_data_before_training() {
    // Three features where the model takes two.
    let xv = Array3::<f64>::zeros((4, 5, 3));
    let (err, same) = fit_err(FitConfig::new(2, 4).with_validation_data(xv, Array2::zeros((4, 1))).quiet(), None);
    assert!(same, "weights unchanged");
    match &err {
        Error::ShapeMismatch { what, .. } => assert!(what.contains("validation x"), "{err}"),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    // Targets of the wrong width.
    let (xv, _) = rnn_data(4);
    let (err, same) = fit_err(FitConfig::new(2, 4).with_validation_data(xv, Array2::zeros((4, 3))).quiet(), None);
    assert!(same, "weights unchanged");
    assert!(err.to_string().contains("validation y"), "{err}");
    // A NaN in the validation targets.
    let (xv, mut yv) = rnn_data(4);
    yv[[3, 0]] = f64::NAN;
    let (err, same) = fit_err(FitConfig::new(2, 4).with_validation_data(xv, yv).quiet(), None);
    assert!(same, "weights unchanged");
    assert!(matches!(&err, Error::NonFinite { what, .. } if what.contains("validation y")), "{err}");
}

#[test]
fn fit_checks_metrics_and_targets_before_training() {
    // Class metrics on a one-output regression: not one-hot, not 0/1.
    let (err, same) = fit_err(FitConfig::new(2, 4).with_metrics(vec![Metric::CategoricalAccuracy]).quiet(), None);
    assert!(same, "weights unchanged: {err}");
    assert!(err.to_string().contains("fit targets y, at categorical accuracy"), "{err}");
    let (err, same) = fit_err(FitConfig::new(2, 4).with_metrics(vec![Metric::Accuracy]).quiet(), None);
    assert!(same, "weights unchanged: {err}");
    assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    // A bad target in the last batch only (binary cross-entropy wants [0, 1]).
    let (x, _) = rnn_data(12);
    let mut y = Array2::<f64>::zeros((12, 1));
    y[[11, 0]] = 2.0;
    let mut rng = StdRng::seed_from_u64(3);
    let mut m = Sequential::new(&[5, 2]).unwrap();
    m.add(SimpleRnnConfig::new(2, 4).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 1).with_activation(Activation::Sigmoid).init(&mut rng).unwrap()).unwrap();
    let before = bits(&m);
    let cfg = FitConfig::new(1, 4).with_shuffle(false).quiet();
    let err = m.fit(&x, &y, &BinaryCrossEntropy::new(), &mut Sgd::new(0.1), cfg).unwrap_err();
    assert!(matches!(&err, Error::OutOfRange { what, .. } if what.contains("fit targets y")), "{err}");
    assert_eq!(bits(&m), before);
}

#[test]
fn fit_checks_callbacks_before_training() {
    let (err, same) =
        fit_err(FitConfig::new(3, 4).with_callback(EarlyStopping::new(1).monitor("val_accuracy")).quiet(), None);
    assert!(same, "weights unchanged");
    assert!(matches!(&err, Error::InvalidConfig { what, .. } if what.contains("EarlyStopping monitor")), "{err}");
}

// ───────────────────────────── 5. Masking value ─────────────────────────────

#[test]
fn masking_refuses_a_non_finite_value() {
    for bad in [f64::NAN, f64::INFINITY] {
        let mut m = Sequential::<f64>::new(&[3, 1]).unwrap();
        let err = m.add(Masking::new(bad)).map(|_| ()).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what.contains("mask_value")), "{err}");
        assert!(m.layers().is_empty());
        let mut layer = Masking::new(bad);
        let err = layer.forward(Array3::<f64>::zeros((1, 3, 1)).into_dyn().view(), Mode::Infer).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { .. }), "{err}");
    }
}

#[test]
fn a_masking_value_beyond_f32_does_not_load_as_f32() {
    let mut m = Sequential::<f64>::new(&[3, 1]).unwrap();
    m.add(Masking::new(1e300)).unwrap();
    m.add(SimpleRnnConfig::new(1, 2).init(&mut StdRng::seed_from_u64(0)).unwrap()).unwrap();
    let text = String::from_utf8(json::to_vec(&m).unwrap()).unwrap().replace("float64", "float32");
    let err = json::from_slice::<f32>(text.as_bytes()).unwrap_err();
    assert!(matches!(&err, Error::Format { what, .. } if what.contains("mask_value")), "{err}");
}

// ───────────────────────────── 6. non-finite updates ─────────────────────────────

fn non_finite(err: Error, optimizer: &str) -> String {
    match err {
        Error::NonFinite { ref what, .. } => {
            assert!(what.starts_with(optimizer) && what.contains("parameter 0"), "{err}");
            what.clone()
        }
        other => panic!("expected NonFinite from {optimizer}, got {other:?}"),
    }
}

#[test]
fn a_step_that_overflows_changes_nothing() {
    // 1e300 only makes weights huge, which is finite: the largest f64 overflows them.
    let huge = f64::MAX;
    // Each optimiser, stepped once normally (so it has state), then with a learning rate
    // that overflows parameter 0.
    macro_rules! case {
        ($opt:expr, $name:expr, $lr:expr) => {{
            let mut opt = $opt;
            let mut p = raw::<f64>(&[1.0, -2.0], &[3.0, 4.0]);
            opt.step(&mut p).unwrap();
            opt.learning_rate = $lr;
            let (p0, s0) = (p.clone(), state(&opt));
            let err = opt.step(&mut p).unwrap_err();
            non_finite(err, $name);
            assert_eq!(raw_bits(&p), raw_bits(&p0), "{} parameters and gradients unchanged", $name);
            assert_eq!(state(&opt), s0, "{} state unchanged", $name);
        }};
    }
    case!(Sgd::new(0.1), "SGD", huge);
    case!(Sgd::new(0.1).with_momentum(0.9), "SGD", huge);
    case!(Sgd::new(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(0.1), "SGD", huge);
    // Clipped to 2 before the update, the gradient still overflows.
    case!(Sgd::new(0.1).with_gradient_clip(GradientClip::Value(2.0)), "SGD", huge);
    case!(Adam::new(0.1), "Adam", f64::MAX);
    case!(AdamW::new(0.1).with_gradient_clip(GradientClip::Value(0.5)), "AdamW", f64::MAX);
    case!(RmsProp::new(0.1), "RMSprop", f64::MAX);
    case!(RmsProp::new(0.1).with_centered(true).with_momentum(0.5), "RMSprop", f64::MAX);
}

/// Adam's second moment overflows f32 for a large but finite gradient: the weights would
/// stay finite, the state would not.
#[test]
fn a_step_whose_state_overflows_changes_nothing() {
    let mut adam = Adam::<f32>::new(0.1);
    let mut p = raw::<f32>(&[1.0, -2.0], &[1e30, 4.0]);
    let (p0, s0) = (p.clone(), state(&adam));
    let what = non_finite(adam.step(&mut p).unwrap_err(), "Adam");
    assert!(what.contains("exp_avg_sq"), "{what}");
    assert_eq!(raw_bits(&p), raw_bits(&p0));
    assert_eq!(state(&adam), s0);
    assert_eq!(adam.step_count(), 0);
}

#[test]
fn a_train_step_that_overflows_names_the_layer_and_changes_nothing() {
    let (x, y) = rnn_data(4);
    let y = y * 100.0;
    let mut m = rnn_model(4);
    let mut sgd = Sgd::new(f64::MAX);
    let before = bits(&m);
    let err = m.train_step(&x, &y, &Mse, &mut sgd).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what.starts_with("SGD update of parameter 0 `simple_rnn/kernel`")),
        "{err}"
    );
    assert_eq!(bits(&m), before);
}

#[test]
fn learning_rate_setters_refuse_nonsense() {
    let mut sgd = Sgd::new(0.1);
    let mut adam = Adam::new(0.1);
    let mut rms = RmsProp::new(0.1);
    let mut adamw = AdamW::new(0.1);
    for bad in [f64::NAN, -1.0, 0.0, f64::INFINITY] {
        for (opt, name) in [
            (&mut sgd as &mut dyn Optimizer<f64>, "SGD"),
            (&mut adam, "Adam"),
            (&mut adamw, "AdamW"),
            (&mut rms, "RMSprop"),
        ] {
            let err = opt.set_learning_rate(bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidConfig { what, .. } if what == &format!("{name} learning rate")),
                "{err}"
            );
            assert_eq!(opt.learning_rate(), 0.1, "{name}: unchanged after {bad}");
        }
    }
    sgd.set_learning_rate(0.5).unwrap();
    assert_eq!(sgd.learning_rate(), 0.5);
}

// ───────────────────────────── 7. threads ─────────────────────────────

#[test]
fn thread_count_is_clamped_to_the_cores() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap();
    recurrent::set_num_threads(10_000);
    let got = recurrent::num_threads();
    recurrent::set_num_threads(1);
    assert_eq!(got, cores);
}

// ───────────────────────────── 8. loss under masks ─────────────────────────────

/// Two batches of very different lengths: per sample, the short batch would weigh as much
/// as the long one; per real position (Keras's and PyTorch's rule), it weighs less.
#[test]
fn training_and_validation_loss_agree_under_masks() {
    let lens = [5, 5, 1, 1];
    let mut x = Array3::<f64>::zeros((4, 5, 1));
    let mut y = Array3::<f64>::zeros((4, 5, 1));
    for (b, &l) in lens.iter().enumerate() {
        for t in 0..l {
            x[[b, t, 0]] = 0.2 + 0.1 * (b + t) as f64;
            y[[b, t, 0]] = if b < 2 { 1.0 } else { -3.0 };
        }
    }
    let mut rng = StdRng::seed_from_u64(5);
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    m.add(Masking::new(0.0)).unwrap();
    m.add(SimpleRnnConfig::new(1, 3).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    let whole = m.evaluate(&x, &y, &Mse).unwrap();
    // A learning rate so small the weights move by ~1e-300: the same weights throughout.
    let cfg = FitConfig::new(1, 2).with_shuffle(false).with_validation_data(x.clone(), y.clone()).quiet();
    let h = m.fit(&x, &y, &Mse, &mut Sgd::new(1e-300), cfg).unwrap();
    let (train, val) = (h.loss()[0], h.val_loss()[0]);
    assert!((val - whole).abs() <= 1e-12 * whole, "{val} vs {whole}");
    assert!((train - val).abs() <= 1e-12 * val, "training {train} vs validation {val}");
}

// ───────────────────────────── 9. an Err changes nothing ─────────────────────────────

#[test]
fn train_step_errors_change_neither_weights_nor_optimiser_state() {
    let (x, y) = rnn_data(4);
    let mut m = rnn_model(6);
    let mut adam = Adam::new(0.01);
    m.train_step(&x, &y, &Mse, &mut adam).unwrap();
    let (w0, s0) = (bits(&m), state(&adam));
    let check = |m: &Sequential<f64>, adam: &Adam<f64>, what: &str| {
        assert_eq!(bits(m), w0, "weights after {what}");
        assert_eq!(state(adam), s0, "optimiser state after {what}");
    };
    // Wrong shapes: features, batch, targets.
    assert!(m.train_step(&Array3::<f64>::zeros((4, 5, 3)), &y, &Mse, &mut adam).is_err());
    check(&m, &adam, "wrong features");
    assert!(m.train_step(&x, &Array2::<f64>::zeros((3, 1)), &Mse, &mut adam).is_err());
    check(&m, &adam, "wrong batch");
    assert!(m.train_step(&x, &Array2::<f64>::zeros((4, 2)), &Mse, &mut adam).is_err());
    check(&m, &adam, "wrong target width");
    // NaN targets and inputs.
    let mut bad = y.clone();
    bad[[1, 0]] = f64::NAN;
    assert!(m.train_step(&x, &bad, &Mse, &mut adam).is_err());
    check(&m, &adam, "NaN target");
    let mut bad = x.clone();
    bad[[1, 2, 0]] = f64::INFINITY;
    assert!(m.train_step(&bad, &y, &Mse, &mut adam).is_err());
    check(&m, &adam, "infinite input");
    // A non-finite update.
    adam.learning_rate = f64::MAX;
    let s_max = state(&adam);
    assert!(m.train_step(&x, &y, &Mse, &mut adam).is_err());
    assert_eq!(bits(&m), w0, "weights after an overflowing update");
    assert_eq!(state(&adam), s_max, "optimiser state after an overflowing update");
    adam.learning_rate = 0.01;
    // State made for another model.
    let mut other = rnn_model(7);
    other.add(DenseConfig::new(1, 2).init(&mut StdRng::seed_from_u64(0)).unwrap()).unwrap();
    let mut foreign = Adam::new(0.01);
    other.train_step(&x, &Array2::<f64>::zeros((4, 2)), &Mse, &mut foreign).unwrap();
    let sf = state(&foreign);
    assert!(matches!(m.train_step(&x, &y, &Mse, &mut foreign), Err(Error::ShapeMismatch { .. })));
    assert_eq!(bits(&m), w0, "weights after foreign state");
    assert_eq!(state(&foreign), sf, "foreign state unchanged");
}

#[test]
fn fit_errors_change_neither_weights_nor_optimiser_state() {
    let (x, y) = rnn_data(12);
    let mut m = rnn_model(8);
    let mut rms = RmsProp::new(0.01).with_momentum(0.5);
    m.fit(&x, &y, &Mse, &mut rms, FitConfig::new(1, 4).quiet()).unwrap();
    let (w0, s0) = (bits(&m), state(&rms));
    let cfg = || FitConfig::new(2, 4).quiet();
    assert!(m.fit(&Array3::<f64>::zeros((12, 5, 1)), &y, &Mse, &mut rms, cfg()).is_err());
    let mut bad = y.clone();
    bad[[11, 0]] = f64::NAN;
    assert!(m.fit(&x, &bad, &Mse, &mut rms, cfg()).is_err());
    assert!(m.fit(&x, &Array2::<f64>::zeros((12, 2)), &Mse, &mut rms, cfg()).is_err());
    assert_eq!((bits(&m), state(&rms)), (w0.clone(), s0.clone()));
    // An update that overflows in the first batch: Diverged, nothing changed.
    rms.learning_rate = f64::MAX;
    let s_max = state(&rms);
    let err = m.fit(&x, &y, &Mse, &mut rms, cfg().with_shuffle(false)).unwrap_err();
    assert!(matches!(err, Error::Diverged { epoch: 1, batch: 1, .. }), "{err}");
    assert_eq!((bits(&m), state(&rms)), (w0.clone(), s_max));
    // State made for another model.
    rms.learning_rate = 0.01;
    let mut other = rnn_model(9);
    other.add(DenseConfig::new(1, 2).init(&mut StdRng::seed_from_u64(0)).unwrap()).unwrap();
    let mut foreign = Sgd::new(0.1).with_momentum(0.9);
    other.train_step(&x, &Array2::<f64>::zeros((12, 2)), &Mse, &mut foreign).unwrap();
    let sf = state(&foreign);
    assert!(matches!(m.fit(&x, &y, &Mse, &mut foreign, cfg()), Err(Error::ShapeMismatch { .. })));
    assert_eq!((bits(&m), state(&foreign)), (w0, sf));
}

#[test]
fn optimiser_step_errors_change_nothing() {
    macro_rules! case {
        ($opt:expr) => {{
            let mut opt = $opt;
            let name = format!("{opt:?}");
            let mut p = raw::<f64>(&[1.0, -2.0], &[3.0, 4.0]);
            opt.step(&mut p).unwrap();
            let s0 = state(&opt);
            // A NaN gradient.
            let mut q = p.clone();
            q.grads[1][[0]] = f64::NAN;
            let q0 = q.clone();
            assert!(matches!(opt.step(&mut q), Err(Error::NonFinite { .. })), "{name}");
            assert_eq!((raw_bits(&q), state(&opt)), (raw_bits(&q0), s0.clone()), "{name} after a NaN gradient");
            // A gradient of the wrong shape.
            let mut q = p.clone();
            q.grads[0] = ArrayD::zeros(IxDyn(&[3]));
            let q0 = q.clone();
            assert!(matches!(opt.step(&mut q), Err(Error::ShapeMismatch { .. })), "{name}");
            assert_eq!((raw_bits(&q), state(&opt)), (raw_bits(&q0), s0.clone()), "{name} after a misshapen gradient");
            // Parameters other than those the state was made for.
            let mut q = raw::<f64>(&[1.0, -2.0, 3.0], &[3.0, 4.0, 5.0]);
            let q0 = q.clone();
            assert!(matches!(opt.step(&mut q), Err(Error::ShapeMismatch { .. })), "{name}");
            assert_eq!((raw_bits(&q), state(&opt)), (raw_bits(&q0), s0.clone()), "{name} after foreign parameters");
            // A hyperparameter out of range.
            let mut q = p.clone();
            let q0 = q.clone();
            opt.learning_rate = f64::NAN;
            assert!(matches!(opt.step(&mut q), Err(Error::InvalidConfig { .. })), "{name}");
            opt.learning_rate = 0.1;
            assert_eq!((raw_bits(&q), state(&opt)), (raw_bits(&q0), s0.clone()), "{name} after a NaN learning rate");
        }};
    }
    case!(Sgd::new(0.1).with_momentum(0.9));
    case!(Sgd::new(0.1).with_momentum(0.5).with_gradient_clip(GradientClip::Value(1.0)));
    case!(Adam::new(0.1));
    case!(AdamW::new(0.1).with_gradient_clip(GradientClip::Norm(0.5)));
    case!(RmsProp::new(0.1).with_centered(true).with_momentum(0.3));
}
