//! Finite-difference gradient checks (f64, central differences) for the RNN family: LSTM,
//! GRU in both formulations, `go_backwards`, `backward_with_state`, [`Bidirectional`] in
//! every merge mode, stacks of recurrent layers in a [`Sequential`], and the gradient trace.
//!
//! The harness is the one of `tests/gradcheck.rs` (copied, since `tests/common` is shared
//! with the fixture tests): objective `L = Σ G ⊙ output` with a random fixed `G` (plus
//! `Σ G_h ⊙ h_T` and `Σ G_c ⊙ c_T` when a final-state gradient is passed), central differences
//! with step `h = 1e-6`, and
//!
//! ```text
//! |analytic − numeric| ≤ RTOL · max(1, |numeric|)        RTOL = 1e-7
//! ```
//!
//! Every activation here is smooth (tanh, sigmoid, linear), so no draw needs skipping.
//! Shapes are drawn by proptest with B in 1..=3, T in 1..=5, I in 1..=4, H in 1..=4 (1 is in
//! every range), and the deterministic tests run the all-ones corner and the largest shape.
//!
//! A gradient check only shows that `backward` differentiates what `forward` computes, so
//! every recurrent case also compares the forward pass with a naive per-step reference
//! written here from the documented equations ([`reference_forward`]). For the original
//! (Cho et al.) GRU, which has no PyTorch fixture, that reference and these checks are the
//! correctness evidence.

use ndarray::{concatenate, s, Array2, ArrayD, ArrayView3, Axis, Ix2, Ix3, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use recurrent::rand::rngs::StdRng;
use recurrent::rand::{Rng, SeedableRng};
use recurrent::{
    Activation, Bidirectional, Cell, DenseConfig, GruConfig, Layer, LstmConfig, MergeMode, Mode, Params, Recurrent,
    RecurrentLayer, Sequential, SimpleRnnConfig, State,
};

/// Finite-difference step.
const STEP: f64 = 1e-6;
/// Allowed |analytic − numeric| relative to max(1, |numeric|).
const RTOL: f64 = 1e-7;
/// Forward values against the naive reference (same arithmetic, different order).
const FWD_TOL: f64 = 1e-12;
/// Parameters are drawn uniform in ±SCALE (biases included).
const SCALE: f64 = 0.8;

type Check = Result<(), TestCaseError>;

fn config() -> ProptestConfig {
    // No regression files: this suite must not write into the source tree.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(24) }
}

// ---------------------------------------------------------------------------------------
// Harness (as in tests/gradcheck.rs)
// ---------------------------------------------------------------------------------------

/// An array of `shape` with entries uniform in `[lo, hi)`.
fn uniform(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

fn uniform2(rng: &mut StdRng, rows: usize, cols: usize, lo: f64, hi: f64) -> Array2<f64> {
    uniform(rng, &[rows, cols], lo, hi).into_dimensionality::<Ix2>().unwrap()
}

/// `Σ G ⊙ out`.
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
fn check_grad(what: &str, analytic: &ArrayD<f64>, numeric: &ArrayD<f64>) -> Check {
    prop_assert_eq!(analytic.shape(), numeric.shape(), "{}: analytic vs numeric shape", what);
    let mut worst: Option<(usize, f64, f64, f64)> = None;
    for (k, (&a, &n)) in analytic.iter().zip(numeric.iter()).enumerate() {
        let excess = (a - n).abs() / n.abs().max(1.0);
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

/// Fails unless `got` equals `want` element-wise within `tol` (absolute).
fn check_close(what: &str, got: &ArrayD<f64>, want: &ArrayD<f64>, tol: f64) -> Check {
    prop_assert_eq!(got.shape(), want.shape(), "{}: shape", what);
    let diff = (got - want).mapv(f64::abs).fold(0.0, |a: f64, &b| if b.is_nan() { f64::INFINITY } else { a.max(b) });
    prop_assert!(diff <= tol, "{}: max |diff| {:e} > {:e}", what, diff, tol);
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

/// Fills every parameter with uniform values in `[-scale, scale)`.
fn randomize_params<P: Params<f64> + ?Sized>(p: &mut P, rng: &mut StdRng, scale: f64) {
    p.visit_params_mut(&mut |mut m| m.value.iter_mut().for_each(|v| *v = rng.random_range(-scale..scale)));
}

/// Checks the parameter names (visit order) and `param_count`, then each accumulated
/// gradient against finite differences of `eval`.
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
        check_grad(&format!("{what}: d/d{name} (param #{k})"), grad, &numeric)?;
    }
    Ok(())
}

fn x3(x: &ArrayD<f64>) -> ArrayView3<'_, f64> {
    x.view().into_dimensionality::<Ix3>().expect("a (B, T, I) input")
}

/// `a` with its time axis (axis 1) reversed, in standard layout.
fn rev_time(a: &ArrayD<f64>) -> ArrayD<f64> {
    let mut v = a.view();
    v.invert_axis(Axis(1));
    v.as_standard_layout().into_owned()
}

/// Frobenius norm.
fn norm(a: &ArrayD<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

// ---------------------------------------------------------------------------------------
// The layers under test
// ---------------------------------------------------------------------------------------

/// Which cell, and for the GRU which formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Lstm,
    /// GRU with `reset_after = true` (PyTorch; separate recurrent bias).
    GruAfter,
    /// GRU with `reset_after = false` (Cho et al.; the reset gate before the product).
    GruCho,
}

const KINDS: [Kind; 4] = [Kind::Simple, Kind::Lstm, Kind::GruAfter, Kind::GruCho];
const MERGES: [MergeMode; 4] = [MergeMode::Concat, MergeMode::Sum, MergeMode::Mul, MergeMode::Average];

const NAMES3: [&str; 3] = ["kernel", "recurrent_kernel", "bias"];
const NAMES4: [&str; 4] = ["kernel", "recurrent_kernel", "bias", "recurrent_bias"];

impl Kind {
    fn has_c(self) -> bool {
        self == Kind::Lstm
    }

    fn gates(self) -> usize {
        match self {
            Kind::Simple => 1,
            Kind::Lstm => 4,
            Kind::GruAfter | Kind::GruCho => 3,
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Kind::GruAfter => &NAMES4,
            _ => &NAMES3,
        }
    }
}

/// A layer of `kind` (Keras's default activations, built by its config's `init`), parameters
/// randomised in ±SCALE through the parameter visitor.
fn build_layer(
    kind: Kind,
    i: usize,
    h: usize,
    seq: bool,
    back: bool,
    rng: &mut StdRng,
) -> Box<dyn RecurrentLayer<f64>> {
    let mut layer: Box<dyn RecurrentLayer<f64>> = match kind {
        Kind::Simple => Box::new(
            SimpleRnnConfig::new(i, h).with_return_sequences(seq).with_go_backwards(back).init::<f64, _>(rng).unwrap(),
        ),
        Kind::Lstm => Box::new(
            LstmConfig::new(i, h).with_return_sequences(seq).with_go_backwards(back).init::<f64, _>(rng).unwrap(),
        ),
        Kind::GruAfter | Kind::GruCho => Box::new(
            GruConfig::new(i, h)
                .with_reset_after(kind == Kind::GruAfter)
                .with_return_sequences(seq)
                .with_go_backwards(back)
                .init::<f64, _>(rng)
                .unwrap(),
        ),
    };
    randomize_params(layer.as_mut(), rng, SCALE);
    layer
}

fn build(kind: Kind, i: usize, h: usize, seq: bool, back: bool, rng: &mut StdRng) -> Box<dyn RecurrentLayer<f64>> {
    build_layer(kind, i, h, seq, back, rng)
}

fn random_state(kind: Kind, rng: &mut StdRng, b: usize, h: usize) -> State<f64> {
    let hs = uniform2(rng, b, h, -0.9, 0.9);
    if kind.has_c() {
        State::with_cell(hs, uniform2(rng, b, h, -1.5, 1.5))
    } else {
        State::new(hs)
    }
}

fn zero_state(kind: Kind, b: usize, h: usize) -> State<f64> {
    if kind.has_c() {
        State::with_cell(Array2::zeros((b, h)), Array2::zeros((b, h)))
    } else {
        State::new(Array2::zeros((b, h)))
    }
}

/// Parameter values in visit order.
fn param_values<P: Params<f64> + ?Sized>(p: &P) -> Vec<Array2<f64>> {
    param_snapshot(p)
        .into_iter()
        .map(|(_, v, _)| {
            let n = v.len();
            match v.ndim() {
                2 => v.into_dimensionality::<Ix2>().unwrap(),
                _ => v.into_shape_with_order((1, n)).unwrap(),
            }
        })
        .collect()
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Columns `[k·H, (k+1)·H)` of `a`.
fn blk(a: &Array2<f64>, k: usize, h: usize) -> Array2<f64> {
    a.slice(s![.., k * h..(k + 1) * h]).to_owned()
}

/// The documented equations step by step, written independently of the crate's loop:
/// returns (the output in processing order, h_T, c_T).
///
/// ```text
/// SimpleRNN  h = tanh(x W_x + h W_h + b)
/// LSTM       i,f,o = σ(·), g = tanh(·) of x W_x + h W_h + b;  c = f c + i g;  h = o tanh(c)
/// GRU after  r,z = σ(x W_x + b + h W_h + b_h);  n = tanh(x W_xn + b_n + r ⊙ (h W_hn + b_hn))
/// GRU Cho    r,z = σ(x W_x + b + h W_h);        n = tanh(x W_xn + b_n + (r ⊙ h) W_hn)
///            h = (1 − z) n + z h
/// ```
fn reference_forward(
    kind: Kind,
    layer: &dyn RecurrentLayer<f64>,
    x: &ArrayD<f64>,
    init: &State<f64>,
) -> (ArrayD<f64>, Array2<f64>, Option<Array2<f64>>) {
    let p = param_values(layer);
    let (wx, wh, bias) = (&p[0], &p[1], &p[2]);
    let (b, t, _) = x3(x).dim();
    let hn = layer.units();
    let mut h = init.h.clone();
    let mut c = init.c.clone().unwrap_or_else(|| Array2::zeros((b, hn)));
    let mut outs = Vec::new();
    for step in 0..t {
        let src = if layer.go_backwards() { t - 1 - step } else { step };
        let xt = x3(x).index_axis(Axis(1), src).to_owned();
        let ax = xt.dot(wx) + bias;
        match kind {
            Kind::Simple => h = (&ax + &h.dot(wh)).mapv(f64::tanh),
            Kind::Lstm => {
                let a = &ax + &h.dot(wh);
                let i = blk(&a, 0, hn).mapv(sigmoid);
                let f = blk(&a, 1, hn).mapv(sigmoid);
                let g = blk(&a, 2, hn).mapv(f64::tanh);
                let o = blk(&a, 3, hn).mapv(sigmoid);
                c = &f * &c + &i * &g;
                h = &o * &c.mapv(f64::tanh);
            }
            Kind::GruAfter => {
                let ah = h.dot(wh) + &p[3];
                let r = (&blk(&ax, 0, hn) + &blk(&ah, 0, hn)).mapv(sigmoid);
                let z = (&blk(&ax, 1, hn) + &blk(&ah, 1, hn)).mapv(sigmoid);
                let n = (&blk(&ax, 2, hn) + &(&r * &blk(&ah, 2, hn))).mapv(f64::tanh);
                h = (1.0 - &z) * &n + &z * &h;
            }
            Kind::GruCho => {
                let r = (&blk(&ax, 0, hn) + &h.dot(&blk(wh, 0, hn))).mapv(sigmoid);
                let z = (&blk(&ax, 1, hn) + &h.dot(&blk(wh, 1, hn))).mapv(sigmoid);
                let n = (&blk(&ax, 2, hn) + &(&r * &h).dot(&blk(wh, 2, hn))).mapv(f64::tanh);
                h = (1.0 - &z) * &n + &z * &h;
            }
        }
        outs.push(h.clone().insert_axis(Axis(1)));
    }
    let views: Vec<_> = outs.iter().map(|a| a.view()).collect();
    let seq = concatenate(Axis(1), &views).unwrap().into_dyn();
    let out = if layer.return_sequences() { seq } else { h.clone().into_dyn() };
    (out, h, kind.has_c().then_some(c))
}

// ---------------------------------------------------------------------------------------
// One recurrent layer: dx, dh0, dc0 and every parameter
// ---------------------------------------------------------------------------------------

/// How the initial state reaches the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H0 {
    /// `Layer::forward` with nothing set: zeros (the state gradient is taken at 0).
    Zeros,
    /// `forward_with_state(x, Some(state), ..)`.
    Explicit,
    /// `set_initial_state(Some(state))`, then `Layer::forward`.
    Stored,
}

#[derive(Debug, Clone, Copy)]
struct RnnShape {
    b: usize,
    t: usize,
    i: usize,
    h: usize,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    kind: Kind,
    seq: bool,
    back: bool,
    path: H0,
    /// Pass a gradient for the final state to `backward_with_state`.
    grad_final: bool,
}

/// The scalar objective: `Σ G ⊙ out`, plus `Σ G_h ⊙ h_T (+ Σ G_c ⊙ c_T)` with a final-state
/// gradient.
fn full_objective(layer: &dyn RecurrentLayer<f64>, g: &ArrayD<f64>, gf: Option<&State<f64>>, out: &ArrayD<f64>) -> f64 {
    let mut l = objective(g, out);
    if let Some(gf) = gf {
        let fin = layer.final_state().expect("final state after forward");
        l += (&gf.h * &fin.h).sum();
        match (&gf.c, &fin.c) {
            (Some(gc), Some(c)) => l += (gc * c).sum(),
            (None, None) => {}
            _ => panic!("final-state gradient and final state disagree on c"),
        }
    }
    l
}

/// Runs the layer the way `path` says, from `state` (ignored for [`H0::Zeros`]).
fn run(layer: &mut dyn RecurrentLayer<f64>, path: H0, x: &ArrayD<f64>, state: &State<f64>, mode: Mode) -> ArrayD<f64> {
    match path {
        H0::Zeros => {
            assert!(layer.initial_state().is_none());
            layer.forward(x.view(), mode).unwrap()
        }
        H0::Explicit => layer.forward_with_state(x3(x), Some(state), mode).unwrap(),
        H0::Stored => {
            layer.set_initial_state(Some(state.clone()));
            layer.forward(x.view(), mode).unwrap()
        }
    }
}

/// Runs from an explicit (perturbed) state through the same entry point as `path`.
fn run_from(layer: &mut dyn RecurrentLayer<f64>, path: H0, x: &ArrayD<f64>, st: &State<f64>) -> ArrayD<f64> {
    match path {
        H0::Stored => run(layer, H0::Stored, x, st, Mode::Infer),
        H0::Zeros | H0::Explicit => layer.forward_with_state(x3(x), Some(st), Mode::Infer).unwrap(),
    }
}

fn recurrent_case(c: Case, s: RnnShape, seed: u64) -> Check {
    let what = format!("{c:?} {s:?}");
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut layer = build(c.kind, i, h, c.seq, c.back, &mut rng);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let state = match c.path {
        H0::Zeros => zero_state(c.kind, b, h),
        H0::Explicit | H0::Stored => random_state(c.kind, &mut rng, b, h),
    };
    let out_shape: Vec<usize> = if c.seq { vec![b, t, h] } else { vec![b, h] };
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);
    let gf = c.grad_final.then(|| {
        let gh = uniform2(&mut rng, b, h, -1.0, 1.0);
        if c.kind.has_c() {
            State::with_cell(gh, uniform2(&mut rng, b, h, -1.0, 1.0))
        } else {
            State::new(gh)
        }
    });

    // Keras's counts: G·H·(I + H + 1), plus G·H for reset_after's recurrent bias.
    let extra = if c.kind == Kind::GruAfter { 3 * h } else { 0 };
    prop_assert_eq!(layer.param_count(), c.kind.gates() * h * (i + h + 1) + extra, "{}: param_count", what);

    // Forward against the reference equations.
    layer.zero_grad();
    let out = run(layer.as_mut(), c.path, &x, &state, Mode::Train);
    prop_assert_eq!(out.shape(), &out_shape[..], "{}: output shape", what);
    let (want_out, want_h, want_c) = reference_forward(c.kind, layer.as_ref(), &x, &state);
    check_close(&format!("{what}: output vs reference"), &out, &want_out, FWD_TOL)?;
    let fin = layer.final_state().expect("final state").clone();
    check_close(&format!("{what}: h_T vs reference"), &fin.h.into_dyn(), &want_h.into_dyn(), FWD_TOL)?;
    prop_assert_eq!(fin.c.is_some(), c.kind.has_c(), "{}: final c present iff LSTM", what);
    if let (Some(got), Some(want)) = (fin.c, want_c) {
        check_close(&format!("{what}: c_T vs reference"), &got.into_dyn(), &want.into_dyn(), FWD_TOL)?;
    }

    // Analytic: one BPTT pass (through `Layer::backward` when there is no final-state gradient).
    let dx = match &gf {
        Some(gf) => layer.backward_with_state(g.view(), Some(gf)).unwrap().into_dyn(),
        None => layer.backward(g.view()).unwrap(),
    };
    prop_assert_eq!(dx.shape(), &[b, t, i][..], "{}: dx shape", what);
    let d0 = layer.initial_state_grad().expect("initial-state gradient").clone();
    prop_assert_eq!(d0.h.dim(), (b, h), "{}: dh0 shape", what);
    prop_assert_eq!(d0.c.is_some(), c.kind.has_c(), "{}: dc0 present iff LSTM", what);
    prop_assert_eq!(layer.gradient_trace().map(|tr| tr.len()), Some(t), "{}: trace length", what);

    let eval = |layer: &mut dyn RecurrentLayer<f64>, xv: &ArrayD<f64>, st: &State<f64>| {
        let out = run_from(layer, c.path, xv, st);
        full_objective(layer, &g, gf.as_ref(), &out)
    };
    let eval_x = |layer: &mut dyn RecurrentLayer<f64>, xv: &ArrayD<f64>| match c.path {
        H0::Zeros => {
            let out = layer.forward(xv.view(), Mode::Infer).unwrap();
            full_objective(layer, &g, gf.as_ref(), &out)
        }
        _ => eval(layer, xv, &state),
    };

    // dL/dx.
    let ndx = numeric_grad(&x, |xv| eval_x(layer.as_mut(), xv));
    check_grad(&format!("{what}: dL/dx"), &dx, &ndx)?;

    // dL/dh0 (c0 held fixed), then dL/dc0 (h0 held fixed).
    let ndh0 = numeric_grad(&state.h.clone().into_dyn(), |hv| {
        let st = State { h: hv.clone().into_dimensionality::<Ix2>().unwrap(), c: state.c.clone() };
        eval(layer.as_mut(), &x, &st)
    });
    check_grad(&format!("{what}: dL/dh0"), &d0.h.clone().into_dyn(), &ndh0)?;
    if let (Some(c0), Some(dc0)) = (&state.c, &d0.c) {
        let ndc0 = numeric_grad(&c0.clone().into_dyn(), |cv| {
            let st = State::with_cell(state.h.clone(), cv.clone().into_dimensionality::<Ix2>().unwrap());
            eval(layer.as_mut(), &x, &st)
        });
        check_grad(&format!("{what}: dL/dc0"), &dc0.clone().into_dyn(), &ndc0)?;
    }
    if c.path == H0::Stored {
        layer.set_initial_state(Some(state.clone()));
    }

    // Every parameter.
    check_param_grads(&what, layer.as_mut(), c.kind.names(), |l| eval_x(l, &x))
}

/// Both return modes and all three ways in for one kind.
fn all_paths(kind: Kind, back: bool, grad_final: bool, s: RnnShape, seed: u64) -> Check {
    for seq in [false, true] {
        for path in [H0::Zeros, H0::Explicit, H0::Stored] {
            recurrent_case(Case { kind, seq, back, path, grad_final }, s, seed)?;
        }
    }
    Ok(())
}

/// Cho's GRU: the late block `W_h[:, 2H:]` (multiplied by `r ⊙ h_{t−1}`, not `h_{t−1}`) gets
/// a non-zero gradient whenever T ≥ 2 or h0 ≠ 0, and the formulation really differs from
/// `reset_after` on the same weights (for H ≥ 2 and non-trivial r).
fn gru_cho_extras(s: RnnShape, seed: u64) -> Check {
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37);
    let mut cho = GruConfig::new(i, h).with_reset_after(false).init::<f64, _>(&mut rng).unwrap();
    randomize_params(&mut cho, &mut rng, SCALE);
    prop_assert!(cho.weights().recurrent_bias.is_none(), "Cho's GRU has one combined bias");
    prop_assert_eq!(cho.param_count(), 3 * h * (i + h + 1));
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let h0 = State::new(uniform2(&mut rng, b, h, -0.9, 0.9));
    let g = uniform(&mut rng, &[b, h], -1.0, 1.0);
    cho.zero_grad();
    cho.forward_with_state(x3(&x), Some(&h0), Mode::Train).unwrap();
    cho.backward(g.view()).unwrap();
    let late = cho.grads().recurrent_kernel.slice(s![.., 2 * h..]).to_owned();
    // (A dropped product gives exactly 0; a saturated draw can make real values small.)
    prop_assert!(late.iter().any(|v| v.abs() > 1e-14), "late block gradient is all zero: {:?}", late);

    // Same weights in the reset_after formulation (zero recurrent bias): a different function
    // once H ≥ 2, since (r ⊙ h) W_hn ≠ r ⊙ (h W_hn) for a generic W_hn.
    if h >= 2 {
        let mut after = GruConfig::new(i, h).init::<f64, _>(&mut rng).unwrap();
        let mut w = cho.weights().clone();
        w.recurrent_bias = Some(ndarray::Array1::zeros(3 * h));
        after.set_weights(w).unwrap();
        let a = after.forward_with_state(x3(&x), Some(&h0), Mode::Infer).unwrap();
        let c = cho.forward_with_state(x3(&x), Some(&h0), Mode::Infer).unwrap();
        let diff = (&a - &c).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v));
        // Identical functions would differ by rounding only (~1e-16); a saturated update gate
        // can make the real difference small, so the bar sits just above rounding.
        prop_assert!(diff > 1e-10, "reset_after true/false give the same output (max diff {:e})", diff);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Bidirectional
// ---------------------------------------------------------------------------------------

fn bidirectional_case(kind: Kind, merge: MergeMode, seq: bool, s: RnnShape, seed: u64) -> Check {
    let what = format!("Bidirectional({kind:?}, {merge:?}, return_sequences={seq}) {s:?}");
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed);
    let inner = build_layer(kind, i, h, seq, false, &mut rng);
    let mut bi = Bidirectional::from_boxed(inner, merge, &mut rng).unwrap();
    // Both halves random, biases included (the backward half starts with Keras's zero biases).
    randomize_params(&mut bi, &mut rng, SCALE);
    prop_assert!(!bi.forward_layer().go_backwards() && bi.backward_layer().go_backwards(), "{}: directions", what);
    let width = if merge == MergeMode::Concat { 2 * h } else { h };
    let out_shape: Vec<usize> = if seq { vec![b, t, width] } else { vec![b, width] };
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);

    bi.zero_grad();
    let out = bi.forward(x.view(), Mode::Train).unwrap();
    prop_assert_eq!(out.shape(), &out_shape[..], "{}: output shape", what);
    prop_assert_eq!(bi.output_shape(&[t, i]).unwrap(), out_shape[1..].to_vec(), "{}: output_shape", what);
    let dx = bi.backward(g.view()).unwrap();
    let ndx = numeric_grad(&x, |xv| objective(&g, &bi.forward(xv.view(), Mode::Infer).unwrap()));
    check_grad(&format!("{what}: dL/dx"), &dx, &ndx)?;
    let names: Vec<&str> = kind.names().iter().chain(kind.names()).copied().collect();
    check_param_grads(&what, &mut bi, &names, |m| objective(&g, &m.forward(x.view(), Mode::Infer).unwrap()))
}

/// Every merge mode and both return modes; the cell kind rotates with the merge mode, shifted
/// by `offset`, so each case covers all four kinds.
fn bidirectional_all(s: RnnShape, offset: usize, seed: u64) -> Check {
    for (m, merge) in MERGES.into_iter().enumerate() {
        for seq in [false, true] {
            bidirectional_case(KINDS[(m + offset) % KINDS.len()], merge, seq, s, seed)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Two recurrent layers in a Sequential
// ---------------------------------------------------------------------------------------

fn stack_case(stack: usize, s: RnnShape, h2: usize, units: usize, seed: u64) -> Check {
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Sequential::<f64>::new(&[t, i]).unwrap();
    let (what, names, out_shape): (String, Vec<&str>, Vec<usize>) = match stack {
        // LSTM(return_sequences) → GRU (reset_after, last state) → Dense.
        0 => {
            model.add(LstmConfig::new(i, h).with_return_sequences(true).init::<f64, _>(&mut rng).unwrap()).unwrap();
            model.add(GruConfig::new(h, h2).init::<f64, _>(&mut rng).unwrap()).unwrap();
            model.add(DenseConfig::new(h2, units).init::<f64, _>(&mut rng).unwrap()).unwrap();
            let names = [&NAMES3[..], &NAMES4[..], &["kernel", "bias"][..]].concat();
            ("LSTM(seq) → GRU → Dense".into(), names, vec![b, units])
        }
        // GRU(return_sequences, reset_after = false) → SimpleRNN(return_sequences) → Dense on
        // every step (sigmoid, so the Dense is not linear).
        _ => {
            model
                .add(
                    GruConfig::new(i, h)
                        .with_reset_after(false)
                        .with_return_sequences(true)
                        .init::<f64, _>(&mut rng)
                        .unwrap(),
                )
                .unwrap();
            model
                .add(SimpleRnnConfig::new(h, h2).with_return_sequences(true).init::<f64, _>(&mut rng).unwrap())
                .unwrap();
            model
                .add(DenseConfig::new(h2, units).with_activation(Activation::Sigmoid).init::<f64, _>(&mut rng).unwrap())
                .unwrap();
            let names = [&NAMES3[..], &NAMES3[..], &["kernel", "bias"][..]].concat();
            ("GRU-Cho(seq) → SimpleRNN(seq) → Dense".into(), names, vec![b, t, units])
        }
    };
    let what = format!("Sequential[{what}] {s:?} h2={h2} units={units}");
    randomize_params(&mut model, &mut rng, SCALE);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);

    model.zero_grad();
    let out = model.forward(&x, Mode::Train).unwrap();
    prop_assert_eq!(out.shape(), &out_shape[..], "{}: output shape", what);
    let dx = model.backward(&g).unwrap();
    let ndx = numeric_grad(&x, |xv| objective(&g, &model.forward(xv, Mode::Infer).unwrap()));
    check_grad(&format!("{what}: dL/dx"), &dx, &ndx)?;
    check_param_grads(&what, &mut model, &names, |m| objective(&g, &m.forward(&x, Mode::Infer).unwrap()))
}

// ---------------------------------------------------------------------------------------
// Gradient trace
// ---------------------------------------------------------------------------------------

/// The trace against an independent computation of ‖dL/dh_t‖ for every t: split the sequence
/// after step t, take (h_t, c_t) from a forward pass over x_1..x_t, and differentiate by
/// finite differences, with c_t held fixed,
///
/// ```text
/// f(h) = Σ G_t ⊙ h  (return_sequences only)  +  Σ G_{t+1..T} ⊙ out(x_{t+1..T}, from (h, c_t))
/// ```
///
/// (for t = T without return_sequences, f(h) = Σ G ⊙ h; with a final-state gradient its
/// terms join the last segment). That is dL/dh_t by definition, computed without BPTT.
fn trace_case(kind: Kind, seq: bool, grad_final: bool, s: RnnShape, seed: u64) -> Check {
    let what = format!("trace {kind:?} return_sequences={seq} grad_final={grad_final} {s:?}");
    let RnnShape { b, t, i, h } = s;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut layer = build(kind, i, h, seq, false, &mut rng);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let st0 = random_state(kind, &mut rng, b, h);
    let out_shape: Vec<usize> = if seq { vec![b, t, h] } else { vec![b, h] };
    let g = uniform(&mut rng, &out_shape, -1.0, 1.0);
    let gf = grad_final.then(|| {
        let gh = uniform2(&mut rng, b, h, -1.0, 1.0);
        if kind.has_c() {
            State::with_cell(gh, uniform2(&mut rng, b, h, -1.0, 1.0))
        } else {
            State::new(gh)
        }
    });

    layer.forward_with_state(x3(&x), Some(&st0), Mode::Train).unwrap();
    layer.backward_with_state(g.view(), gf.as_ref()).unwrap();
    let trace = layer.gradient_trace().expect("trace after backward").clone();
    prop_assert_eq!(trace.len(), t, "{}: one entry per step", what);
    prop_assert!(!trace.is_empty());
    prop_assert_eq!(trace.first(), trace.norms()[0]);
    prop_assert_eq!(trace.last(), trace.norms()[t - 1]);
    prop_assert_eq!(trace.middle(), trace.norms()[(t - 1) / 2]);

    // The last entry in closed form: G (+ G_h) is all that reaches h_T.
    let mut g_last = if seq { g.index_axis(Axis(1), t - 1).to_owned() } else { g.clone() };
    if let Some(gf) = &gf {
        g_last += &gf.h;
    }
    let want_last = norm(&g_last);
    prop_assert!(
        (trace.last() - want_last).abs() <= 1e-12 * want_last.max(1.0),
        "{}: last entry {:e} vs ‖G‖ {:e}",
        what,
        trace.last(),
        want_last
    );

    for step in 0..t {
        // (h, c) after step+1 inputs.
        layer.forward_with_state(x3(&x).slice(s![.., ..=step, ..]), Some(&st0), Mode::Infer).unwrap();
        let mid = layer.final_state().unwrap().clone();
        let rest = x3(&x).slice(s![.., step + 1.., ..]).to_owned().into_dyn();
        let f = |hv: &ArrayD<f64>| -> f64 {
            let hv2 = hv.clone().into_dimensionality::<Ix2>().unwrap();
            let mut l = 0.0;
            if seq {
                l += (&g.index_axis(Axis(1), step) * &hv2).sum();
            }
            if step + 1 < t {
                let st = State { h: hv2, c: mid.c.clone() };
                let out = layer.forward_with_state(x3(&rest), Some(&st), Mode::Infer).unwrap();
                let gr = if seq { g.slice(s![.., step + 1.., ..]).to_owned().into_dyn() } else { g.clone() };
                l += full_objective(layer.as_ref(), &gr, gf.as_ref(), &out);
            } else {
                if !seq {
                    l += (&g * &hv2).sum();
                }
                if let Some(gf) = &gf {
                    // Only h_T varies here; the G_c term is constant in h.
                    l += (&gf.h * &hv2).sum();
                }
            }
            l
        };
        let n = norm(&numeric_grad(&mid.h.clone().into_dyn(), f));
        let got = trace.norms()[step];
        prop_assert!(
            (got - n).abs() <= RTOL * n.max(1.0),
            "{}: step {} trace {:e} vs finite-difference ‖dL/dh‖ {:e}",
            what,
            step,
            got,
            n
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies and properties
// ---------------------------------------------------------------------------------------

fn rnn_shape() -> impl Strategy<Value = RnnShape> {
    (1usize..=3, 1usize..=5, 1usize..=4, 1usize..=4).prop_map(|(b, t, i, h)| RnnShape { b, t, i, h })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lstm(s in rnn_shape(), seed in any::<u64>()) {
        all_paths(Kind::Lstm, false, false, s, seed)?;
    }

    #[test]
    fn gru_reset_after(s in rnn_shape(), seed in any::<u64>()) {
        all_paths(Kind::GruAfter, false, false, s, seed)?;
    }

    #[test]
    fn gru_original(s in rnn_shape(), seed in any::<u64>()) {
        all_paths(Kind::GruCho, false, false, s, seed)?;
        gru_cho_extras(s, seed)?;
    }

    #[test]
    fn go_backwards(s in rnn_shape(), seed in any::<u64>()) {
        for kind in KINDS {
            for seq in [false, true] {
                for path in [H0::Zeros, H0::Explicit] {
                    recurrent_case(Case { kind, seq, back: true, path, grad_final: false }, s, seed)?;
                }
            }
        }
    }

    #[test]
    fn backward_with_state(s in rnn_shape(), seed in any::<u64>()) {
        for kind in KINDS {
            for seq in [false, true] {
                for (path, back) in [(H0::Explicit, false), (H0::Zeros, false), (H0::Explicit, true)] {
                    recurrent_case(Case { kind, seq, back, path, grad_final: true }, s, seed)?;
                }
            }
        }
    }

    #[test]
    fn bidirectional(s in rnn_shape(), offset in 0usize..4, seed in any::<u64>()) {
        bidirectional_all(s, offset, seed)?;
    }

    #[test]
    fn two_layer_stacks(s in rnn_shape(), h2 in 1usize..=3, units in 1usize..=3, seed in any::<u64>()) {
        stack_case(0, s, h2, units, seed)?;
        stack_case(1, s, h2, units, seed)?;
    }

    #[test]
    fn gradient_trace(s in rnn_shape(), seed in any::<u64>()) {
        for kind in KINDS {
            for seq in [false, true] {
                for grad_final in [false, true] {
                    trace_case(kind, seq, grad_final, s, seed)?;
                }
            }
        }
    }
}

/// The all-ones corner (T = 1 included) and the largest shape, for every check above.
#[test]
fn degenerate_and_largest_shapes() {
    let shapes = [
        RnnShape { b: 1, t: 1, i: 1, h: 1 },
        RnnShape { b: 3, t: 1, i: 2, h: 3 },
        RnnShape { b: 1, t: 5, i: 1, h: 1 },
        RnnShape { b: 3, t: 5, i: 4, h: 4 },
    ];
    for (n, s) in shapes.into_iter().enumerate() {
        let seed = 2000 + n as u64;
        for kind in KINDS {
            all_paths(kind, false, false, s, seed).unwrap();
            all_paths(kind, true, true, s, seed).unwrap();
            for seq in [false, true] {
                trace_case(kind, seq, false, s, seed).unwrap();
            }
        }
        gru_cho_extras(s, seed).unwrap();
        for offset in 0..KINDS.len() {
            bidirectional_all(s, offset, seed).unwrap();
        }
        stack_case(0, s, 2, 1, seed).unwrap();
        stack_case(1, s, 2, 2, seed).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic equalities
// ---------------------------------------------------------------------------------------

/// Max |a − b|.
fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    (a - b).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v))
}

fn assert_same(what: &str, a: &ArrayD<f64>, b: &ArrayD<f64>) {
    let d = max_diff(a, b);
    assert!(d <= 1e-12, "{what}: max |diff| {d:e}");
}

fn params_of<P: Params<f64> + ?Sized>(p: &P) -> Vec<(String, ArrayD<f64>, ArrayD<f64>)> {
    param_snapshot(p)
}

/// A go_backwards layer on x is the same layer without it on x reversed along time: same
/// output (in processing order), final state, parameter gradients, initial-state gradient and
/// trace, and its dx is the other's dx reversed along time.
fn go_backwards_equivalence<C: Cell<f64>>(mut back: Recurrent<f64, C>, rng: &mut StdRng) {
    let what = format!("{} return_sequences={}", back.kind(), back.return_sequences());
    randomize_params(&mut back, rng, SCALE);
    back.set_go_backwards(true);
    let mut plain = back.clone();
    plain.set_go_backwards(false);
    let (b, t, i, h) = (2, 4, back.input_size(), back.units());
    let x = uniform(rng, &[b, t, i], -1.0, 1.0);
    let hs = uniform2(rng, b, h, -0.9, 0.9);
    let st = if RecurrentLayer::has_cell_state(&back) {
        State::with_cell(hs, uniform2(rng, b, h, -1.0, 1.0))
    } else {
        State::new(hs)
    };

    let out_b = back.forward_with_state(x3(&x), Some(&st), Mode::Train).unwrap();
    let x_rev = rev_time(&x);
    let out_p = plain.forward_with_state(x3(&x_rev), Some(&st), Mode::Train).unwrap();
    assert_same(&format!("{what}: output"), &out_b, &out_p);
    let (fb, fp) = (back.final_state().unwrap().clone(), plain.final_state().unwrap().clone());
    assert_same(&format!("{what}: h_T"), &fb.h.into_dyn(), &fp.h.into_dyn());
    assert_eq!(fb.c.is_some(), fp.c.is_some());
    if let (Some(cb), Some(cp)) = (fb.c, fp.c) {
        assert_same(&format!("{what}: c_T"), &cb.into_dyn(), &cp.into_dyn());
    }

    // The outputs coincide position by position, so the same G applies to both.
    let g = uniform(rng, out_b.shape(), -1.0, 1.0);
    back.zero_grad();
    plain.zero_grad();
    let dx_b = back.backward(g.view()).unwrap();
    let dx_p = plain.backward(g.view()).unwrap();
    assert_same(&format!("{what}: dx vs reversed dx"), &dx_b, &rev_time(&dx_p));
    for ((name, _, gb), (_, _, gp)) in params_of(&back).iter().zip(&params_of(&plain)) {
        assert_same(&format!("{what}: d{name}"), gb, gp);
    }
    let (db, dp) = (back.initial_state_grad().unwrap(), plain.initial_state_grad().unwrap());
    assert_same(&format!("{what}: dh0"), &db.h.clone().into_dyn(), &dp.h.clone().into_dyn());
    if let (Some(a), Some(c)) = (&db.c, &dp.c) {
        assert_same(&format!("{what}: dc0"), &a.clone().into_dyn(), &c.clone().into_dyn());
    }
    // The trace is in processing order, so it is the same too.
    assert_eq!(back.gradient_trace().unwrap().norms(), plain.gradient_trace().unwrap().norms(), "{what}: trace");
}

#[test]
fn go_backwards_is_reversed_input() {
    let mut rng = StdRng::seed_from_u64(11);
    for seq in [false, true] {
        go_backwards_equivalence(
            SimpleRnnConfig::new(3, 3).with_return_sequences(seq).init(&mut rng).unwrap(),
            &mut rng,
        );
        go_backwards_equivalence(LstmConfig::new(3, 3).with_return_sequences(seq).init(&mut rng).unwrap(), &mut rng);
        for reset_after in [true, false] {
            go_backwards_equivalence(
                GruConfig::new(3, 3).with_reset_after(reset_after).with_return_sequences(seq).init(&mut rng).unwrap(),
                &mut rng,
            );
        }
    }
}

/// The Bidirectional's halves are plain layers: the forward half is the wrapped layer itself
/// (same weights, same output); the backward half is a plain layer with the backward half's
/// weights run on the time-reversed input, its output flipped back. Checked for every merge
/// mode, and for Concat also dx against the two plain layers' dx.
fn bidirectional_halves<C: Cell<f64>>(mut layer: Recurrent<f64, C>, rng: &mut StdRng) {
    let seq = layer.return_sequences();
    let what = format!("Bidirectional({}) return_sequences={seq}", layer.kind());
    randomize_params(&mut layer, rng, SCALE);
    let (b, t, i, h) = (2, 5, layer.input_size(), layer.units());
    let x = uniform(rng, &[b, t, i], -1.0, 1.0);
    let x_rev = rev_time(&x);
    for merge in MERGES {
        let mut plain_f = layer.clone();
        let mut bi = Bidirectional::new(layer.clone(), merge, rng).unwrap();
        randomize_params(bi.backward_layer_mut(), rng, SCALE);
        let back =
            (bi.backward_layer() as &dyn std::any::Any).downcast_ref::<Recurrent<f64, C>>().expect("same cell type");
        assert!(back.go_backwards() && !bi.forward_layer().go_backwards(), "{what}: directions");
        let mut plain_b = layer.clone();
        plain_b.set_weights(back.weights().clone()).unwrap();
        assert!(!plain_b.go_backwards());

        let out = bi.forward(x.view(), Mode::Train).unwrap();
        let f = plain_f.forward(x.view(), Mode::Train).unwrap();
        let rb = plain_b.forward(x_rev.view(), Mode::Train).unwrap();
        let bk = if seq { rev_time(&rb) } else { rb };
        let want = match merge {
            MergeMode::Concat => concatenate(Axis(f.ndim() - 1), &[f.view(), bk.view()]).unwrap(),
            MergeMode::Sum => &f + &bk,
            MergeMode::Mul => &f * &bk,
            MergeMode::Average => (&f + &bk) * 0.5,
        };
        assert_same(&format!("{what} {merge:?}: output vs plain halves"), &out, &want);
        if merge == MergeMode::Concat {
            let last = out.ndim() - 1;
            let fwd_part = out.slice_axis(Axis(last), (0..h).into()).to_owned();
            assert_same(&format!("{what}: output[.., :H] vs the plain layer"), &fwd_part, &f);
            // Final states: the backward half's is the one after reading x_1.
            let fs = bi.forward_layer().final_state().unwrap().h.clone().into_dyn();
            assert_same(
                &format!("{what}: forward half h_T"),
                &fs,
                &plain_f.final_state().unwrap().h.clone().into_dyn(),
            );
            let bs = bi.backward_layer().final_state().unwrap().h.clone().into_dyn();
            assert_same(
                &format!("{what}: backward half h_T"),
                &bs,
                &plain_b.final_state().unwrap().h.clone().into_dyn(),
            );

            let g = uniform(rng, out.shape(), -1.0, 1.0);
            let dx = bi.backward(g.view()).unwrap();
            let gf = g.slice_axis(Axis(last), (0..h).into()).to_owned();
            let gb = g.slice_axis(Axis(last), (h..2 * h).into()).to_owned();
            let gb = if seq { rev_time(&gb) } else { gb };
            let want_dx = plain_f.backward(gf.view()).unwrap() + rev_time(&plain_b.backward(gb.view()).unwrap());
            assert_same(&format!("{what}: dx vs plain halves"), &dx, &want_dx);
        }
    }
}

#[test]
fn bidirectional_halves_are_plain_layers() {
    let mut rng = StdRng::seed_from_u64(12);
    for seq in [false, true] {
        bidirectional_halves(SimpleRnnConfig::new(2, 3).with_return_sequences(seq).init(&mut rng).unwrap(), &mut rng);
        bidirectional_halves(LstmConfig::new(2, 3).with_return_sequences(seq).init(&mut rng).unwrap(), &mut rng);
        for reset_after in [true, false] {
            bidirectional_halves(
                GruConfig::new(2, 3).with_reset_after(reset_after).with_return_sequences(seq).init(&mut rng).unwrap(),
                &mut rng,
            );
        }
    }
}

/// SimpleRNN with a linear activation and H = 1: h_t = w_x x_t + w_h h_{t−1} + b, so
/// dL/dh_t is known in closed form:
///
/// ```text
/// last state only:   dL/dh_t[b] = G[b] · w_h^(T−t)                → trace_t = ‖G‖ · |w_h|^(T−t)
/// every step:        dL/dh_t[b] = Σ_{s ≥ t} G[b, s] · w_h^(s−t)   → trace_t = ‖that‖ over b
/// ```
#[test]
fn trace_closed_form_linear_scalar_rnn() {
    let mut rng = StdRng::seed_from_u64(13);
    for (t, w_h) in [(1usize, 0.7), (5, 0.7), (5, -0.8), (4, 1.3)] {
        for seq in [false, true] {
            let b = 3;
            let mut rnn = SimpleRnnConfig::new(1, 1)
                .with_activation(Activation::Linear)
                .with_return_sequences(seq)
                .init::<f64, _>(&mut rng)
                .unwrap();
            let mut w = rnn.weights().clone();
            w.kernel.fill(0.4);
            w.recurrent_kernel.fill(w_h);
            w.bias.fill(-0.2);
            rnn.set_weights(w).unwrap();
            let x = uniform(&mut rng, &[b, t, 1], -1.0, 1.0);
            let g = if seq { uniform(&mut rng, &[b, t, 1], -1.0, 1.0) } else { uniform(&mut rng, &[b, 1], -1.0, 1.0) };
            rnn.forward(x.view(), Mode::Train).unwrap();
            rnn.backward(g.view()).unwrap();
            let trace = rnn.gradient_trace().unwrap().norms().to_vec();
            assert_eq!(trace.len(), t);
            for (step, &got) in trace.iter().enumerate() {
                let want = if seq {
                    (0..b)
                        .map(|bi| (step..t).map(|s2| g[[bi, s2, 0]] * w_h.powi((s2 - step) as i32)).sum::<f64>())
                        .map(|d| d * d)
                        .sum::<f64>()
                        .sqrt()
                } else {
                    norm(&g) * w_h.abs().powi((t - 1 - step) as i32)
                };
                assert!(
                    (got - want).abs() <= 1e-12 * want.max(1.0),
                    "T={t} w_h={w_h} seq={seq}: trace[{step}] = {got:e}, closed form {want:e}"
                );
            }
            if !seq {
                assert!((trace[t - 1] - norm(&g)).abs() <= 1e-12, "last entry is ‖G‖");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Regression: the default initialisation's recurrent kernel must be used (LSTM, GRU, H ≥ 2)
// ---------------------------------------------------------------------------------------
//
// Found by this file against 2ea89ab, fixed upstream in 0d3c8b1: `init::orthogonal` returned
// the (H, G·H) recurrent kernel of an LSTM or GRU column-major (the transpose of a tall
// matrix), `Recurrent::new` and `fresh_copy` stored it as is, and the time loop read weights
// through `as_slice().unwrap_or(&[])`, so for H ≥ 2 the recurrent product was silently
// skipped: the forward pass ran as if W_h = 0 while `backward` reported a non-zero dL/dW_h.
// The PyTorch fixture tests could not see it because `set_weights` stored row-major arrays.
// Every check above builds its layers through the configs' `init` (and `Bidirectional::new`
// for the backward half), so it would fail too; these two name the cause directly.

/// A freshly initialised LSTM / GRU (config `init`, nothing else) must compute the documented
/// equations with the weights it reports, and its output must depend on its recurrent kernel.
#[test]
fn fresh_lstm_and_gru_use_their_recurrent_kernel() {
    let mut rng = StdRng::seed_from_u64(21);
    let (b, t, i, h) = (2, 3, 2, 3);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let mut failures = Vec::new();
    for kind in [Kind::Lstm, Kind::GruAfter, Kind::GruCho] {
        let mut layer: Box<dyn RecurrentLayer<f64>> = match kind {
            Kind::Lstm => Box::new(LstmConfig::new(i, h).init::<f64, _>(&mut rng).unwrap()),
            _ => Box::new(
                GruConfig::new(i, h).with_reset_after(kind == Kind::GruAfter).init::<f64, _>(&mut rng).unwrap(),
            ),
        };
        let st = random_state(kind, &mut rng, b, h);
        let out = layer.forward_with_state(x3(&x), Some(&st), Mode::Infer).unwrap();
        let (want, _, _) = reference_forward(kind, layer.as_ref(), &x, &st);
        let d = max_diff(&out, &want);
        if d > FWD_TOL {
            failures.push(format!("{kind:?}: output differs from the equations by {d:e}"));
        }
        // Shift every recurrent weight by 0.5 through the parameter visitor (as an optimiser
        // does): the output must move.
        layer.visit_params_mut(&mut |mut p| {
            if p.name == "recurrent_kernel" {
                p.value.mapv_inplace(|v| v + 0.5);
            }
        });
        let moved = layer.forward_with_state(x3(&x), Some(&st), Mode::Infer).unwrap();
        if max_diff(&moved, &out) == 0.0 {
            failures.push(format!("{kind:?}: output does not depend on recurrent_kernel"));
        }
    }
    assert!(failures.is_empty(), "recurrent kernel ignored after default init:\n{}", failures.join("\n"));
}

/// The same through `Bidirectional::new`, whose backward half gets fresh weights from the
/// cell's initialiser (`fresh_copy`): that half must follow the equations too.
#[test]
fn bidirectional_fresh_backward_half_uses_its_recurrent_kernel() {
    let mut rng = StdRng::seed_from_u64(22);
    let (b, t, i, h) = (2, 4, 2, 3);
    let x = uniform(&mut rng, &[b, t, i], -1.0, 1.0);
    let mut failures = Vec::new();
    for kind in [Kind::Lstm, Kind::GruAfter, Kind::GruCho] {
        let inner = build_layer(kind, i, h, true, false, &mut rng);
        let mut bi = Bidirectional::from_boxed(inner, MergeMode::Concat, &mut rng).unwrap();
        let out = bi.forward(x.view(), Mode::Infer).unwrap();
        let got = out.slice(s![.., .., h..]).to_owned().into_dyn();
        let (want, _, _) = reference_forward(kind, bi.backward_layer(), &x, &zero_state(kind, b, h));
        let d = max_diff(&got, &rev_time(&want));
        if d > FWD_TOL {
            failures.push(format!("{kind:?}: backward half differs from the equations by {d:e}"));
        }
    }
    assert!(failures.is_empty(), "Bidirectional backward half ignores its recurrent kernel:\n{}", failures.join("\n"));
}
