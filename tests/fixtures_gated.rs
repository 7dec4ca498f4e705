//! PyTorch parity for the gated cells: every case of lstm.json and gru.json, in f64 and f32:
//! outputs, final h and c, and the gradients of x, h0, c0 and every per-gate parameter.

mod common;

use common::{arr64, assert_close, cases, field, tol};
use ndarray::{concatenate, s, Array1, Array2, ArrayD, Axis, Ix1, Ix2, Ix3};
use recurrent::prelude::*;
use recurrent::Float;
use serde_json::Value;

const LSTM_GATES: [&str; 4] = ["i", "f", "g", "o"];
const GRU_GATES: [&str; 3] = ["r", "z", "n"];

/// Packs per-gate (rows, H) matrices side by side: [k_0 | k_1 | ...].
fn pack2<F: Float>(p: &Value, prefix: &str, gates: &[&str]) -> Array2<F> {
    let blocks: Vec<Array2<F>> =
        gates.iter().map(|g| field::<F>(p, &format!("{prefix}_{g}")).into_dimensionality::<Ix2>().unwrap()).collect();
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    concatenate(Axis(1), &views).unwrap()
}

fn pack1<F: Float>(p: &Value, prefix: &str, gates: &[&str]) -> Array1<F> {
    let blocks: Vec<Array1<F>> =
        gates.iter().map(|g| field::<F>(p, &format!("{prefix}_{g}")).into_dimensionality::<Ix1>().unwrap()).collect();
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    concatenate(Axis(0), &views).unwrap()
}

/// Column block `k` of width `h` of a packed gradient.
fn block(a: &ArrayD<impl Float>, k: usize, h: usize) -> ArrayD<f64> {
    let a = a.mapv(|v| v.to_f64_exact());
    if a.ndim() == 2 {
        a.slice(s![.., k * h..(k + 1) * h]).to_owned().into_dyn()
    } else {
        a.slice(s![k * h..(k + 1) * h]).to_owned().into_dyn()
    }
}

fn dims(case: &Value) -> (usize, usize, bool) {
    (
        case["input_size"].as_u64().unwrap() as usize,
        case["units"].as_u64().unwrap() as usize,
        case["return_sequences"].as_bool().unwrap(),
    )
}

fn state<F: Float>(case: &Value, lstm: bool) -> Option<State<F>> {
    if case["h0"].is_null() {
        return None;
    }
    let h0 = field::<F>(case, "h0").into_dimensionality::<Ix2>().unwrap();
    Some(if lstm {
        State::with_cell(h0, field::<F>(case, "c0").into_dimensionality::<Ix2>().unwrap())
    } else {
        State::new(h0)
    })
}

/// Checks output, final states, dx, dh0 (and dc0) and every gate's parameter gradients.
fn check_common<F: Float, L: RecurrentLayer<F> + Params<F>>(case: &Value, layer: &mut L, lstm: bool) {
    let name = case["name"].as_str().unwrap();
    let t = tol::<F>();
    let x = field::<F>(case, "x").into_dimensionality::<Ix3>().unwrap();
    let init = state::<F>(case, lstm);
    let out = layer.forward_with_state(x.view(), init.as_ref(), Mode::Train).unwrap();
    assert_close(&format!("{name}: output"), &out.view(), &arr64(&case["output"]).view(), t);
    let fin = layer.final_state().unwrap();
    assert_close(&format!("{name}: h_final"), &fin.h.view().into_dyn(), &arr64(&case["h_final"]).view(), t);
    if lstm {
        let c = fin.c.as_ref().expect("LSTM final state has c");
        assert_close(&format!("{name}: c_final"), &c.view().into_dyn(), &arr64(&case["c_final"]).view(), t);
    }
    let dx = layer.backward_with_state(field::<F>(case, "grad_output").view(), None).unwrap();
    let g = &case["grads"];
    assert_close(&format!("{name}: grads.x"), &dx.view().into_dyn(), &arr64(&g["x"]).view(), t);
    let d0 = layer.initial_state_grad().unwrap();
    assert_close(&format!("{name}: grads.h0"), &d0.h.view().into_dyn(), &arr64(&g["h0"]).view(), t);
    if lstm {
        let dc0 = d0.c.as_ref().expect("LSTM has dc0");
        assert_close(&format!("{name}: grads.c0"), &dc0.view().into_dyn(), &arr64(&g["c0"]).view(), t);
    }
}

fn check_lstm<F: Float>(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let (i, h, seq) = dims(case);
    let mut rng = StdRng::seed_from_u64(0);
    let mut lstm = LstmConfig::new(i, h).with_return_sequences(seq).init::<F, _>(&mut rng).unwrap();
    let p = &case["params"];
    lstm.set_weights(Weights {
        kernel: pack2(p, "W_x", &LSTM_GATES),
        recurrent_kernel: pack2(p, "W_h", &LSTM_GATES),
        bias: pack1(p, "b", &LSTM_GATES),
        recurrent_bias: None,
    })
    .unwrap();
    check_common::<F, _>(case, &mut lstm, true);
    let t = tol::<F>();
    let gr = lstm.grads();
    let g = &case["grads"];
    for (k, gate) in LSTM_GATES.iter().enumerate() {
        let kx = gr.kernel.clone().into_dyn();
        let kh = gr.recurrent_kernel.clone().into_dyn();
        let kb = gr.bias.clone().into_dyn();
        for (arr, key) in [(&kx, "W_x"), (&kh, "W_h"), (&kb, "b")] {
            let key = format!("{key}_{gate}");
            assert_close(&format!("{name}: grads.{key}"), &block(arr, k, h).view(), &arr64(&g[&key]).view(), t);
        }
    }
}

fn check_gru<F: Float>(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let (i, h, seq) = dims(case);
    let mut rng = StdRng::seed_from_u64(0);
    let mut gru = GruConfig::new(i, h).with_return_sequences(seq).init::<F, _>(&mut rng).unwrap();
    let p = &case["params"];
    gru.set_weights(Weights {
        kernel: pack2(p, "W_x", &GRU_GATES),
        recurrent_kernel: pack2(p, "W_h", &GRU_GATES),
        bias: pack1(p, "b_x", &GRU_GATES),
        recurrent_bias: Some(pack1(p, "b_h", &GRU_GATES)),
    })
    .unwrap();
    check_common::<F, _>(case, &mut gru, false);
    let t = tol::<F>();
    let gr = gru.grads();
    let g = &case["grads"];
    let rb = gr.recurrent_bias.clone().expect("GRU keeps a recurrent bias").into_dyn();
    for (k, gate) in GRU_GATES.iter().enumerate() {
        let kx = gr.kernel.clone().into_dyn();
        let kh = gr.recurrent_kernel.clone().into_dyn();
        let kb = gr.bias.clone().into_dyn();
        for (arr, key) in [(&kx, "W_x"), (&kh, "W_h"), (&kb, "b_x"), (&rb, "b_h")] {
            let key = format!("{key}_{gate}");
            assert_close(&format!("{name}: grads.{key}"), &block(arr, k, h).view(), &arr64(&g[&key]).view(), t);
        }
    }
}

#[test]
fn lstm_matches_pytorch_f64() {
    let all = cases("lstm.json");
    all.iter().for_each(check_lstm::<f64>);
    assert_eq!(all.len(), 8, "lstm.json should hold 8 cases (fixtures README)");
}

#[test]
fn lstm_matches_pytorch_f32() {
    cases("lstm.json").iter().for_each(check_lstm::<f32>);
}

#[test]
fn gru_matches_pytorch_f64() {
    let all = cases("gru.json");
    all.iter().for_each(check_gru::<f64>);
    assert_eq!(all.len(), 8, "gru.json should hold 8 cases (fixtures README)");
}

#[test]
fn gru_matches_pytorch_f32() {
    cases("gru.json").iter().for_each(check_gru::<f32>);
}
