//! Criterion benchmarks of the recurrent layers: inference forward, training forward and
//! forward + backward (BPTT over every step, gradients for x and every parameter) of
//! SimpleRNN, LSTM, GRU and Cho's GRU (`reset_after = false`), on the four workloads of
//! benches/workloads.rs.
//!
//! ```sh
//! cargo bench --bench recurrent                          # everything
//! cargo bench --bench recurrent -- 'simple_rnn/f32'      # one cell and dtype
//! cargo bench --bench recurrent -- 'lstm/f32/fwd_bwd/large'
//! RECURRENT_NUM_THREADS=2 cargo bench --bench recurrent   # two threads (groups named .../t2)
//! ```
//!
//! Modes, as benches/compare/torch_rnn.py measures PyTorch:
//! * `forward`: `Mode::Infer`, nothing kept for backward (PyTorch under `inference_mode`,
//!   ONNX Runtime);
//! * `forward_train`: `Mode::Train`, every step kept for backward (PyTorch's forward with
//!   autograd recording);
//! * `fwd_bwd`: clears the gradients, runs a training forward pass and backpropagates
//!   dL/doutput = 1 (the gradient of `out.sum()`).
//!
//! The throughput criterion prints is useful GEMM FLOP/s as the reference scripts count them:
//! 2·B·T·G·H·(I+H) per forward pass and three times that for forward + backward.

mod workloads;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array3, ArrayD};
use recurrent::prelude::*;
use recurrent::rand::Rng;
use recurrent::Float;
use workloads::{Workload, WORKLOADS};

/// The cells measured: name as in the reference results, gate blocks G, constructor.
type Build<F> = fn(&Workload, &mut StdRng) -> Box<dyn RecurrentLayer<F>>;

fn cells<F: Float>() -> [(&'static str, usize, Build<F>); 4] {
    [
        ("simple_rnn", 1, |w, rng| {
            Box::new(SimpleRnnConfig::new(w.i, w.h).with_return_sequences(true).init::<F, _>(rng).expect("valid"))
        }),
        ("lstm", 4, |w, rng| {
            Box::new(LstmConfig::new(w.i, w.h).with_return_sequences(true).init::<F, _>(rng).expect("valid"))
        }),
        ("gru", 3, |w, rng| {
            Box::new(GruConfig::new(w.i, w.h).with_return_sequences(true).init::<F, _>(rng).expect("valid"))
        }),
        ("gru_cho", 3, |w, rng| {
            Box::new(
                GruConfig::new(w.i, w.h)
                    .with_reset_after(false)
                    .with_return_sequences(true)
                    .init::<F, _>(rng)
                    .expect("valid"),
            )
        }),
    ]
}

fn bench_dtype<F: Float>(c: &mut Criterion, dtype: &str) {
    // RECURRENT_NUM_THREADS=2 measures two threads; those results get their own group names.
    let threads = recurrent::num_threads();
    let suffix = if threads > 1 { format!("/t{threads}") } else { String::new() };
    for (cell, gates, build) in cells::<F>() {
        let mut group = c.benchmark_group(format!("{cell}/{dtype}{suffix}"));
        for w in WORKLOADS.iter().filter(|w| dtype == "f32" || w.f64_too) {
            let mut rng = StdRng::seed_from_u64(0);
            let mut layer = build(w, &mut rng);
            let x = Array3::from_shape_fn((w.b, w.t, w.i), |_| F::of(rng.random::<f64>() * 2.0 - 1.0));
            let ones = ArrayD::from_elem(vec![w.b, w.t, w.h], F::one());
            let flops = (2 * w.b * w.t * gates * w.h * (w.i + w.h)) as u64;
            let big = flops > 100_000_000;
            group.sample_size(if big { 10 } else { 50 });
            group.measurement_time(Duration::from_secs(if big { 8 } else { 4 }));
            group.warm_up_time(Duration::from_secs(1));

            group.throughput(Throughput::Elements(flops));
            group.bench_with_input(BenchmarkId::new("forward", w.name), &x, |bch, x| {
                bch.iter(|| black_box(layer.forward(black_box(x.view().into_dyn()), Mode::Infer).expect("forward")))
            });
            group.bench_with_input(BenchmarkId::new("forward_train", w.name), &x, |bch, x| {
                bch.iter(|| black_box(layer.forward(black_box(x.view().into_dyn()), Mode::Train).expect("forward")))
            });
            group.throughput(Throughput::Elements(3 * flops));
            group.bench_with_input(BenchmarkId::new("fwd_bwd", w.name), &x, |bch, x| {
                bch.iter(|| {
                    layer.zero_grad();
                    layer.forward(black_box(x.view().into_dyn()), Mode::Train).expect("forward");
                    black_box(layer.backward(ones.view()).expect("backward"))
                })
            });
        }
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_dtype::<f32>(c, "f32");
    bench_dtype::<f64>(c, "f64");
}

criterion_group!(recurrent_benches, benches);
criterion_main!(recurrent_benches);
