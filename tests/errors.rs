//! Bad inputs: every public entry point returns the documented `Error` variant, its
//! `Display` text names what was expected and what came, and nothing changes on error.
//!
//! The crate documents (lib.rs, error.rs, the `Layer` contract) that arguments are checked
//! before any arithmetic, that a bad argument is an `Err` rather than a panic, and that the
//! layer or model is left unchanged. Each test below asserts the variant by destructuring
//! it, then asserts on substrings of `err.to_string()`.

use ndarray::{array, Array1, Array2, Array3, ArrayD, IxDyn};
use recurrent::layers::recurrent::Weights;
use recurrent::prelude::*;
use recurrent::{Error, Sgd, SimpleRnn};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

fn rnn(input_size: usize, units: usize, seq: bool) -> SimpleRnn<f64> {
    SimpleRnnConfig::new(input_size, units).with_return_sequences(seq).init(&mut rng()).unwrap()
}

fn dense(fin: usize, units: usize) -> Dense<f64> {
    DenseConfig::new(fin, units).init(&mut rng()).unwrap()
}

/// The lecture's model: windows of 5 steps of 1 feature → SimpleRNN(3) → Dense(1).
fn model() -> Sequential<f64> {
    let mut r = rng();
    let mut m = Sequential::new(&[5, 1]).unwrap();
    m.add(SimpleRnnConfig::new(1, 3).init(&mut r).unwrap()).unwrap();
    m.add(DenseConfig::new(3, 1).init(&mut r).unwrap()).unwrap();
    m
}

fn x(b: usize, t: usize, i: usize) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(&[b, t, i]), |ix| 0.1 * (ix[0] + 2 * ix[1] + 3 * ix[2]) as f64 - 0.4)
}

/// Every parameter and gradient, bit for bit, in visit order.
type Snapshot = Vec<(String, Vec<u64>, Vec<u64>)>;

fn snapshot<P: Params<f64> + ?Sized>(p: &P) -> Snapshot {
    let mut out = Vec::new();
    p.visit_params(&mut |r| {
        out.push((
            r.name.to_string(),
            r.value.iter().map(|v| v.to_bits()).collect(),
            r.grad.iter().map(|v| v.to_bits()).collect(),
        ))
    });
    out
}

/// Parameter values only (an optimiser that errs after backward may leave new gradients).
fn values(s: &Snapshot) -> Vec<(String, Vec<u64>)> {
    s.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect()
}

/// Asserts the message contains every part, printing the whole message if not.
fn assert_msg(err: &Error, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should contain {p:?}");
    }
}

fn shape_mismatch(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::ShapeMismatch { what, expected, got } = err else { panic!("expected ShapeMismatch, got {err:?}") };
    (what, expected, got)
}

fn empty(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::Empty { what, axis, shape } = err else { panic!("expected Empty, got {err:?}") };
    (what, axis, shape)
}

fn invalid_config(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::InvalidConfig { what, expected, got } = err else { panic!("expected InvalidConfig, got {err:?}") };
    (what, expected, got)
}

fn non_finite(err: Error, parts: &[&str]) -> (String, String, String) {
    assert_msg(&err, parts);
    let Error::NonFinite { what, index, value } = err else { panic!("expected NonFinite, got {err:?}") };
    (what, index, value)
}

fn out_of_range(err: Error, parts: &[&str]) -> (String, String, String, String) {
    assert_msg(&err, parts);
    let Error::OutOfRange { what, expected, got, index } = err else { panic!("expected OutOfRange, got {err:?}") };
    (what, expected, got, index)
}

fn no_forward_cache(err: Error, layer_name: &str) {
    assert_msg(&err, &[layer_name, "backward", "training-mode forward"]);
    let Error::NoForwardCache { layer } = err else { panic!("expected NoForwardCache, got {err:?}") };
    assert_eq!(layer, layer_name);
}

// ---------------------------------------------------------------------------------------
// Wrong feature count, wrong rank
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_wrong_feature_count() {
    let mut r = rnn(3, 2, false);
    let err = r.forward(x(2, 4, 2).view(), Mode::Train).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["simple_rnn input", "(B, T, 3)", "input size 3", "(2, 4, 2)"]);
    assert_eq!(what, "simple_rnn input");
    assert!(expected.starts_with("(B, T, 3)"), "{expected}");
    assert_eq!(got, "(2, 4, 2)");
}

#[test]
fn dense_wrong_feature_count() {
    let mut d = dense(3, 2);
    let err = d.forward(ArrayD::zeros(IxDyn(&[2, 4])).view(), Mode::Train).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["dense input", "(B, 3) or (B, T, 3)", "got (2, 4)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(B, 3) or (B, T, 3)", "(2, 4)"));
    // The same for a sequence input.
    let err = d.forward(ArrayD::zeros(IxDyn(&[2, 5, 4])).view(), Mode::Train).unwrap_err();
    shape_mismatch(err, &["(B, 3) or (B, T, 3)", "got (2, 5, 4)"]);
}

#[test]
fn sequential_wrong_feature_count() {
    let mut m = model();
    let err = m.forward(&x(2, 5, 2), Mode::Train).unwrap_err();
    // The first layer reports it, by name, with the expected feature count.
    shape_mismatch(err, &["simple_rnn input", "(B, T, 1)", "(2, 5, 2)"]);
    let err = m.predict(&x(2, 5, 2)).unwrap_err();
    shape_mismatch(err, &["(B, T, 1)", "(2, 5, 2)"]);
}

#[test]
fn simple_rnn_rejects_2d_input() {
    let mut r = rnn(3, 2, false);
    let err = r.forward(ArrayD::zeros(IxDyn(&[2, 3])).view(), Mode::Train).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["simple_rnn input", "(B, T, 3)", "rank 3", "(2, 3) (rank 2)"]);
    assert_eq!(expected, "(B, T, 3): rank 3");
    assert_eq!(got, "(2, 3) (rank 2)");
}

#[test]
fn dense_rejects_1d_input() {
    let mut d = dense(3, 2);
    let err = d.forward(ArrayD::zeros(IxDyn(&[3])).view(), Mode::Train).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["dense input", "(B, 3) or (B, T, 3)", "got (3,)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(B, 3) or (B, T, 3)", "(3,)"));
}

#[test]
fn sequential_rejects_wrong_rank() {
    let mut m = model();
    let err = m.forward(&ArrayD::<f64>::zeros(IxDyn(&[5, 1])), Mode::Train).unwrap_err();
    // The first layer is recurrent, so the time axis is shown as free (T), the feature
    // axis as the declared 1.
    let (what, expected, got) = shape_mismatch(err, &["sequential input", "(B, T, 1): rank 3", "(5, 1) (rank 2)"]);
    assert_eq!(what, "sequential input");
    assert_eq!(expected, "(B, T, 1): rank 3");
    assert_eq!(got, "(5, 1) (rank 2)");

    // A Dense-only model on vectors: every axis is fixed.
    let mut m = Sequential::<f64>::new(&[3]).unwrap();
    m.add(dense(3, 2)).unwrap();
    let err = m.predict(&x(2, 5, 3)).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["sequential input", "(B, 3): rank 2", "(2, 5, 3) (rank 3)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(B, 3): rank 2", "(2, 5, 3) (rank 3)"));
}

// ---------------------------------------------------------------------------------------
// Batch mismatch between x and y
// ---------------------------------------------------------------------------------------

#[test]
fn train_step_batch_mismatch_leaves_model_unchanged() {
    let mut m = model();
    let before = snapshot(&m);
    let y = Array2::<f64>::zeros((3, 1));
    let err = m.train_step(&x(4, 5, 1), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["batch size must equal x's", "4 rows", "3 rows", "(3, 1)"]);
    assert_eq!(expected, "4 rows");
    assert!(got.starts_with("3 rows"), "{got}");
    assert_eq!(snapshot(&m), before, "a failed train_step must not touch parameters or gradients");
}

#[test]
fn evaluate_batch_mismatch() {
    let mut m = model();
    let y = Array2::<f64>::zeros((2, 1));
    let err = m.evaluate(&x(4, 5, 1), &y, &Mse).unwrap_err();
    shape_mismatch(err, &["batch size must equal x's", "4 rows", "2 rows (y has shape (2, 1))"]);
}

// ---------------------------------------------------------------------------------------
// Empty batch, zero time steps
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_empty_batch() {
    let mut r = rnn(1, 3, false);
    let err = r.forward(x(0, 5, 1).view(), Mode::Train).unwrap_err();
    let (what, axis, shape) = empty(err, &["simple_rnn input", "batch size", "at least 1", "(0, 5, 1)"]);
    assert_eq!((what.as_str(), axis.as_str(), shape.as_str()), ("simple_rnn input", "batch size", "(0, 5, 1)"));
}

#[test]
fn dense_empty_batch() {
    let mut d = dense(3, 2);
    let err = d.forward(ArrayD::zeros(IxDyn(&[0, 3])).view(), Mode::Train).unwrap_err();
    let (_, axis, shape) = empty(err, &["dense input", "batch size", "(0, 3)"]);
    assert_eq!((axis.as_str(), shape.as_str()), ("batch size", "(0, 3)"));
}

#[test]
fn sequential_empty_batch() {
    let mut m = model();
    let err = m.forward(&x(0, 5, 1), Mode::Train).unwrap_err();
    let (_, axis, _) = empty(err, &["sequential input", "batch size", "(0, 5, 1)"]);
    assert_eq!(axis, "batch size");
    // train_step: x and y agree on B = 0, so the emptiness is what is reported.
    let err = m.train_step(&x(0, 5, 1), &Array2::<f64>::zeros((0, 1)), &Mse, &mut Sgd::new(0.1)).unwrap_err();
    empty(err, &["batch size", "(0, 5, 1)"]);
}

#[test]
fn simple_rnn_zero_time_steps() {
    let mut r = rnn(1, 3, true);
    let err = r.forward(x(2, 0, 1).view(), Mode::Train).unwrap_err();
    let (_, axis, shape) = empty(err, &["simple_rnn input", "time steps", "(2, 0, 1)"]);
    assert_eq!((axis.as_str(), shape.as_str()), ("time steps", "(2, 0, 1)"));
}

#[test]
fn dense_zero_time_steps() {
    let mut d = dense(3, 2);
    let err = d.forward(ArrayD::zeros(IxDyn(&[2, 0, 3])).view(), Mode::Train).unwrap_err();
    empty(err, &["dense input", "time steps", "(2, 0, 3)"]);
}

#[test]
fn sequential_zero_time_steps() {
    let mut m = model();
    let err = m.forward(&x(2, 0, 1), Mode::Train).unwrap_err();
    empty(err, &["sequential input", "time steps", "(2, 0, 1)"]);
}

// ---------------------------------------------------------------------------------------
// Zero sizes at init
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_config_zero_units() {
    let err = SimpleRnnConfig::new(1, 0).init::<f64, _>(&mut rng()).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["SimpleRNN units", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("SimpleRNN units", "at least 1", "0"));
}

#[test]
fn simple_rnn_config_zero_input_size() {
    let err = SimpleRnnConfig::new(0, 3).init::<f32, _>(&mut rng()).unwrap_err();
    let (what, _, got) = invalid_config(err, &["SimpleRNN input size", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), got.as_str()), ("SimpleRNN input size", "0"));
}

#[test]
fn dense_config_zero_units() {
    let err = DenseConfig::new(3, 0).init::<f64, _>(&mut rng()).unwrap_err();
    let (what, _, got) = invalid_config(err, &["Dense units", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), got.as_str()), ("Dense units", "0"));
}

#[test]
fn dense_config_zero_in_features() {
    let err = DenseConfig::new(0, 2).init::<f32, _>(&mut rng()).unwrap_err();
    let (what, _, _) = invalid_config(err, &["Dense input features", "at least 1", "got 0"]);
    assert_eq!(what, "Dense input features");
}

// ---------------------------------------------------------------------------------------
// Layers that do not chain
// ---------------------------------------------------------------------------------------

#[test]
fn sequential_add_rejects_unchained_dense_and_stays_unchanged() {
    let mut r = rng();
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    m.add(SimpleRnnConfig::new(1, 3).init(&mut r).unwrap()).unwrap();
    let (summary, count, shape, params) = (m.summary(), m.layers().len(), m.output_shape().to_vec(), snapshot(&m));

    let err = m.add(DenseConfig::new(4, 1).init(&mut r).unwrap()).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["1 (Dense) added after simple_rnn (SimpleRNN)", "4", "(3,)"]);
    // Names the position (index 1), the new layer's type and the layer it should follow.
    assert_eq!(what, "layer at index 1 (Dense) added after simple_rnn (SimpleRNN)");
    assert!(expected.contains('4'), "{expected}");
    assert_eq!(got, "(3,)");

    assert_eq!(m.layers().len(), count);
    assert_eq!(m.summary(), summary);
    assert_eq!(m.output_shape(), &shape[..]);
    assert_eq!(snapshot(&m), params);
    // The rejected layer did not take its name either: a good Dense is still "dense".
    m.add(DenseConfig::new(3, 1).init(&mut r).unwrap()).unwrap();
    assert_eq!(m.layers()[1].name(), "dense");
}

#[test]
fn sequential_add_rejects_rnn_after_last_state_rnn() {
    let mut r = rng();
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    m.add(SimpleRnnConfig::new(1, 3).init(&mut r).unwrap()).unwrap();
    let summary = m.summary();
    // The first RNN returns (B, 3), not a sequence: a second RNN cannot take it.
    let err = m.add(SimpleRnnConfig::new(3, 2).init(&mut r).unwrap()).unwrap_err();
    shape_mismatch(err, &["index 1 (SimpleRNN) added after simple_rnn (SimpleRNN)", "(T, 3)", "(3,)"]);
    assert_eq!(m.layers().len(), 1);
    assert_eq!(m.summary(), summary);
}

// ---------------------------------------------------------------------------------------
// Non-finite values
// ---------------------------------------------------------------------------------------

// NaN or ±inf in an input is rejected with `Error::NonFinite` naming the first such element
// (row-major multi-index): this is the crate's documented behaviour (the `Layer::forward`
// contract: "checks the input (rank, feature count, non-empty, finite) before any
// arithmetic"), not NaN propagation.

#[test]
fn simple_rnn_nan_input() {
    let mut r = rnn(1, 3, false);
    let mut input = x(2, 3, 1);
    input[[1, 2, 0]] = f64::NAN;
    let err = r.forward(input.view(), Mode::Train).unwrap_err();
    let (what, index, value) = non_finite(err, &["simple_rnn input", "element [1, 2, 0]", "NaN"]);
    assert_eq!((what.as_str(), index.as_str(), value.as_str()), ("simple_rnn input", "[1, 2, 0]", "NaN"));
}

#[test]
fn dense_nan_input() {
    let mut d = dense(3, 2);
    let mut input = ArrayD::<f64>::zeros(IxDyn(&[2, 3]));
    input[[1, 1]] = f64::NAN;
    let err = d.forward(input.view(), Mode::Infer).unwrap_err();
    let (_, index, _) = non_finite(err, &["dense input", "[1, 1]", "NaN"]);
    assert_eq!(index, "[1, 1]");
}

#[test]
fn sequential_infinite_input() {
    let mut m = model();
    let mut input = x(2, 5, 1);
    input[[0, 3, 0]] = f64::NEG_INFINITY;
    let err = m.predict(&input).unwrap_err();
    non_finite(err, &["simple_rnn input", "[0, 3, 0]", "-inf"]);
}

#[test]
fn mse_infinite_target() {
    let p = Array2::<f64>::zeros((2, 3)).into_dyn();
    let mut t = p.clone();
    t[[1, 0]] = f64::INFINITY;
    let err = Mse.compute(&p.view(), &t.view()).unwrap_err();
    let (what, index, value) = non_finite(err, &["mse target", "[1, 0]", "inf"]);
    assert_eq!((what.as_str(), index.as_str(), value.as_str()), ("mse target", "[1, 0]", "inf"));
}

#[test]
fn train_step_infinite_target_leaves_parameters_unchanged() {
    let mut m = model();
    let before = snapshot(&m);
    let mut y = Array2::<f64>::zeros((3, 1));
    y[[2, 0]] = f64::INFINITY;
    let err = m.train_step(&x(3, 5, 1), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err();
    non_finite(err, &["mse target", "[2, 0]", "inf"]);
    assert_eq!(snapshot(&m), before, "parameters and gradients must be bit-for-bit unchanged");
}

#[test]
fn train_step_target_of_wrong_shape_leaves_parameters_unchanged() {
    let mut m = model();
    let before = snapshot(&m);
    let y = Array1::<f64>::zeros(3);
    let err = m.train_step(&x(3, 5, 1), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["mse target", "(3, 1)", "(3,)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(3, 1)", "(3,)"));
    assert_eq!(snapshot(&m), before);
}

// ---------------------------------------------------------------------------------------
// Loss domains
// ---------------------------------------------------------------------------------------

#[test]
fn bce_target_above_one() {
    let p = array![[0.2, 0.7], [0.5, 0.5]].into_dyn();
    let t = array![[0.0, 1.0], [1.5, 0.0]].into_dyn();
    for loss in [BinaryCrossEntropy::new(), BinaryCrossEntropy::from_logits()] {
        let err = loss.compute(&p.view(), &t.view()).unwrap_err();
        let (what, expected, got, index) = out_of_range(err, &["target", "[0, 1]", "1.5", "[1, 0]"]);
        assert!(what.contains("binary_crossentropy") && what.ends_with("target"), "{what}");
        assert_eq!((expected.as_str(), got.as_str(), index.as_str()), ("values in [0, 1]", "1.5", "[1, 0]"));
    }
}

#[test]
fn bce_target_below_zero() {
    let p = array![0.2, 0.7, 0.5].into_dyn();
    let t = array![0.0, -0.25, 1.0].into_dyn();
    let err = BinaryCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
    out_of_range(err, &["binary_crossentropy target", "[0, 1]", "-0.25", "[1]"]);
}

#[test]
fn bce_probability_prediction_outside_unit_interval() {
    let t = array![[0.0, 1.0, 1.0]].into_dyn();
    for (bad, shown) in [(-0.1, "-0.1"), (1.25, "1.25")] {
        let p = array![[0.2, bad, 0.5]].into_dyn();
        let err = BinaryCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
        let (what, _, got, index) = out_of_range(err, &["prediction (probabilities)", "[0, 1]", shown, "[0, 1]"]);
        assert_eq!(what, "binary_crossentropy prediction (probabilities)");
        assert_eq!((got.as_str(), index.as_str()), (shown, "[0, 1]"));
        // Logits may be any finite value.
        BinaryCrossEntropy::from_logits().compute(&p.view(), &t.view()).unwrap();
    }
}

#[test]
fn cce_probability_prediction_outside_unit_interval() {
    let p = array![[0.5, 1.5], [0.5, 0.5]].into_dyn();
    let t = array![[0.0, 1.0], [1.0, 0.0]].into_dyn();
    let err = CategoricalCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
    out_of_range(err, &["categorical_crossentropy prediction (probabilities)", "[0, 1]", "1.5", "[0, 1]"]);
}

#[test]
fn sparse_cce_label_out_of_range() {
    let p = array![[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]].into_dyn();
    for loss in [SparseCategoricalCrossEntropy::new(), SparseCategoricalCrossEntropy::from_logits()] {
        for bad in [3.0, -1.0] {
            let t = array![0.0, bad].into_dyn();
            let err = loss.compute(&p.view(), &t.view()).unwrap_err();
            let shown = bad.to_string();
            let (_, expected, got, index) =
                out_of_range(err, &["class labels", "integer class indices in [0, 3)", &shown, "[1]"]);
            assert_eq!(
                (expected.as_str(), got.as_str(), index.as_str()),
                ("integer class indices in [0, 3)", &*shown, "[1]")
            );
        }
    }
}

#[test]
fn sparse_cce_label_not_an_integer() {
    let p = array![[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]].into_dyn();
    let t = array![[1.5], [0.0]].into_dyn(); // (B, 1) labels are accepted too
    let err = SparseCategoricalCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
    let (_, _, got, index) = out_of_range(err, &["class labels", "integer", "[0, 3)", "1.5"]);
    assert_eq!((got.as_str(), index.as_str()), ("1.5", "[0, 0]"));
}

#[test]
fn sparse_cce_label_index_is_a_multi_index() {
    // (B, T, K) predictions with (B, T) labels: the bad label at [1, 2] is reported there.
    let p = ndarray::Array3::<f64>::from_elem((2, 3, 4), 0.25).into_dyn();
    let t = array![[0.0, 1.0, 2.0], [3.0, 0.0, 4.0]].into_dyn();
    let err = SparseCategoricalCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
    let (_, _, got, index) = out_of_range(err, &["class labels", "[0, 4)", "4", "[1, 2]"]);
    assert_eq!((got.as_str(), index.as_str()), ("4", "[1, 2]"));
}

#[test]
fn sparse_cce_label_shape() {
    let p = array![[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]].into_dyn();
    let t = array![0.0, 1.0, 2.0].into_dyn();
    let err = SparseCategoricalCrossEntropy::new().compute(&p.view(), &t.view()).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["class labels", "(2,) or (2, 1)", "(3,)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(2,) or (2, 1)", "(3,)"));
}

#[test]
fn loss_shape_mismatch() {
    let p = Array2::<f64>::zeros((2, 3)).into_dyn();
    let t = Array2::<f64>::zeros((3, 2)).into_dyn();
    let err = Mae.compute(&p.view(), &t.view()).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["mae target", "(2, 3)", "(3, 2)"]);
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("mae target (must match the prediction)", "(2, 3)", "(3, 2)")
    );
}

#[test]
fn loss_empty_prediction() {
    let p = Array2::<f64>::zeros((0, 3)).into_dyn();
    let err = Mse.compute(&p.view(), &p.view()).unwrap_err();
    empty(err, &["mse prediction", "batch size", "(0, 3)"]);
}

// ---------------------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------------------

#[test]
fn softmax_of_a_scalar() {
    let s = ndarray::arr0(1.0_f64);
    let err = Activation::Softmax.forward(&s.view()).unwrap_err();
    shape_mismatch(err, &["softmax input", "at least one axis", "()"]);
    // Element-wise activations take a scalar.
    assert_eq!(Activation::Tanh.forward(&s.view()).unwrap(), ndarray::arr0(1.0_f64.tanh()));
}

#[test]
fn activation_backward_shape_mismatch() {
    let y = Array2::<f64>::zeros((2, 3));
    let dy = Array2::<f64>::zeros((2, 2));
    let err = Activation::Sigmoid.backward(&y.view(), &dy.view()).unwrap_err();
    shape_mismatch(err, &["activation gradient", "(2, 3)", "(2, 2)"]);
}

#[test]
fn activation_nan_input() {
    let xs = array![0.0, f64::NAN];
    let err = Activation::Relu.forward(&xs.view()).unwrap_err();
    non_finite(err, &["activation input", "[1]", "NaN"]);
}

// ---------------------------------------------------------------------------------------
// backward without a training forward pass
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_backward_before_forward() {
    let mut r = rnn(1, 3, false);
    no_forward_cache(r.backward(Array2::<f64>::zeros((2, 3)).into_dyn().view()).unwrap_err(), "simple_rnn");
}

#[test]
fn dense_backward_before_forward() {
    let mut d = dense(3, 2);
    no_forward_cache(d.backward(Array2::<f64>::zeros((2, 2)).into_dyn().view()).unwrap_err(), "dense");
}

#[test]
fn sequential_backward_before_forward() {
    let mut m = model();
    let before = snapshot(&m);
    // Every layer is checked before any gradient is added; the first without a cache is named.
    no_forward_cache(m.backward(&Array2::<f64>::zeros((2, 1))).unwrap_err(), "simple_rnn");
    assert_eq!(snapshot(&m), before);
}

#[test]
fn simple_rnn_backward_after_inference_forward() {
    let mut r = rnn(1, 3, true);
    r.forward(x(2, 4, 1).view(), Mode::Infer).unwrap();
    no_forward_cache(r.backward(Array3::<f64>::zeros((2, 4, 3)).into_dyn().view()).unwrap_err(), "simple_rnn");
    // An inference pass after a training pass drops the training cache.
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    r.forward(x(2, 4, 1).view(), Mode::Infer).unwrap();
    no_forward_cache(r.backward(Array3::<f64>::zeros((2, 4, 3)).into_dyn().view()).unwrap_err(), "simple_rnn");
    // So does clear_cache.
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    r.clear_cache();
    no_forward_cache(r.backward(Array3::<f64>::zeros((2, 4, 3)).into_dyn().view()).unwrap_err(), "simple_rnn");
}

#[test]
fn dense_backward_after_inference_forward() {
    let mut d = dense(3, 2);
    let input = Array2::<f64>::ones((2, 3)).into_dyn();
    d.forward(input.view(), Mode::Infer).unwrap();
    no_forward_cache(d.backward(Array2::<f64>::zeros((2, 2)).into_dyn().view()).unwrap_err(), "dense");
    d.forward(input.view(), Mode::Train).unwrap();
    d.forward(input.view(), Mode::Infer).unwrap();
    no_forward_cache(d.backward(Array2::<f64>::zeros((2, 2)).into_dyn().view()).unwrap_err(), "dense");
}

#[test]
fn sequential_backward_after_predict() {
    let mut m = model();
    m.forward(&x(2, 5, 1), Mode::Train).unwrap();
    m.predict(&x(2, 5, 1)).unwrap();
    no_forward_cache(m.backward(&Array2::<f64>::zeros((2, 1))).unwrap_err(), "simple_rnn");
}

#[test]
fn sequential_backward_with_one_layer_uncached_adds_no_gradient() {
    let mut m = model();
    m.forward(&x(2, 5, 1), Mode::Train).unwrap();
    m.layers_mut()[0].clear_cache();
    let before = snapshot(&m);
    no_forward_cache(m.backward(&Array2::<f64>::ones((2, 1))).unwrap_err(), "simple_rnn");
    // The Dense layer still had its cache, but no gradient may be added to it either.
    assert_eq!(snapshot(&m), before);
}

// ---------------------------------------------------------------------------------------
// grad_output of the wrong shape
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_grad_output_wrong_shape() {
    let mut r = rnn(1, 3, false);
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    let err = r.backward(Array2::<f64>::zeros((2, 4)).into_dyn().view()).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["simple_rnn grad_output", "(2, 3)", "(2, 4)"]);
    assert_eq!(
        (what.as_str(), expected.as_str(), got.as_str()),
        ("simple_rnn grad_output (must match the output)", "(2, 3)", "(2, 4)")
    );
    // The cache survives the rejected call: a correct grad_output still works.
    r.backward(Array2::<f64>::zeros((2, 3)).into_dyn().view()).unwrap();
}

#[test]
fn simple_rnn_sequence_grad_output_wrong_shape() {
    let mut r = rnn(1, 3, true);
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    let err = r.backward(Array2::<f64>::zeros((2, 3)).into_dyn().view()).unwrap_err();
    shape_mismatch(err, &["simple_rnn grad_output", "(2, 4, 3)", "(2, 3)"]);
}

#[test]
fn dense_grad_output_wrong_shape() {
    let mut d = dense(3, 2);
    d.forward(Array3::<f64>::ones((2, 4, 3)).into_dyn().view(), Mode::Train).unwrap();
    let err = d.backward(Array2::<f64>::zeros((2, 2)).into_dyn().view()).unwrap_err();
    let (_, expected, got) = shape_mismatch(err, &["dense grad_output", "(2, 4, 2)", "(2, 2)"]);
    assert_eq!((expected.as_str(), got.as_str()), ("(2, 4, 2)", "(2, 2)"));
}

#[test]
fn sequential_grad_output_wrong_shape() {
    let mut m = model();
    m.forward(&x(2, 5, 1), Mode::Train).unwrap();
    let before = snapshot(&m);
    let err = m.backward(&Array2::<f64>::zeros((3, 1))).unwrap_err();
    shape_mismatch(err, &["dense grad_output", "(2, 1)", "(3, 1)"]);
    assert_eq!(snapshot(&m), before, "a rejected backward must not add to any gradient");
}

#[test]
fn grad_output_nan() {
    let mut r = rnn(1, 3, false);
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    let before = snapshot(&r);
    let err = r.backward(array![[0.0, 0.0, 0.0], [0.0, f64::NAN, 0.0]].into_dyn().view()).unwrap_err();
    non_finite(err, &["simple_rnn grad_output", "[1, 1]", "NaN"]);
    assert_eq!(snapshot(&r), before);
}

// ---------------------------------------------------------------------------------------
// Initial states
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_initial_state_wrong_shape() {
    let mut r = rnn(1, 3, false);
    let bad = State::new(Array2::<f64>::zeros((3, 3)));
    let err = r.forward_with_state(x(2, 4, 1).view().into_dimensionality().unwrap(), Some(&bad), Mode::Train);
    let (what, expected, got) = shape_mismatch(err.unwrap_err(), &["SimpleRNN initial state", "(2, 3)", "(3, 3)"]);
    assert!(what.contains("initial state") && what.ends_with(" h"), "{what}");
    assert_eq!((expected.as_str(), got.as_str()), ("(2, 3)", "(3, 3)"));
}

#[test]
fn simple_rnn_stored_initial_state_wrong_shape() {
    let mut r = rnn(1, 3, false);
    r.set_initial_state(Some(State::new(Array2::zeros((2, 4)))));
    let err = r.forward(x(2, 4, 1).view(), Mode::Train).unwrap_err();
    shape_mismatch(err, &["SimpleRNN initial state", "(2, 3)", "(2, 4)"]);
    // The stored state is kept (it may fit another batch) and reported back unchanged.
    assert_eq!(r.initial_state().unwrap().h.dim(), (2, 4));
}

#[test]
fn simple_rnn_given_a_cell_state() {
    let mut r = rnn(1, 3, false);
    let s = State::with_cell(Array2::<f64>::zeros((2, 3)), Array2::zeros((2, 3)));
    let err = r.forward_with_state(x(2, 4, 1).view().into_dimensionality().unwrap(), Some(&s), Mode::Train);
    let (what, expected, got) = shape_mismatch(err.unwrap_err(), &["no cell state", "none", "(2, 3)"]);
    assert!(what.contains("SimpleRNN initial state c"), "{what}");
    assert_eq!((expected.as_str(), got.as_str()), ("none", "(2, 3)"));
}

#[test]
fn simple_rnn_initial_state_nan() {
    let mut r = rnn(1, 3, false);
    let mut h = Array2::<f64>::zeros((2, 3));
    h[[0, 2]] = f64::NAN;
    let err = r.forward_with_state(x(2, 4, 1).view().into_dimensionality().unwrap(), Some(&State::new(h)), Mode::Infer);
    non_finite(err.unwrap_err(), &["SimpleRNN initial state", "[0, 2]", "NaN"]);
}

// ---------------------------------------------------------------------------------------
// A rejected forward leaves the layer unchanged, including its training cache
// ---------------------------------------------------------------------------------------

#[test]
fn simple_rnn_rejected_forward_keeps_the_training_cache() {
    let mut r = rnn(1, 3, false);
    let g = Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as f64 - 1.0).into_dyn();
    r.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    let bad = State::new(Array2::<f64>::zeros((5, 3)));
    r.forward_with_state(x(2, 4, 1).view().into_dimensionality().unwrap(), Some(&bad), Mode::Train).unwrap_err();
    r.forward(x(2, 4, 7).view(), Mode::Train).unwrap_err();
    let dx = r.backward(g.view()).unwrap();

    let mut fresh = rnn(1, 3, false);
    fresh.forward(x(2, 4, 1).view(), Mode::Train).unwrap();
    assert_eq!(dx, fresh.backward(g.view()).unwrap());
    assert_eq!(snapshot(&r), snapshot(&fresh));
}

// A rejected input must not throw away the cache of the previous training pass (the
// `Layer` contract: on error the layer is unchanged).
#[test]
fn dense_rejected_forward_keeps_the_training_cache() {
    let mut d = dense(3, 2);
    let input = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64 * 0.1).into_dyn();
    let g = Array2::from_shape_fn((2, 2), |(i, j)| (i + j) as f64 - 1.0).into_dyn();
    d.forward(input.view(), Mode::Train).unwrap();
    d.forward(Array2::<f64>::zeros((2, 4)).into_dyn().view(), Mode::Train).unwrap_err();
    let dx = d.backward(g.view()).expect("a rejected forward must leave the previous training cache in place");

    let mut fresh = dense(3, 2);
    fresh.forward(input.view(), Mode::Train).unwrap();
    assert_eq!(dx, fresh.backward(g.view()).unwrap());
}

// ---------------------------------------------------------------------------------------
// data::windows
// ---------------------------------------------------------------------------------------

#[test]
fn windows_size_zero() {
    let err = recurrent::data::windows(&[1.0_f64, 2.0, 3.0], 0).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["window size", "at least 1", "got 0"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("window size", "at least 1", "0"));
}

#[test]
fn windows_series_too_short() {
    let err = recurrent::data::windows(&[1.0_f64, 2.0, 3.0], 3).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["series length", "window size 3", "got 3"]);
    assert_eq!(what, "series length");
    assert!(expected.contains("more than the window size 3"), "{expected}");
    assert_eq!(got, "3");
    let err = recurrent::data::windows::<f32>(&[], 1).unwrap_err();
    invalid_config(err, &["series length", "window size 1", "got 0"]);
}

#[test]
fn windows_nan_in_series() {
    let err = recurrent::data::windows(&[1.0_f64, f64::NAN, 3.0, 4.0], 2).unwrap_err();
    non_finite(err, &["series", "[1]", "NaN"]);
}

// ---------------------------------------------------------------------------------------
// Sequential construction and a model with no layers
// ---------------------------------------------------------------------------------------

#[test]
fn sequential_new_empty_shape() {
    let err = Sequential::<f64>::new(&[]).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["Sequential input shape", "at least one axis", "got ()"]);
    assert_eq!(what, "Sequential input shape");
    assert!(expected.contains("at least one axis"), "{expected}");
    assert_eq!(got, "()");
}

#[test]
fn sequential_new_zero_axis() {
    let err = Sequential::<f32>::new(&[5, 0]).unwrap_err();
    let (_, _, got) = invalid_config(err, &["Sequential input shape", "≥ 1", "(5, 0)"]);
    assert_eq!(got, "(5, 0)");
}

#[test]
fn sequential_without_layers_forward() {
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    let (what, expected, got) = invalid_config(
        m.forward(&x(2, 5, 1), Mode::Train).unwrap_err(),
        &["Sequential", "at least one layer", "no layers"],
    );
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("Sequential", "at least one layer", "no layers"));
    invalid_config(m.predict(&x(2, 5, 1)).unwrap_err(), &["at least one layer", "no layers"]);
}

#[test]
fn sequential_without_layers_backward() {
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    invalid_config(m.backward(&x(2, 5, 1)).unwrap_err(), &["at least one layer", "no layers"]);
}

#[test]
fn sequential_without_layers_train_step_and_evaluate() {
    let mut m = Sequential::<f64>::new(&[5, 1]).unwrap();
    let y = Array3::<f64>::zeros((2, 5, 1));
    let err = m.train_step(&x(2, 5, 1), &y, &Mse, &mut Sgd::new(0.1)).unwrap_err();
    invalid_config(err, &["at least one layer", "no layers"]);
    invalid_config(m.evaluate(&x(2, 5, 1), &y, &Mse).unwrap_err(), &["at least one layer", "no layers"]);
    assert_eq!(m.param_count(), 0);
}

// ---------------------------------------------------------------------------------------
// SGD hyperparameters
// ---------------------------------------------------------------------------------------

/// A layer with non-zero accumulated gradients, so an update would show.
fn layer_with_grads() -> Dense<f64> {
    let mut d = dense(3, 2);
    d.forward(Array2::<f64>::ones((2, 3)).into_dyn().view(), Mode::Train).unwrap();
    d.backward(Array2::<f64>::ones((2, 2)).into_dyn().view()).unwrap();
    assert!(d.kernel_grad().iter().all(|g| *g != 0.0));
    d
}

#[test]
fn sgd_negative_learning_rate() {
    let mut d = layer_with_grads();
    let before = snapshot(&d);
    let err = Sgd::new(-0.1).step(&mut d).unwrap_err();
    let (what, expected, got) = invalid_config(err, &["SGD learning rate", "finite value > 0", "-0.1"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("SGD learning rate", "a finite value > 0", "-0.1"));
    assert_eq!(snapshot(&d), before);
}

#[test]
fn sgd_nan_learning_rate() {
    let mut d = layer_with_grads();
    let before = snapshot(&d);
    let err = Sgd::new(f64::NAN).step(&mut d).unwrap_err();
    let (_, _, got) = invalid_config(err, &["SGD learning rate", "finite value > 0", "NaN"]);
    assert_eq!(got, "NaN");
    assert_eq!(snapshot(&d), before);
}

#[test]
fn sgd_zero_and_infinite_learning_rate() {
    let mut d = layer_with_grads();
    let before = snapshot(&d);
    invalid_config(Sgd::new(0.0).step(&mut d).unwrap_err(), &["SGD learning rate", "got 0"]);
    invalid_config(Sgd::new(f64::INFINITY).step(&mut d).unwrap_err(), &["SGD learning rate", "got inf"]);
    let mut sgd = Sgd::new(0.1);
    invalid_config(sgd.set_learning_rate(-1.0).unwrap_err(), &["SGD learning rate", "-1"]);
    // The field is public too: the step checks what it holds.
    sgd.learning_rate = -1.0;
    invalid_config(sgd.step(&mut d).unwrap_err(), &["SGD learning rate", "-1"]);
    assert_eq!(snapshot(&d), before);
}

#[test]
fn train_step_with_negative_learning_rate_leaves_parameters_unchanged() {
    let mut m = model();
    let before = snapshot(&m);
    let y = Array2::<f64>::zeros((3, 1));
    let err = m.train_step(&x(3, 5, 1), &y, &Mse, &mut Sgd::new(-0.5)).unwrap_err();
    invalid_config(err, &["SGD learning rate", "-0.5"]);
    // train_step promises the *weights* are unchanged; the gradients of this step were
    // already computed when the optimiser refused.
    assert_eq!(values(&snapshot(&m)), values(&before));
}

// ---------------------------------------------------------------------------------------
// set_weights / set_kernel / set_bias
// ---------------------------------------------------------------------------------------

#[test]
fn dense_set_kernel_wrong_shape() {
    let mut d = dense(2, 1);
    let before = snapshot(&d);
    let err = d.set_kernel(Array2::zeros((3, 2))).unwrap_err();
    let (what, expected, got) = shape_mismatch(err, &["Dense kernel", "(2, 1)", "(3, 2)"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("Dense kernel", "(2, 1)", "(3, 2)"));
    // Transposed is still wrong.
    shape_mismatch(d.set_kernel(Array2::zeros((1, 2))).unwrap_err(), &["Dense kernel", "(2, 1)", "(1, 2)"]);
    assert_eq!(snapshot(&d), before);
}

#[test]
fn dense_set_bias_wrong_shape() {
    let mut d = dense(2, 3);
    let before = snapshot(&d);
    let err = d.set_bias(Array1::zeros(2)).unwrap_err();
    shape_mismatch(err, &["Dense bias", "(3,)", "(2,)"]);
    assert_eq!(snapshot(&d), before);
}

#[test]
fn dense_set_kernel_nan() {
    let mut d = dense(2, 1);
    let before = snapshot(&d);
    let err = d.set_kernel(array![[1.0], [f64::NAN]]).unwrap_err();
    non_finite(err, &["Dense kernel", "[1, 0]", "NaN"]);
    assert_eq!(snapshot(&d), before);
}

fn weights_of(r: &SimpleRnn<f64>) -> Weights<f64> {
    r.weights().clone()
}

#[test]
fn simple_rnn_set_weights_wrong_shape() {
    let mut r = rnn(2, 3, false);
    let before = snapshot(&r);

    let mut w = weights_of(&r);
    w.kernel = Array2::zeros((3, 3));
    let (what, expected, got) =
        shape_mismatch(r.set_weights(w).unwrap_err(), &["SimpleRNN kernel", "(2, 3)", "(3, 3)"]);
    assert_eq!((what.as_str(), expected.as_str(), got.as_str()), ("SimpleRNN kernel", "(2, 3)", "(3, 3)"));

    let mut w = weights_of(&r);
    w.recurrent_kernel = Array2::zeros((3, 2));
    shape_mismatch(r.set_weights(w).unwrap_err(), &["SimpleRNN recurrent_kernel", "(3, 3)", "(3, 2)"]);

    let mut w = weights_of(&r);
    w.bias = Array1::zeros(4);
    shape_mismatch(r.set_weights(w).unwrap_err(), &["SimpleRNN bias", "(3,)", "(4,)"]);

    let mut w = weights_of(&r);
    w.recurrent_bias = Some(Array1::zeros(3));
    shape_mismatch(r.set_weights(w).unwrap_err(), &["SimpleRNN recurrent_bias", "none", "(3,)"]);

    assert_eq!(snapshot(&r), before);
}

#[test]
fn simple_rnn_set_weights_nan_after_valid_shapes() {
    let mut r = rnn(2, 3, false);
    let before = snapshot(&r);
    // The kernel is valid and new; the bias is bad: nothing may be applied.
    let mut w = weights_of(&r);
    w.kernel.fill(0.25);
    w.bias[1] = f64::INFINITY;
    non_finite(r.set_weights(w).unwrap_err(), &["SimpleRNN bias", "[1]", "inf"]);
    assert_eq!(snapshot(&r), before);
}
