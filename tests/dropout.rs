//! The `Dropout` and `SpatialDropout1D` layers, and PyTorch's between-layer dropout on
//! imported stacks: the drop rate and the `1/(1−p)` scaling within statistical bounds, the
//! identity in inference, masks shared where the noise shape says (every time step of a
//! channel for the spatial variant), backward through the same mask (finite differences with
//! the mask held fixed), seeding and bit-reproducible `fit`, model files, refused rates, and
//! the torch stack with dropout between its layers only.

use ndarray::{s, Array2, Array3, ArrayD, Axis, Ix3, IxDyn};
use recurrent::gradcheck::GradCheck;
use recurrent::io::{json, torch};
use recurrent::prelude::*;
use recurrent::rand::Rng;

fn uniform(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(0.5..1.5))
}

/// `|observed − p| < 5 σ` for the fraction of `n` Bernoulli(p) draws.
fn within_five_sigma(observed: f64, p: f64, n: usize) -> bool {
    (observed - p).abs() < 5.0 * (p * (1.0 - p) / n as f64).sqrt()
}

#[test]
fn rate_and_scaling_match_p() {
    let x = uniform(&[200, 500], 1);
    for p in [0.05, 0.3, 0.5, 0.8] {
        let mut d = Dropout::<f64>::new(p).unwrap();
        d.set_seed(11);
        let y = d.forward(x.view(), Mode::Train).unwrap();
        let scale = 1.0 / (1.0 - p);
        let mut dropped = 0;
        for (a, b) in x.iter().zip(&y) {
            if *b == 0.0 {
                dropped += 1;
            } else {
                assert_eq!(*b, a * scale, "a kept element is x / (1 − p) exactly");
            }
        }
        let rate = dropped as f64 / x.len() as f64;
        assert!(within_five_sigma(rate, p, x.len()), "p = {p}: dropped {rate}");
        // Inverted scaling keeps the mean: E[y] = x. The sum of y − x has variance
        // Σ x² p/(1 − p).
        let diff: f64 = y.iter().zip(&x).map(|(b, a)| b - a).sum();
        let sd = (x.iter().map(|a| a * a).sum::<f64>() * p / (1.0 - p)).sqrt();
        assert!(diff.abs() < 5.0 * sd, "p = {p}: Σ(y − x) = {diff}, σ = {sd}");
    }
}

#[test]
fn rate_and_scaling_in_f32() {
    let x = ArrayD::<f32>::from_elem(IxDyn(&[100, 400]), 1.5);
    let p = 0.25;
    let mut d = Dropout::<f32>::new(p).unwrap();
    let y = d.forward(x.view(), Mode::Train).unwrap();
    let keep = (1.0 / (1.0 - p)) as f32;
    assert!(y.iter().all(|&v| v == 0.0 || v == 1.5 * keep));
    let rate = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!(within_five_sigma(rate, p, y.len()), "{rate}");
}

#[test]
fn rate_zero_is_the_identity_in_training_too() {
    let x = uniform(&[3, 4, 5], 2);
    let mut d = Dropout::<f64>::new(0.0).unwrap();
    assert_eq!(d.forward(x.view(), Mode::Train).unwrap(), x);
    let g = uniform(&[3, 4, 5], 3);
    assert_eq!(d.backward(g.view()).unwrap(), g);
}

#[test]
fn inference_is_the_identity_and_deterministic_and_keeps_no_cache() {
    for shape in [&[7][..], &[3, 4], &[2, 3, 4], &[2, 2, 3, 2]] {
        let x = uniform(shape, 4);
        let mut d = Dropout::<f64>::new(0.6).unwrap();
        let mut s = SpatialDropout1D::<f64>::new(0.6).unwrap();
        let a = d.forward(x.view(), Mode::Infer).unwrap();
        let b = d.forward(x.view(), Mode::Infer).unwrap();
        assert_eq!(a, x, "{shape:?}");
        assert_eq!(b, x, "{shape:?}");
        assert!(!d.has_cache());
        assert!(matches!(d.backward(x.view()), Err(Error::NoForwardCache { .. })));
        if shape.len() == 3 {
            assert_eq!(s.forward(x.view(), Mode::Infer).unwrap(), x);
        }
        // Any rank trains, and shapes are kept.
        let y = d.forward(x.view(), Mode::Train).unwrap();
        assert_eq!(y.shape(), shape);
        assert!(d.has_cache());
        // An inference pass draws nothing: the next training pass is the one a fresh
        // stream would draw first.
        let mut e = Dropout::<f64>::new(0.6).unwrap();
        let mut f = Dropout::<f64>::new(0.6).unwrap();
        e.forward(x.view(), Mode::Infer).unwrap();
        assert_eq!(e.forward(x.view(), Mode::Train).unwrap(), f.forward(x.view(), Mode::Train).unwrap());
    }
}

/// dL/dx is dL/dy times the very mask of the forward pass.
#[test]
fn backward_multiplies_by_the_same_mask() {
    let ones = ArrayD::<f64>::ones(IxDyn(&[6, 5, 4]));
    let g = uniform(&[6, 5, 4], 5);
    let mut d = Dropout::<f64>::new(0.4).unwrap();
    let mask = d.forward(ones.view(), Mode::Train).unwrap();
    let dx = d.backward(g.view()).unwrap();
    assert_eq!(dx, &g * &mask);
    // The cache stays: a second backward gives the same.
    assert_eq!(d.backward(g.view()).unwrap(), dx);
    let mut sp = SpatialDropout1D::<f64>::new(0.4).unwrap();
    let mask = sp.forward(ones.view(), Mode::Train).unwrap();
    assert_eq!(sp.backward(g.view()).unwrap(), &g * &mask);
    assert!(matches!(sp.backward(ArrayD::zeros(IxDyn(&[6, 5, 3])).view()), Err(Error::ShapeMismatch { .. })));
    let mut bad = g.clone();
    bad[[0, 0, 0]] = f64::NAN;
    assert!(matches!(sp.backward(bad.view()), Err(Error::NonFinite { .. })));
}

/// Every channel of every sample is dropped at all steps or at none, the rate over channels
/// is p, and samples get their own channels.
#[test]
fn the_spatial_mask_covers_whole_channels_at_every_step() {
    let (b, t, c, p) = (300, 7, 20, 0.3);
    let x = uniform(&[b, t, c], 6);
    let mut sp = SpatialDropout1D::<f64>::new(p).unwrap();
    sp.set_seed(9);
    let y = sp.forward(x.view(), Mode::Train).unwrap();
    let scale = 1.0 / (1.0 - p);
    let mut dropped = 0;
    let mut patterns = std::collections::HashSet::new();
    for bi in 0..b {
        let mut pattern = Vec::with_capacity(c);
        for ci in 0..c {
            let zeros = (0..t).filter(|&ti| y[[bi, ti, ci]] == 0.0).count();
            assert!(zeros == 0 || zeros == t, "sample {bi} channel {ci}: {zeros} of {t} steps dropped");
            if zeros == t {
                dropped += 1;
            } else {
                for ti in 0..t {
                    assert_eq!(y[[bi, ti, ci]], x[[bi, ti, ci]] * scale);
                }
            }
            pattern.push(zeros == t);
        }
        patterns.insert(pattern);
    }
    let rate = dropped as f64 / (b * c) as f64;
    assert!(within_five_sigma(rate, p, b * c), "{rate}");
    assert!(patterns.len() > b / 2, "a fresh channel choice per sample: {} patterns", patterns.len());
    // Plain dropout on the same input does not keep channels whole.
    let mut d = Dropout::<f64>::new(p).unwrap();
    let y = d.forward(x.view(), Mode::Train).unwrap();
    let partial = (0..b)
        .flat_map(|bi| (0..c).map(move |ci| (bi, ci)))
        .filter(|&(bi, ci)| {
            let zeros = y.slice(s![bi, .., ci]).iter().filter(|v| **v == 0.0).count();
            zeros > 0 && zeros < t
        })
        .count();
    assert!(partial > b * c / 2, "{partial}");
}

#[test]
fn noise_shape_shares_draws_along_its_unit_axes() {
    let x = uniform(&[50, 6, 8], 7);
    // Keras's noise_shape (B, 1, F): a feature of a sample is dropped at every step.
    let mut d = DropoutConfig::new(0.5).with_noise_shape(vec![None, Some(1), Some(8)]).build::<f64>().unwrap();
    let y = d.forward(x.view(), Mode::Train).unwrap();
    for bi in 0..50 {
        for f in 0..8 {
            let zeros = y.slice(s![bi, .., f]).iter().filter(|v| **v == 0.0).count();
            assert!(zeros == 0 || zeros == 6);
        }
    }
    // (1, T, 1): one mask of time steps for the whole batch and every feature.
    let mut d = DropoutConfig::new(0.5).with_noise_shape(vec![Some(1), None, Some(1)]).build::<f64>().unwrap();
    let y = d.forward(x.view(), Mode::Train).unwrap();
    for ti in 0..6 {
        let zeros = y.slice(s![.., ti, ..]).iter().filter(|v| **v == 0.0).count();
        assert!(zeros == 0 || zeros == 50 * 8, "step {ti}: {zeros}");
    }
    // A length other than 1 or the input's, or another rank, is refused before anything runs.
    let mut d = DropoutConfig::new(0.5).with_noise_shape(vec![None, Some(3), None]).build::<f64>().unwrap();
    let err = d.forward(x.view(), Mode::Train).unwrap_err();
    assert!(matches!(&err, Error::ShapeMismatch { what, .. } if what.contains("noise_shape (None, 3, None)")), "{err}");
    assert!(!d.has_cache());
    let mut d = DropoutConfig::new(0.5).with_noise_shape(vec![None, Some(1)]).build::<f64>().unwrap();
    assert!(matches!(d.forward(x.view(), Mode::Infer), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(d.output_shape(&[6, 8]), Err(Error::ShapeMismatch { .. })));
    assert_eq!(d.output_shape(&[6]).unwrap(), vec![6]);
    for bad in [vec![], vec![None, Some(0)]] {
        let err = DropoutConfig::new(0.5).with_noise_shape(bad).build::<f64>().unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "Dropout noise_shape"), "{err}");
    }
}

#[test]
fn bad_rates_are_refused_naming_the_layer() {
    for p in [-0.1, 1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = Dropout::<f64>::new(p).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "Dropout rate"), "{p}: {err}");
        let err = SpatialDropout1D::<f32>::new(p).unwrap_err();
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "SpatialDropout1D rate"), "{p}: {err}");
        let err = DropoutConfig::new(p).build::<f32>().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{p}");
    }
    let mut d = Dropout::<f64>::new(0.2).unwrap();
    assert!(d.set_rate(1.0).is_err());
    assert_eq!(d.rate(), 0.2, "unchanged on error");
    let mut s = SpatialDropout1D::<f64>::new(0.2).unwrap();
    assert!(s.set_rate(f64::NAN).is_err());
    assert_eq!(s.rate(), 0.2);
}

#[test]
fn bad_inputs_are_refused() {
    let mut d = Dropout::<f64>::new(0.5).unwrap();
    assert!(matches!(d.forward(ndarray::arr0(1.0).into_dyn().view(), Mode::Train), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(d.forward(ArrayD::zeros(IxDyn(&[0, 3])).view(), Mode::Train), Err(Error::Empty { .. })));
    let mut x = uniform(&[2, 3], 1);
    x[[1, 2]] = f64::INFINITY;
    let err = d.forward(x.view(), Mode::Infer).unwrap_err();
    assert!(matches!(&err, Error::NonFinite { index, .. } if index == "[1, 2]"), "{err}");
    let mut sp = SpatialDropout1D::<f64>::new(0.5).unwrap();
    assert!(matches!(sp.forward(uniform(&[2, 3], 1).view(), Mode::Train), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(sp.output_shape(&[3]), Err(Error::ShapeMismatch { .. })));
    assert_eq!(sp.output_shape(&[4, 3]).unwrap(), vec![4, 3]);
    // In a model, after a Dense of rank-2 output, the spatial variant is refused at `add`.
    let mut m = Sequential::<f64>::new(&[3]).unwrap();
    m.add(DenseConfig::new(3, 2).init(&mut StdRng::seed_from_u64(0)).unwrap()).unwrap();
    assert!(matches!(m.add(SpatialDropout1D::new(0.1).unwrap()), Err(Error::ShapeMismatch { .. })));
    assert!(m.add(Dropout::new(0.1).unwrap()).is_ok());
}

#[test]
fn a_seed_fixes_the_masks_and_each_pass_draws_afresh() {
    let x = uniform(&[8, 5, 6], 8);
    let mut a = Dropout::<f64>::new(0.5).unwrap();
    let mut b = Dropout::<f64>::new(0.5).unwrap();
    a.set_seed(42);
    b.set_seed(42);
    let first = a.forward(x.view(), Mode::Train).unwrap();
    assert_eq!(first, b.forward(x.view(), Mode::Train).unwrap());
    let second = a.forward(x.view(), Mode::Train).unwrap();
    assert_ne!(first, second, "a fresh mask per training pass");
    a.set_seed(42);
    assert_eq!(a.forward(x.view(), Mode::Train).unwrap(), first, "reseeding restarts the stream");
    b.set_seed(43);
    assert_ne!(b.forward(x.view(), Mode::Train).unwrap(), first);
    // `reseed` (what `fit` calls) is a function of the seed alone, and differs between seeds.
    a.reseed(7);
    b.reseed(7);
    assert_eq!(a.seed(), b.seed());
    assert_eq!(a.forward(x.view(), Mode::Train).unwrap(), b.forward(x.view(), Mode::Train).unwrap());
    b.reseed(8);
    assert_ne!(a.seed(), b.seed());
}

/// Two dropout layers of the same rate in one model draw different masks: the model gives
/// each layer its own stream.
#[test]
fn layers_of_one_model_draw_their_own_masks() {
    let mut m = Sequential::<f64>::new(&[4, 3]).unwrap();
    m.add(Dropout::new(0.5).unwrap()).unwrap();
    m.add(Dropout::new(0.5).unwrap()).unwrap();
    m.reseed(1);
    let (s0, s1) = (m.layer_as::<Dropout<f64>>(0).unwrap().seed(), m.layer_as::<Dropout<f64>>(1).unwrap().seed());
    assert_ne!(s0, s1);
    assert_eq!(m.layers()[1].name(), "dropout_1", "Keras's naming");
}

#[test]
fn masks_pass_through_unchanged() {
    let x = uniform(&[2, 4, 3], 9);
    let mask = Array2::from_shape_fn((2, 4), |(b, t)| t + b < 4);
    let d = Dropout::<f64>::new(0.3).unwrap();
    let sp = SpatialDropout1D::<f64>::new(0.3).unwrap();
    assert_eq!(d.output_mask(x.view(), Some(mask.view())).unwrap(), Some(mask.clone()));
    assert_eq!(sp.output_mask(x.view(), Some(mask.view())).unwrap(), Some(mask.clone()));
    // In a model: Masking → SpatialDropout1D → LSTM skips the padded steps as without it.
    let mut rng = StdRng::seed_from_u64(3);
    let lstm = LstmConfig::new(3, 4).init::<f64, _>(&mut rng).unwrap();
    let mut with = Sequential::<f64>::new(&[4, 3]).unwrap();
    with.add(Masking::new(0.0)).unwrap();
    with.add(SpatialDropout1D::new(0.3).unwrap()).unwrap();
    with.add(lstm.clone()).unwrap();
    let mut without = Sequential::<f64>::new(&[4, 3]).unwrap();
    without.add(Masking::new(0.0)).unwrap();
    without.add(lstm).unwrap();
    let mut padded = x.clone();
    padded.slice_mut(s![1, 2.., ..]).fill(0.0);
    assert_eq!(with.predict(&padded).unwrap(), without.predict(&padded).unwrap());
    with.forward(&padded, Mode::Train).unwrap();
    let changed = padded.slice(s![1, ..2, ..]).to_owned();
    let alone = with.predict(&changed.insert_axis(Axis(0))).unwrap();
    let full = without.predict(&padded).unwrap();
    assert_eq!(alone.index_axis(Axis(0), 0), full.index_axis(Axis(0), 1), "padding still skipped");
}

/// With the masks held fixed (the check reseeds before every pass), backward differentiates
/// the dropped function exactly, for the layers alone and inside a model.
#[test]
fn gradients_check_with_a_fixed_mask() {
    let check = GradCheck::new().with_seed(4);
    let x = uniform(&[3, 5, 4], 10);
    let mut d = Dropout::<f64>::new(0.4).unwrap();
    let mut sp = SpatialDropout1D::<f64>::new(0.4).unwrap();
    for layer in [&mut d as &mut dyn Layer<f64>, &mut sp] {
        let report = check.check_layer(layer, x.view(), None).unwrap();
        assert!(report.worst() < 1e-8, "{}:\n{report}", layer.kind());
        assert_eq!(report.tensor("input").map(|t| t.probed), Some(60));
        // The check did run through a mask: its training pass drops some inputs.
        layer.reseed(4);
        let y = layer.forward(x.view(), Mode::Train).unwrap();
        assert!(y.iter().any(|v| *v == 0.0), "{}", layer.kind());
    }

    let mut rng = StdRng::seed_from_u64(12);
    let mut m = Sequential::<f64>::new(&[5, 4]).unwrap();
    m.add(SpatialDropout1D::new(0.3).unwrap()).unwrap();
    m.add(LstmConfig::new(4, 6).with_return_sequences(true).with_recurrent_dropout(0.2).init(&mut rng).unwrap())
        .unwrap();
    m.add(Dropout::new(0.3).unwrap()).unwrap();
    m.add(GruConfig::new(6, 5).init(&mut rng).unwrap()).unwrap();
    m.add(Dropout::new(0.5).unwrap()).unwrap();
    m.add(DenseConfig::new(5, 2).init(&mut rng).unwrap()).unwrap();
    let y = uniform(&[3, 2], 13);
    let report = check.check_model(&mut m, x.view(), y.view().into_dyn(), &Mse).unwrap();
    assert!(report.worst() < 1e-7, "{report}");
    assert_eq!(report.tensors.len(), 3 + 4 + 2, "LSTM, GRU (with its recurrent bias) and Dense parameters");
    m.reseed(4);
    let train = m.forward(&x, Mode::Train).unwrap();
    assert_ne!(train, m.predict(&x).unwrap(), "the checked function is the dropped one");
}

fn dropout_model(seed: u64) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[6, 1]).unwrap();
    m.add(LstmConfig::new(1, 8).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    m.add(SpatialDropout1D::new(0.2).unwrap()).unwrap();
    m.add(GruConfig::new(8, 8).with_recurrent_dropout(0.2).init(&mut rng).unwrap()).unwrap();
    m.add(Dropout::new(0.3).unwrap()).unwrap();
    m.add(DenseConfig::new(8, 1).init(&mut rng).unwrap()).unwrap();
    m
}

fn series() -> (Array3<f64>, Array2<f64>) {
    let s: Vec<f64> = (0..90).map(|k| (0.25 * k as f64).sin()).collect();
    recurrent::data::windows(&s, 6).unwrap()
}

#[test]
fn fit_with_dropout_layers_is_bit_reproducible() {
    let (x, y) = series();
    let run = |fit_seed: u64, passes_before: usize| {
        let mut m = dropout_model(4);
        // What ran before `fit` does not matter: it reseeds every layer.
        for _ in 0..passes_before {
            m.forward(&x, Mode::Train).unwrap();
        }
        let config = FitConfig::new(4, 16).with_seed(fit_seed).with_validation_split(0.2).quiet();
        let h = m.fit(&x, &y, &Mse, &mut Adam::new(0.01), config).unwrap();
        (json::to_vec(&m).unwrap(), h.loss(), h.val_loss())
    };
    let a = run(9, 0);
    let b = run(9, 2);
    assert_eq!(a, b, "same seed: bit-identical losses and weights");
    let c = run(10, 0);
    assert_ne!(a.1, c.1, "another seed draws other masks (and batches)");
}

#[test]
fn model_files_keep_both_kinds() {
    let mut m = dropout_model(5);
    let mut noisy = Sequential::<f64>::new(&[6, 8]).unwrap();
    noisy.add(DropoutConfig::new(0.125).with_noise_shape(vec![None, Some(1), None]).build().unwrap()).unwrap();
    for model in [&mut m, &mut noisy] {
        let bytes = json::to_vec(model).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mut back = json::from_slice::<f64>(&bytes).unwrap();
        assert_eq!(json::to_vec(&back).unwrap(), bytes, "{text}");
        let x = uniform(&[3, 6, model.input_shape()[1]], 14);
        assert_eq!(back.predict(&x).unwrap(), model.predict(&x).unwrap());
        assert_eq!(back.summary(), model.summary());
    }
    let text = String::from_utf8(json::to_vec(&m).unwrap()).unwrap();
    assert!(text.contains("\"kind\": \"SpatialDropout1D\""), "{text}");
    assert!(text.contains("\"rate\": 0.2"), "{text}");
    let back = json::from_slice::<f64>(&json::to_vec(&noisy).unwrap()).unwrap();
    let d = back.layer_as::<Dropout<f64>>(0).unwrap();
    assert_eq!((d.rate(), d.noise_shape()), (0.125, Some(&[None, Some(1), None][..])));

    // The same file with a rate of 1 is refused, naming the layer.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["layers"][3]["config"]["rate"] = serde_json::json!(1.0);
    let err = json::from_slice::<f64>(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { what, .. } if what.contains("layer 3 (dropout, Dropout)") && what.contains("Dropout rate")),
        "{err}"
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["layers"][1]["config"]["noise_shape"] = serde_json::json!([null, 1, null]);
    let err = json::from_slice::<f64>(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(matches!(&err, Error::Format { .. }), "SpatialDropout1D has only a rate: {err}");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["layers"][3]["weights"] = serde_json::json!([{"name": "mask", "shape": [1], "data": [1.0]}]);
    assert!(matches!(json::from_slice::<f64>(&serde_json::to_vec(&v).unwrap()), Err(Error::Format { .. })));
}

#[test]
fn summary_shows_the_kinds_with_no_parameters() {
    let m = dropout_model(6);
    let text = m.summary();
    assert!(text.contains("\n spatial_dropout1d (SpatialDropout1D) (None, 6, 8)              0\n"), "{text}");
    assert!(text.contains("\n dropout (Dropout)                    (None, 8)                 0\n"), "{text}");
    assert!(text.contains("Total params: 761\n"), "320 + 432 + 9, nothing from the dropout layers: {text}");
    assert_eq!(m.layers()[3].config_summary(), "rate=0.3");
}

// ───────────────────────────── PyTorch's dropout between layers ─────────────────────────────

/// The state dict of a 3-layer `nn.LSTM(3, 5)` (unidirectional) or 2-layer bidirectional GRU.
fn torch_dict(bidirectional: bool) -> torch::StateDict<f64> {
    let mut rng = StdRng::seed_from_u64(21);
    let layers: Vec<Box<dyn Layer<f64>>> = if bidirectional {
        let g0 = GruConfig::new(3, 5).with_return_sequences(true).init(&mut rng).unwrap();
        let g1 = GruConfig::new(10, 5).with_return_sequences(true).init(&mut rng).unwrap();
        vec![
            Box::new(Bidirectional::new(g0, MergeMode::Concat, &mut rng).unwrap()),
            Box::new(Bidirectional::new(g1, MergeMode::Concat, &mut rng).unwrap()),
        ]
    } else {
        (0..3)
            .map(|k| {
                let l = LstmConfig::new(if k == 0 { 3 } else { 5 }, 5).with_return_sequences(true);
                Box::new(l.init::<f64, _>(&mut rng).unwrap()) as Box<dyn Layer<f64>>
            })
            .collect()
    };
    torch::TorchRnn::from_layers(layers).unwrap().export().unwrap()
}

fn import(bidirectional: bool) -> torch::TorchRnn<f64> {
    let dict = torch_dict(bidirectional);
    if bidirectional {
        torch::import_gru(&dict).unwrap()
    } else {
        torch::import_lstm(&dict).unwrap()
    }
}

#[test]
fn torch_dropout_leaves_inference_unchanged() {
    let x = uniform(&[4, 7, 3], 22).into_dimensionality::<Ix3>().unwrap();
    for bi in [false, true] {
        let mut plain = import(bi);
        let mut dropped = import(bi).with_dropout(0.4).unwrap();
        assert_eq!((plain.dropout(), dropped.dropout()), (0.0, 0.4));
        assert_eq!(plain.layers().len(), dropped.layers().len(), "layers() lists the PyTorch layers");
        let (a, b) = (plain.forward(x.view(), None, None).unwrap(), dropped.forward(x.view(), None, None).unwrap());
        assert_eq!(a, b, "forward is PyTorch's eval(): no dropout");
        let mut seq = dropped.into_sequential(7).unwrap();
        assert_eq!(seq.predict(&x).unwrap(), a.output.into_dyn());
    }
}

/// In training, the stack is layer → dropout → layer → dropout → layer: recomputing it by
/// hand from each dropout layer's seed gives the model's training output bit for bit, the
/// dropped outputs are those of the layers below the last, and the last is not dropped.
#[test]
fn torch_dropout_acts_between_layers_in_training_only() {
    let x = uniform(&[40, 6, 3], 23);
    let p = 0.3;
    for bi in [false, true] {
        let n = if bi { 2 } else { 3 };
        let mut seq = import(bi).with_dropout(p).unwrap().into_sequential(6).unwrap();
        let kinds: Vec<&str> = seq.layers().iter().map(|l| l.kind()).collect();
        let rnn = if bi { "Bidirectional" } else { "LSTM" };
        let want: Vec<&str> = (0..2 * n - 1).map(|j| if j % 2 == 0 { rnn } else { "Dropout" }).collect();
        assert_eq!(kinds, want);
        assert_eq!(seq.layers()[1].name(), "dropout_l0");
        seq.reseed(5);
        let seeds: Vec<u64> = (0..n - 1).map(|k| seq.layer_as::<Dropout<f64>>(2 * k + 1).unwrap().seed()).collect();
        let train = seq.forward(&x, Mode::Train).unwrap();
        assert!(train.iter().all(|v| *v != 0.0), "the last layer's output is not dropped");
        assert_ne!(train, seq.predict(&x).unwrap());

        let mut h = x.clone().into_dyn();
        for k in 0..n {
            h = seq.layers_mut()[2 * k].forward(h.view(), Mode::Infer).unwrap();
            if let Some(&seed) = seeds.get(k) {
                assert!(h.iter().all(|v| *v != 0.0));
                let mut d = Dropout::<f64>::new(p).unwrap();
                d.set_seed(seed);
                h = d.forward(h.view(), Mode::Train).unwrap();
                let rate = h.iter().filter(|v| **v == 0.0).count() as f64 / h.len() as f64;
                assert!(within_five_sigma(rate, p, h.len()), "layer {k}: {rate}");
            }
        }
        assert_eq!(h, train, "bidirectional {bi}");
    }
}

#[test]
fn torch_dropout_survives_a_round_trip_through_layers() {
    let dict = torch_dict(false);
    let rnn = torch::import_lstm(&dict).unwrap().with_dropout(0.25).unwrap();
    let layers = rnn.into_layers();
    assert_eq!(layers.len(), 5);
    let refs: Vec<&dyn Layer<f64>> = layers.iter().map(|l| l.as_ref()).collect();
    assert_eq!(torch::export_recurrent(&refs).unwrap(), dict, "export skips the dropout layers");
    let back = torch::TorchRnn::from_layers(layers).unwrap();
    assert_eq!(back.dropout(), 0.25);
    assert_eq!(back.layers().len(), 3);
    assert_eq!(back.export().unwrap(), dict);
    // One layer: nothing to put dropout between (PyTorch warns and ignores it).
    let one = torch::TorchRnn::from_layers(vec![Box::new(
        LstmConfig::new(3, 2).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap(),
    )])
    .unwrap()
    .with_dropout(0.5)
    .unwrap();
    assert_eq!(one.into_layers().len(), 1);
}

#[test]
fn torch_stacks_pytorch_cannot_express_are_refused() {
    let layers = || torch::import_lstm(&torch_dict(false)).unwrap().with_dropout(0.25).unwrap().into_layers();
    let refuse = |mut ls: Vec<Box<dyn Layer<f64>>>, fragment: &str| {
        let err = rnn_err(torch::TorchRnn::from_layers(std::mem::take(&mut ls)), fragment);
        assert!(matches!(&err, Error::InvalidConfig { .. }) && err.to_string().contains(fragment), "{err}");
    };
    // Rates that differ.
    let mut ls = layers();
    ls[3] = Box::new(Dropout::<f64>::new(0.5).unwrap());
    refuse(ls, "rate 0.25");
    // Dropout after the last layer.
    let mut ls = layers();
    ls.push(Box::new(Dropout::<f64>::new(0.25).unwrap()));
    refuse(ls, "only between layers");
    // A gap without dropout.
    let mut ls = layers();
    ls.remove(3);
    refuse(ls, "between each two");
    // Spatial or noise-shaped dropout is not PyTorch's.
    let mut ls = layers();
    ls[1] = Box::new(DropoutConfig::new(0.25).with_noise_shape(vec![None, Some(1), None]).build::<f64>().unwrap());
    refuse(ls, "noise_shape");
    let mut ls = layers();
    ls[1] = Box::new(SpatialDropout1D::<f64>::new(0.25).unwrap());
    refuse(ls, "SpatialDropout1D");
    let rnn = torch::import_lstm(&torch_dict(false)).unwrap();
    for p in [1.0, -0.5, f64::NAN] {
        let err = rnn_err(torch::import_lstm(&torch_dict(false)).unwrap().with_dropout(p), "a bad rate");
        assert!(matches!(&err, Error::InvalidConfig { what, .. } if what == "nn.LSTM dropout"), "{err}");
    }
    assert_eq!(rnn.dropout(), 0.0);
}

fn rnn_err(r: recurrent::Result<torch::TorchRnn<f64>>, case: &str) -> Error {
    match r {
        Ok(_) => panic!("expected an error for {case}"),
        Err(e) => e,
    }
}
