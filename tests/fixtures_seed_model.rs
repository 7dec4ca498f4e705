//! The lecture's model against PyTorch (seed_model.json): the series and its windows, the
//! initial predictions, loss and gradients, and five full-batch SGD steps, each loss and
//! every parameter after every step. f64 and f32.

mod common;

use std::collections::BTreeMap;

use common::{arr64, assert_close, field, load, tol};
use ndarray::{ArrayD, Ix1, Ix2};
use recurrent::layers::recurrent::Weights;
use recurrent::prelude::*;
use recurrent::Float;
use serde_json::Value;

/// Builds SimpleRNN(3) → Dense(1) with the fixture's initial parameters.
fn build<F: Float>(fx: &Value) -> Sequential<F> {
    let p = &fx["initial_params"];
    let layers = fx["model"]["layers"].as_array().unwrap();
    let (i, h) = (layers[0]["input_size"].as_u64().unwrap() as usize, layers[0]["units"].as_u64().unwrap() as usize);
    let window = fx["window"].as_u64().unwrap() as usize;
    let mut rng = StdRng::seed_from_u64(0);
    let mut rnn = SimpleRnnConfig::new(i, h).init::<F, _>(&mut rng).unwrap();
    rnn.set_weights(Weights {
        kernel: field::<F>(&p["rnn"], "W_x").into_dimensionality::<Ix2>().unwrap(),
        recurrent_kernel: field::<F>(&p["rnn"], "W_h").into_dimensionality::<Ix2>().unwrap(),
        bias: field::<F>(&p["rnn"], "b").into_dimensionality::<Ix1>().unwrap(),
        recurrent_bias: None,
    })
    .unwrap();
    let mut dense = DenseConfig::new(h, 1).init::<F, _>(&mut rng).unwrap();
    dense.set_kernel(field::<F>(&p["dense"], "W").into_dimensionality::<Ix2>().unwrap()).unwrap();
    dense.set_bias(field::<F>(&p["dense"], "b").into_dimensionality::<Ix1>().unwrap()).unwrap();
    let mut model = Sequential::new(&[window, i]).unwrap();
    model.add(rnn).unwrap();
    model.add(dense).unwrap();
    model
}

/// (layer, fixture name) for each parameter, in the model's visit order.
const NAMES: [(&str, &str); 5] = [("rnn", "W_x"), ("rnn", "W_h"), ("rnn", "b"), ("dense", "W"), ("dense", "b")];

fn snapshot<F: Float>(model: &Sequential<F>, grads: bool) -> BTreeMap<(String, String), ArrayD<F>> {
    let mut out = BTreeMap::new();
    let mut k = 0;
    model.visit_params(&mut |p| {
        let (layer, name) = NAMES[k];
        let a = if grads { p.grad.to_owned() } else { p.value.to_owned() };
        out.insert((layer.to_string(), name.to_string()), a);
        k += 1;
    });
    assert_eq!(k, NAMES.len(), "the lecture's model has 5 parameter arrays");
    out
}

fn check_params<F: Float>(what: &str, got: &BTreeMap<(String, String), ArrayD<F>>, want: &Value) {
    for ((layer, name), a) in got {
        assert_close(&format!("{what} {layer}.{name}"), &a.view(), &arr64(&want[layer][name]).view(), tol::<F>());
    }
}

fn scalar<F: Float>(what: &str, got: F, want: &Value) {
    assert_close(what, &ndarray::arr0(got).into_dyn().view(), &arr64(want).view(), tol::<F>());
}

fn run<F: Float>() {
    let fx = load("seed_model.json");
    let window = fx["window"].as_u64().unwrap() as usize;
    let series: Vec<F> = arr64(&fx["series"]).iter().map(|&v| F::of(v)).collect();
    let (x, y) = recurrent::data::windows(&series, window).unwrap();
    assert_close("windows X", &x.view().into_dyn(), &arr64(&fx["X"]).view(), tol::<F>());
    assert_close("windows y", &y.view().into_dyn(), &arr64(&fx["y"]).view(), tol::<F>());

    let mut model = build::<F>(&fx);
    let pred = model.predict(&x).unwrap();
    assert_close("initial predictions", &pred.view(), &arr64(&fx["initial_predictions"]).view(), tol::<F>());
    let lr = F::of(fx["model"]["optimizer"]["learning_rate"].as_f64().unwrap());
    let mut sgd = Sgd::new(lr);

    let steps = fx["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    for step in steps {
        let k = step["step"].as_u64().unwrap();
        let loss = model.train_step(&x, &y, &Mse, &mut sgd).unwrap();
        scalar(&format!("step {k} loss_before"), loss, &step["loss_before"]);
        check_params(&format!("step {k} grads"), &snapshot(&model, true), &step["grads"]);
        check_params(&format!("step {k} params_after"), &snapshot(&model, false), &step["params_after"]);
        let after = model.evaluate(&x, &y, &Mse).unwrap();
        scalar(&format!("step {k} loss_after"), after, &step["loss_after"]);
    }
    scalar("final_loss", model.evaluate(&x, &y, &Mse).unwrap(), &fx["final_loss"]);
}

#[test]
fn seed_model_matches_pytorch_f64() {
    run::<f64>();
}

#[test]
fn seed_model_matches_pytorch_f32() {
    run::<f32>();
}

#[test]
fn initial_gradients_match_pytorch() {
    let fx = load("seed_model.json");
    let mut model = build::<f64>(&fx);
    let x = field::<f64>(&fx, "X");
    let y = field::<f64>(&fx, "y");
    let pred = model.forward(&x, Mode::Train).unwrap();
    let out = Mse.compute(&pred.view(), &y.view()).unwrap();
    scalar("initial_loss", out.value, &fx["initial_loss"]);
    model.zero_grad();
    model.backward(&out.grad).unwrap();
    check_params("initial grads", &snapshot(&model, true), &fx["initial_grads"]);
}

#[test]
fn parameter_counts_match_the_lecture() {
    let fx = load("seed_model.json");
    let mut rng = StdRng::seed_from_u64(0);
    let entries = fx["param_counts"].as_array().unwrap();
    let size = |entry: &Value, key: &str| {
        entry[key].as_u64().unwrap_or_else(|| panic!("param_counts entry {entry} has no {key:?}")) as usize
    };
    let mut kinds = Vec::new();
    for entry in entries {
        let count = entry["count"].as_u64().unwrap() as usize;
        let kind = entry["layer"].as_str().unwrap();
        let got = match kind {
            "simple_rnn" => SimpleRnnConfig::new(size(entry, "input_size"), size(entry, "units"))
                .init::<f64, _>(&mut rng)
                .unwrap()
                .param_count(),
            "dense" => DenseConfig::new(size(entry, "in_features"), size(entry, "out_features"))
                .init::<f64, _>(&mut rng)
                .unwrap()
                .param_count(),
            // Keras's 4H(I + H + 1).
            "lstm" => LstmConfig::new(size(entry, "input_size"), size(entry, "units"))
                .init::<f64, _>(&mut rng)
                .unwrap()
                .param_count(),
            // Keras's GRU with its default reset_after=True: 3H(I + H + 2) (two biases).
            "gru" => GruConfig::new(size(entry, "input_size"), size(entry, "units"))
                .with_reset_after(true)
                .init::<f64, _>(&mut rng)
                .unwrap()
                .param_count(),
            other => panic!("param_counts entry {entry}: unknown layer kind {other:?}"),
        };
        assert_eq!(got, count, "parameter count of {entry}");
        kinds.push(kind);
    }
    // Every entry was checked, the gated layers included.
    assert_eq!(kinds.len(), entries.len());
    for kind in ["simple_rnn", "dense", "lstm", "gru"] {
        assert!(kinds.contains(&kind), "seed_model.json param_counts should include a {kind} entry");
    }
}
