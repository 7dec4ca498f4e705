//! Two threads give the same numbers as one: outputs, final states, dL/dx and dL/dh0 bit for
//! bit, weight gradients to rounding (their sums are grouped per thread). One test function,
//! because the thread count is a process-wide setting.
//!
//! Equal numbers alone would also pass if nothing were split, so the test checks two
//! observables that only a real split shows: the weight gradients and the gradient trace of
//! a recurrent layer differ from the one-thread run in their last bits (each part sums its own
//! rows first, as `src/parallel.rs` documents), and, on Linux, the CPU time the process spends
//! outside the calling thread, which the kernel keeps for threads that have ended too, is a
//! real share of the work with two threads and next to none with one.

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
            let bits = |r: &Run| -> Vec<u64> {
                r.grads
                    .iter()
                    .flat_map(|a| a.iter().map(|v| v.to_bits()))
                    .chain(r.trace.iter().map(|v| v.to_bits()))
                    .collect()
            };
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
            // The sums over the batch were grouped per part: with the batch split, some of
            // the 10⁴ gradient and trace values round differently. Bit-identical sums mean
            // the loop ran as one part.
            let (b1, b2) = (bits(&one), bits(&two));
            let differ = b1.iter().zip(&b2).filter(|(u, v)| u != v).count();
            assert!(differ > 0, "{name}: the two-thread run summed exactly as one part, so the batch was not split");
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

    // Did another thread do part of the work? Linux keeps the CPU time of a process's threads
    // after they end, so the process's time minus the calling thread's is what the scoped
    // workers used.
    #[cfg(target_os = "linux")]
    {
        // Forward only, on few input features: the time loop (split by batch) is then nearly
        // all the work; the input projection and the weight-gradient products stay on the
        // calling thread below their own threshold.
        let mut lstm = LstmConfig::new(4, h).with_return_sequences(true).init::<f64, _>(&mut rng).unwrap();
        let x3 = Array3::from_shape_fn((64, t, 4), |_| rng.random::<f64>() - 0.5);
        let mut lstm_pass = || {
            lstm.forward(x3.view().into_dyn(), Mode::Train).unwrap();
        };
        let lstm_split = [1, 2].map(|n| cpu_outside_this_thread(n, &mut lstm_pass));
        let mut dense_pass = || {
            dense.forward(x.view(), Mode::Train).unwrap();
            dense.backward(g.view()).unwrap();
        };
        let dense_split = [1, 2].map(|n| cpu_outside_this_thread(n, &mut dense_pass));
        recurrent::set_num_threads(1);
        for (what, [one, two]) in [("lstm batch split", lstm_split), ("dense row split", dense_split)] {
            assert!(one < 0.1, "{what}: one thread, yet {:.0}% of the CPU time was outside it", 100.0 * one);
            assert!(
                two >= 0.25,
                "{what}: two threads, but only {:.0}% of the CPU time was outside the caller",
                100.0 * two
            );
        }
    }
}

/// `(utime + stime)` in clock ticks from a `/proc/.../stat` line.
#[cfg(target_os = "linux")]
fn cpu_ticks(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm in parentheses") + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

/// Runs `pass` with `threads` threads until the process has used at least 40 clock ticks
/// (0.4 s at the usual 100 Hz) and returns the share of that CPU time not spent on this
/// thread. Ticks are coarse, hence the minimum.
#[cfg(target_os = "linux")]
fn cpu_outside_this_thread(threads: usize, pass: &mut dyn FnMut()) -> f64 {
    recurrent::set_num_threads(threads);
    pass(); // warm up buffers outside the measurement
    let (p0, t0) = (cpu_ticks("/proc/self/stat"), cpu_ticks("/proc/thread-self/stat"));
    let mut runs = 0;
    while cpu_ticks("/proc/self/stat") - p0 < 40 && runs < 100_000 {
        pass();
        runs += 1;
    }
    let (p1, t1) = (cpu_ticks("/proc/self/stat"), cpu_ticks("/proc/thread-self/stat"));
    let (process, this) = (p1 - p0, t1 - t0);
    assert!(process >= 40, "{runs} passes used only {process} ticks");
    process.saturating_sub(this) as f64 / process as f64
}
