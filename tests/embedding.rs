//! The `Embedding` layer: a hand-worked lookup and scatter-add, finite-difference gradient
//! checks of the table (alone and inside Embedding → SimpleRNN → Dense), the documented
//! errors, the mask, the initialiser and the model summary.

use ndarray::{array, Array2, ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use recurrent::prelude::*;
use recurrent::rand::Rng;

/// Finite-difference step and tolerance, as in `tests/gradcheck.rs`: central differences in
/// f64 are accurate to about 1e-9 here, while a wrong gradient is off by 1e-2 or more.
const STEP: f64 = 1e-6;
const RTOL: f64 = 1e-7;

fn config() -> ProptestConfig {
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(24) }
}

fn layer(vocab: usize, dim: usize) -> Embedding<f64> {
    EmbeddingConfig::new(vocab, dim).init(&mut StdRng::seed_from_u64(3)).unwrap()
}

/// The table of the hand-worked cases: row v is (2v − 1, 2v), row 0 is (0, 0).
fn hand_layer() -> Embedding<f64> {
    let mut e = layer(4, 2);
    e.set_embeddings(array![[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
    e
}

fn table_grad<P: Params<f64> + ?Sized>(p: &P, index: usize) -> ArrayD<f64> {
    let mut k = 0;
    let mut out = None;
    p.visit_params(&mut |r| {
        if k == index {
            out = Some(r.grad.to_owned());
        }
        k += 1;
    });
    out.expect("parameter index in range")
}

fn set_table<P: Params<f64> + ?Sized>(p: &mut P, index: usize, value: &ArrayD<f64>) {
    let mut k = 0;
    p.visit_params_mut(&mut |mut m| {
        if k == index {
            m.value.assign(value);
        }
        k += 1;
    });
}

fn table_value<P: Params<f64> + ?Sized>(p: &P, index: usize) -> ArrayD<f64> {
    let mut k = 0;
    let mut out = None;
    p.visit_params(&mut |r| {
        if k == index {
            out = Some(r.value.to_owned());
        }
        k += 1;
    });
    out.expect("parameter index in range")
}

/// Central differences of `f` over every element of parameter `index` of `p`.
fn numeric_grad<P: Params<f64> + ?Sized>(p: &mut P, index: usize, mut f: impl FnMut(&mut P) -> f64) -> ArrayD<f64> {
    let base = table_value(p, index);
    let mut grad = ArrayD::zeros(base.raw_dim());
    let mut probe = base.clone();
    for k in 0..base.len() {
        let orig = base.as_slice().unwrap()[k];
        probe.as_slice_mut().unwrap()[k] = orig + STEP;
        set_table(p, index, &probe);
        let up = f(p);
        probe.as_slice_mut().unwrap()[k] = orig - STEP;
        set_table(p, index, &probe);
        let down = f(p);
        probe.as_slice_mut().unwrap()[k] = orig;
        grad.as_slice_mut().unwrap()[k] = (up - down) / (2.0 * STEP);
    }
    set_table(p, index, &base);
    grad
}

fn check_close(what: &str, analytic: &ArrayD<f64>, numeric: &ArrayD<f64>) -> Result<(), TestCaseError> {
    prop_assert_eq!(analytic.shape(), numeric.shape(), "{}: shapes", what);
    for (k, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let excess = (a - n).abs() / n.abs().max(1.0);
        prop_assert!(excess <= RTOL, "{}: element {} analytic {:e}, numeric {:e}", what, k, a, n);
    }
    Ok(())
}

fn ids(rng: &mut StdRng, b: usize, t: usize, vocab: usize) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[b, t]), |_| rng.random_range(0..vocab) as f64)
}

// ---------------------------------------------------------------------------------------
// Hand-worked forward and backward
// ---------------------------------------------------------------------------------------

#[test]
fn forward_looks_up_rows() {
    let mut e = hand_layer();
    let y = e.forward(array![[1.0, 3.0, 1.0], [0.0, 1.0, 2.0]].into_dyn().view(), Mode::Train).unwrap();
    let want = array![[[1.0, 2.0], [5.0, 6.0], [1.0, 2.0]], [[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]].into_dyn();
    assert_eq!(y, want);
}

#[test]
fn backward_scatter_adds_repeated_ids() {
    let mut e = hand_layer();
    e.forward(array![[1.0, 3.0, 1.0], [0.0, 1.0, 2.0]].into_dyn().view(), Mode::Train).unwrap();
    let g = array![[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[0.7, 0.8], [0.9, 1.0], [1.1, 1.2]]].into_dyn();
    let dx = e.backward(g.view()).unwrap();
    // Id 1 sits at [0, 0], [0, 2] and [1, 1]: (0.1 + 0.5 + 0.9, 0.2 + 0.6 + 1.0) = (1.5, 1.8).
    // Id 0 at [1, 0], id 2 at [1, 2], id 3 at [0, 1], each once.
    let want = array![[0.7, 0.8], [1.5, 1.8], [1.1, 1.2], [0.3, 0.4]];
    for (got, want) in e.embeddings_grad().iter().zip(&want) {
        assert!((got - want).abs() < 1e-15, "table gradient {} vs {want}", e.embeddings_grad());
    }
    // Ids are not differentiable: a zero gradient of the input's shape.
    assert_eq!(dx, ArrayD::<f64>::zeros(IxDyn(&[2, 3])));
    // The cache stays: a second backward adds the same gradient again.
    e.backward(g.view()).unwrap();
    for (got, want) in e.embeddings_grad().iter().zip(&want) {
        assert!((got - 2.0 * want).abs() < 1e-15, "after two backward passes: {}", e.embeddings_grad());
    }
    e.zero_grad();
    assert!(e.embeddings_grad().iter().all(|&v| v == 0.0));
}

#[test]
fn sgd_moves_only_the_rows_looked_up() {
    let mut e = hand_layer();
    e.forward(array![[2.0, 2.0]].into_dyn().view(), Mode::Train).unwrap();
    e.backward(array![[[1.0, -1.0], [0.5, 0.5]]].into_dyn().view()).unwrap();
    Sgd::new(0.1).step(&mut e).unwrap();
    // Row 2 had gradient (1.5, −0.5): (3, 4) − 0.1·(1.5, −0.5) = (2.85, 4.05).
    let want = array![[0.0, 0.0], [1.0, 2.0], [2.85, 4.05], [5.0, 6.0]];
    for (got, want) in e.embeddings().iter().zip(&want) {
        assert!((got - want).abs() < 1e-15, "table after one step: {}", e.embeddings());
    }
}

#[test]
fn f32_matches_f64() {
    let mut e = EmbeddingConfig::new(4, 2).init::<f32, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    e.set_embeddings(array![[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
    let y = e.forward(array![[3.0f32, 0.0]].into_dyn().view(), Mode::Train).unwrap();
    assert_eq!(y, array![[[5.0f32, 6.0], [0.0, 0.0]]].into_dyn());
    e.backward(array![[[1.0f32, 2.0], [3.0, 4.0]]].into_dyn().view()).unwrap();
    assert_eq!(e.embeddings_grad(), &array![[3.0f32, 4.0], [0.0, 0.0], [0.0, 0.0], [1.0, 2.0]]);
}

#[test]
fn infer_keeps_no_cache() {
    let mut e = hand_layer();
    let x = array![[1.0, 2.0]].into_dyn();
    e.forward(x.view(), Mode::Train).unwrap();
    assert!(e.has_cache());
    e.forward(x.view(), Mode::Infer).unwrap();
    assert!(!e.has_cache());
    let err = e.backward(ArrayD::zeros(IxDyn(&[1, 2, 2])).view()).unwrap_err();
    assert_eq!(err, Error::NoForwardCache { layer: "embedding".into() });
    e.forward(x.view(), Mode::Train).unwrap();
    e.clear_cache();
    assert!(!e.has_cache());
}

#[test]
fn layer_interface() {
    let e = EmbeddingConfig::new(7, 3).with_mask_zero(true).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(e.kind(), "Embedding");
    assert_eq!(e.name(), "embedding");
    assert_eq!(e.input_spec(), vec![None]);
    assert_eq!(e.output_shape(&[9]).unwrap(), vec![9, 3]);
    assert_eq!(e.param_count(), 21);
    assert_eq!(e.config_summary(), "vocab_size=7, dim=3, mask_zero=true");
    let mut names = Vec::new();
    e.visit_params(&mut |p| names.push((p.name.to_string(), p.value.shape().to_vec())));
    assert_eq!(names, vec![("embeddings".to_string(), vec![7, 3])]);
    assert!(e.as_recurrent().is_none());
    // The concrete type comes back through `Any` (trait upcasting).
    let boxed: Box<dyn Layer<f64>> = Box::new(e);
    let any: &dyn std::any::Any = boxed.as_ref();
    assert!(any.downcast_ref::<Embedding<f64>>().is_some());
    assert!(any.downcast_ref::<Dense<f64>>().is_none());
}

// ---------------------------------------------------------------------------------------
// Initialisation and mask
// ---------------------------------------------------------------------------------------

#[test]
fn init_is_keras_uniform_and_seeded() {
    let a = EmbeddingConfig::new(100, 20).init::<f64, _>(&mut StdRng::seed_from_u64(11)).unwrap();
    let b = EmbeddingConfig::new(100, 20).init::<f64, _>(&mut StdRng::seed_from_u64(11)).unwrap();
    assert_eq!(a.embeddings(), b.embeddings());
    let t = a.embeddings();
    assert!(t.iter().all(|&v| (-0.05..0.05).contains(&v)), "every entry in [-0.05, 0.05)");
    // 2000 uniform draws: both tails reached and the mean near 0 (sd of the mean ≈ 0.00065).
    let (lo, hi) = t.iter().fold((1.0f64, -1.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(lo < -0.049 && hi > 0.049, "range [{lo}, {hi}]");
    assert!(t.mean().unwrap().abs() < 0.004);
    let c = EmbeddingConfig::new(100, 20).init::<f32, _>(&mut StdRng::seed_from_u64(11)).unwrap();
    assert!(c.embeddings().iter().zip(t).all(|(&s, &d)| s == d as f32), "f32 is the f64 draw rounded");
}

#[test]
fn mask_marks_nonzero_ids() {
    let ids = array![[4.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 3.0]];
    let masked = EmbeddingConfig::new(5, 2).with_mask_zero(true).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    assert!(masked.config().mask_zero);
    assert_eq!(masked.compute_mask(ids.view()), array![[true, true, false, false], [false, true, false, true]]);
    let plain = EmbeddingConfig::new(5, 2).init::<f64, _>(&mut StdRng::seed_from_u64(0)).unwrap();
    assert!(!plain.config().mask_zero);
    assert_eq!(plain.compute_mask(ids.view()), Array2::from_elem((2, 4), true));
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

fn forward_err(input: ArrayD<f64>) -> (Error, Embedding<f64>) {
    let mut e = hand_layer();
    e.forward(array![[1.0]].into_dyn().view(), Mode::Train).unwrap();
    let err = e.forward(input.view(), Mode::Train).unwrap_err();
    (err, e)
}

fn assert_out_of_range(input: ArrayD<f64>, bad: &str, at: &str) {
    let (err, e) = forward_err(input);
    let text = err.to_string();
    match err {
        Error::OutOfRange { what, expected, got, index } => {
            assert!(what.contains("embedding input"), "{what}");
            assert!(expected.contains("whole numbers in [0, 4)"), "{expected}");
            assert_eq!(got, bad);
            assert_eq!(index, at);
        }
        other => panic!("expected OutOfRange for id {bad}, got {other:?}"),
    }
    assert!(text.contains(bad) && text.contains(at), "{text}");
    // The error left the layer as it was: the earlier training cache is still there.
    assert!(e.has_cache());
    assert_eq!(e.embeddings()[[3, 1]], 6.0);
}

#[test]
fn ids_out_of_range() {
    assert_out_of_range(array![[1.0, 2.0], [4.0, 0.0]].into_dyn(), "4", "[1, 0]");
    assert_out_of_range(array![[1.0, -1.0]].into_dyn(), "-1", "[0, 1]");
    assert_out_of_range(array![[1.0, 2.0, 1.5]].into_dyn(), "1.5", "[0, 2]");
    assert_out_of_range(array![[0.0], [-0.25]].into_dyn(), "-0.25", "[1, 0]");
    assert_out_of_range(array![[1e30]].into_dyn(), "1000000000000000000000000000000", "[0, 0]");
    // The first bad id in row-major order is the one named.
    assert_out_of_range(array![[0.0, 9.0], [f64::NAN, 0.5]].into_dyn(), "9", "[0, 1]");
}

#[test]
fn non_finite_ids() {
    for (v, text) in [(f64::NAN, "NaN"), (f64::INFINITY, "inf"), (f64::NEG_INFINITY, "-inf")] {
        let (err, e) = forward_err(array![[1.0, 2.0], [v, 0.0]].into_dyn());
        assert_eq!(
            err,
            Error::NonFinite { what: "embedding input (token ids)".into(), index: "[1, 0]".into(), value: text.into() }
        );
        assert!(e.has_cache());
    }
}

#[test]
fn wrong_rank_and_empty_input() {
    let (err, _) = forward_err(ArrayD::zeros(IxDyn(&[2, 3, 1])));
    match err {
        Error::ShapeMismatch { expected, got, .. } => {
            assert_eq!(expected, "(B, T) of token ids");
            assert_eq!(got, "(2, 3, 1)");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let (err, _) = forward_err(ArrayD::zeros(IxDyn(&[4])));
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    let (err, _) = forward_err(ArrayD::zeros(IxDyn(&[2, 0])));
    match err {
        Error::Empty { axis, shape, .. } => {
            assert_eq!(axis, "time steps");
            assert_eq!(shape, "(2, 0)");
        }
        other => panic!("expected Empty, got {other:?}"),
    }
    let e = hand_layer();
    match e.output_shape(&[5, 1]).unwrap_err() {
        Error::ShapeMismatch { expected, got, .. } => {
            assert!(expected.contains("(T,) per sample"), "{expected}");
            assert_eq!(got, "(5, 1)");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
}

#[test]
fn zero_sizes_are_invalid_config() {
    let mut rng = StdRng::seed_from_u64(0);
    match EmbeddingConfig::new(0, 4).init::<f64, _>(&mut rng).unwrap_err() {
        Error::InvalidConfig { what, got, .. } => {
            assert_eq!(what, "Embedding vocab_size");
            assert_eq!(got, "0");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    match EmbeddingConfig::new(4, 0).init::<f64, _>(&mut rng).unwrap_err() {
        Error::InvalidConfig { what, .. } => assert_eq!(what, "Embedding dim"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn bad_grad_output_and_bad_table() {
    let mut e = hand_layer();
    e.forward(array![[1.0, 2.0]].into_dyn().view(), Mode::Train).unwrap();
    match e.backward(ArrayD::zeros(IxDyn(&[1, 2, 3])).view()).unwrap_err() {
        Error::ShapeMismatch { expected, got, .. } => {
            assert_eq!(expected, "(1, 2, 2)");
            assert_eq!(got, "(1, 2, 3)");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let err = e.backward(array![[[0.0, 1.0], [f64::NAN, 0.0]]].into_dyn().view()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { ref index, .. } if index == "[0, 1, 0]"), "{err:?}");
    assert!(e.embeddings_grad().iter().all(|&v| v == 0.0), "no gradient added on error");

    let before = e.embeddings().clone();
    assert!(matches!(e.set_embeddings(Array2::zeros((4, 3))), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(e.set_embeddings(Array2::from_elem((4, 2), f64::NAN)), Err(Error::NonFinite { .. })));
    assert_eq!(e.embeddings(), &before);
}

// ---------------------------------------------------------------------------------------
// In a model
// ---------------------------------------------------------------------------------------

/// Embedding(50, 8) → SimpleRNN(8 → 4) → Dense(4 → 1, sigmoid) on sequences of 10 ids.
fn text_model() -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut m = Sequential::new(&[10]).unwrap();
    m.add(EmbeddingConfig::new(50, 8).init(&mut rng).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(8, 4).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(4, 1).with_activation(Activation::Sigmoid).init(&mut rng).unwrap()).unwrap();
    m
}

#[test]
fn sequential_summary_counts_the_table() {
    let m = text_model();
    // 50·8 = 400; SimpleRNN 4·(8 + 4 + 1) = 52; Dense 4 + 1 = 5.
    assert_eq!(m.param_count(), 400 + 52 + 5);
    let want = "\
Model: \"sequential\"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 embedding (Embedding)       (None, 10, 8)             400
-----------------------------------------------------------------
 simple_rnn (SimpleRNN)      (None, 4)                 52
-----------------------------------------------------------------
 dense (Dense)               (None, 1)                 5
=================================================================
Total params: 457
Trainable params: 457
Non-trainable params: 0
_________________________________________________________________
";
    assert_eq!(m.summary(), want);
}

#[test]
fn sequential_runs_on_ids_and_checks_them() {
    let mut m = text_model();
    let x = ArrayD::from_shape_fn(IxDyn(&[3, 10]), |ix| ((ix[0] * 10 + ix[1]) * 7 % 50) as f64);
    let y = m.predict(&x).unwrap();
    assert_eq!(y.shape(), &[3, 1]);
    assert!(y.iter().all(|&p| p > 0.0 && p < 1.0));
    // Any sequence length runs; a feature axis does not.
    assert_eq!(m.predict(&ArrayD::<f64>::zeros(IxDyn(&[2, 4]))).unwrap().shape(), &[2, 1]);
    match m.predict(&ArrayD::<f64>::zeros(IxDyn(&[2, 10, 1]))).unwrap_err() {
        Error::ShapeMismatch { expected, .. } => assert_eq!(expected, "(B, T): rank 2"),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let mut bad = x.clone();
    bad[[2, 7]] = 50.0;
    assert!(matches!(m.predict(&bad), Err(Error::OutOfRange { ref index, .. }) if index == "[2, 7]"));
    // A model can be trained end to end on ids.
    let targets = array![[1.0], [0.0], [1.0]];
    let mut sgd = Sgd::new(0.5);
    let first = m.train_step(&x, &targets, &BinaryCrossEntropy::default(), &mut sgd).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = m.train_step(&x, &targets, &BinaryCrossEntropy::default(), &mut sgd).unwrap();
    }
    assert!(last < 0.5 * first, "loss {first} → {last}");
}

// ---------------------------------------------------------------------------------------
// Finite-difference gradient checks
// ---------------------------------------------------------------------------------------

fn gradcheck_layer(vocab: usize, dim: usize, b: usize, t: usize, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut e = EmbeddingConfig::new(vocab, dim).init::<f64, _>(&mut rng).unwrap();
    e.set_embeddings(Array2::from_shape_fn((vocab, dim), |_| rng.random_range(-1.0..1.0))).unwrap();
    let x = ids(&mut rng, b, t, vocab);
    let g = ArrayD::from_shape_fn(IxDyn(&[b, t, dim]), |_| rng.random_range(-1.0..1.0));
    let y = e.forward(x.view(), Mode::Train).unwrap();
    let dx = e.backward(g.view()).unwrap();
    prop_assert_eq!(&dx, &ArrayD::<f64>::zeros(IxDyn(&[b, t])));
    let analytic = table_grad(&e, 0);
    let numeric = numeric_grad(&mut e, 0, |e| (&g * &e.forward(x.view(), Mode::Infer).unwrap()).sum());
    check_close(&format!("Embedding({vocab}, {dim}) table on ({b}, {t})"), &analytic, &numeric)?;
    // The objective is linear in the table, so L(E) = Σ G ⊙ y exactly.
    prop_assert!(((&g * &y).sum() - (&g * &e.forward(x.view(), Mode::Infer).unwrap()).sum()).abs() < 1e-12);
    Ok(())
}

fn gradcheck_model(vocab: usize, dim: usize, b: usize, t: usize, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::<f64>::new(&[t]).unwrap();
    m.add(EmbeddingConfig::new(vocab, dim).init(&mut rng).unwrap()).unwrap();
    m.add(SimpleRnnConfig::new(dim, 3).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 2).init(&mut rng).unwrap()).unwrap();
    // Larger entries than the ±0.05 init, so the table's gradient is not tiny.
    m.visit_params_mut(&mut |mut p| p.value.iter_mut().for_each(|v| *v = rng.random_range(-1.0..1.0)));
    let x = ids(&mut rng, b, t, vocab);
    let g = ArrayD::from_shape_fn(IxDyn(&[b, 2]), |_| rng.random_range(-1.0..1.0));
    m.forward(&x, Mode::Train).unwrap();
    let dx = m.backward(&g).unwrap();
    prop_assert_eq!(&dx, &ArrayD::<f64>::zeros(IxDyn(&[b, t])));
    let analytic = table_grad(&m, 0);
    let numeric = numeric_grad(&mut m, 0, |m| (&g * &m.predict(&x).unwrap()).sum());
    check_close(&format!("Embedding({vocab}, {dim}) → SimpleRNN → Dense on ({b}, {t})"), &analytic, &numeric)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn table_gradient_matches_finite_differences(
        vocab in 1usize..=6, dim in 1usize..=4, b in 1usize..=3, t in 1usize..=5, seed in any::<u64>()
    ) {
        gradcheck_layer(vocab, dim, b, t, seed)?;
    }

    #[test]
    fn table_gradient_through_a_model_matches_finite_differences(
        vocab in 1usize..=5, dim in 1usize..=3, b in 1usize..=3, t in 1usize..=4, seed in any::<u64>()
    ) {
        gradcheck_model(vocab, dim, b, t, seed)?;
    }
}

#[test]
fn degenerate_shapes() {
    // Every size 1, and a vocabulary of one id used at every position.
    gradcheck_layer(1, 1, 1, 1, 0).unwrap();
    gradcheck_layer(1, 3, 2, 4, 1).unwrap();
    gradcheck_model(1, 1, 1, 1, 2).unwrap();
}
