//! Finite-difference gradient checks (f64, central differences) on random shapes.
//!
//! Every check uses a scalar objective and compares the crate's analytic gradient with
//! `(L(θ + h) − L(θ − h)) / 2h`, `h = 1e-6`, element by element:
//!
//! ```text
//! |analytic − numeric| ≤ RTOL · max(1, |numeric|)        RTOL = 1e-7
//! ```
//!
//! For layers and models the objective is `L = Σ G ⊙ output` with a random fixed `G` (as the
//! PyTorch fixtures do), so `dL/doutput = G` is what `backward` receives. For losses the
//! objective is the loss value itself and the analytic side is `compute(..).grad`.
//!
//! Central differences in f64 with this step are accurate to about 1e-9 on these problem
//! sizes (truncation ~h²·L‴, rounding ~ε·|L|/h), so the tolerance leaves a wide margin while
//! still failing on real mistakes (a missing activation derivative, a dropped time step, a
//! missing 1/N), which change gradients by 1e-2 or more.
//!
//! Shapes are drawn by proptest with 1 included in every range (B = 1, T = 1, I = 1, H = 1),
//! and [`degenerate_shapes`] runs the all-ones corners deterministically.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, Axis, Ix2, Ix3, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use recurrent::rand::rngs::StdRng;
use recurrent::rand::{Rng, SeedableRng};
use recurrent::{
    Activation, BinaryCrossEntropy, CategoricalCrossEntropy, DenseConfig, Layer, Loss, Mae, Mode, Mse, Params,
    Sequential, Sgd, SimpleRnn, SimpleRnnConfig, SparseCategoricalCrossEntropy, State,
};

/// Finite-difference step.
const STEP: f64 = 1e-6;
/// Allowed |analytic − numeric| relative to max(1, |numeric|).
const RTOL: f64 = 1e-7;
/// Pre-activations closer to 0 than this make a ReLU draw skip (a kink inside ±STEP).
const KINK: f64 = 1e-4;

type Check = Result<(), TestCaseError>;

fn config() -> ProptestConfig {
    // No regression files: this suite must not write into the source tree.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(24) }
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// An array of `shape` with entries uniform in `[lo, hi)`.
fn uniform(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// `Σ G ⊙ out`, the scalar objective of every layer check.
fn objective(g: &ArrayD<f64>, out: &ArrayD<f64>) -> f64 {
    assert_eq!(g.shape(), out.shape(), "objective weights vs output");
    (g * out).sum()
}

/// Central-difference gradient of `f` at `x`, one element at a time (`x` is restored exactly).
fn numeric_grad(x: &ArrayD<f64>, mut f: impl FnMut(&ArrayD<f64>) -> f64) -> ArrayD<f64> {
    let mut xp = x.as_standard_layout().into_owned();
    let mut grad = ArrayD::zeros(x.raw_dim());
    for (k, gk) in grad.iter_mut().enumerate() {
        let orig = xp.as_slice().expect("standard layout")[k];
        xp.as_slice_mut().expect("standard layout")[k] = orig + STEP;
        let up = f(&xp);
        xp.as_slice_mut().expect("standard layout")[k] = orig - STEP;
        let down = f(&xp);
        xp.as_slice_mut().expect("standard layout")[k] = orig;
        *gk = (up - down) / (2.0 * STEP);
    }
    grad
}

/// Fails (naming the worst element) unless `analytic` matches `numeric` within the tolerance.
fn check_grad(what: &str, analytic: &ArrayViewD<'_, f64>, numeric: &ArrayViewD<'_, f64>) -> Check {
    prop_assert_eq!(analytic.shape(), numeric.shape(), "{}: analytic vs numeric shape", what);
    let mut worst: Option<(usize, f64, f64, f64)> = None;
    for (k, (&a, &n)) in analytic.iter().zip(numeric.iter()).enumerate() {
        let excess = (a - n).abs() / n.abs().max(1.0);
        // NaN counts as a failure.
        if (excess.is_nan() || excess > RTOL) && worst.is_none_or(|w| excess > w.1) {
            worst = Some((k, excess, a, n));
        }
    }
    if let Some((k, excess, a, n)) = worst {
        let shape = analytic.shape();
        return Err(TestCaseError::fail(format!(
            "{what} {shape:?}: element {k} analytic {a:e}, numeric {n:e} (relative error {excess:e} > {RTOL:e})"
        )));
    }
    Ok(())
}

/// Name, value and accumulated gradient of every parameter, in visit order.
fn param_snapshot<P: Params<f64> + ?Sized>(p: &P) -> Vec<(String, ArrayD<f64>, ArrayD<f64>)> {
    let mut out = Vec::new();
    p.visit_params(&mut |r| out.push((r.name.to_string(), r.value.to_owned(), r.grad.to_owned())));
    out
}

/// Overwrites the `index`-th parameter (visit order) with `value`.
fn set_param<P: Params<f64> + ?Sized>(p: &mut P, index: usize, value: &ArrayD<f64>) {
    let mut k = 0;
    p.visit_params_mut(&mut |mut m| {
        if k == index {
            m.value.assign(value);
        }
        k += 1;
    });
}

/// Fills every parameter with uniform values in `[-scale, scale)` (biases included, so a
/// zero bias cannot hide a bias bug).
fn randomize_params<P: Params<f64> + ?Sized>(p: &mut P, rng: &mut StdRng, scale: f64) {
    p.visit_params_mut(&mut |mut m| m.value.iter_mut().for_each(|v| *v = rng.random_range(-scale..scale)));
}

/// Checks that the parameters are exactly `names` (visit order), that `param_count` agrees,
/// and that each accumulated gradient matches finite differences of `eval`.
fn check_param_grads<P: Params<f64> + ?Sized>(
    what: &str,
    model: &mut P,
    names: &[&str],
    mut eval: impl FnMut(&mut P) -> f64,
) -> Check {
    let snap = param_snapshot(model);
    let got: Vec<&str> = snap.iter().map(|(n, _, _)| n.as_str()).collect();
    prop_assert_eq!(&got, &names, "{}: parameters visited", what);
    prop_assert_eq!(model.param_count(), snap.iter().map(|(_, v, _)| v.len()).sum::<usize>());
    for (k, (name, value, grad)) in snap.iter().enumerate() {
        prop_assert_eq!(value.shape(), grad.shape(), "{}: {} value vs grad shape", what, name);
        let numeric = numeric_grad(value, |v| {
            set_param(model, k, v);
            eval(model)
        });
        set_param(model, k, value);
        check_grad(&format!("{what}: d/d{name} (param #{k})"), &grad.view(), &numeric.view())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Activations on their own
// ---------------------------------------------------------------------------------------

const ALL_ACTIVATIONS: [Activation; 5] =
    [Activation::Linear, Activation::Tanh, Activation::Sigmoid, Activation::Relu, Activation::Softmax];

fn activation_case(act: Activation, shape: &[usize], seed: u64) -> Check {
    let mut rng = StdRng::seed_from_u64(seed);
    // Inputs in ±[0.01, 3): never within STEP of ReLU's kink at 0.
    let x = uniform(&mut rng, shape, 0.01, 3.0).mapv(|v| if rng.random::<bool>() { v } else { -v });
    let g = uniform(&mut rng, shape, -1.0, 1.0);
    let y = act.forward(&x.view()).unwrap();
    prop_assert_eq!(y.shape(), x.shape());
    let analytic = act.backward(&y.view(), &g.view()).unwrap();
    let numeric = numeric_grad(&x, |xv| objective(&g, &act.forward(&xv.view()).unwrap()));
    check_grad(&format!("{act} dL/dx"), &analytic.view(), &numeric.view())
}

// ---------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------

fn check_loss(what: &str, loss: &dyn Loss<f64>, p: &ArrayD<f64>, t: &ArrayD<f64>) -> Check {
    let out = loss.compute(&p.view(), &t.view()).unwrap();
    prop_assert_eq!(out.grad.shape(), p.shape(), "{}: grad shape", what);
    let value = loss.value(&p.view(), &t.view()).unwrap();
    prop_assert_eq!(value.to_bits(), out.value.to_bits(), "{}: value() vs compute().value", what);
    let numeric = numeric_grad(p, |pv| loss.compute(&pv.view(), &t.view()).unwrap().value);
    check_grad(&format!("{what}: dL/dprediction"), &out.grad.view(), &numeric.view())
}

/// Binary targets: a mix of hard 0, hard 1 and soft values.
fn binary_targets(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| match rng.random_range(0..3) {
        0 => 0.0,
        1 => 1.0,
        _ => rng.random_range(0.0..1.0),
    })
}

/// Class targets over the last axis: one-hot rows, soft rows that sum to 1, and rows with
/// zeros, all in [0, 1].
fn class_targets(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f64> {
    let k = shape[shape.len() - 1];
    let mut t = ArrayD::zeros(IxDyn(shape));
    for mut row in t.lanes_mut(Axis(shape.len() - 1)) {
        match rng.random_range(0..3) {
            0 => row[rng.random_range(0..k)] = 1.0,
            1 => {
                row.iter_mut().for_each(|v| *v = if rng.random::<bool>() { rng.random_range(0.0..1.0) } else { 0.0 });
                let s = row.sum();
                if s > 0.0 {
                    row.mapv_inplace(|v| v / s);
                } else {
                    row[0] = 1.0;
                }
            }
            _ => row.iter_mut().for_each(|v| *v = rng.random_range(0.0..1.0)),
        }
    }
    t
}

fn softmax_last(z: &ArrayD<f64>) -> ArrayD<f64> {
    Activation::Softmax.forward(&z.view()).unwrap()
}

fn loss_cases(shape: &[usize], seed: u64) -> Check {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = shape[shape.len() - 1];

    // MSE.
    let p = uniform(&mut rng, shape, -2.0, 2.0);
    let t = uniform(&mut rng, shape, -2.0, 2.0);
    check_loss("mse", &Mse, &p, &t)?;

    // MAE, with |p − t| ≥ 0.01 so no kink lies within ±STEP.
    let gap = uniform(&mut rng, shape, 0.01, 1.0).mapv(|v| if rng.random::<bool>() { v } else { -v });
    check_loss("mae", &Mae, &(&t + &gap), &t)?;

    // Binary cross-entropy on probabilities in (0.05, 0.95), and on logits.
    let p = uniform(&mut rng, shape, 0.05, 0.95);
    let t = binary_targets(&mut rng, shape);
    check_loss("bce", &BinaryCrossEntropy::new(), &p, &t)?;
    let z = uniform(&mut rng, shape, -4.0, 4.0);
    check_loss("bce from logits", &BinaryCrossEntropy::from_logits(), &z, &t)?;

    // Categorical cross-entropy. The probability form takes softmax outputs but, as the loss
    // documents, treats each p as an independent variable (no renormalisation). K = 1 would
    // give p = 1 exactly, and p + h would leave [0, 1]; the logits form has no such limit.
    let z = uniform(&mut rng, shape, -2.0, 2.0);
    let t = class_targets(&mut rng, shape);
    if k >= 2 {
        check_loss("cce", &CategoricalCrossEntropy::new(), &softmax_last(&z), &t)?;
    }
    check_loss("cce from logits", &CategoricalCrossEntropy::from_logits(), &z, &t)?;

    // Sparse categorical cross-entropy: one integral label per row, target shaped as the
    // prediction without its class axis, or with a class axis of length 1.
    let lead = &shape[..shape.len() - 1];
    let mut labels = ArrayD::from_shape_fn(IxDyn(lead), |_| rng.random_range(0..k) as f64);
    if rng.random::<bool>() {
        labels = labels.insert_axis(Axis(lead.len()));
    }
    if k >= 2 {
        check_loss("sparse cce", &SparseCategoricalCrossEntropy::new(), &softmax_last(&z), &labels)?;
    }
    check_loss("sparse cce from logits", &SparseCategoricalCrossEntropy::from_logits(), &z, &labels)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// SimpleRNN
// ---------------------------------------------------------------------------------------

/// How the initial state reaches the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H0 {
    /// None: the layer starts from zeros (`Layer::forward`, nothing set).
    Zeros,
    /// `forward_with_state(x, Some(h0), ..)`.
    Explicit,
    /// `set_initial_state(Some(h0))`, then `Layer::forward`.
    Stored,
}

/// The pre-activations `a_t = x_t W_x + h_{t−1} W_h + b` of every step, computed here from
/// the layer's weights (and checked against the layer's own output on the way).
fn preactivations(rnn: &SimpleRnn<f64>, x: &ArrayD<f64>, h0: &Array2<f64>) -> (Vec<Array2<f64>>, Array2<f64>) {
    let w = rnn.weights();
    let act = rnn.cell().activation;
    let mut h = h0.clone();
    let mut all = Vec::new();
    for xt in x.axis_iter(Axis(1)) {
        let xt: ArrayView2<'_, f64> = xt.into_dimensionality::<Ix2>().unwrap();
        let a = xt.dot(&w.kernel) + h.dot(&w.recurrent_kernel) + &w.bias;
        h = act.forward(&a.view()).unwrap();
        all.push(a);
    }
    (all, h)
}

#[derive(Debug, Clone, Copy)]
struct RnnShape {
    b: usize,
    t: usize,
    i: usize,
    h: usize,
}

fn simple_rnn_case(act: Activation, seq: bool, path: H0, s: RnnShape, seed: u64) -> Check {
    let what = format!("SimpleRNN({act}, return_sequences={seq}, h0={path:?}) {s:?}");
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut rnn =
        SimpleRnnConfig::new(i, h).with_activation(act).with_return_sequences(seq).init::<f64, _>(&mut rng).unwrap();
    randomize_params(&mut rnn, &mut rng, 0.9);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let h0 = match path {
        H0::Zeros => Array2::zeros((b, h)),
        H0::Explicit | H0::Stored => uniform(&mut rng, &[b, h], -0.9, 0.9).into_dimensionality::<Ix2>().unwrap(),
    };
    let out_shape: Vec<usize> = if seq { vec![b, t, h] } else { vec![b, h] };
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);

    let (pre, h_last) = preactivations(&rnn, &x, &h0);
    if act == Activation::Relu && pre.iter().flatten().any(|a| a.abs() < KINK) {
        // A ReLU kink within reach of the finite difference: no derivative to compare.
        return Ok(());
    }
    if path == H0::Stored {
        rnn.set_initial_state(Some(State::new(h0.clone())));
    }
    let run = |rnn: &mut SimpleRnn<f64>, x: &ArrayD<f64>, mode: Mode| -> ArrayD<f64> {
        match path {
            H0::Zeros | H0::Stored => rnn.forward(x.view(), mode).unwrap(),
            H0::Explicit => {
                let x3 = x.view().into_dimensionality::<Ix3>().unwrap();
                rnn.forward_with_state(x3, Some(&State::new(h0.clone())), mode).unwrap()
            }
        }
    };

    // Analytic: one training pass and BPTT.
    rnn.zero_grad();
    let out = run(&mut rnn, &x, Mode::Train);
    prop_assert_eq!(out.shape(), &out_shape[..], "{}: output shape", what);
    let fin = rnn.final_state().expect("final state").h.clone();
    prop_assert!((&fin - &h_last).iter().all(|d| d.abs() < 1e-12), "{}: final state vs reference", what);
    let dx = rnn.backward(g.view()).unwrap();
    let dh0 = rnn.initial_state_grad().expect("initial-state gradient").clone();
    prop_assert!(dh0.c.is_none(), "{}: SimpleRNN has no cell-state gradient", what);

    // dL/dx.
    let ndx = numeric_grad(&x, |xv| objective(&g, &run(&mut rnn, xv, Mode::Infer)));
    check_grad(&format!("{what}: dL/dx"), &dx.view(), &ndx.view())?;

    // dL/dh0, through the same path the state came in by (from zeros: the gradient at 0).
    let ndh0 = numeric_grad(&h0.clone().into_dyn(), |hv| {
        let st = State::new(hv.clone().into_dimensionality::<Ix2>().unwrap());
        let out = match path {
            H0::Stored => {
                rnn.set_initial_state(Some(st));
                rnn.forward(x.view(), Mode::Infer).unwrap()
            }
            H0::Zeros | H0::Explicit => {
                rnn.forward_with_state(x.view().into_dimensionality::<Ix3>().unwrap(), Some(&st), Mode::Infer).unwrap()
            }
        };
        objective(&g, &out)
    });
    match path {
        H0::Stored => rnn.set_initial_state(Some(State::new(h0.clone()))),
        H0::Zeros | H0::Explicit => {}
    }
    check_grad(&format!("{what}: dL/dh0"), &dh0.h.view().into_dyn(), &ndh0.view())?;

    // Every parameter.
    check_param_grads(&what, &mut rnn, &["kernel", "recurrent_kernel", "bias"], |r| {
        objective(&g, &run(r, &x, Mode::Infer))
    })
}

fn simple_rnn_all_paths(act: Activation, s: RnnShape, seed: u64) -> Check {
    for seq in [false, true] {
        for path in [H0::Zeros, H0::Explicit, H0::Stored] {
            simple_rnn_case(act, seq, path, s, seed)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Dense
// ---------------------------------------------------------------------------------------

const DENSE_ACTIVATIONS: [Activation; 5] =
    [Activation::Linear, Activation::Tanh, Activation::Sigmoid, Activation::Relu, Activation::Softmax];

/// `lead` are the leading axes: `[B]` for a 2-D input, `[B, T]` for a 3-D one.
fn dense_case(act: Activation, lead: &[usize], fin: usize, units: usize, seed: u64) -> Check {
    let what = format!("Dense({fin}→{units}, {act}) on {lead:?}×{fin}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut dense = DenseConfig::new(fin, units).with_activation(act).init::<f64, _>(&mut rng).unwrap();
    randomize_params(&mut dense, &mut rng, 1.0);
    let mut in_shape = lead.to_vec();
    in_shape.push(fin);
    let mut out_shape = lead.to_vec();
    out_shape.push(units);
    let x = uniform(&mut rng, &in_shape, -1.5, 1.5);
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);
    if act == Activation::Relu {
        let rows = x.view().into_shape_with_order((x.len() / fin, fin)).unwrap();
        let pre = rows.dot(dense.kernel()) + dense.bias();
        if pre.iter().any(|a| a.abs() < KINK) {
            return Ok(());
        }
    }

    dense.zero_grad();
    let out = dense.forward(x.view(), Mode::Train).unwrap();
    prop_assert_eq!(out.shape(), &out_shape[..], "{}: output shape", what);
    let dx = dense.backward(g.view()).unwrap();
    let ndx = numeric_grad(&x, |xv| objective(&g, &dense.forward(xv.view(), Mode::Infer).unwrap()));
    check_grad(&format!("{what}: dL/dx"), &dx.view(), &ndx.view())?;
    check_param_grads(&what, &mut dense, &["kernel", "bias"], |d| {
        objective(&g, &d.forward(x.view(), Mode::Infer).unwrap())
    })
}

// ---------------------------------------------------------------------------------------
// Sequential: SimpleRNN(return_sequences) → Dense
// ---------------------------------------------------------------------------------------

const SEQ_NAMES: [&str; 5] = ["kernel", "recurrent_kernel", "bias", "kernel", "bias"];

fn two_layer_model(
    rng: &mut StdRng,
    s: RnnShape,
    units: usize,
    rnn_act: Activation,
    dense_act: Activation,
) -> Sequential<f64> {
    let mut model = Sequential::new(&[s.t, s.i]).unwrap();
    model
        .add(
            SimpleRnnConfig::new(s.i, s.h)
                .with_activation(rnn_act)
                .with_return_sequences(true)
                .init::<f64, _>(rng)
                .unwrap(),
        )
        .unwrap();
    model.add(DenseConfig::new(s.h, units).with_activation(dense_act).init::<f64, _>(rng).unwrap()).unwrap();
    randomize_params(&mut model, rng, 0.9);
    model
}

fn sequential_case(s: RnnShape, units: usize, rnn_act: Activation, dense_act: Activation, seed: u64) -> Check {
    let what = format!("Sequential[SimpleRNN({rnn_act}) → Dense({dense_act})] {s:?} units={units}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = two_layer_model(&mut rng, s, units, rnn_act, dense_act);
    let x = uniform(&mut rng, &[s.b, s.t, s.i], -1.0, 1.0);
    let g = uniform(&mut rng, &[s.b, s.t, units], -1.0, 1.0);

    model.zero_grad();
    let out = model.forward(&x, Mode::Train).unwrap();
    prop_assert_eq!(out.shape(), &[s.b, s.t, units][..], "{}: output shape", what);
    let dx = model.backward(&g).unwrap();
    let ndx = numeric_grad(&x, |xv| objective(&g, &model.forward(xv, Mode::Infer).unwrap()));
    check_grad(&format!("{what}: dL/dx"), &dx.view(), &ndx.view())?;
    check_param_grads(&what, &mut model, &SEQ_NAMES, |m| objective(&g, &m.forward(&x, Mode::Infer).unwrap()))
}

/// `train_step` = finite-difference gradient of `evaluate`, applied by SGD: the returned loss
/// is the loss before the update and every parameter moves by exactly −lr · dL/dθ.
fn train_step_case(s: RnnShape, units: usize, seed: u64) -> Check {
    let what = format!("train_step {s:?} units={units}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = two_layer_model(&mut rng, s, units, Activation::Tanh, Activation::Linear);
    let x = uniform(&mut rng, &[s.b, s.t, s.i], -1.0, 1.0);
    let y = uniform(&mut rng, &[s.b, s.t, units], -1.0, 1.0);

    let before = param_snapshot(&model);
    let loss0 = model.evaluate(&x, &y, &Mse).unwrap();
    let mut numeric = Vec::new();
    for (k, (_, value, _)) in before.iter().enumerate() {
        numeric.push(numeric_grad(value, |v| {
            set_param(&mut model, k, v);
            model.evaluate(&x, &y, &Mse).unwrap()
        }));
        set_param(&mut model, k, value);
    }

    let lr = 0.1;
    let loss = model.train_step(&x, &y, &Mse, &mut Sgd::new(lr)).unwrap();
    prop_assert!((loss - loss0).abs() <= 1e-12 * loss0.abs().max(1.0), "{}: {} vs evaluate {}", what, loss, loss0);
    let after = param_snapshot(&model);
    for (k, (((name, v0, _), (_, v1, grad)), num)) in before.iter().zip(&after).zip(&numeric).enumerate() {
        check_grad(&format!("{what}: accumulated d/d{name} (param #{k})"), &grad.view(), &num.view())?;
        let step = (v0 - v1) / lr;
        check_grad(&format!("{what}: SGD step of {name} (param #{k}) / lr"), &step.view(), &num.view())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies and properties
// ---------------------------------------------------------------------------------------

fn rnn_shape() -> impl Strategy<Value = RnnShape> {
    (1usize..=3, 1usize..=5, 1usize..=4, 1usize..=4).prop_map(|(b, t, i, h)| RnnShape { b, t, i, h })
}

/// A shape of rank 1 to 3 with every axis in 1..=4.
fn small_shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=3)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn activations_match_finite_differences(shape in small_shape(), seed in any::<u64>()) {
        for act in ALL_ACTIVATIONS {
            activation_case(act, &shape, seed)?;
        }
    }

    #[test]
    fn losses_match_finite_differences(shape in small_shape(), seed in any::<u64>()) {
        loss_cases(&shape, seed)?;
    }

    #[test]
    fn simple_rnn_tanh(s in rnn_shape(), seed in any::<u64>()) {
        simple_rnn_all_paths(Activation::Tanh, s, seed)?;
    }

    #[test]
    fn simple_rnn_relu(s in rnn_shape(), seed in any::<u64>()) {
        simple_rnn_all_paths(Activation::Relu, s, seed)?;
    }

    #[test]
    fn simple_rnn_sigmoid(s in rnn_shape(), seed in any::<u64>()) {
        simple_rnn_all_paths(Activation::Sigmoid, s, seed)?;
    }

    #[test]
    fn dense_2d(b in 1usize..=3, fin in 1usize..=4, units in 1usize..=4, seed in any::<u64>()) {
        for act in DENSE_ACTIVATIONS {
            dense_case(act, &[b], fin, units, seed)?;
        }
    }

    #[test]
    fn dense_3d(b in 1usize..=3, t in 1usize..=5, fin in 1usize..=4, units in 1usize..=4, seed in any::<u64>()) {
        for act in DENSE_ACTIVATIONS {
            dense_case(act, &[b, t], fin, units, seed)?;
        }
    }

    #[test]
    fn sequential_rnn_then_dense(s in rnn_shape(), units in 1usize..=3, seed in any::<u64>()) {
        for (rnn_act, dense_act) in [
            (Activation::Tanh, Activation::Linear),
            (Activation::Tanh, Activation::Sigmoid),
            (Activation::Sigmoid, Activation::Tanh),
            (Activation::Tanh, Activation::Softmax),
        ] {
            sequential_case(s, units, rnn_act, dense_act, seed)?;
        }
    }

    #[test]
    fn sequential_train_step(s in rnn_shape(), units in 1usize..=3, seed in any::<u64>()) {
        train_step_case(s, units, seed)?;
    }
}

/// The all-ones corners and single-axis extremes, whatever proptest draws.
#[test]
fn degenerate_shapes() {
    let shapes = [
        RnnShape { b: 1, t: 1, i: 1, h: 1 },
        RnnShape { b: 1, t: 5, i: 1, h: 1 },
        RnnShape { b: 3, t: 1, i: 1, h: 1 },
        RnnShape { b: 1, t: 1, i: 4, h: 4 },
        RnnShape { b: 3, t: 5, i: 4, h: 4 },
    ];
    for (n, s) in shapes.into_iter().enumerate() {
        let seed = 1000 + n as u64;
        for act in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
            simple_rnn_all_paths(act, s, seed).unwrap();
        }
        for act in DENSE_ACTIVATIONS {
            dense_case(act, &[s.b], s.i, s.h, seed).unwrap();
            dense_case(act, &[s.b, s.t], s.i, s.h, seed).unwrap();
        }
        sequential_case(s, 1, Activation::Tanh, Activation::Linear, seed).unwrap();
        train_step_case(s, 1, seed).unwrap();
    }
    for shape in [vec![1], vec![1, 1], vec![1, 1, 1], vec![4], vec![1, 4], vec![3, 1]] {
        for act in ALL_ACTIVATIONS {
            activation_case(act, &shape, 7).unwrap();
        }
        loss_cases(&shape, 7).unwrap();
    }
}

/// `backward` adds to the accumulated gradients: two backward passes after one forward give
/// twice the gradient, and `zero_grad` resets it.
#[test]
fn gradients_accumulate_until_zero_grad() {
    let mut rng = StdRng::seed_from_u64(3);
    let s = RnnShape { b: 2, t: 3, i: 2, h: 3 };
    let mut model = two_layer_model(&mut rng, s, 2, Activation::Tanh, Activation::Tanh);
    let x = uniform(&mut rng, &[2, 3, 2], -1.0, 1.0);
    let g = uniform(&mut rng, &[2, 3, 2], -1.0, 1.0);
    model.zero_grad();
    model.forward(&x, Mode::Train).unwrap();
    model.backward(&g).unwrap();
    let once = param_snapshot(&model);
    model.backward(&g).unwrap();
    let twice = param_snapshot(&model);
    for ((name, _, g1), (_, _, g2)) in once.iter().zip(&twice) {
        assert!(g1.iter().any(|v| *v != 0.0), "{name}: gradient should be non-zero");
        let diff = (g2 - &(g1 * 2.0)).mapv(f64::abs).fold(0.0, |a: f64, &b| a.max(b));
        assert!(diff < 1e-12, "{name}: second backward should add the same gradient again (max diff {diff:e})");
    }
    model.zero_grad();
    assert!(param_snapshot(&model).iter().all(|(_, _, g)| g.iter().all(|v| *v == 0.0)));
}

mod softmax_properties {
    use approx::assert_abs_diff_eq;
    use ndarray::{Array2, Axis};
    use proptest::prelude::*;
    use recurrent::Activation;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Softmax rows are probability distributions for any finite logits, extreme ones
        /// included: non-negative, summing to 1, and unchanged by adding a constant to a row.
        #[test]
        fn softmax_rows_are_distributions(
            rows in 1usize..5,
            cols in 1usize..7,
            seed in any::<u64>(),
            scale in prop_oneof![Just(1.0f64), Just(30.0), Just(300.0)],
            shift in -50.0f64..50.0,
        ) {
            let mut s = seed;
            let x = Array2::from_shape_fn((rows, cols), |_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
            });
            let y = Activation::Softmax.forward(&x.view()).unwrap();
            prop_assert!(y.iter().all(|&p| (0.0..=1.0).contains(&p)));
            for row in y.axis_iter(Axis(0)) {
                assert_abs_diff_eq!(row.sum(), 1.0, epsilon = 1e-12);
            }
            let shifted = Activation::Softmax.forward(&(&x + shift).view()).unwrap();
            for (a, b) in y.iter().zip(shifted.iter()) {
                assert_abs_diff_eq!(*a, *b, epsilon = 1e-12);
            }
        }
    }
}
