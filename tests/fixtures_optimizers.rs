//! Optimisers and gradient clipping against `optimizers.json` (PyTorch `torch.optim`, and the
//! Keras 3 formulas), step by step, in f64 and f32; hand-worked steps for the options the
//! fixtures do not cover; and the errors: bad hyperparameters, a parameter set that changes
//! under a stateful optimiser, bad gradients.

mod common;

use common::{arr, assert_close, load, tol, Tol};
use ndarray::{ArrayD, IxDyn};
use recurrent::prelude::*;
use recurrent::{clip_grad_norm, clip_grad_value, ParamMut, ParamRef};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// A parameter set fed straight from the fixture
// ---------------------------------------------------------------------------------------

/// Named tensors with gradients: the fixture's `{W, b}` as a [`Params`].
#[derive(Debug, Clone, PartialEq)]
struct Tensors<F> {
    names: Vec<String>,
    values: Vec<ArrayD<F>>,
    grads: Vec<ArrayD<F>>,
}

impl<F: Float> Tensors<F> {
    /// Values and zero gradients of the given shapes, filled with 0.1, 0.2, ...
    fn filled(shapes: &[&[usize]]) -> Self {
        let mut k = 0.0;
        let values = shapes
            .iter()
            .map(|s| {
                ArrayD::from_shape_fn(IxDyn(s), |_| {
                    k += 0.1;
                    F::of(k)
                })
            })
            .collect::<Vec<_>>();
        let grads = values.iter().map(|v| v.mapv(|x| x * F::of(0.5) - F::of(0.3))).collect();
        Tensors { names: (0..shapes.len()).map(|i| format!("p{i}")).collect(), values, grads }
    }

    /// The fixture's tensors `{name: array}`, in the order of `names`.
    fn from_fixture(names: &[String], values: &Value) -> Self {
        let values: Vec<ArrayD<F>> = names.iter().map(|n| arr(&values[n.as_str()])).collect();
        let grads = values.iter().map(|v| ArrayD::zeros(v.raw_dim())).collect();
        Tensors { names: names.to_vec(), values, grads }
    }

    fn set_grads(&mut self, grads: &Value) {
        for (n, g) in self.names.iter().zip(&mut self.grads) {
            *g = arr(&grads[n.as_str()]);
        }
    }
}

impl<F: Float> Params<F> for Tensors<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        for ((name, value), grad) in self.names.iter().zip(&self.values).zip(&self.grads) {
            f(ParamRef { name, value: value.view(), grad: grad.view() });
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        for ((name, value), grad) in self.names.iter().zip(&mut self.values).zip(&mut self.grads) {
            f(ParamMut { name, value: value.view_mut(), grad: grad.view_mut() });
        }
    }
}

/// The fixture's parameter names, in PyTorch's parameter-group order (`W`, then `b`).
fn names(data: &Value) -> Vec<String> {
    let names: Vec<String> = data["shapes"].as_object().expect("shapes is an object").keys().cloned().collect();
    assert_eq!(names, ["W", "b"], "the fixture's parameter group is [W, b]");
    names
}

fn compare<F: Float>(what: &str, got: &[ArrayD<F>], names: &[String], want: &Value, t: Tol) {
    assert_eq!(got.len(), names.len(), "{what}: one array per parameter");
    for (g, n) in got.iter().zip(names) {
        assert_close(&format!("{what} {n}"), &g.view(), &arr::<f64>(&want[n.as_str()]).view(), t);
    }
}

// ---------------------------------------------------------------------------------------
// Building an optimiser from a fixture case
// ---------------------------------------------------------------------------------------

/// Any of the crate's optimisers, so one loop can run every case.
#[derive(Debug, Clone, PartialEq)]
enum Opt<F> {
    Sgd(Sgd<F>),
    Adam(Adam<F>),
    AdamW(AdamW<F>),
    Rms(RmsProp<F>),
}

impl<F: Float> Opt<F> {
    fn as_dyn(&mut self) -> &mut dyn Optimizer<F> {
        match self {
            Opt::Sgd(o) => o,
            Opt::Adam(o) => o,
            Opt::AdamW(o) => o,
            Opt::Rms(o) => o,
        }
    }

    /// Every state list with the names PyTorch and Keras give it.
    fn state(&self) -> Vec<(&'static [&'static str], &[ArrayD<F>])> {
        match self {
            Opt::Sgd(o) => vec![(&["momentum_buffer"], o.momentum_buffers())],
            Opt::Adam(o) => vec![(&["exp_avg", "m"], o.exp_avg()), (&["exp_avg_sq", "v"], o.exp_avg_sq())],
            Opt::AdamW(o) => vec![(&["exp_avg", "m"], o.exp_avg()), (&["exp_avg_sq", "v"], o.exp_avg_sq())],
            Opt::Rms(o) => vec![
                (&["square_avg", "velocity"], o.square_avg()),
                (&["grad_avg"], o.grad_avg()),
                (&["momentum_buffer"], o.momentum_buffers()),
            ],
        }
    }

    fn step_count(&self) -> Option<u64> {
        match self {
            Opt::Adam(o) => Some(o.step_count()),
            Opt::AdamW(o) => Some(o.step_count()),
            _ => None,
        }
    }

    /// Through serde_json and back.
    fn roundtrip(&self) -> Self {
        fn rt<T: serde::Serialize + serde::de::DeserializeOwned>(t: &T) -> T {
            serde_json::from_str(&serde_json::to_string(t).expect("serialises")).expect("deserialises")
        }
        match self {
            Opt::Sgd(o) => Opt::Sgd(rt(o)),
            Opt::Adam(o) => Opt::Adam(rt(o)),
            Opt::AdamW(o) => Opt::AdamW(rt(o)),
            Opt::Rms(o) => Opt::Rms(rt(o)),
        }
    }
}

fn build<F: Float>(case: &Value) -> Opt<F> {
    let h = &case["hyperparameters"];
    let class = case["class"].as_str().expect("class is a string");
    let num = |k: &str| F::of(h[k].as_f64().unwrap_or_else(|| panic!("{class}: hyperparameter {k} is a number")));
    let flag = |k: &str| h[k].as_bool().unwrap_or_else(|| panic!("{class}: hyperparameter {k} is a bool"));
    let known: &[&str] = match class {
        "torch.optim.SGD" => &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
        "torch.optim.Adam" | "torch.optim.AdamW" => &["lr", "betas", "eps", "weight_decay", "amsgrad"],
        "torch.optim.RMSprop" => &["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
        "keras.optimizers.Adam" => &["learning_rate", "beta_1", "beta_2", "epsilon"],
        "keras.optimizers.RMSprop" => &["learning_rate", "rho", "epsilon"],
        other => panic!("optimizers.json has a class this test does not know: {other}"),
    };
    for key in h.as_object().expect("hyperparameters is an object").keys() {
        assert!(known.contains(&key.as_str()), "{class}: hyperparameter {key} is not read by this test");
    }
    let betas = || {
        let b = h["betas"].as_array().expect("betas is a list");
        (F::of(b[0].as_f64().unwrap()), F::of(b[1].as_f64().unwrap()))
    };
    match class {
        "torch.optim.SGD" => Opt::Sgd(
            Sgd::new(num("lr"))
                .with_momentum(num("momentum"))
                .with_dampening(num("dampening"))
                .with_nesterov(flag("nesterov"))
                .with_weight_decay(num("weight_decay")),
        ),
        "torch.optim.Adam" => {
            assert!(!flag("amsgrad"), "AMSGrad is not implemented");
            let (b1, b2) = betas();
            Opt::Adam(
                Adam::new(num("lr")).with_betas(b1, b2).with_epsilon(num("eps")).with_weight_decay(num("weight_decay")),
            )
        }
        "torch.optim.AdamW" => {
            assert!(!flag("amsgrad"), "AMSGrad is not implemented");
            let (b1, b2) = betas();
            Opt::AdamW(
                AdamW::new(num("lr"))
                    .with_betas(b1, b2)
                    .with_epsilon(num("eps"))
                    .with_weight_decay(num("weight_decay")),
            )
        }
        "torch.optim.RMSprop" => Opt::Rms(
            RmsProp::new(num("lr"))
                .with_alpha(num("alpha"))
                .with_epsilon(num("eps"))
                .with_weight_decay(num("weight_decay"))
                .with_momentum(num("momentum"))
                .with_centered(flag("centered")),
        ),
        "keras.optimizers.Adam" => Opt::Adam(
            Adam::new(num("learning_rate"))
                .with_betas(num("beta_1"), num("beta_2"))
                .with_epsilon(num("epsilon"))
                .with_epsilon_placement(EpsilonPlacement::Keras),
        ),
        "keras.optimizers.RMSprop" => Opt::Rms(
            RmsProp::new(num("learning_rate"))
                .with_alpha(num("rho"))
                .with_epsilon(num("epsilon"))
                .with_epsilon_placement(EpsilonPlacement::Keras),
        ),
        _ => unreachable!("checked above"),
    }
}

// ---------------------------------------------------------------------------------------
// Every case, step by step
// ---------------------------------------------------------------------------------------

/// Runs one case over all its steps; after step `roundtrip_after` the optimiser goes through
/// serde_json and carries on from the copy.
fn run_case<F: Float>(data: &Value, case: &Value, roundtrip_after: usize) {
    let name = case["name"].as_str().expect("case name");
    let names = names(data);
    let t = tol::<F>();
    let mut params = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
    let mut opt = build::<F>(case);
    let grads = data["grads"].as_array().expect("grads is a list");
    let steps = case["steps"].as_array().expect("steps is a list");
    assert_eq!(steps.len(), grads.len(), "{name}: one step per gradient");
    for (k, (g, want)) in grads.iter().zip(steps).enumerate() {
        assert_eq!(want["step"].as_u64(), Some(k as u64 + 1), "{name}: steps in order");
        params.set_grads(g);
        let fed = params.grads.clone();
        opt.as_dyn().step(&mut params).unwrap_or_else(|e| panic!("{name} step {}: {e}", k + 1));
        let what = format!("{name} step {}", k + 1);
        compare(&format!("{what} params"), &params.values, &names, &want["params"], t);
        assert_eq!(params.grads, fed, "{what}: a step leaves the gradients as they came");

        let fixture_state = want["state"].as_object().expect("state is an object");
        let ours = opt.state();
        for (key, value) in fixture_state {
            let (_, list) = ours
                .iter()
                .find(|(aliases, _)| aliases.contains(&key.as_str()))
                .unwrap_or_else(|| panic!("{what}: no state list for fixture key {key}"));
            compare(&format!("{what} state {key}"), list, &names, value, t);
        }
        for (aliases, list) in &ours {
            if !aliases.iter().any(|a| fixture_state.contains_key(*a)) {
                assert!(list.is_empty(), "{what}: state {} should not exist, as in the reference", aliases[0]);
            }
        }
        if let Some(count) = opt.step_count() {
            assert_eq!(count, k as u64 + 1, "{what}: step count");
        }
        if k + 1 == roundtrip_after {
            let copy = opt.roundtrip();
            assert_eq!(copy, opt, "{name}: serde round trip after step {}", k + 1);
            opt = copy;
        }
    }
}

fn all_cases(data: &Value) -> Vec<Value> {
    let mut cases = Vec::new();
    for key in ["optimizers", "keras_formulas"] {
        let list = data[key].as_array().unwrap_or_else(|| panic!("optimizers.json has no list {key}"));
        assert!(!list.is_empty(), "optimizers.json: {key} is empty");
        cases.extend(list.iter().cloned());
    }
    cases
}

#[test]
fn every_optimizer_case_f64() {
    let data = load("optimizers.json");
    let cases = all_cases(&data);
    for case in &cases {
        run_case::<f64>(&data, case, 2);
    }
    assert!(cases.len() >= 13, "fewer cases than the README lists: {}", cases.len());
}

#[test]
fn every_optimizer_case_f32() {
    let data = load("optimizers.json");
    for case in &all_cases(&data) {
        run_case::<f32>(&data, case, 3);
    }
}

/// The fixture's point about ε: PyTorch's Adam with Keras's ε value is not Keras's Adam.
#[test]
fn keras_and_torch_epsilon_placements_differ_where_the_fixture_says() {
    let data = load("optimizers.json");
    let names = names(&data);
    let run = |placement| {
        let mut p = Tensors::<f64>::from_fixture(&names, &data["initial_params"]);
        let mut adam = Adam::new(0.01).with_epsilon(1e-7).with_epsilon_placement(placement);
        p.set_grads(&data["grads"][0]);
        adam.step(&mut p).unwrap();
        p.values[1][[3]]
    };
    let (torch, keras) = (run(EpsilonPlacement::PyTorch), run(EpsilonPlacement::Keras));
    // b[3] has a gradient of ~1e-8, so ε dominates; the placements give visibly different steps.
    assert!((torch - keras).abs() > 1e-5, "torch {torch} vs keras {keras}");
}

// ---------------------------------------------------------------------------------------
// Clipping
// ---------------------------------------------------------------------------------------

fn clipping_cases<'a>(data: &'a Value, key: &str) -> &'a [Value] {
    let list = data["clipping"][key].as_array().unwrap_or_else(|| panic!("clipping has no list {key}"));
    assert!(!list.is_empty(), "clipping.{key} is empty");
    list
}

fn clip_norm_cases<F: Float>() {
    let data = load("optimizers.json");
    let names = names(&data);
    let t = tol::<F>();
    for case in clipping_cases(&data, "clip_grad_norm") {
        let name = case["name"].as_str().unwrap();
        assert_eq!(case["norm_type"].as_f64(), Some(2.0), "{name}: only the 2-norm is implemented");
        let max_norm = F::of(case["max_norm"].as_f64().unwrap());

        let mut p = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
        p.set_grads(&case["grads"]);
        let values = p.values.clone();
        let total = clip_grad_norm(&mut p, max_norm).unwrap();
        assert_close(
            &format!("{name} total_norm"),
            &ndarray::arr0(total).into_dyn().view(),
            &ndarray::arr0(case["total_norm"].as_f64().unwrap()).into_dyn().view(),
            t,
        );
        compare(&format!("{name} clipped grads"), &p.grads, &names, &case["clipped_grads"], t);
        assert_eq!(p.values, values, "{name}: clipping leaves the values alone");

        // The same through GradientClip, and inside an optimiser: SGD with η = 1 moves each
        // value by exactly the clipped gradient.
        let mut q = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
        q.set_grads(&case["grads"]);
        GradientClip::Norm(max_norm).apply(&mut q).unwrap();
        assert_eq!(q.grads, p.grads, "{name}: GradientClip::Norm = clip_grad_norm");

        let mut r = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
        r.set_grads(&case["grads"]);
        Sgd::new(F::one()).with_gradient_clip(GradientClip::Norm(max_norm)).step(&mut r).unwrap();
        let moved: Vec<ArrayD<F>> = values.iter().zip(&r.values).map(|(a, b)| a - b).collect();
        compare(&format!("{name} SGD step with clipping"), &moved, &names, &case["clipped_grads"], t);
    }
}

#[test]
fn clip_grad_norm_cases_f64() {
    clip_norm_cases::<f64>();
}

#[test]
fn clip_grad_norm_cases_f32() {
    clip_norm_cases::<f32>();
}

fn clip_value_cases<F: Float>() {
    let data = load("optimizers.json");
    let names = names(&data);
    let t = tol::<F>();
    for case in clipping_cases(&data, "clip_grad_value") {
        let name = case["name"].as_str().unwrap();
        let c = F::of(case["clip_value"].as_f64().unwrap());
        let mut p = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
        p.set_grads(&case["grads"]);
        clip_grad_value(&mut p, c).unwrap();
        compare(&format!("{name} clipped grads"), &p.grads, &names, &case["clipped_grads"], t);

        let mut r = Tensors::<F>::from_fixture(&names, &data["initial_params"]);
        r.set_grads(&case["grads"]);
        let values = r.values.clone();
        Sgd::new(F::one()).with_gradient_clip(GradientClip::Value(c)).step(&mut r).unwrap();
        let moved: Vec<ArrayD<F>> = values.iter().zip(&r.values).map(|(a, b)| a - b).collect();
        compare(&format!("{name} SGD step with clipping"), &moved, &names, &case["clipped_grads"], t);
    }
}

#[test]
fn clip_grad_value_cases_f64() {
    clip_value_cases::<f64>();
}

#[test]
fn clip_grad_value_cases_f32() {
    clip_value_cases::<f32>();
}

// ---------------------------------------------------------------------------------------
// Hand-worked steps for options the fixtures leave out
// ---------------------------------------------------------------------------------------

/// One scalar parameter with the given value and gradient.
fn scalar(value: f64, grad: f64) -> Tensors<f64> {
    Tensors {
        names: vec!["w".into()],
        values: vec![ndarray::arr1(&[value]).into_dyn()],
        grads: vec![ndarray::arr1(&[grad]).into_dyn()],
    }
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-14 * want.abs().max(1.0), "{what}: {got:e} vs {want:e}");
}

#[test]
fn sgd_dampening_applies_from_the_second_step() {
    let mut p = scalar(1.0, 0.5);
    let mut sgd = Sgd::new(0.1).with_momentum(0.9).with_dampening(0.5);
    sgd.step(&mut p).unwrap(); // b = g = 0.5 (no dampening on step 1), w = 1 − 0.05
    close(p.values[0][[0]], 0.95, "step 1");
    p.grads[0][[0]] = -0.25;
    sgd.step(&mut p).unwrap(); // b = 0.9·0.5 + 0.5·(−0.25) = 0.325, w = 0.95 − 0.0325
    close(sgd.momentum_buffers()[0][[0]], 0.325, "buffer");
    close(p.values[0][[0]], 0.9175, "step 2");
}

#[test]
fn rmsprop_centered_with_momentum_two_steps() {
    for placement in [EpsilonPlacement::PyTorch, EpsilonPlacement::Keras] {
        let denom = |s: f64| match placement {
            EpsilonPlacement::PyTorch => s.sqrt() + 1e-8,
            EpsilonPlacement::Keras => (s + 1e-8).sqrt(),
        };
        let mut p = scalar(1.0, 0.5);
        let mut rms = RmsProp::new(0.01)
            .with_alpha(0.9)
            .with_epsilon(1e-8)
            .with_momentum(0.5)
            .with_centered(true)
            .with_epsilon_placement(placement);
        rms.step(&mut p).unwrap();
        // v = 0.1·0.25 = 0.025, ḡ = 0.05, s = 0.025 − 0.0025 = 0.0225, b = g / denom(s).
        let b1 = 0.5 / denom(0.0225);
        let w1 = 1.0 - 0.01 * b1;
        close(p.values[0][[0]], w1, "step 1");
        p.grads[0][[0]] = -0.25;
        rms.step(&mut p).unwrap();
        // v = 0.9·0.025 + 0.1·0.0625 = 0.02875, ḡ = 0.045 − 0.025 = 0.02, s = 0.02875 − 0.0004.
        let b2 = 0.5 * b1 + -0.25 / denom(0.02835);
        close(rms.square_avg()[0][[0]], 0.02875, "square_avg");
        close(rms.grad_avg()[0][[0]], 0.02, "grad_avg");
        close(rms.momentum_buffers()[0][[0]], b2, "momentum_buffer");
        close(p.values[0][[0]], w1 - 0.01 * b2, "step 2");
    }
}

#[test]
fn rmsprop_weight_decay_is_an_l2_penalty() {
    let mut p = scalar(2.0, 0.5);
    RmsProp::new(0.01).with_alpha(0.9).with_weight_decay(0.1).step(&mut p).unwrap();
    // g = 0.5 + 0.1·2 = 0.7, v = 0.1·0.49, w = 2 − 0.01·0.7 / (√0.049 + 1e-8).
    close(p.values[0][[0]], 2.0 - 0.01 * 0.7 / (0.049f64.sqrt() + 1e-8), "step");
}

#[test]
fn keras_adamw_first_step() {
    let mut p = scalar(2.0, 0.5);
    let mut opt = AdamW::keras(0.01);
    assert_eq!((opt.weight_decay, opt.epsilon, opt.epsilon_placement), (0.004, 1e-7, EpsilonPlacement::Keras));
    opt.step(&mut p).unwrap();
    // θ ← θ(1 − ηλ), then − η√(1 − β2)/(1 − β1) · m / (√v + ε) with m = 0.1 g, v = 0.001 g².
    let want = 2.0 * (1.0 - 0.01 * 0.004) - 0.01 * 0.001f64.sqrt() / 0.1 * 0.05 / ((0.001f64 * 0.25).sqrt() + 1e-7);
    close(p.values[0][[0]], want, "step 1");
}

#[test]
fn defaults_are_pytorchs_and_keras_constructors_are_keras() {
    let adam = Adam::<f64>::new(0.01);
    assert_eq!((adam.beta1, adam.beta2, adam.epsilon, adam.weight_decay), (0.9, 0.999, 1e-8, 0.0));
    assert_eq!(adam.epsilon_placement, EpsilonPlacement::PyTorch);
    assert_eq!(AdamW::<f64>::new(0.01).weight_decay, 0.01);
    let rms = RmsProp::<f64>::new(0.01);
    assert_eq!((rms.alpha, rms.epsilon, rms.momentum, rms.centered), (0.99, 1e-8, 0.0, false));
    let keras = RmsProp::<f64>::keras(0.001);
    assert_eq!((keras.alpha, keras.epsilon, keras.epsilon_placement), (0.9, 1e-7, EpsilonPlacement::Keras));
    let ka = Adam::<f64>::keras(0.001);
    assert_eq!((ka.epsilon, ka.epsilon_placement), (1e-7, EpsilonPlacement::Keras));
    let sgd = Sgd::<f64>::new(0.1);
    assert_eq!((sgd.momentum, sgd.dampening, sgd.nesterov, sgd.weight_decay), (0.0, 0.0, false, 0.0));
}

#[test]
fn reset_forgets_the_state_and_the_step_count() {
    let data = load("optimizers.json");
    let names = names(&data);
    let fresh = || {
        let mut p = Tensors::<f64>::from_fixture(&names, &data["initial_params"]);
        p.set_grads(&data["grads"][0]);
        p
    };
    let mut once = fresh();
    let mut adam = Adam::new(0.01);
    adam.step(&mut once).unwrap();
    let mut twice = fresh();
    adam.reset();
    assert_eq!((adam.step_count(), adam.exp_avg().len(), adam.exp_avg_sq().len()), (0, 0, 0));
    adam.step(&mut twice).unwrap();
    assert_eq!(twice.values, once.values, "after reset the step is a first step again");
    assert_eq!(adam.step_count(), 1);
}

#[test]
fn sequential_trains_with_every_optimiser() {
    let series: Vec<f64> = (0..40).map(|i| (0.2 * i as f64).sin()).collect();
    let (x, y) = recurrent::data::windows(&series, 5).unwrap();
    let opts: Vec<Box<dyn Optimizer<f64>>> = vec![
        Box::new(Sgd::new(0.05).with_momentum(0.9).with_nesterov(true)),
        Box::new(Adam::new(0.01)),
        Box::new(AdamW::new(0.01).with_gradient_clip(GradientClip::Norm(1.0))),
        Box::new(RmsProp::keras(0.005).with_gradient_clip(GradientClip::Value(0.5))),
    ];
    for (k, mut opt) in opts.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut model = Sequential::new(&[5, 1]).unwrap();
        model.add(SimpleRnnConfig::new(1, 3).init(&mut rng).unwrap()).unwrap();
        model.add(DenseConfig::new(3, 1).init(&mut rng).unwrap()).unwrap();
        let first = model.train_step(&x, &y, &Mse, opt.as_mut()).unwrap();
        let mut last = first;
        for _ in 0..100 {
            last = model.train_step(&x, &y, &Mse, opt.as_mut()).unwrap();
        }
        assert!(last < 0.5 * first, "optimiser {k}: loss {first} → {last}");
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Every value and gradient bit for bit (NaN equal to itself).
fn bits(t: &Tensors<f64>) -> Vec<u64> {
    t.values.iter().chain(&t.grads).flat_map(|a| a.iter().map(|x| x.to_bits()).collect::<Vec<_>>()).collect()
}

fn two() -> Tensors<f64> {
    Tensors::filled(&[&[3, 4], &[4]])
}

fn invalid_config(err: Error, parts: &[&str]) -> (String, String, String) {
    let msg = err.to_string();
    for part in parts {
        assert!(msg.contains(part), "message {msg:?} should contain {part:?}");
    }
    let Error::InvalidConfig { what, expected, got } = err else { panic!("expected InvalidConfig, got {err:?}") };
    (what, expected, got)
}

type BoxedOpt = Box<dyn Optimizer<f64>>;

#[test]
fn bad_hyperparameters_change_nothing() {
    let cases: Vec<(BoxedOpt, &[&str])> = vec![
        (Box::new(Sgd::new(0.1).with_momentum(-0.5)), &["SGD momentum", "finite value >= 0", "-0.5"]),
        (Box::new(Sgd::new(0.1).with_momentum(f64::INFINITY)), &["SGD momentum", "inf"]),
        (Box::new(Sgd::new(0.1).with_dampening(1.5)), &["SGD dampening", "[0, 1]", "1.5"]),
        (Box::new(Sgd::new(0.1).with_weight_decay(f64::NAN)), &["SGD weight decay", "NaN"]),
        (Box::new(Sgd::new(0.1).with_nesterov(true)), &["SGD nesterov", "momentum > 0 and dampening 0", "momentum 0"]),
        (
            Box::new(Sgd::new(0.1).with_momentum(0.9).with_dampening(0.1).with_nesterov(true)),
            &["SGD nesterov", "momentum 0.9, dampening 0.1"],
        ),
        (Box::new(Sgd::new(0.1).with_gradient_clip(GradientClip::Norm(0.0))), &["gradient clip max_norm", "> 0"]),
        (Box::new(Adam::new(0.0)), &["Adam learning rate", "finite value > 0", "got 0"]),
        (Box::new(Adam::new(0.01).with_betas(1.0, 0.999)), &["Adam beta1", "[0, 1)", "got 1"]),
        (Box::new(Adam::new(0.01).with_betas(0.9, -0.1)), &["Adam beta2", "-0.1"]),
        (Box::new(Adam::new(0.01).with_epsilon(0.0)), &["Adam epsilon", "> 0"]),
        (Box::new(Adam::new(0.01).with_weight_decay(-1.0)), &["Adam weight decay", ">= 0", "-1"]),
        (Box::new(Adam::new(0.01).with_gradient_clip(GradientClip::Value(f64::NAN))), &["gradient clip value", "NaN"]),
        (Box::new(AdamW::new(f64::INFINITY)), &["AdamW learning rate", "inf"]),
        (Box::new(AdamW::new(0.01).with_betas(0.9, 1.0)), &["AdamW beta2", "[0, 1)"]),
        (Box::new(AdamW::new(0.01).with_weight_decay(f64::NAN)), &["AdamW weight decay", "NaN"]),
        (Box::new(RmsProp::new(-0.01)), &["RMSprop learning rate", "-0.01"]),
        (Box::new(RmsProp::new(0.01).with_alpha(1.0)), &["RMSprop alpha", "[0, 1)"]),
        (Box::new(RmsProp::new(0.01).with_epsilon(-1e-8)), &["RMSprop epsilon", "-0.00000001"]),
        (Box::new(RmsProp::new(0.01).with_momentum(-0.9)), &["RMSprop momentum", "-0.9"]),
        (Box::new(RmsProp::new(0.01).with_weight_decay(f64::INFINITY)), &["RMSprop weight decay", "inf"]),
    ];
    for (mut opt, parts) in cases {
        let mut p = two();
        let before = p.clone();
        invalid_config(opt.step(&mut p).unwrap_err(), parts);
        assert_eq!(p, before, "{parts:?}: values and gradients unchanged");
    }
}

#[test]
fn a_bad_hyperparameter_after_some_steps_leaves_the_state_alone() {
    let mut p = two();
    let mut adam = Adam::new(0.01);
    adam.step(&mut p).unwrap();
    let (before_params, before_opt) = (p.clone(), adam.clone());
    adam.beta1 = 2.0;
    invalid_config(adam.step(&mut p).unwrap_err(), &["Adam beta1", "got 2"]);
    adam.beta1 = 0.9;
    assert_eq!(adam, before_opt, "moments and step count unchanged");
    assert_eq!(p, before_params);
}

/// Every stateful optimiser, fresh.
fn stateful() -> Vec<(&'static str, Box<dyn Optimizer<f64>>)> {
    vec![
        ("SGD", Box::new(Sgd::new(0.1).with_momentum(0.9))),
        ("Adam", Box::new(Adam::new(0.01))),
        ("AdamW", Box::new(AdamW::new(0.01))),
        ("RMSprop", Box::new(RmsProp::new(0.01).with_centered(true).with_momentum(0.5))),
    ]
}

#[test]
fn a_changed_parameter_set_is_an_error_until_reset() {
    for (name, mut opt) in stateful() {
        let mut p = two();
        opt.step(&mut p).unwrap();
        opt.step(&mut p).unwrap();
        let after_two = p.clone();

        let changes: Vec<(Tensors<f64>, &str)> = vec![
            (Tensors::filled(&[&[3, 4], &[4], &[2]]), "3 parameters shaped [(3, 4), (4,), (2,)]"),
            (Tensors::filled(&[&[3, 4]]), "1 parameter shaped [(3, 4)]"),
            (Tensors::filled(&[&[4, 3], &[4]]), "2 parameters shaped [(4, 3), (4,)]"),
        ];
        for (mut other, got_text) in changes {
            let before = other.clone();
            let err = opt.step(&mut other).unwrap_err();
            let msg = err.to_string();
            let Error::ShapeMismatch { what, expected, got } = err else {
                panic!("{name}: expected ShapeMismatch, {msg}")
            };
            assert!(what.starts_with(&format!("{name} state")), "{name}: {what}");
            assert!(what.contains("reset()"), "{name}: the message says how to start afresh: {what}");
            assert_eq!(expected, "2 parameters shaped [(3, 4), (4,)]", "{name}");
            assert_eq!(got, got_text, "{name}");
            assert_eq!(other, before, "{name}: parameters untouched on error");
        }
        // The original parameters still step, from the state they left.
        let mut q = after_two.clone();
        opt.step(&mut q).unwrap();
        assert_ne!(q.values, after_two.values, "{name}");

        opt.reset();
        let mut three = Tensors::filled(&[&[3, 4], &[4], &[2]]);
        let before = three.clone();
        opt.step(&mut three).unwrap();
        assert!(three.values.iter().zip(&before.values).all(|(a, b)| a != b), "{name}: every parameter moved");
    }
}

#[test]
fn stateless_sgd_accepts_any_parameter_set() {
    let mut sgd = Sgd::new(0.1);
    sgd.step(&mut two()).unwrap();
    let mut other = Tensors::<f64>::filled(&[&[2, 2]]);
    let want = &other.values[0] - &(&other.grads[0] * 0.1);
    sgd.step(&mut other).unwrap();
    assert_eq!(other.values[0], want);
}

#[test]
fn a_gradient_of_the_wrong_shape_is_an_error() {
    let mut all = stateful();
    all.push(("SGD", Box::new(Sgd::new(0.1))));
    for (name, mut opt) in all {
        let mut p = two();
        p.grads[1] = ArrayD::zeros(IxDyn(&[2, 2]));
        let before = p.clone();
        let err = opt.step(&mut p).unwrap_err();
        let msg = err.to_string();
        let Error::ShapeMismatch { what, expected, got } = err else { panic!("{name}: expected ShapeMismatch, {msg}") };
        assert_eq!(what, format!("{name} gradient of parameter 1 (p1), against its value"));
        assert_eq!((expected.as_str(), got.as_str()), ("(4,)", "(2, 2)"));
        assert_eq!(p, before, "{name}");
    }
}

#[test]
fn a_non_finite_gradient_is_an_error_and_changes_nothing() {
    let mut all = stateful();
    all.push(("SGD", Box::new(Sgd::new(0.1).with_gradient_clip(GradientClip::Norm(1.0)))));
    for (name, mut opt) in all {
        let mut p = two();
        opt.step(&mut p).unwrap();
        p.grads[1][[2]] = f64::NAN;
        let before = p.clone();
        let err = opt.step(&mut p).unwrap_err();
        let msg = err.to_string();
        let Error::NonFinite { what, index, value } = err else { panic!("{name}: expected NonFinite, {msg}") };
        assert_eq!(
            (what.as_str(), index.as_str(), value.as_str()),
            (&*format!("{name} gradient of parameter 1 (p1)"), "[2]", "NaN")
        );
        assert_eq!(bits(&p), bits(&before), "{name}: values and gradients unchanged");
    }
    // And the state: Adam's step count does not advance.
    let mut adam = Adam::new(0.01);
    let mut p = two();
    adam.step(&mut p).unwrap();
    p.grads[0][[0, 0]] = f64::NEG_INFINITY;
    assert!(adam.step(&mut p).is_err());
    assert_eq!(adam.step_count(), 1);
}

#[test]
fn clipping_rejects_bad_thresholds_and_gradients() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut p = two();
        let before = p.clone();
        invalid_config(clip_grad_norm(&mut p, bad).unwrap_err(), &["gradient clip max_norm", "finite value > 0"]);
        invalid_config(clip_grad_value(&mut p, bad).unwrap_err(), &["gradient clip value", "finite value > 0"]);
        invalid_config(GradientClip::Norm(bad).apply(&mut p).unwrap_err(), &["gradient clip max_norm"]);
        assert_eq!(p, before);
    }
    let mut p = two();
    p.grads[0][[1, 2]] = f64::INFINITY;
    let before = p.clone();
    let err = clip_grad_norm(&mut p, 1.0).unwrap_err();
    let Error::NonFinite { what, index, value } = err else { panic!("expected NonFinite") };
    assert_eq!(
        (what.as_str(), index.as_str(), value.as_str()),
        ("clip_grad_norm gradient of parameter 0 (p0)", "[1, 2]", "inf")
    );
    let Error::NonFinite { what, .. } = clip_grad_value(&mut p, 1.0).unwrap_err() else { panic!("expected NonFinite") };
    assert!(what.starts_with("clip_grad_value"), "{what}");
    assert_eq!(p, before);
}

#[test]
fn clip_grad_norm_returns_the_norm_before_clipping_and_leaves_small_gradients() {
    let mut p = scalar(1.0, 3.0);
    p.names.push("b".into());
    p.values.push(ndarray::arr1(&[0.0]).into_dyn());
    p.grads.push(ndarray::arr1(&[-4.0]).into_dyn());
    // ‖(3, −4)‖ = 5: below 10 nothing changes (not even by a factor of 1 − 1e-7).
    assert_eq!(clip_grad_norm(&mut p, 10.0).unwrap(), 5.0);
    assert_eq!((p.grads[0][[0]], p.grads[1][[0]]), (3.0, -4.0));
    // To norm 1: each scaled by 1 / (5 + 1e-6).
    assert_eq!(clip_grad_norm(&mut p, 1.0).unwrap(), 5.0);
    close(p.grads[0][[0]], 3.0 / (5.0 + 1e-6), "g0");
    close(p.grads[1][[0]], -4.0 / (5.0 + 1e-6), "g1");
}

#[test]
fn plain_sgd_settings_still_deserialise() {
    // Written before momentum existed: the new fields take their defaults.
    let sgd: Sgd<f64> = serde_json::from_str(r#"{"learning_rate": 0.1}"#).unwrap();
    assert_eq!(sgd, Sgd::new(0.1));
    // A state that does not fit the data is refused by serde, not by a panic later.
    let bad = r#"{"learning_rate":0.01,"beta1":0.9,"beta2":0.999,"epsilon":1e-8,"weight_decay":0.0,
        "epsilon_placement":"PyTorch","gradient_clip":null,"step":1,
        "exp_avg":[{"v":1,"dim":[2,2],"data":[1.0,2.0,3.0]}],"exp_avg_sq":[]}"#;
    assert!(serde_json::from_str::<Adam<f64>>(bad).is_err());
    // A well-formed state for other parameters is refused by the step, parameters untouched.
    let other = bad.replace(r#""dim":[2,2],"data":[1.0,2.0,3.0]"#, r#""dim":[3],"data":[1.0,2.0,3.0]"#);
    let mut adam: Adam<f64> = serde_json::from_str(&other).unwrap();
    let mut p = two();
    let before = p.clone();
    let Error::ShapeMismatch { what, expected, got } = adam.step(&mut p).unwrap_err() else { panic!("ShapeMismatch") };
    assert!(what.starts_with("Adam state exp_avg"), "{what}");
    assert_eq!((expected.as_str(), got.as_str()), ("1 parameter shaped [(3,)]", "2 parameters shaped [(3, 4), (4,)]"));
    assert_eq!(p, before);
}
