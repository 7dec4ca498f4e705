//! PyTorch parity for activations and losses (activations_losses.json), f64 and f32.
//! Cases flagged `extreme` run in f64 only: 1 − 1e-12 is not representable in f32.

mod common;

use common::{arr64, assert_close, field, load, tol};
use ndarray::ArrayD;
use recurrent::prelude::*;
use recurrent::{Activation, Float};
use serde_json::Value;

fn activation(name: &str) -> Activation {
    match name {
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "relu" => Activation::Relu,
        "softmax" => Activation::Softmax,
        other => panic!("unknown activation {other} in activations_losses.json"),
    }
}

fn check_activations<F: Float>() {
    let all = load("activations_losses.json");
    let acts = all["activations"].as_object().expect("activations object");
    assert!(acts.len() >= 4, "activations_losses.json: expected sigmoid, tanh, relu, softmax");
    for (name, case) in acts {
        let t = tol::<F>();
        let act = activation(name);
        let x: ArrayD<F> = field(case, "x");
        let y = act.forward(&x.view()).unwrap();
        assert_close(&format!("{name}: y"), &y.view(), &arr64(&case["y"]).view(), t);
        let dy: ArrayD<F> = field(case, "grad_output");
        let dx = act.backward(&y.view(), &dy.view()).unwrap();
        assert_close(&format!("{name}: grad_x"), &dx.view(), &arr64(&case["grad_x"]).view(), t);
    }
}

fn loss_for(kind: &str) -> Box<dyn Loss<f64>> {
    match kind {
        "mse" => Box::new(Mse),
        "bce" => Box::new(BinaryCrossEntropy::new()),
        "bce_with_logits" => Box::new(BinaryCrossEntropy::from_logits()),
        "cce" => Box::new(CategoricalCrossEntropy::new()),
        "cce_with_logits" => Box::new(CategoricalCrossEntropy::from_logits()),
        other => panic!("unknown loss kind {other} in activations_losses.json"),
    }
}

fn loss_for_f32(kind: &str) -> Box<dyn Loss<f32>> {
    match kind {
        "mse" => Box::new(Mse),
        "bce" => Box::new(BinaryCrossEntropy::new()),
        "bce_with_logits" => Box::new(BinaryCrossEntropy::from_logits()),
        "cce" => Box::new(CategoricalCrossEntropy::new()),
        "cce_with_logits" => Box::new(CategoricalCrossEntropy::from_logits()),
        other => panic!("unknown loss kind {other} in activations_losses.json"),
    }
}

fn check_loss_case<F: Float>(kind: &str, case: &Value, loss: &dyn Loss<F>) {
    let name = format!("{kind}/{}", case["name"].as_str().unwrap());
    let t = tol::<F>();
    let p: ArrayD<F> = field(case, "input");
    let target: ArrayD<F> = field(case, "target");
    let out = loss.compute(&p.view(), &target.view()).unwrap();
    assert_close(
        &format!("{name}: loss"),
        &ndarray::arr0(out.value).into_dyn().view(),
        &arr64(&case["loss"]).view(),
        t,
    );
    assert_close(&format!("{name}: grad_input"), &out.grad.view(), &arr64(&case["grad_input"]).view(), t);

    // The categorical cases also carry integer labels: the sparse form must agree.
    if let Some(labels) = case.get("labels").filter(|l| !l.is_null()) {
        let labels: ArrayD<F> = common::arr(labels);
        let sparse = SparseCategoricalCrossEntropy { from_logits: kind == "cce_with_logits" };
        let s = Loss::<F>::compute(&sparse, &p.view(), &labels.view()).unwrap();
        assert_close(
            &format!("{name}: sparse loss"),
            &ndarray::arr0(s.value).into_dyn().view(),
            &arr64(&case["loss"]).view(),
            t,
        );
        assert_close(&format!("{name}: sparse grad_input"), &s.grad.view(), &arr64(&case["grad_input"]).view(), t);
    }
}

#[test]
fn activations_match_pytorch_f64() {
    check_activations::<f64>();
}

#[test]
fn activations_match_pytorch_f32() {
    check_activations::<f32>();
}

#[test]
fn losses_match_pytorch_f64() {
    let all = load("activations_losses.json");
    let losses = all["losses"].as_object().expect("losses object");
    let mut n = 0;
    for (kind, list) in losses {
        let loss = loss_for(kind);
        for case in list.as_array().expect("a list of cases") {
            check_loss_case::<f64>(kind, case, loss.as_ref());
            n += 1;
        }
    }
    assert!(n >= 12, "expected every loss case to run, ran {n}");
}

#[test]
fn losses_match_pytorch_f32_except_extreme() {
    let all = load("activations_losses.json");
    let mut skipped = 0;
    for (kind, list) in all["losses"].as_object().expect("losses object") {
        let loss = loss_for_f32(kind);
        for case in list.as_array().expect("a list of cases") {
            if case["extreme"].as_bool().unwrap_or(false) {
                skipped += 1;
                continue;
            }
            check_loss_case::<f32>(kind, case, loss.as_ref());
        }
    }
    assert!(skipped <= 6, "only the extreme cases may be skipped in f32");
}
