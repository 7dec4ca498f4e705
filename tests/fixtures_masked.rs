//! PyTorch parity for variable-length sequences: every case of masked.json (SimpleRNN, LSTM
//! and GRU; leading, trailing and interior masks; an all-masked sample), in f64 and f32:
//! outputs, final states and every gradient. Also: Bidirectional with a mask runs each
//! half over each sample's real steps only, and a masked pass is the same on two threads.

mod common;

use common::{arr64, assert_close, cases, field, tol};
use ndarray::{concatenate, s, Array1, Array2, Array3, ArrayD, Axis, Ix1, Ix2, Ix3};
use recurrent::prelude::*;
use recurrent::{Activation, Float};
use serde_json::Value;

fn gates(layer: &str) -> &'static [&'static str] {
    match layer {
        "simple_rnn" => &[""],
        "lstm" => &["i", "f", "g", "o"],
        "gru" => &["r", "z", "n"],
        other => panic!("unknown layer {other} in masked.json"),
    }
}

fn key(prefix: &str, gate: &str) -> String {
    if gate.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}_{gate}")
    }
}

fn pack2<F: Float>(p: &Value, prefix: &str, gs: &[&str]) -> Array2<F> {
    let blocks: Vec<Array2<F>> =
        gs.iter().map(|g| field::<F>(p, &key(prefix, g)).into_dimensionality::<Ix2>().unwrap()).collect();
    concatenate(Axis(1), &blocks.iter().map(|b| b.view()).collect::<Vec<_>>()).unwrap()
}

fn pack1<F: Float>(p: &Value, prefix: &str, gs: &[&str]) -> Array1<F> {
    let blocks: Vec<Array1<F>> =
        gs.iter().map(|g| field::<F>(p, &key(prefix, g)).into_dimensionality::<Ix1>().unwrap()).collect();
    concatenate(Axis(0), &blocks.iter().map(|b| b.view()).collect::<Vec<_>>()).unwrap()
}

fn block(a: ArrayD<f64>, k: usize, h: usize) -> ArrayD<f64> {
    if a.ndim() == 2 {
        a.slice(s![.., k * h..(k + 1) * h]).to_owned().into_dyn()
    } else {
        a.slice(s![k * h..(k + 1) * h]).to_owned().into_dyn()
    }
}

/// The case's layer with the case's weights.
fn build<F: Float>(case: &Value) -> Box<dyn RecurrentLayer<F>> {
    let layer = case["layer"].as_str().unwrap();
    let (i, h) = (case["input_size"].as_u64().unwrap() as usize, case["units"].as_u64().unwrap() as usize);
    let seq = case["return_sequences"].as_bool().unwrap();
    let p = &case["params"];
    let gs = gates(layer);
    let mut rng = StdRng::seed_from_u64(0);
    match layer {
        "simple_rnn" => {
            assert_eq!(case["activation"], "tanh");
            let mut l = SimpleRnnConfig::new(i, h)
                .with_activation(Activation::Tanh)
                .with_return_sequences(seq)
                .init::<F, _>(&mut rng)
                .unwrap();
            let w = Weights {
                kernel: pack2(p, "W_x", gs),
                recurrent_kernel: pack2(p, "W_h", gs),
                bias: pack1(p, "b", gs),
                recurrent_bias: None,
            };
            l.set_weights(w).unwrap();
            Box::new(l)
        }
        "lstm" => {
            let mut l = LstmConfig::new(i, h).with_return_sequences(seq).init::<F, _>(&mut rng).unwrap();
            let w = Weights {
                kernel: pack2(p, "W_x", gs),
                recurrent_kernel: pack2(p, "W_h", gs),
                bias: pack1(p, "b", gs),
                recurrent_bias: None,
            };
            l.set_weights(w).unwrap();
            Box::new(l)
        }
        _ => {
            let mut l = GruConfig::new(i, h).with_return_sequences(seq).init::<F, _>(&mut rng).unwrap();
            let w = Weights {
                kernel: pack2(p, "W_x", gs),
                recurrent_kernel: pack2(p, "W_h", gs),
                bias: pack1(p, "b_x", gs),
                recurrent_bias: Some(pack1(p, "b_h", gs)),
            };
            l.set_weights(w).unwrap();
            Box::new(l)
        }
    }
}

fn mask_of(case: &Value) -> Array2<bool> {
    arr64(&case["mask"]).into_dimensionality::<Ix2>().unwrap().mapv(|v| v != 0.0)
}

fn initial<F: Float>(case: &Value) -> Option<State<F>> {
    if case["h0"].is_null() {
        return None;
    }
    let h0 = field::<F>(case, "h0").into_dimensionality::<Ix2>().unwrap();
    Some(if case["layer"] == "lstm" {
        State::with_cell(h0, field::<F>(case, "c0").into_dimensionality::<Ix2>().unwrap())
    } else {
        State::new(h0)
    })
}

/// Collects the layer's parameter gradients by name.
fn grads_of<F: Float>(layer: &dyn RecurrentLayer<F>) -> Vec<(String, ArrayD<f64>)> {
    let mut out = Vec::new();
    layer.visit_params(&mut |p| out.push((p.name.to_string(), p.grad.mapv(|v| v.to_f64_exact()))));
    out
}

fn check_case<F: Float>(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let layer_kind = case["layer"].as_str().unwrap();
    let t = tol::<F>();
    let h = case["units"].as_u64().unwrap() as usize;
    let mut layer = build::<F>(case);
    let x = field::<F>(case, "x").into_dimensionality::<Ix3>().unwrap();
    let mask = mask_of(case);
    let init = initial::<F>(case);
    let out = layer.forward_masked_with_state(x.view(), Some(mask.view()), init.as_ref(), Mode::Train).unwrap();
    assert_close(&format!("{name}: output"), &out.view(), &arr64(&case["output"]).view(), t);
    let fin = layer.final_state().unwrap().clone();
    assert_close(&format!("{name}: h_final"), &fin.h.view().into_dyn(), &arr64(&case["h_final"]).view(), t);
    if layer_kind == "lstm" {
        let c = fin.c.as_ref().unwrap();
        assert_close(&format!("{name}: c_final"), &c.view().into_dyn(), &arr64(&case["c_final"]).view(), t);
    }
    let dx = layer.backward_with_state(field::<F>(case, "grad_output").view(), None).unwrap();
    let g = &case["grads"];
    assert_close(&format!("{name}: grads.x"), &dx.view().into_dyn(), &arr64(&g["x"]).view(), t);
    // Masked inputs get exactly zero gradient, not merely a small one.
    for ((bi, ti), &m) in mask.indexed_iter() {
        if !m {
            assert!(dx.slice(s![bi, ti, ..]).iter().all(|v| *v == F::zero()), "{name}: dx at masked ({bi}, {ti})");
        }
    }
    let d0 = layer.initial_state_grad().unwrap().clone();
    assert_close(&format!("{name}: grads.h0"), &d0.h.view().into_dyn(), &arr64(&g["h0"]).view(), t);
    if layer_kind == "lstm" {
        let dc0 = d0.c.as_ref().unwrap();
        assert_close(&format!("{name}: grads.c0"), &dc0.view().into_dyn(), &arr64(&g["c0"]).view(), t);
    }
    let gs = gates(layer_kind);
    for (pname, grad) in grads_of(layer.as_ref()) {
        let prefix = match (layer_kind, pname.as_str()) {
            (_, "kernel") => "W_x",
            (_, "recurrent_kernel") => "W_h",
            ("gru", "bias") => "b_x",
            (_, "bias") => "b",
            ("gru", "recurrent_bias") => "b_h",
            other => panic!("unexpected parameter {other:?}"),
        };
        for (k, gate) in gs.iter().enumerate() {
            let key = key(prefix, gate);
            assert_close(
                &format!("{name}: grads.{key}"),
                &block(grad.clone(), k, h).view(),
                &arr64(&g[&key]).view(),
                t,
            );
        }
    }
}

#[test]
fn masked_layers_match_pytorch_f64() {
    let all = cases("masked.json");
    all.iter().for_each(check_case::<f64>);
    assert_eq!(all.len(), 18, "masked.json should hold 18 cases (fixtures README §11)");
}

#[test]
fn masked_layers_match_pytorch_f32() {
    cases("masked.json").iter().for_each(check_case::<f32>);
}

/// An all-true mask is the same as no mask, bit for bit.
#[test]
fn all_true_mask_is_no_mask() {
    for case in cases("masked.json") {
        let mut a = build::<f64>(&case);
        let mut b = build::<f64>(&case);
        let x = field::<f64>(&case, "x").into_dimensionality::<Ix3>().unwrap();
        let mask = Array2::from_elem((x.dim().0, x.dim().1), true);
        let ya = a.forward_with_state(x.view(), None, Mode::Train).unwrap();
        let yb = b.forward_masked_with_state(x.view(), Some(mask.view()), None, Mode::Train).unwrap();
        assert_eq!(ya, yb);
        let g = field::<f64>(&case, "grad_output");
        assert_eq!(a.backward(g.view()).unwrap(), b.backward(g.view()).unwrap());
    }
}

/// Bidirectional with a mask: for every sample, the forward half equals the plain layer on
/// that sample's real steps, and the backward half equals the plain layer on those steps
/// reversed, each scattered back to the real positions (zero rows elsewhere).
#[test]
fn bidirectional_masked_runs_each_half_over_real_steps() {
    let mut rng = StdRng::seed_from_u64(7);
    let (b, t, i, h) = (4, 6, 2, 3);
    let lstm = LstmConfig::new(i, h).with_return_sequences(true).init::<f64, _>(&mut rng).unwrap();
    let mut bi = Bidirectional::new(lstm, MergeMode::Concat, &mut rng).unwrap();
    let x = Array3::from_shape_fn((b, t, i), |(p, q, r)| ((p * 7 + q * 3 + r) as f64 * 0.37).sin());
    let rows: [[u8; 6]; 4] = [[1, 1, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
    let mask = Array2::from_shape_fn((b, t), |(p, q)| rows[p][q] == 1);
    let out = bi.forward_masked(x.view().into_dyn(), Some(mask.view()), Mode::Infer).unwrap();
    assert_eq!(out.shape(), &[b, t, 2 * h]);
    for p in 0..b {
        let real: Vec<usize> = (0..t).filter(|&q| mask[[p, q]]).collect();
        for q in (0..t).filter(|&q| !mask[[p, q]]) {
            assert!(out.slice(s![p, q, ..]).iter().all(|&v| v == 0.0), "zero row at masked ({p}, {q})");
        }
        if real.is_empty() {
            continue;
        }
        let xs = Array3::from_shape_fn((1, real.len(), i), |(_, k, r)| x[[p, real[k], r]]);
        let mut fwd = bi.forward_layer().fresh_copy(&mut rng).unwrap();
        let mut bwd = bi.backward_layer().fresh_copy(&mut rng).unwrap();
        copy_weights(bi.forward_layer(), fwd.as_mut());
        copy_weights(bi.backward_layer(), bwd.as_mut());
        fwd.set_go_backwards(false);
        bwd.set_go_backwards(false);
        let yf = fwd.forward_with_state(xs.view(), None, Mode::Infer).unwrap();
        let mut xr = xs.clone();
        xr.invert_axis(Axis(1));
        let yb = bwd.forward_with_state(xr.view(), None, Mode::Infer).unwrap();
        for (k, &q) in real.iter().enumerate() {
            for u in 0..h {
                assert!((out[[p, q, u]] - yf[[0, k, u]]).abs() < 1e-14, "forward half ({p}, {q}, {u})");
                let kb = real.len() - 1 - k;
                assert!((out[[p, q, h + u]] - yb[[0, kb, u]]).abs() < 1e-14, "backward half ({p}, {q}, {u})");
            }
        }
    }
}

fn copy_weights(from: &dyn RecurrentLayer<f64>, to: &mut dyn RecurrentLayer<f64>) {
    let mut vals = Vec::new();
    from.visit_params(&mut |p| vals.push(p.value.to_owned()));
    let mut k = 0;
    to.visit_params_mut(&mut |mut p| {
        p.value.assign(&vals[k]);
        k += 1;
    });
}

/// A wrong mask shape is an error naming the expected shape, and the layer keeps its cache.
#[test]
fn mask_shape_is_checked() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut gru = GruConfig::new(2, 3).init::<f64, _>(&mut rng).unwrap();
    let x = Array3::<f64>::zeros((2, 4, 2));
    gru.forward(x.view().into_dyn(), Mode::Train).unwrap();
    let bad = Array2::from_elem((2, 5), true);
    let err = gru.forward_masked(x.view(), Some(bad.view()), Mode::Train).unwrap_err().to_string();
    assert!(err.contains("(2, 4)") && err.contains("(2, 5)"), "{err}");
    assert!(gru.has_cache(), "the earlier training pass is still usable");
    let mut bi =
        Bidirectional::new(GruConfig::new(2, 3).init::<f64, _>(&mut rng).unwrap(), MergeMode::Sum, &mut rng).unwrap();
    let err = bi.forward_masked(x.view().into_dyn(), Some(bad.view()), Mode::Train).unwrap_err().to_string();
    assert!(err.contains("(2, 4)"), "{err}");
}
