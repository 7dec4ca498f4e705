//! Two threads give the same numbers as one: outputs, final states, dL/dx and dL/dh0 bit for
//! bit, weight gradients to rounding (their sums are grouped per thread). One test function,
//! because the thread count is a process-wide setting.

use ndarray::{Array2, Array3, ArrayD};
use recurrent::prelude::*;
use recurrent::rand::Rng;

struct Run {
    out: ArrayD<f64>,
    fin: State<f64>,
    dx: Array3<f64>,
    d0: State<f64>,
    grads: Vec<ArrayD<f64>>,
    trace: Vec<f64>,
}

fn run(
    layer: &mut dyn RecurrentLayer<f64>,
    x: &Array3<f64>,
    mask: Option<&Array2<bool>>,
    h0: &State<f64>,
    g: &ArrayD<f64>,
    gf: &State<f64>,
) -> Run {
    layer.zero_grad();
    let out = layer.forward_masked_with_state(x.view(), mask.map(|m| m.view()), Some(h0), Mode::Train).unwrap();
    let dx = layer.backward_with_state(g.view(), Some(gf)).unwrap();
    let mut grads = Vec::new();
    layer.visit_params(&mut |p| grads.push(p.grad.to_owned()));
    Run {
        out,
        fin: layer.final_state().unwrap().clone(),
        dx,
        d0: layer.initial_state_grad().unwrap().clone(),
        grads,
        trace: layer.gradient_trace().unwrap().norms().to_vec(),
    }
}

fn state(rng: &mut StdRng, b: usize, h: usize, cell: bool) -> State<f64> {
    let mut m = || Array2::from_shape_fn((b, h), |_| rng.random::<f64>() - 0.5);
    let hh = m();
    if cell {
        State::with_cell(hh, m())
    } else {
        State::new(hh)
    }
}

#[test]
fn two_threads_match_one() {
    // Large enough that the batch split engages for every cell (the loop's B·T·H·G·H
    // multiply-adds, 4.2M for the SimpleRNN, are twice the 2M threshold of
    // layers/recurrent/core.rs) and that the input projection is split by rows; B is odd so
    // the halves differ in size.
    let (b, t, i, h) = (17, 60, 40, 64);
    let mut rng = StdRng::seed_from_u64(3);
    let layers: Vec<(&str, Box<dyn RecurrentLayer<f64>>)> = vec![
        ("simple_rnn", Box::new(SimpleRnnConfig::new(i, h).with_return_sequences(true).init(&mut rng).unwrap())),
        ("lstm", Box::new(LstmConfig::new(i, h).with_return_sequences(true).init(&mut rng).unwrap())),
        ("gru", Box::new(GruConfig::new(i, h).with_return_sequences(true).init(&mut rng).unwrap())),
        ("gru_cho", Box::new(GruConfig::new(i, h).with_reset_after(false).init(&mut rng).unwrap())),
        ("lstm_backwards", Box::new(LstmConfig::new(i, h).with_go_backwards(true).init(&mut rng).unwrap())),
    ];
    for (name, mut layer) in layers {
        let x = Array3::from_shape_fn((b, t, i), |_| rng.random::<f64>() * 2.0 - 1.0);
        let cell = layer.has_cell_state();
        let h0 = state(&mut rng, b, h, cell);
        let gf = state(&mut rng, b, h, cell);
        let gshape = if layer.return_sequences() { vec![b, t, h] } else { vec![b, h] };
        let g = ArrayD::from_shape_fn(gshape, |_| rng.random::<f64>() - 0.5);

        // Also with a mask of leading, trailing and interior padding (and one empty row).
        let mask = Array2::from_shape_fn((b, t), |(p, q)| p != 3 && (q + 2 * p) % 7 != 0 && q >= p % 5);
        for (mask, what) in [(None, ""), (Some(&mask), " (masked)")] {
            recurrent::set_num_threads(1);
            let one = run(layer.as_mut(), &x, mask, &h0, &g, &gf);
            recurrent::set_num_threads(2);
            let two = run(layer.as_mut(), &x, mask, &h0, &g, &gf);
            recurrent::set_num_threads(1);
            let name = format!("{name}{what}");

            assert_eq!(one.out, two.out, "{name}: output");
            assert_eq!(one.fin, two.fin, "{name}: final state");
            assert_eq!(one.dx, two.dx, "{name}: dx");
            assert_eq!(one.d0, two.d0, "{name}: initial-state gradient");
            for (k, (a, c)) in one.grads.iter().zip(&two.grads).enumerate() {
                for (u, v) in a.iter().zip(c) {
                    assert!((u - v).abs() <= 1e-12 * (1.0 + u.abs()), "{name}: parameter {k} gradient {u} vs {v}");
                }
            }
            for (u, v) in one.trace.iter().zip(&two.trace) {
                assert!((u - v).abs() <= 1e-12 * (1.0 + u.abs()), "{name}: trace {u} vs {v}");
            }
        }
    }

    // A product big enough to be split by rows: a Dense layer on 4096 rows.
    let mut dense = DenseConfig::new(128, 128).init::<f64, _>(&mut rng).unwrap();
    let x = ArrayD::from_shape_fn(vec![64, 64, 128], |_| rng.random::<f64>() - 0.5);
    let g = ArrayD::from_shape_fn(vec![64, 64, 128], |_| rng.random::<f64>() - 0.5);
    let mut results = Vec::new();
    for threads in [1, 2] {
        recurrent::set_num_threads(threads);
        dense.zero_grad();
        let y = dense.forward(x.view(), Mode::Train).unwrap();
        let dx = dense.backward(g.view()).unwrap();
        results.push((y, dx, dense.kernel_grad().clone()));
    }
    recurrent::set_num_threads(1);
    assert_eq!(results[0].0, results[1].0, "dense output");
    assert_eq!(results[0].1, results[1].1, "dense dx");
    assert_eq!(results[0].2, results[1].2, "dense dW (rows of dW split, each sum unchanged)");
}
