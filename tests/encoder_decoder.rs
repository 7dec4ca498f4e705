//! The encoder–decoder model: its gradients against finite differences (the decoder's
//! initial-state gradient must reach the encoder), teacher forcing and greedy decoding against
//! the same computation done by hand with the recurrent layers' state API, the padding after
//! the end token, the checks before anything runs, and training with `fit`.

use ndarray::{array, s, Array2, Array3, ArrayD, Axis};
use recurrent::gradcheck::GradCheck;
use recurrent::model::{Decoding, EncoderDecoder, Model, ModelExt};
use recurrent::prelude::*;
use recurrent::{Error, GruCell, Lstm, Recurrent};

const VOCAB_IN: usize = 7;
const VOCAB_OUT: usize = 6;
const START: usize = 1;
const END: usize = 2;

fn lstm_model(seed: u64, units: usize) -> EncoderDecoder<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut enc = Sequential::new(&[4]).unwrap();
    enc.add(EmbeddingConfig::new(VOCAB_IN, 3).with_mask_zero(true).init(&mut rng).unwrap()).unwrap();
    enc.add(LstmConfig::new(3, units).init(&mut rng).unwrap()).unwrap();
    let mut dec = Sequential::new(&[3]).unwrap();
    dec.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    dec.add(LstmConfig::new(3, units).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(DenseConfig::new(units, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    EncoderDecoder::new(enc, dec, Decoding::new(START, END, 5)).unwrap()
}

/// Input ids (0 is padding, trailing) and targets ending with END, padded after it with 0.
fn data() -> (Array2<f64>, Array2<f64>) {
    let x = array![[3.0, 4.0, 5.0, 6.0], [6.0, 3.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]];
    let y = array![[3.0, 5.0, 4.0, END as f64], [4.0, END as f64, 0.0, 0.0], [5.0, 3.0, 3.0, 4.0]];
    (x, y)
}

#[test]
fn gradients_of_an_lstm_encoder_decoder_match_finite_differences() {
    let mut model = lstm_model(1, 4);
    let (x, y) = data();
    let loss = SparseCategoricalCrossEntropy::new();
    let report = GradCheck::new().check_model(&mut model, x.view().into_dyn(), y.view().into_dyn(), &loss).unwrap();
    assert!(report.worst() < 1e-6, "{report}");
    // Token ids are not differentiable: no input entry; every parameter of both parts is.
    assert!(report.tensor("input").is_none(), "{report}");
    let names: Vec<&str> = report.tensors.iter().map(|t| t.name.as_str()).collect();
    let paths = model.param_paths();
    assert_eq!(names.len(), paths.len());
    for (n, p) in names.iter().zip(&paths) {
        assert!(n.ends_with(p.as_str()), "{n} vs {p}");
    }
    assert!(paths[0].starts_with("encoder/embedding"), "{paths:?}");
    assert!(paths.iter().any(|p| p == "decoder/dense/kernel"), "{paths:?}");
    // The encoder learns only through the state it hands over: its recurrent kernel's
    // gradient is real (not zero), and it checks.
    let t = report.tensor("encoder/lstm/recurrent_kernel").expect("encoder recurrent kernel checked");
    assert!(t.worst < 1e-6 && t.probed == 4 * 16, "{report}");
    model.zero_grad();
    model.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Train).unwrap();
    let out = model.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Train).unwrap();
    // A gradient that varies by token (a constant one is in the softmax's null space).
    let g = ArrayD::from_shape_fn(out.pred.raw_dim(), |i| (i[2] as f64 - 2.0) * 0.1);
    model.backward(g.view()).unwrap();
    let lstm = model.encoder().layer_as::<Lstm<f64>>(1).unwrap();
    let g = lstm.param_grad("recurrent_kernel").unwrap();
    assert!(g.iter().any(|v| v.abs() > 1e-6), "the encoder got no gradient through its final state");
}

#[test]
fn gradients_of_a_two_layer_gru_on_features_with_one_hot_decoder_inputs_match() {
    // Encoder on features (B, T, 2): the input gradient is checked too. Two GRU layers each
    // side, joined pairwise; the decoder reads one-hot rows (B, T, W) and its first layer is
    // recurrent.
    let mut rng = StdRng::seed_from_u64(4);
    let mut enc = Sequential::new(&[5, 2]).unwrap();
    enc.add(GruConfig::new(2, 3).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    enc.add(GruConfig::new(3, 2).init(&mut rng).unwrap()).unwrap();
    let mut dec = Sequential::new(&[3, 5]).unwrap();
    dec.add(GruConfig::new(5, 3).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(GruConfig::new(3, 2).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(DenseConfig::new(2, 4).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    let mut model = EncoderDecoder::new(enc, dec, Decoding::new(4, 0, 6)).unwrap();
    let x = Array3::from_shape_fn((2, 5, 2), |(b, t, i)| ((b * 7 + t * 3 + i) as f64 * 0.7).sin());
    let y = array![[3.0, 1.0, 0.0], [2.0, 0.0, 3.0]];
    let loss = SparseCategoricalCrossEntropy::new();
    let report = GradCheck::new().check_model(&mut model, x.view().into_dyn(), y.view().into_dyn(), &loss).unwrap();
    assert!(report.worst() < 1e-6, "{report}");
    let input = report.tensor("input").expect("features are differentiable");
    assert_eq!(input.probed, 2 * 5 * 2);
    // Both encoder layers' states are handed over: the first's recurrent kernel learns from
    // its own final state as well as from the layer above.
    assert!(report.tensor("encoder/gru/recurrent_kernel").is_some(), "{report}");
    assert!(report.tensor("encoder/gru_1/recurrent_kernel").is_some(), "{report}");
}

#[test]
fn gradients_with_dropout_in_both_parts_check_with_fixed_masks() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut enc = Sequential::new(&[4]).unwrap();
    enc.add(EmbeddingConfig::new(VOCAB_IN, 3).init(&mut rng).unwrap()).unwrap();
    enc.add(LstmConfig::new(3, 3).with_dropout(0.3).with_recurrent_dropout(0.3).init(&mut rng).unwrap()).unwrap();
    let mut dec = Sequential::new(&[3]).unwrap();
    dec.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    dec.add(LstmConfig::new(3, 3).with_return_sequences(true).with_recurrent_dropout(0.3).init(&mut rng).unwrap())
        .unwrap();
    dec.add(DenseConfig::new(3, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    let mut model = EncoderDecoder::new(enc, dec, Decoding::new(START, END, 5)).unwrap();
    let (x, y) = data();
    let x = x.mapv(|v| if v == 0.0 { 3.0 } else { v });
    let loss = SparseCategoricalCrossEntropy::new();
    let report = GradCheck::new().check_model(&mut model, x.view().into_dyn(), y.view().into_dyn(), &loss).unwrap();
    assert!(report.worst() < 1e-6, "{report}");
}

/// The teacher-forced predictions, by hand: the encoder's LSTM from its masked input, its
/// final state into the decoder's LSTM, which reads [start, y shifted right].
#[test]
fn teacher_forcing_is_the_decoder_run_from_the_encoder_state_on_the_shifted_targets() {
    let mut model = lstm_model(2, 4);
    let (x, y) = data();
    let out = model.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Infer).unwrap();
    assert_eq!(out.pred.shape(), &[3, 4, VOCAB_OUT]);
    // Positions after each row's first end token are padding; a row without one is all real.
    let mask = out.mask.expect("a mask");
    assert_eq!(mask, array![[true, true, true, true], [true, true, false, false], [true, true, true, true]]);

    let enc = model.encoder_mut();
    let e = enc.layers_mut()[0].forward(x.view().into_dyn(), Mode::Infer).unwrap();
    let m = x.mapv(|v| v != 0.0);
    let lstm = enc.layer_as_mut::<Lstm<f64>>(1).unwrap();
    let e3 = e.into_dimensionality().unwrap();
    lstm.forward_masked_with_state(e3.view(), Some(m.view()), None, Mode::Infer).unwrap();
    let state = lstm.final_state().unwrap().clone();
    let mut shifted = Array2::from_elem((3, 4), START as f64);
    shifted.slice_mut(s![.., 1..]).assign(&y.slice(s![.., ..3]));
    let dec = model.decoder_mut();
    let d = dec.layers_mut()[0].forward(shifted.view().into_dyn(), Mode::Infer).unwrap();
    let lstm = dec.layer_as_mut::<Lstm<f64>>(1).unwrap();
    let (h, _) = lstm.forward_return_state(d.view().into_dimensionality().unwrap(), Some(&state), Mode::Infer).unwrap();
    let p = dec.layers_mut()[2].forward(h.view(), Mode::Infer).unwrap();
    assert_eq!(out.pred, p, "bit for bit");
    // The decoder's initial state is not left behind.
    assert!(model.decoder().layer_as::<Lstm<f64>>(1).unwrap().initial_state().is_none());
}

#[test]
fn positions_after_the_end_token_do_not_count() {
    // Changing the padding after the end token changes the decoder's input there, and
    // nothing the loss or its gradient sees.
    let (x, y) = data();
    let mut y2 = y.clone();
    y2[[1, 2]] = 5.0;
    y2[[1, 3]] = 3.0;
    let loss = SparseCategoricalCrossEntropy::new();
    // One step from the same weights: the same loss and the same update (so the same
    // gradients), bit for bit.
    let step = |y: &Array2<f64>| {
        let mut m = lstm_model(3, 4);
        let (ev, _) = m.evaluate_in_batches(&x, y, &loss, &[], 2).unwrap();
        let h = m.fit(&x, y, &loss, &mut Sgd::new(0.1), FitConfig::new(1, 3).with_shuffle(false).quiet()).unwrap();
        let mut w = Vec::new();
        m.visit_params(&mut |p| w.push(p.value.to_owned()));
        (ev, h.loss()[0], w)
    };
    let (e1, l1, w1) = step(&y);
    let (e2, l2, w2) = step(&y2);
    assert_eq!((e1, l1), (e2, l2));
    assert_eq!(w1, w2);
    // The training loss (one batch, before its update) is the evaluation's: the mean over
    // the 10 real positions, in batches of 2 and 1 alike.
    assert!((e1 - l1).abs() < 1e-12, "{e1} vs {l1}");
    // And the end token itself counts: a target whose end token changes changes the loss.
    let mut y3 = y.clone();
    y3[[0, 3]] = 4.0;
    let (_, l3, _) = step(&y3);
    assert_ne!(l1, l3);
}

/// Greedy decoding, by hand: one decoder step at a time from the encoder's state, feeding back
/// the argmax, until the end token.
#[test]
fn greedy_decoding_feeds_back_the_most_probable_token_until_the_end() {
    let mut model = lstm_model(5, 6);
    // Make the end token likely, so some rows stop before max_len and some do not.
    {
        let dense = model.decoder_mut().layers_mut()[2].as_mut() as &mut dyn std::any::Any;
        let dense = dense.downcast_mut::<recurrent::Dense<f64>>().unwrap();
        let mut done = false;
        dense.visit_params_mut(&mut |mut p| {
            if p.name == "bias" && !done {
                p.value[END] = 1.2;
                done = true;
            }
        });
    }
    let (x, _) = data();
    let pred = Model::predict(&mut model, x.view().into_dyn()).unwrap();
    assert_eq!(pred.shape(), &[3, 5]);
    let decoded = model.decode(&x).unwrap();

    for (b, row) in x.outer_iter().enumerate() {
        let enc = model.encoder_mut();
        let one = row.insert_axis(Axis(0)).to_owned();
        enc.predict(&one).unwrap();
        let mut state = enc.layer_as::<Lstm<f64>>(1).unwrap().final_state().unwrap().clone();
        let mut token = START;
        let mut expected = Vec::new();
        let dec = model.decoder_mut();
        for _ in 0..5 {
            let e = dec.layers_mut()[0].forward(array![[token as f64]].view().into_dyn(), Mode::Infer).unwrap();
            let lstm = dec.layer_as_mut::<Lstm<f64>>(1).unwrap();
            let (h, s) =
                lstm.forward_return_state(e.view().into_dimensionality().unwrap(), Some(&state), Mode::Infer).unwrap();
            state = s;
            let p = dec.layers_mut()[2].forward(h.view(), Mode::Infer).unwrap();
            let p = p.index_axis(Axis(0), 0).index_axis(Axis(0), 0).to_owned();
            token = (0..VOCAB_OUT).fold(0, |best, k| if p[k] > p[best] { k } else { best });
            expected.push(token);
            if token == END {
                break;
            }
        }
        let n = expected.len();
        let got: Vec<usize> = pred.index_axis(Axis(0), b).iter().map(|&v| v as usize).collect();
        assert_eq!(got[..n], expected[..], "row {b}");
        assert!(got[n..].iter().all(|&t| t == END), "row {b}: {got:?}");
        let without_end: Vec<usize> = expected.iter().copied().take_while(|&t| t != END).collect();
        assert_eq!(decoded[b], without_end, "row {b}");
    }
    assert!(decoded.iter().any(|d| d.len() < 5), "{decoded:?}: no row stopped early, the test sees nothing");
    // Batched and alone give the same.
    let batched = model.predict_in_batches(&x, 2).unwrap();
    assert_eq!(batched, pred);
}

#[test]
fn construction_refuses_parts_that_cannot_work_together() {
    let mut rng = StdRng::seed_from_u64(0);
    let seq = |shape: &[usize]| Sequential::<f64>::new(shape).unwrap();
    let decoder = |rng: &mut StdRng, units: usize| {
        let mut d = seq(&[3]);
        d.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(rng).unwrap()).unwrap();
        d.add(LstmConfig::new(3, units).with_return_sequences(true).init(rng).unwrap()).unwrap();
        d.add(DenseConfig::new(units, VOCAB_OUT).with_activation(Activation::Softmax).init(rng).unwrap()).unwrap();
        d
    };
    let encoder = |rng: &mut StdRng, units: usize| {
        let mut e = seq(&[4]);
        e.add(EmbeddingConfig::new(VOCAB_IN, 3).init(rng).unwrap()).unwrap();
        e.add(LstmConfig::new(3, units).init(rng).unwrap()).unwrap();
        e
    };
    let ok = Decoding::new(START, END, 5);
    let config_err = |r: recurrent::Result<EncoderDecoder<f64>>, needle: &str| match r {
        Err(Error::InvalidConfig { what, expected, got }) => {
            let text = format!("{what}: {expected}: {got}");
            assert!(text.contains(needle), "{text} lacks {needle:?}");
        }
        other => panic!("expected InvalidConfig about {needle}, got {other:?}"),
    };
    // The reference: this works.
    assert!(EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 4), ok).is_ok());
    config_err(EncoderDecoder::new(seq(&[4]), decoder(&mut rng, 4), ok), "encoder");
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 5), ok), "4 units");
    let mut gru_dec = seq(&[3]);
    gru_dec.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    gru_dec.add(GruConfig::new(3, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    gru_dec.add(DenseConfig::new(4, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), gru_dec, ok), "cell state");
    let mut dense_last = encoder(&mut rng, 4);
    dense_last.add(DenseConfig::new(4, 2).init(&mut rng).unwrap()).unwrap();
    config_err(EncoderDecoder::new(dense_last, decoder(&mut rng, 4), ok), "last layer");
    let mut backwards = seq(&[3]);
    backwards.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    backwards
        .add(LstmConfig::new(3, 4).with_return_sequences(true).with_go_backwards(true).init(&mut rng).unwrap())
        .unwrap();
    backwards.add(DenseConfig::new(4, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), backwards, ok), "go_backwards");
    let mut last_only = seq(&[3]);
    last_only.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    last_only.add(LstmConfig::new(3, 4).init(&mut rng).unwrap()).unwrap();
    last_only.add(DenseConfig::new(4, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), last_only, ok), "return_sequences");
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 4), Decoding::new(1, 6, 5)), "end token");
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 4), Decoding::new(6, 2, 5)), "start token");
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 4), Decoding::new(1, 2, 0)), "max_len");
    let mut stateful = encoder(&mut rng, 4);
    stateful.set_stateful(true);
    config_err(EncoderDecoder::new(stateful, decoder(&mut rng, 4), ok), "stateful");
    // A decoder whose input vocabulary cannot read back every output token.
    let mut small = seq(&[3]);
    small.add(EmbeddingConfig::new(4, 3).init(&mut rng).unwrap()).unwrap();
    small.add(LstmConfig::new(3, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    small.add(DenseConfig::new(4, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    config_err(EncoderDecoder::new(encoder(&mut rng, 4), small, ok), "output tokens");
    // set_decoding refuses the same and leaves the model as it was.
    let mut model = EncoderDecoder::new(encoder(&mut rng, 4), decoder(&mut rng, 4), ok).unwrap();
    assert!(model.set_decoding(Decoding::new(1, 9, 5)).is_err());
    assert_eq!(model.decoding(), ok);
}

#[test]
fn fit_checks_inputs_and_targets_before_the_first_step() {
    let (x, y) = data();
    let loss = SparseCategoricalCrossEntropy::new();
    let snapshot = |m: &EncoderDecoder<f64>| {
        let mut v = Vec::new();
        m.visit_params(&mut |p| v.push(p.value.to_owned()));
        v
    };
    let mut model = lstm_model(6, 4);
    let before = snapshot(&model);
    let cfg = || FitConfig::new(2, 2).quiet();
    // A target id beyond the output vocabulary, in the last sample (not the first batch).
    let mut bad = y.clone();
    bad[[2, 1]] = VOCAB_OUT as f64;
    match model.fit(&x, &bad, &loss, &mut Adam::new(0.01), cfg()) {
        Err(Error::OutOfRange { what, index, .. }) => {
            assert!(what.contains("fit targets y"), "{what}");
            assert_eq!(index, "[2, 1]");
        }
        other => panic!("{other:?}"),
    }
    // An input id beyond the encoder's vocabulary.
    let mut badx = x.clone();
    badx[[2, 0]] = VOCAB_IN as f64;
    match model.fit(&badx, &y, &loss, &mut Adam::new(0.01), cfg()) {
        Err(Error::OutOfRange { what, .. }) => assert!(what.contains("fit input x"), "{what}"),
        other => panic!("{other:?}"),
    }
    // Targets of the wrong rank, and a fractional id in the validation targets.
    let y3 = y.clone().insert_axis(Axis(2));
    assert!(matches!(model.fit(&x, &y3, &loss, &mut Adam::new(0.01), cfg()), Err(Error::ShapeMismatch { .. })));
    let mut vy = y.clone();
    vy[[0, 0]] = 2.5;
    match model.fit(&x, &y, &loss, &mut Adam::new(0.01), cfg().with_validation_data(x.clone(), vy)) {
        Err(Error::OutOfRange { what, .. }) => assert!(what.contains("validation y"), "{what}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&model), before, "nothing trained");
    // Backward without a training forward pass.
    let g = ArrayD::zeros(vec![3, 4, VOCAB_OUT]);
    assert!(matches!(model.backward(g.view()), Err(Error::NoForwardCache { .. })));
    // Nor after a failed one.
    model.forward_with_targets(x.view().into_dyn(), y.view().into_dyn(), Mode::Train).unwrap();
    assert!(model.forward_with_targets(badx.view().into_dyn(), y.view().into_dyn(), Mode::Train).is_err());
    assert!(matches!(model.backward(g.view()), Err(Error::NoForwardCache { .. })));
    assert_eq!(snapshot(&model), before);
}

/// Reversing short digit strings: fit learns it, the same seed gives the same weights, and
/// early stopping restores the best epoch through `&mut dyn Model`.
#[test]
fn fit_learns_to_reverse_and_is_reproducible() {
    // Tokens: 0 padding, 1 start, 2 end, 3..=5 digits.
    let mut rng = StdRng::seed_from_u64(11);
    use recurrent::rand::Rng;
    let n = 96;
    let mut x = Array2::<f64>::zeros((n, 4));
    let mut y = Array2::<f64>::zeros((n, 5));
    for i in 0..n {
        let len = rng.random_range(2..=4);
        let digits: Vec<usize> = (0..len).map(|_| rng.random_range(3..VOCAB_OUT)).collect();
        for (t, &d) in digits.iter().enumerate() {
            x[[i, t]] = d as f64;
            y[[i, len - 1 - t]] = d as f64;
        }
        y[[i, len]] = END as f64;
    }
    let train = |seed: u64| {
        let mut m = lstm_model(seed, 16);
        let h = m
            .fit(
                &x,
                &y,
                &SparseCategoricalCrossEntropy::new(),
                &mut Adam::new(0.03),
                FitConfig::new(40, 16).with_seed(3).with_metrics(vec![Metric::Accuracy]).quiet(),
            )
            .unwrap();
        (m, h)
    };
    let (mut m, h) = train(7);
    let acc = h.get("accuracy").unwrap();
    assert!(acc[39] > 0.95, "token accuracy {acc:?}");
    let decoded = m.decode(&x).unwrap();
    let exact = decoded
        .iter()
        .zip(y.outer_iter())
        .filter(|(d, row)| {
            let want: Vec<usize> = row.iter().map(|&v| v as usize).take_while(|&t| t != END).collect();
            **d == want
        })
        .count();
    assert!(exact as f64 > 0.9 * n as f64, "{exact} of {n} reversed exactly");
    let (m2, h2) = train(7);
    assert_eq!(h, h2);
    let params = |m: &EncoderDecoder<f64>| {
        let mut v = Vec::new();
        m.visit_params(&mut |p| v.push(p.value.to_owned()));
        v
    };
    assert_eq!(params(&m), params(&m2), "bit for bit");
}

#[test]
fn the_recurrent_parts_may_be_any_cell() {
    // An encoder of a generic Recurrent layer (the GRU cell through RecurrentConfig) works
    // as well as the aliases do.
    let mut rng = StdRng::seed_from_u64(9);
    let cell = GruCell::default();
    let mut enc = Sequential::<f64>::new(&[4]).unwrap();
    enc.add(EmbeddingConfig::new(VOCAB_IN, 3).init(&mut rng).unwrap()).unwrap();
    let gru: Recurrent<f64, GruCell> =
        recurrent::layers::recurrent::RecurrentConfig::of(cell, 3, 4).init(&mut rng).unwrap();
    enc.add(gru).unwrap();
    let mut dec = Sequential::<f64>::new(&[3]).unwrap();
    dec.add(EmbeddingConfig::new(VOCAB_OUT, 3).init(&mut rng).unwrap()).unwrap();
    dec.add(GruConfig::new(3, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    dec.add(DenseConfig::new(4, VOCAB_OUT).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    let mut model = EncoderDecoder::new(enc, dec, Decoding::new(START, END, 4)).unwrap();
    let (x, y) = data();
    let report = GradCheck::new()
        .check_model(&mut model, x.view().into_dyn(), y.view().into_dyn(), &SparseCategoricalCrossEntropy::new())
        .unwrap();
    assert!(report.worst() < 1e-6, "{report}");
}
