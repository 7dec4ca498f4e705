//! Freezing layers (Keras's `layer.trainable = False`): optimisers leave a frozen layer's
//! weights and their state for it alone while the other layers train (bit for bit as if the
//! frozen layer's updates were undone after every step), gradients still flow through it to
//! the layers before it, `summary()` counts its parameters as non-trainable, and the model
//! file keeps the flag.

use ndarray::{Array2, Array3, ArrayD, ArrayViewD};
use recurrent::gradcheck::GradCheck;
use recurrent::io::json;
use recurrent::model::{Decoding, EncoderDecoder, ModelExt};
use recurrent::prelude::*;
use recurrent::{clip_grad_norm, ParamMut, ParamRef};
use serde_json::Value;

const EPOCHS: usize = 3;
const BATCH: usize = 8;
const SAMPLES: usize = 16;

/// SimpleRNN(1→4, sequences) → LSTM(4→3) → Dense(3→1): the middle layer is the one frozen,
/// so the first one trains only if gradients pass through it.
fn model(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[5, 1]).unwrap();
    m.add(SimpleRnnConfig::new(1, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(LstmConfig::new(4, 3).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn data() -> (Array3<f64>, Array2<f64>) {
    let x = Array3::from_shape_fn((SAMPLES, 5, 1), |(b, t, _)| ((b * 5 + t) as f64 * 0.37).sin());
    let y = Array2::from_shape_fn((SAMPLES, 1), |(b, _)| ((b * 5 + 5) as f64 * 0.37).sin());
    (x, y)
}

/// A bit-exact copy (through the model file, which keeps every bit and the flags).
fn copy(m: &Sequential<f64>) -> Sequential<f64> {
    json::from_slice(&json::to_vec(m).unwrap()).unwrap()
}

/// Every parameter of layer `i`, in visiting order.
fn weights(m: &Sequential<f64>, i: usize) -> Vec<ArrayD<f64>> {
    let mut out = Vec::new();
    m.layers()[i].visit_params(&mut |p| out.push(p.value.to_owned()));
    out
}

fn set_weights(m: &mut Sequential<f64>, i: usize, w: &[ArrayD<f64>]) {
    let mut k = 0;
    m.layers_mut()[i].visit_params_mut(&mut |mut p| {
        p.value.assign(&w[k]);
        k += 1;
    });
}

/// Bit patterns, so that `-0.0` and `0.0` or two NaNs are not taken for each other.
fn bits(w: &[ArrayD<f64>]) -> Vec<Vec<u64>> {
    w.iter().map(|a| a.iter().map(|v| v.to_bits()).collect()).collect()
}

/// Trains a copy of `start` with every layer trainable, one `train_step` per batch in fit's
/// order (no shuffling), and puts layer `frozen`'s weights back after every step: what
/// freezing must give, computed without the optimisers' skip logic.
fn undo_reference(start: &Sequential<f64>, frozen: usize, opt: &mut dyn Optimizer<f64>) -> Sequential<f64> {
    let (x, y) = data();
    let mut m = copy(start);
    m.set_trainable(frozen, true).unwrap();
    let keep = weights(&m, frozen);
    for _ in 0..EPOCHS {
        for b in (0..SAMPLES).step_by(BATCH) {
            let xb = x.slice(ndarray::s![b..b + BATCH, .., ..]);
            let yb = y.slice(ndarray::s![b..b + BATCH, ..]);
            m.train_step(xb, yb, &Mse, opt).unwrap();
            set_weights(&mut m, frozen, &keep);
        }
    }
    m
}

fn fit_frozen(start: &Sequential<f64>, opt: &mut dyn Optimizer<f64>) -> Sequential<f64> {
    let (x, y) = data();
    let mut m = copy(start);
    m.set_trainable(1, false).unwrap();
    m.fit(&x, &y, &Mse, opt, FitConfig::new(EPOCHS, BATCH).with_shuffle(false).quiet()).unwrap();
    m
}

fn check_frozen_training(start: &Sequential<f64>, trained: &Sequential<f64>, reference: &Sequential<f64>) {
    // The frozen layer: every weight bit for bit as before.
    assert_eq!(bits(&weights(trained, 1)), bits(&weights(start, 1)), "the frozen LSTM moved");
    // The others: every tensor changed (the first layer gets its gradient through the frozen
    // one), and each equals the reference bit for bit.
    for i in [0, 2] {
        for (k, (after, before)) in weights(trained, i).iter().zip(weights(start, i)).enumerate() {
            assert_ne!(after, &before, "layer {i} parameter {k} did not train");
        }
        assert_eq!(bits(&weights(trained, i)), bits(&weights(reference, i)), "layer {i} against the reference");
    }
}

#[test]
fn sgd_with_momentum_leaves_a_frozen_layer_bit_identical_and_trains_the_others() {
    let start = model(1);
    let mut sgd = Sgd::new(0.05).with_momentum(0.9);
    let trained = fit_frozen(&start, &mut sgd);
    let reference = undo_reference(&start, 1, &mut Sgd::new(0.05).with_momentum(0.9));
    check_frozen_training(&start, &trained, &reference);
    // One momentum buffer per parameter, frozen ones included (so freezing needs no reset),
    // and the frozen layer's buffers never moved from zero. The LSTM's are #3, #4, #5.
    let buffers = sgd.momentum_buffers();
    assert_eq!(buffers.len(), 3 + 3 + 2);
    for (k, b) in buffers.iter().enumerate().take(6).skip(3) {
        assert!(b.iter().all(|&v| v == 0.0), "buffer {k} of the frozen layer moved");
    }
    assert!(buffers[0].iter().any(|&v| v != 0.0));
}

#[test]
fn adam_leaves_a_frozen_layer_bit_identical_and_counts_every_step() {
    let start = model(2);
    let mut adam = Adam::new(0.01);
    let trained = fit_frozen(&start, &mut adam);
    let reference = undo_reference(&start, 1, &mut Adam::new(0.01));
    check_frozen_training(&start, &trained, &reference);
    // The step count is the optimiser's, as Keras's `iterations`: every step counts, whatever
    // is frozen (the reference's bias corrections used the same t).
    assert_eq!(adam.step_count(), (EPOCHS * SAMPLES / BATCH) as u64);
    for k in 3..6 {
        assert!(adam.exp_avg()[k].iter().all(|&v| v == 0.0), "m of frozen parameter {k}");
        assert!(adam.exp_avg_sq()[k].iter().all(|&v| v == 0.0), "v of frozen parameter {k}");
    }
    assert!(adam.exp_avg_sq()[6].iter().all(|&v| v > 0.0), "the Dense kernel's v");
}

#[test]
fn a_step_with_every_parameter_frozen_changes_nothing_not_even_the_step_count() {
    let (x, y) = data();
    let mut m = model(3);
    for i in 0..3 {
        m.set_trainable(i, false).unwrap();
    }
    let before: Vec<_> = (0..3).map(|i| bits(&weights(&m, i))).collect();
    let mut adam = Adam::new(0.01);
    m.train_step(&x, &y, &Mse, &mut adam).unwrap();
    assert_eq!(adam.step_count(), 0);
    assert!(adam.exp_avg().is_empty(), "no state is made for a step that updates nothing");
    assert_eq!((0..3).map(|i| bits(&weights(&m, i))).collect::<Vec<_>>(), before);

    // Unfreezing later needs no reset: the state made then covers every parameter.
    m.set_trainable(2, true).unwrap();
    m.train_step(&x, &y, &Mse, &mut adam).unwrap();
    assert_eq!(adam.step_count(), 1);
    assert_eq!(adam.exp_avg().len(), 8);
    assert_ne!(bits(&weights(&m, 2)), before[2]);
    assert_eq!(bits(&weights(&m, 0)), before[0]);
    // And freezing again after state exists keeps that state's layout.
    m.set_trainable(2, false).unwrap();
    m.set_trainable(0, true).unwrap();
    let dense = bits(&weights(&m, 2));
    m.train_step(&x, &y, &Mse, &mut adam).unwrap();
    assert_eq!(adam.step_count(), 2);
    assert_eq!(bits(&weights(&m, 2)), dense);
    assert_ne!(bits(&weights(&m, 0)), before[0]);
}

#[test]
fn a_frozen_layer_passes_the_exact_gradient_to_the_layers_before_it() {
    let (x, y) = data();
    let mut frozen = model(4);
    frozen.set_trainable(1, false).unwrap();
    let mut open = copy(&frozen);
    open.set_trainable(1, true).unwrap();
    // The same backward pass, flag or not: every gradient bit for bit, the input's too.
    let mut grads = Vec::new();
    for m in [&mut frozen, &mut open] {
        let pred = m.forward(&x, Mode::Train).unwrap();
        let g = (&pred - &y.view().into_dyn()) * (2.0 / pred.len() as f64);
        m.zero_grad();
        let dx = m.backward(&g).unwrap();
        let mut all = vec![dx];
        m.visit_params(&mut |p| all.push(p.grad.to_owned()));
        grads.push(bits(&all));
    }
    assert_eq!(grads[0], grads[1]);
    // And against finite differences, through the frozen LSTM into the SimpleRNN.
    let report = GradCheck::new().check_model(&mut frozen, x.view().into_dyn(), y.view().into_dyn(), &Mse).unwrap();
    assert!(report.worst() < 1e-7, "{report}");
    let first = report.tensor("simple_rnn/kernel").expect("the first layer's kernel is checked");
    assert!(first.analytic != 0.0 && first.worst < 1e-7, "{report}");
}

#[test]
fn summary_counts_trainable_and_non_trainable_params() {
    let mut m = model(5);
    // SimpleRNN(1→4): kernel 1·4 + recurrent 4·4 + bias 4 = 24
    // LSTM(4→3):      kernel 4·12 + recurrent 3·12 + bias 12 = 96
    // Dense(3→1):     kernel 3 + bias 1 = 4                      total 124
    let text = m.summary();
    assert!(text.contains("Total params: 124\nTrainable params: 124\nNon-trainable params: 0\n"), "{text}");
    m.set_trainable(1, false).unwrap();
    let text = m.summary();
    assert!(text.contains("Total params: 124\nTrainable params: 28\nNon-trainable params: 96\n"), "{text}");
    // Each row still counts all of its layer's parameters, as Keras's does.
    assert!(text.lines().any(|l| l.starts_with(" lstm (LSTM)") && l.trim_end().ends_with(" 96")), "{text}");
    assert_eq!((m.param_count(), m.trainable_param_count()), (124, 28));
    m.set_trainable(0, false).unwrap();
    assert!(m.summary().contains("Trainable params: 4\nNon-trainable params: 120\n"));
    m.set_trainable(1, true).unwrap();
    assert!(m.summary().contains("Trainable params: 100\nNon-trainable params: 24\n"));
}

#[test]
fn the_model_file_keeps_the_flag_and_older_files_load_trainable() {
    let mut m = model(6);
    let plain = json::to_vec(&m).unwrap();
    // A model without frozen layers is written as before the flag existed.
    assert!(!String::from_utf8(plain.clone()).unwrap().contains("trainable"));
    m.set_trainable(1, false).unwrap();
    let bytes = json::to_vec(&m).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.matches("\"trainable\": false").count(), 1, "{text}");
    let back: Sequential<f64> = json::from_slice(&bytes).unwrap();
    let flags: Vec<bool> = back.layers().iter().map(|l| l.trainable()).collect();
    assert_eq!(flags, [true, false, true]);
    assert_eq!(back.summary(), m.summary());
    // Saved again, the same bytes.
    assert_eq!(json::to_vec(&back).unwrap(), bytes);

    // A file from before the flag (none written) loads with every layer trainable.
    let old: Sequential<f64> = json::from_slice(&plain).unwrap();
    assert!(old.layers().iter().all(|l| l.trainable()));
    // An explicit `true` is accepted too.
    let mut v: Value = serde_json::from_slice(&plain).unwrap();
    v["layers"][2]["trainable"] = Value::Bool(true);
    let explicit: Sequential<f64> = json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(explicit.layers()[2].trainable());
}

#[test]
fn a_flag_of_the_wrong_type_is_an_error_naming_it() {
    let m = model(7);
    let good: Value = serde_json::from_slice(&json::to_vec(&m).unwrap()).unwrap();
    for bad in [Value::String("no".into()), Value::Null, serde_json::json!(0)] {
        let mut v = good.clone();
        v["layers"][1]["trainable"] = bad.clone();
        let err = json::from_slice::<f64>(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        match &err {
            Error::Format { what, expected, got } => {
                assert!(what.contains("layer 1") && what.contains("trainable"), "{err}");
                assert_eq!(expected, "true or false");
                assert_eq!(got, &bad.to_string());
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }
}

#[test]
fn bidirectional_freezes_both_halves_and_a_half_can_be_frozen_alone() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut m = Sequential::<f64>::new(&[4, 2]).unwrap();
    m.add(Bidirectional::new(GruConfig::new(2, 3).init(&mut rng).unwrap(), MergeMode::Concat, &mut rng).unwrap())
        .unwrap();
    m.add(DenseConfig::new(6, 1).init(&mut rng).unwrap()).unwrap();
    let half = m.layers()[0].param_count() / 2;
    m.set_trainable(0, false).unwrap();
    {
        let bi = m.layer_as::<Bidirectional<f64>>(0).unwrap();
        assert!(!bi.forward_layer().trainable() && !bi.backward_layer().trainable());
    }
    assert_eq!(m.trainable_param_count(), 7);
    m.set_trainable(0, true).unwrap();
    m.layer_as_mut::<Bidirectional<f64>>(0).unwrap().backward_layer_mut().set_trainable(false).unwrap();
    assert_eq!(m.trainable_param_count(), half + 7);

    // One step: the frozen half stays, the other half and the Dense move.
    let x = Array3::from_shape_fn((3, 4, 2), |(b, t, i)| ((b + 2 * t + i) as f64 * 0.4).cos());
    let y = Array2::from_shape_fn((3, 1), |(b, _)| b as f64 * 0.3);
    let before = weights(&m, 0);
    m.train_step(&x, &y, &Mse, &mut Sgd::new(0.1)).unwrap();
    let after = weights(&m, 0);
    let n = before.len() / 2;
    assert!(before[..n].iter().zip(&after[..n]).all(|(a, b)| a != b), "the forward half trains");
    assert_eq!(bits(&before[n..]), bits(&after[n..]), "the frozen backward half");

    // The half's flag goes through the file.
    let back: Sequential<f64> = json::from_slice(&json::to_vec(&m).unwrap()).unwrap();
    let bi = back.layer_as::<Bidirectional<f64>>(0).unwrap();
    assert!(bi.trainable() && bi.forward_layer().trainable() && !bi.backward_layer().trainable());
    assert_eq!(back.trainable_param_count(), half + 7);
    // A half's flag of the wrong type is refused, named.
    let mut v: Value = serde_json::from_slice(&json::to_vec(&m).unwrap()).unwrap();
    v["layers"][0]["config"]["backward"]["trainable"] = Value::String("false".into());
    let err = json::from_slice::<f64>(&serde_json::to_vec(&v).unwrap()).unwrap_err().to_string();
    assert!(err.contains("backward half trainable") && err.contains("true or false"), "{err}");
}

#[test]
fn clipping_by_norm_leaves_frozen_gradients_out() {
    let (x, y) = data();
    let mut m = model(9);
    m.set_trainable(1, false).unwrap();
    let pred = m.forward(&x, Mode::Train).unwrap();
    m.zero_grad();
    m.backward(&((&pred - &y.view().into_dyn()) * 100.0)).unwrap();
    let mut grads = Vec::new();
    m.visit_params(&mut |p| grads.push(p.grad.to_owned()));
    let trainable_norm = grads
        .iter()
        .enumerate()
        .filter(|(k, _)| !(3..6).contains(k))
        .map(|(_, g)| g.mapv(|v| v * v).sum())
        .sum::<f64>();
    let norm = clip_grad_norm(&mut m, 1.0).unwrap();
    assert_eq!(norm, trainable_norm.sqrt());
    let mut after = Vec::new();
    m.visit_params(&mut |p| after.push(p.grad.to_owned()));
    for k in 3..6 {
        assert_eq!(bits(&after[k..k + 1]), bits(&grads[k..k + 1]), "frozen gradient {k} was clipped");
    }
    let c = 1.0 / (norm + 1e-6);
    assert_eq!(after[0], grads[0].mapv(|v| v * c));
}

#[test]
fn an_encoder_decoder_counts_its_parts_flags() {
    let mut rng = StdRng::seed_from_u64(10);
    let mut enc = Sequential::<f64>::new(&[4]).unwrap();
    enc.add(EmbeddingConfig::new(7, 3).init(&mut rng).unwrap()).unwrap();
    enc.add(LstmConfig::new(3, 4).init(&mut rng).unwrap()).unwrap();
    let mut dec = Sequential::new(&[3]).unwrap();
    dec.add(EmbeddingConfig::new(6, 3).init(&mut rng).unwrap()).unwrap();
    dec.add(LstmConfig::new(3, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(DenseConfig::new(4, 6).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    let mut model = EncoderDecoder::new(enc, dec, Decoding::new(1, 2, 5)).unwrap();
    let total = model.param_count();
    // Freeze the encoder's embedding (7·3 = 21 weights), as for pretrained embeddings.
    model.encoder_mut().set_trainable(0, false).unwrap();
    assert_eq!(model.trainable_param_count(), total - 21);
    let before = weights(model.encoder(), 0);
    let lstm_before = weights(model.encoder(), 1);
    let x = ndarray::array![[3.0, 4.0, 5.0, 6.0], [6.0, 3.0, 1.0, 2.0]];
    let y = ndarray::array![[3.0, 5.0, 4.0, 2.0], [4.0, 2.0, 0.0, 0.0]];
    let loss = SparseCategoricalCrossEntropy::new();
    model.fit(&x, &y, &loss, &mut Adam::new(0.05), FitConfig::new(2, 2).quiet()).unwrap();
    assert_eq!(bits(&weights(model.encoder(), 0)), bits(&before));
    for (k, (after, before)) in weights(model.encoder(), 1).iter().zip(&lstm_before).enumerate() {
        assert_ne!(after, before, "the encoder's LSTM parameter {k} trains (through the decoder's initial state)");
    }
}

/// A layer written outside the crate, keeping no flag: it cannot be frozen, and says so.
#[derive(Debug)]
struct Identity {
    name: String,
    w: ArrayD<f64>,
    g: ArrayD<f64>,
}

impl Params<f64> for Identity {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, f64>)) {
        f(ParamRef { name: "w", value: self.w.view(), grad: self.g.view() });
    }
    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
        f(ParamMut { name: "w", value: self.w.view_mut(), grad: self.g.view_mut() });
    }
}

impl Layer<f64> for Identity {
    fn kind(&self) -> &'static str {
        "Identity"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![Some(1)]
    }
    fn output_shape(&self, input: &[usize]) -> recurrent::Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn forward(&mut self, x: ArrayViewD<'_, f64>, _: Mode) -> recurrent::Result<ArrayD<f64>> {
        Ok(x.to_owned())
    }
    fn backward(&mut self, dy: ArrayViewD<'_, f64>) -> recurrent::Result<ArrayD<f64>> {
        Ok(dy.to_owned())
    }
    fn clear_cache(&mut self) {}
    fn has_cache(&self) -> bool {
        true
    }
}

#[test]
fn a_layer_without_a_flag_stays_trainable_and_refuses_to_be_frozen() {
    let mut m = Sequential::<f64>::new(&[1]).unwrap();
    let zero = ArrayD::zeros(vec![1]);
    m.add(Identity { name: "identity".into(), w: zero.clone(), g: zero }).unwrap();
    assert!(m.layers()[0].trainable());
    m.set_trainable(0, true).unwrap();
    let err = m.set_trainable(0, false).unwrap_err();
    match &err {
        Error::InvalidConfig { what, got, .. } => {
            assert!(what.contains("identity (Identity) trainable"), "{err}");
            assert!(got.starts_with("false"), "{err}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(m.layers()[0].trainable());
    assert_eq!(m.trainable_param_count(), 1);
    let err = m.set_trainable(1, false).unwrap_err().to_string();
    assert!(err.contains("[0, 1)") && err.contains("got 1"), "{err}");
}
