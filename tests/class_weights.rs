//! Sample and class weights as Keras defines them: every loss's weighted value and gradient
//! against numbers worked out by hand, weights of 1 against the unweighted loss bit for bit,
//! the weighted gradient against finite differences, `class_weight` in `fit` against the
//! equivalent `sample_weight`, weights under a mask, and the checks before the first step.
//!
//! The reduction is Keras's "sum_over_batch_size": Σ w·ℓ divided by the number of elements
//! (rows for the class losses, real positions under a mask), never by Σ w.

use std::collections::BTreeMap;

use ndarray::{array, Array2, Array3, ArrayD, ArrayViewD, IxDyn};
use recurrent::io::json;
use recurrent::prelude::*;
use recurrent::{Loss, LossOutput};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * b.abs().max(1.0)
}

fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>) {
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, *w), "got {got}, want {want}");
    }
}

fn weighted(loss: &dyn Loss<f64>, p: ArrayD<f64>, t: ArrayD<f64>, w: ArrayD<f64>) -> LossOutput<f64> {
    loss.compute_weighted(&p.view(), &t.view(), &w.view()).unwrap()
}

#[test]
fn mse_and_mae_weigh_each_sample_and_divide_by_the_element_count() {
    let p = array![[1.0, 2.0], [3.0, 5.0]].into_dyn();
    let t = array![[0.0, 2.0], [1.0, 1.0]].into_dyn();
    let w = array![2.0, 0.5].into_dyn();
    // d = p − t = [[1, 0], [2, 4]]; d² = [[1, 0], [4, 16]]
    // Σ w·d² = 2·1 + 2·0 + 0.5·4 + 0.5·16 = 12; N = 4 elements → 3
    // (dividing by Σ w over the elements, 5, would give 2.4; unweighted it is 21/4)
    // dL/dp = w·2d/N = [[2·2·1/4, 0], [0.5·2·2/4, 0.5·2·4/4]] = [[1, 0], [0.5, 1]]
    let out = weighted(&Mse, p.clone(), t.clone(), w.clone());
    assert_eq!(out.value, 3.0);
    assert_eq!(out.grad, array![[1.0, 0.0], [0.5, 1.0]].into_dyn());
    // |d| = [[1, 0], [2, 4]]: Σ w·|d| = 2·1 + 0 + 0.5·2 + 0.5·4 = 5 → 5/4
    // dL/dp = w·sign(d)/N = [[2/4, 0 (d = 0)], [0.5/4, 0.5/4]]
    let out = weighted(&Mae, p, t, w);
    assert_eq!(out.value, 1.25);
    assert_eq!(out.grad, array![[0.5, 0.0], [0.125, 0.125]].into_dyn());
}

#[test]
fn weights_per_position_weigh_each_step_of_a_sequence_output() {
    // p (2, 2, 1) against zeros, weights (2, 2): d² = 1, 4, 9, 16
    // Σ w·d² = 1·1 + 0·4 + 2·9 + 1·16 = 35 → 35/4 = 8.75
    // dL/dp = w·2p/4 = [[0.5, 0], [3, 2]]
    let p = array![[[1.0], [2.0]], [[3.0], [4.0]]].into_dyn();
    let out = weighted(&Mse, p, ArrayD::zeros(IxDyn(&[2, 2, 1])), array![[1.0, 0.0], [2.0, 1.0]].into_dyn());
    assert_eq!(out.value, 8.75);
    assert_eq!(out.grad, array![[[0.5], [0.0]], [[3.0], [2.0]]].into_dyn());
}

#[test]
fn binary_cross_entropy_weighted_by_hand() {
    // Probabilities p = [0.5, 0.25, 0.8], targets [1, 0, 1], weights [1, 2, 3], N = 3:
    // ℓ = [−ln 0.5, −ln 0.75, −ln 0.8]; L = (1·ln 2 − 2·ln 0.75 − 3·ln 0.8)/3
    // dL/dp = (p − t)·w/(p(1 − p))/N:
    //   (−0.5)·1/0.25/3 = −2/3,   0.25·2/0.1875/3 = 8/9,   (−0.2)·3/0.16/3 = −1.25
    let p = array![[0.5], [0.25], [0.8]].into_dyn();
    let t = array![[1.0], [0.0], [1.0]].into_dyn();
    let out = weighted(&BinaryCrossEntropy::new(), p, t, array![1.0, 2.0, 3.0].into_dyn());
    let want = (2f64.ln() - 2.0 * 0.75f64.ln() - 3.0 * 0.8f64.ln()) / 3.0;
    assert!(close(out.value, want), "{} vs {want}", out.value);
    assert_close(&out.grad, &array![[-2.0 / 3.0], [8.0 / 9.0], [-1.25]].into_dyn());

    // Logits z = [0, ln 3] (σ = 0.5, 0.75), targets [1, 0], weights [2, 1], N = 2:
    // ℓ = max(z, 0) − z·t + ln(1 + e^−|z|) = [ln 2, ln 3 + ln(4/3) = ln 4]
    // L = (2·ln 2 + 1·ln 4)/2 = 2 ln 2;  dL/dz = (σ − t)·w/N = [(−0.5)·2/2, 0.75·1/2]
    let z = array![[0.0], [3f64.ln()]].into_dyn();
    let out =
        weighted(&BinaryCrossEntropy::from_logits(), z, array![[1.0], [0.0]].into_dyn(), array![2.0, 1.0].into_dyn());
    assert!(close(out.value, 2.0 * 2f64.ln()), "{}", out.value);
    assert_close(&out.grad, &array![[-0.5], [0.375]].into_dyn());
}

#[test]
fn categorical_cross_entropies_weighted_by_hand() {
    // Probabilities, R = 2 rows, targets classes 0 and 2, weights [3, 1]:
    // L = (3·(−ln 0.5) + 1·(−ln 0.3))/2;  dL/dp = −t·w/(R·p): row 0 class 0: −3/(2·0.5) = −3,
    // row 1 class 2: −1/(2·0.3) = −5/3, zero elsewhere.
    let p = array![[0.5, 0.25, 0.25], [0.1, 0.6, 0.3]].into_dyn();
    let onehot = array![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]].into_dyn();
    let w = array![3.0, 1.0].into_dyn();
    let out = weighted(&CategoricalCrossEntropy::new(), p.clone(), onehot, w.clone());
    assert!(close(out.value, (3.0 * 2f64.ln() - 0.3f64.ln()) / 2.0), "{}", out.value);
    assert_close(&out.grad, &array![[-3.0, 0.0, 0.0], [0.0, 0.0, -5.0 / 3.0]].into_dyn());
    // The same with class labels, bit for bit (one-hot rows made from the labels).
    let sparse = weighted(&SparseCategoricalCrossEntropy::new(), p, array![0.0, 2.0].into_dyn(), w);
    assert_eq!(sparse, out);

    // Logits z = [[0, 0], [ln 3, 0]], targets classes 0 and 1, weights [1, 2], R = 2:
    // row 0: logsumexp = ln 2, z_t = 0 → ln 2;   softmax (0.5, 0.5)
    // row 1: logsumexp = ln 4, z_t = 0 → ln 4;   softmax (0.75, 0.25)
    // L = (1·ln 2 + 2·ln 4)/2 = 2.5·ln 2
    // dL/dz = w·(softmax − t)/R: row 0 (−0.25, 0.25), row 1 2·(0.75, −0.75)/2 = (0.75, −0.75)
    let z = array![[0.0, 0.0], [3f64.ln(), 0.0]].into_dyn();
    let w = array![1.0, 2.0].into_dyn();
    let out = weighted(
        &CategoricalCrossEntropy::from_logits(),
        z.clone(),
        array![[1.0, 0.0], [0.0, 1.0]].into_dyn(),
        w.clone(),
    );
    assert!(close(out.value, 2.5 * 2f64.ln()), "{}", out.value);
    assert_close(&out.grad, &array![[-0.25, 0.25], [0.75, -0.75]].into_dyn());
    let sparse = weighted(&SparseCategoricalCrossEntropy::from_logits(), z, array![[0.0], [1.0]].into_dyn(), w);
    assert_eq!(sparse, out);
}

/// A loss with a prediction and a target of its domain.
type Case = (Box<dyn Loss<f64>>, ArrayD<f64>, ArrayD<f64>);

/// Every loss kind with a prediction and target of its domain, shaped (3, 4, 3).
fn cases() -> Vec<Case> {
    let shape = [3, 4, 3];
    let raw = |s: f64| ArrayD::from_shape_fn(IxDyn(&shape), |i| ((i[0] * 12 + i[1] * 3 + i[2]) as f64 * s).sin());
    let probs = raw(0.7).mapv(|v| 0.1 + 0.8 * (v + 1.0) / 2.0);
    let mut softmax = raw(1.3).mapv(f64::exp);
    for mut row in softmax.lanes_mut(ndarray::Axis(2)) {
        let s = row.sum();
        row /= s;
    }
    let onehot = ArrayD::from_shape_fn(IxDyn(&shape), |i| f64::from(u8::from((i[0] + i[1]) % 3 == i[2])));
    let soft = raw(0.4).mapv(|v| (v + 1.0) / 2.0);
    let labels = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| ((i[0] + 2 * i[1]) % 3) as f64);
    vec![
        (Box::new(Mse), raw(0.7), raw(0.3)),
        (Box::new(Mae), raw(0.7), raw(0.3)),
        (Box::new(BinaryCrossEntropy::new()), probs.clone(), soft.clone()),
        (Box::new(BinaryCrossEntropy::from_logits()), raw(2.1), soft.clone()),
        (Box::new(CategoricalCrossEntropy::new()), softmax.clone(), onehot.clone()),
        (Box::new(CategoricalCrossEntropy::from_logits()), raw(2.1), soft),
        (Box::new(SparseCategoricalCrossEntropy::new()), softmax, labels.clone()),
        (Box::new(SparseCategoricalCrossEntropy::from_logits()), raw(2.1), labels),
    ]
}

#[test]
fn weights_of_one_give_the_unweighted_loss_bit_for_bit() {
    for (loss, p, t) in cases() {
        let plain = loss.compute(&p.view(), &t.view()).unwrap();
        for ones in [ArrayD::ones(IxDyn(&[3])), ArrayD::ones(IxDyn(&[3, 4]))] {
            let w = loss.compute_weighted(&p.view(), &t.view(), &ones.view()).unwrap();
            assert_eq!(w.value.to_bits(), plain.value.to_bits(), "{}", loss.name());
            assert_eq!(w.grad, plain.grad, "{}", loss.name());
            assert!(w.grad.iter().zip(&plain.grad).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

#[test]
fn the_weighted_gradient_matches_finite_differences() {
    let h = 1e-6;
    for (loss, p, t) in cases() {
        let w = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| 0.25 + (i[0] * 4 + i[1]) as f64 * 0.3);
        let out = loss.compute_weighted(&p.view(), &t.view(), &w.view()).unwrap();
        let f = |q: &ArrayD<f64>| loss.compute_weighted(&q.view(), &t.view(), &w.view()).unwrap().value;
        for (flat, &g) in out.grad.iter().enumerate() {
            let at = ndarray::IxDyn(&[flat / 12, (flat / 3) % 4, flat % 3]);
            let (mut up, mut down) = (p.clone(), p.clone());
            up[&at] += h;
            down[&at] -= h;
            let numeric = (f(&up) - f(&down)) / (2.0 * h);
            assert!(
                (g - numeric).abs() <= 1e-7 * numeric.abs().max(1.0),
                "{} at {flat}: {g} vs {numeric}",
                loss.name()
            );
        }
        // And the weights matter: doubling one sample's weight changes the value.
        let mut w2 = w.clone();
        w2[[0, 0]] *= 2.0;
        assert_ne!(
            loss.compute_weighted(&p.view(), &t.view(), &w2.view()).unwrap().value,
            out.value,
            "{}",
            loss.name()
        );
    }
}

/// A mean-reduced loss written outside the crate: it gets the per-sample default.
#[derive(Debug)]
struct MyMse;

impl Loss<f64> for MyMse {
    fn name(&self) -> &'static str {
        "my_mse"
    }
    fn compute(&self, p: &ArrayViewD<'_, f64>, t: &ArrayViewD<'_, f64>) -> recurrent::Result<LossOutput<f64>> {
        let n = p.len() as f64;
        let d = p - t;
        Ok(LossOutput { value: d.mapv(|v| v * v).sum() / n, grad: d.mapv(|v| 2.0 * v / n) })
    }
}

#[test]
fn a_loss_from_outside_gets_weights_from_its_per_sample_losses() {
    let (_, p, t) = cases().swap_remove(0);
    for w in [array![0.5, 2.0, 0.0].into_dyn(), ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] + i[1]) as f64)] {
        let mine = MyMse.compute_weighted(&p.view(), &t.view(), &w.view()).unwrap();
        let ours = Mse.compute_weighted(&p.view(), &t.view(), &w.view()).unwrap();
        assert!(close(mine.value, ours.value), "{} vs {}", mine.value, ours.value);
        assert_close(&mine.grad, &ours.grad);
    }
    let err = MyMse.compute_weighted(&p.view(), &t.view(), &ArrayD::ones(IxDyn(&[4])).view()).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
}

#[test]
fn losses_refuse_weights_of_the_wrong_shape_or_value() {
    let (p, t) = (ArrayD::zeros(IxDyn(&[2, 3])), ArrayD::zeros(IxDyn(&[2, 3])));
    let e = Mse.compute_weighted(&p.view(), &t.view(), &ArrayD::ones(IxDyn(&[3])).view()).unwrap_err();
    assert!(matches!(&e, Error::ShapeMismatch { expected, .. } if expected.contains("(2,)")), "{e}");
    let e = Mse.compute_weighted(&p.view(), &t.view(), &array![1.0, -1.0].into_dyn().view()).unwrap_err();
    assert!(matches!(&e, Error::OutOfRange { got, .. } if got == "-1"), "{e}");
    let e = Mse.compute_weighted(&p.view(), &t.view(), &array![1.0, f64::NAN].into_dyn().view()).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    // The class axis cannot be weighted.
    let probs = ArrayD::from_elem(IxDyn(&[2, 3]), 1.0 / 3.0);
    let e = CategoricalCrossEntropy::new()
        .compute_weighted(&probs.view(), &probs.view(), &ArrayD::ones(IxDyn(&[2, 3])).view())
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

// ───────────────────────────── fit ─────────────────────────────

fn classifier(seed: u64, units: usize, activation: Activation) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Sequential::new(&[4, 2]).unwrap();
    m.add(GruConfig::new(2, 5).init(&mut rng).unwrap()).unwrap();
    m.add(DenseConfig::new(5, units).with_activation(activation).init(&mut rng).unwrap()).unwrap();
    m
}

fn copy(m: &Sequential<f64>) -> Sequential<f64> {
    json::from_slice(&json::to_vec(m).unwrap()).unwrap()
}

fn all_bits(m: &Sequential<f64>) -> Vec<u64> {
    let mut out = Vec::new();
    m.visit_params(&mut |p| out.extend(p.value.iter().map(|v| v.to_bits())));
    out
}

fn inputs(n: usize) -> Array3<f64> {
    Array3::from_shape_fn((n, 4, 2), |(b, t, i)| ((b * 8 + t * 2 + i) as f64 * 0.61).sin())
}

/// Trains copies of `start` with `class_weight` and with the equivalent `sample_weight`:
/// the same run, bit for bit.
fn class_equals_sample(
    start: &Sequential<f64>,
    y: ArrayD<f64>,
    loss: &dyn Loss<f64>,
    cw: &[(usize, f64)],
    sw: ArrayD<f64>,
) {
    let x = inputs(y.shape()[0]);
    let run = |config: FitConfig<f64>| {
        let mut m = copy(start);
        let h = m.fit(&x, &y, loss, &mut Adam::new(0.02), config.with_seed(3).quiet()).unwrap();
        (all_bits(&m), h.loss())
    };
    let by_class = run(FitConfig::new(3, 4).with_class_weight(cw.iter().copied()));
    let by_sample = run(FitConfig::new(3, 4).with_sample_weight(sw));
    let plain = run(FitConfig::new(3, 4));
    assert_eq!(by_class, by_sample);
    assert_ne!(by_class.0, plain.0, "the weights changed nothing");
}

#[test]
fn class_weight_is_the_sample_weight_of_each_samples_class() {
    let n = 10;
    // Class labels (sparse): classes 0, 1, 2, 0, 1, 2, …; class 2 is left out of the map (weight 1).
    let labels = ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 3) as f64);
    let by_label = |w: [f64; 3]| labels.mapv(|c| w[c as usize]);
    let start = classifier(1, 3, Activation::Softmax);
    class_equals_sample(
        &start,
        labels.clone(),
        &SparseCategoricalCrossEntropy::new(),
        &[(0, 0.5), (1, 4.0)],
        by_label([0.5, 4.0, 1.0]),
    );
    // One-hot targets: the class is the argmax.
    let onehot = ArrayD::from_shape_fn(IxDyn(&[n, 3]), |i| f64::from(u8::from(i[0] % 3 == i[1])));
    class_equals_sample(
        &start,
        onehot,
        &CategoricalCrossEntropy::new(),
        &[(0, 0.5), (1, 4.0)],
        by_label([0.5, 4.0, 1.0]),
    );
    // Binary targets of one unit: classes 0 and 1.
    let binary = ArrayD::from_shape_fn(IxDyn(&[n, 1]), |i| f64::from(u8::from(i[0] % 4 == 0)));
    let sw = binary.index_axis(ndarray::Axis(1), 0).mapv(|c| if c == 1.0 { 3.0 } else { 1.0 });
    class_equals_sample(&classifier(2, 1, Activation::Sigmoid), binary, &BinaryCrossEntropy::new(), &[(1, 3.0)], sw);
}

#[test]
fn class_weight_per_position_for_sequence_outputs() {
    let n = 6;
    let mut rng = StdRng::seed_from_u64(4);
    let mut start = Sequential::new(&[4, 2]).unwrap();
    start.add(LstmConfig::new(2, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    start.add(DenseConfig::new(4, 3).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    // One label per position: (N, T); the weights are per position too.
    let labels = ArrayD::from_shape_fn(IxDyn(&[n, 4]), |i| ((i[0] + i[1]) % 3) as f64);
    let sw = labels.mapv(|c| [2.0, 1.0, 0.25][c as usize]);
    class_equals_sample(&start, labels, &SparseCategoricalCrossEntropy::new(), &[(0, 2.0), (2, 0.25)], sw);
}

#[test]
fn sample_weights_of_one_train_exactly_as_none() {
    let start = classifier(5, 1, Activation::Linear);
    let x = inputs(9);
    let y = Array2::from_shape_fn((9, 1), |(b, _)| (b as f64 * 0.3).cos());
    let run = |config: FitConfig<f64>| {
        let mut m = copy(&start);
        let h = m.fit(&x, &y, &Mse, &mut Sgd::new(0.1).with_momentum(0.5), config.quiet()).unwrap();
        (all_bits(&m), h.loss())
    };
    assert_eq!(run(FitConfig::new(2, 4).with_sample_weight(ndarray::Array1::ones(9))), run(FitConfig::new(2, 4)));
}

#[test]
fn under_a_mask_weights_count_real_positions_and_divide_by_their_number() {
    // Masking(0) → Dense(1 → 1) with kernel 1 and bias 0: the prediction is x.
    let model = || {
        let mut rng = StdRng::seed_from_u64(0);
        let mut m = Sequential::<f64>::new(&[3, 1]).unwrap();
        m.add(Masking::new(0.0)).unwrap();
        let mut d = DenseConfig::new(1, 1).init(&mut rng).unwrap();
        d.set_kernel(array![[1.0]]).unwrap();
        d.set_bias(array![0.0]).unwrap();
        m.add(d).unwrap();
        m
    };
    let x = array![[[1.0], [2.0], [0.0]], [[3.0], [0.0], [0.0]]];
    let y = Array3::<f64>::zeros((2, 3, 1));
    // Real positions: (0,0) = 1, (0,1) = 2, (1,0) = 3; the loss of each is x².
    let first_loss = |config: FitConfig<f64>| {
        let mut m = model();
        m.fit(&x, &y, &Mse, &mut Sgd::new(1e-3), config.with_shuffle(false).quiet()).unwrap().loss()[0]
    };
    // Per sample [2, 1]: (2·1 + 2·4 + 1·9)/3 real positions = 19/3 (not divided by Σ w = 5).
    let got = first_loss(FitConfig::new(1, 2).with_sample_weight(array![2.0, 1.0]));
    assert!(close(got, 19.0 / 3.0), "{got}");
    // Per position, the padded positions' weights unused: (1·1 + 0.5·4 + 4·9)/3 = 13.
    let per_position = array![[1.0, 0.5, 100.0], [4.0, 100.0, 100.0]];
    let got = first_loss(FitConfig::new(1, 2).with_sample_weight(per_position));
    assert!(close(got, 13.0), "{got}");
}

#[test]
fn class_weight_ignores_the_filler_labels_of_padded_positions() {
    // Masking → LSTM(return_sequences) → softmax Dense, labels per position; padded steps
    // (all-zero inputs) carry the filler label -1 (PyTorch's convention is -100). fit accepts
    // it without class_weight (the mask leaves those positions out), so it must with one, and
    // train exactly as with any valid class there.
    let n = 4;
    let mut rng = StdRng::seed_from_u64(8);
    let mut start = Sequential::new(&[4, 2]).unwrap();
    start.add(Masking::new(0.0)).unwrap();
    start.add(LstmConfig::new(2, 4).with_return_sequences(true).init(&mut rng).unwrap()).unwrap();
    start.add(DenseConfig::new(4, 3).with_activation(Activation::Softmax).init(&mut rng).unwrap()).unwrap();
    // Sample b is real for its first 4 − b steps (sample 0 entirely), then padded.
    let x = Array3::from_shape_fn(
        (n, 4, 2),
        |(b, t, i)| if t + b < 4 { 1.0 + ((b + t + i) as f64 * 0.7).sin() } else { 0.0 },
    );
    let labels = |filler: f64| {
        ArrayD::from_shape_fn(IxDyn(&[n, 4]), |i| if i[0] + i[1] < 4 { ((i[0] + i[1]) % 3) as f64 } else { filler })
    };
    let run = |y: ArrayD<f64>| {
        let mut m = copy(&start);
        let cfg = FitConfig::new(2, 2).with_class_weight([(0, 2.0), (2, 0.5)]).quiet();
        let h = m.fit(&x, &y, &SparseCategoricalCrossEntropy::new(), &mut Sgd::new(0.1), cfg).unwrap();
        (all_bits(&m), h.loss())
    };
    assert_eq!(run(labels(-1.0)), run(labels(0.0)));
    assert_eq!(run(labels(-100.0)), run(labels(2.0)));
}

#[test]
fn fit_checks_the_weights_before_the_first_step() {
    let start = classifier(6, 3, Activation::Softmax);
    let x = inputs(6);
    let labels = array![0.0, 1.0, 2.0, 0.0, 1.0, 2.0];
    let before = all_bits(&start);
    let fails = |config: FitConfig<f64>| {
        let mut m = copy(&start);
        let mut adam = Adam::new(0.1);
        let e = m.fit(&x, &labels, &SparseCategoricalCrossEntropy::new(), &mut adam, config.quiet()).unwrap_err();
        assert_eq!(all_bits(&m), before, "the model changed on error");
        assert_eq!(adam.step_count(), 0);
        e.to_string()
    };
    let e = fails(FitConfig::new(1, 2).with_sample_weight(array![1.0, 1.0, 1.0]));
    assert!(e.contains("fit sample_weight") && e.contains("(6,)") && e.contains("got (3,)"), "{e}");
    let e = fails(FitConfig::new(1, 2).with_sample_weight(array![1.0, 1.0, -0.5, 1.0, 1.0, 1.0]));
    assert!(e.contains("fit sample_weight") && e.contains("≥ 0") && e.contains("-0.5") && e.contains("[2]"), "{e}");
    let e = fails(FitConfig::new(1, 2).with_sample_weight(array![1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0]));
    assert!(e.contains("fit sample_weight") && e.contains("NaN"), "{e}");
    // Per position needs a sequence output: this one is (3,) per sample.
    let e = fails(FitConfig::new(1, 2).with_sample_weight(Array2::<f64>::ones((6, 4))));
    assert!(e.contains("fit sample_weight") && e.contains("(6, 4)"), "{e}");
    let e = fails(FitConfig::new(1, 2).with_class_weight([(3, 2.0)]));
    assert!(e.contains("class_weight class index") && e.contains("[0, 3)") && e.contains("got 3"), "{e}");
    let e = fails(FitConfig::new(1, 2).with_class_weight([(1, -2.0)]));
    assert!(e.contains("class_weight of class 1") && e.contains("-2"), "{e}");
    let e = fails(FitConfig::new(1, 2).with_class_weight([(1, 2.0)]).with_sample_weight(ndarray::Array1::ones(6)));
    assert!(e.contains("sample_weight and class_weight") && e.contains("both"), "{e}");
    let mut cw = BTreeMap::new();
    cw.insert(0, f64::INFINITY);
    let mut config = FitConfig::new(1, 2);
    config.class_weight = Some(cw);
    let e = fails(config);
    assert!(e.contains("class_weight of class 0") && e.contains("inf"), "{e}");
}
