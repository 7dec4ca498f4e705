//! PyTorch parity for SimpleRNN and Dense: every case of simple_rnn.json and dense.json, in
//! f64 and f32: outputs, final states, and the gradients of x, h0 and every parameter.

mod common;

use common::{arr64, assert_close, cases, field, tol};
use ndarray::{Ix1, Ix2, Ix3};
use recurrent::layers::recurrent::Weights;
use recurrent::prelude::*;
use recurrent::{Activation, Float};
use serde_json::Value;

fn activation(name: &str) -> Activation {
    match name {
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        other => panic!("unknown activation {other} in fixture"),
    }
}

fn check_simple_rnn_case<F: Float>(case: &Value) {
    let name = case["name"].as_str().expect("case name");
    let t = tol::<F>();
    let (i, h) = (case["input_size"].as_u64().unwrap() as usize, case["units"].as_u64().unwrap() as usize);
    let seq = case["return_sequences"].as_bool().unwrap();
    let mut rng = StdRng::seed_from_u64(0);
    let mut rnn = SimpleRnnConfig::new(i, h)
        .with_activation(activation(case["activation"].as_str().unwrap()))
        .with_return_sequences(seq)
        .init::<F, _>(&mut rng)
        .unwrap();
    let p = &case["params"];
    rnn.set_weights(Weights {
        kernel: field::<F>(p, "W_x").into_dimensionality::<Ix2>().unwrap(),
        recurrent_kernel: field::<F>(p, "W_h").into_dimensionality::<Ix2>().unwrap(),
        bias: field::<F>(p, "b").into_dimensionality::<Ix1>().unwrap(),
        recurrent_bias: None,
    })
    .unwrap();
    let x = field::<F>(case, "x").into_dimensionality::<Ix3>().unwrap();
    let h0 = if case["h0"].is_null() {
        None
    } else {
        Some(State::new(field::<F>(case, "h0").into_dimensionality::<Ix2>().unwrap()))
    };
    let out = rnn.forward_with_state(x.view(), h0.as_ref(), Mode::Train).unwrap();
    assert_close(&format!("{name}: output"), &out.view(), &arr64(&case["output"]).view(), t);
    let fin = rnn.final_state().expect("final state after forward");
    assert_close(&format!("{name}: h_final"), &fin.h.view().into_dyn(), &arr64(&case["h_final"]).view(), t);
    assert!(fin.c.is_none(), "{name}: SimpleRNN has no cell state");

    let dx = rnn.backward(field::<F>(case, "grad_output").view()).unwrap();
    let g = &case["grads"];
    assert_close(&format!("{name}: grads.x"), &dx.view(), &arr64(&g["x"]).view(), t);
    let gr = rnn.grads();
    assert_close(&format!("{name}: grads.W_x"), &gr.kernel.view().into_dyn(), &arr64(&g["W_x"]).view(), t);
    assert_close(&format!("{name}: grads.W_h"), &gr.recurrent_kernel.view().into_dyn(), &arr64(&g["W_h"]).view(), t);
    assert_close(&format!("{name}: grads.b"), &gr.bias.view().into_dyn(), &arr64(&g["b"]).view(), t);
    let dh0 = rnn.initial_state_grad().expect("initial-state gradient after backward");
    assert_close(&format!("{name}: grads.h0"), &dh0.h.view().into_dyn(), &arr64(&g["h0"]).view(), t);
}

fn check_dense_case<F: Float>(case: &Value) {
    let name = case["name"].as_str().expect("case name");
    let t = tol::<F>();
    let (fin, fout) = (case["in_features"].as_u64().unwrap() as usize, case["out_features"].as_u64().unwrap() as usize);
    let mut rng = StdRng::seed_from_u64(0);
    let mut dense = DenseConfig::new(fin, fout).init::<F, _>(&mut rng).unwrap();
    let p = &case["params"];
    dense.set_kernel(field::<F>(p, "W").into_dimensionality::<Ix2>().unwrap()).unwrap();
    dense.set_bias(field::<F>(p, "b").into_dimensionality::<Ix1>().unwrap()).unwrap();
    let x = field::<F>(case, "x");
    let out = dense.forward(x.view(), Mode::Train).unwrap();
    assert_close(&format!("{name}: output"), &out.view(), &arr64(&case["output"]).view(), t);
    let dx = dense.backward(field::<F>(case, "grad_output").view()).unwrap();
    let g = &case["grads"];
    assert_close(&format!("{name}: grads.x"), &dx.view(), &arr64(&g["x"]).view(), t);
    assert_close(&format!("{name}: grads.W"), &dense.kernel_grad().view().into_dyn(), &arr64(&g["W"]).view(), t);
    assert_close(&format!("{name}: grads.b"), &dense.bias_grad().view().into_dyn(), &arr64(&g["b"]).view(), t);
}

#[test]
fn simple_rnn_matches_pytorch_f64() {
    let all = cases("simple_rnn.json");
    for case in &all {
        check_simple_rnn_case::<f64>(case);
    }
    assert_eq!(all.len(), 8, "simple_rnn.json should hold 8 cases (fixtures README)");
}

#[test]
fn simple_rnn_matches_pytorch_f32() {
    for case in &cases("simple_rnn.json") {
        check_simple_rnn_case::<f32>(case);
    }
}

#[test]
fn dense_matches_pytorch_f64() {
    let all = cases("dense.json");
    for case in &all {
        check_dense_case::<f64>(case);
    }
    assert_eq!(all.len(), 6, "dense.json should hold 6 cases (fixtures README)");
}

#[test]
fn dense_matches_pytorch_f32() {
    for case in &cases("dense.json") {
        check_dense_case::<f32>(case);
    }
}

#[test]
fn simple_rnn_h_sequence_matches_when_returning_last() {
    // Cases with return_sequences = false also store every h_t; the same layer with
    // return_sequences = true must reproduce them.
    for case in cases("simple_rnn.json").iter().filter(|c| !c["return_sequences"].as_bool().unwrap()) {
        let name = case["name"].as_str().unwrap();
        let (i, h) = (case["input_size"].as_u64().unwrap() as usize, case["units"].as_u64().unwrap() as usize);
        let mut rng = StdRng::seed_from_u64(0);
        let mut rnn = SimpleRnnConfig::new(i, h)
            .with_activation(activation(case["activation"].as_str().unwrap()))
            .with_return_sequences(true)
            .init::<f64, _>(&mut rng)
            .unwrap();
        let p = &case["params"];
        rnn.set_weights(Weights {
            kernel: field::<f64>(p, "W_x").into_dimensionality::<Ix2>().unwrap(),
            recurrent_kernel: field::<f64>(p, "W_h").into_dimensionality::<Ix2>().unwrap(),
            bias: field::<f64>(p, "b").into_dimensionality::<Ix1>().unwrap(),
            recurrent_bias: None,
        })
        .unwrap();
        let h0 =
            (!case["h0"].is_null()).then(|| State::new(field::<f64>(case, "h0").into_dimensionality::<Ix2>().unwrap()));
        let x = field::<f64>(case, "x").into_dimensionality::<Ix3>().unwrap();
        let out = rnn.forward_with_state(x.view(), h0.as_ref(), Mode::Infer).unwrap();
        assert_close(&format!("{name}: h_sequence"), &out.view(), &arr64(&case["h_sequence"]).view(), tol::<f64>());
    }
}
