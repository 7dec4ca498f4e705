//! Criterion benchmarks of the recurrent step: forward (inference) and forward + backward
//! (BPTT over every step, gradients for x and every parameter) of SimpleRNN, on the four
//! workloads of ../shared/bench/workloads.json.
//!
//! ```sh
//! cargo bench --bench recurrent                      # everything
//! cargo bench --bench recurrent -- 'simple_rnn/f32'  # one group
//! ```
//!
//! Modes match ../shared/bench/pytorch_rnn.py: `forward` is `model(x)` without a graph;
//! `fwd_bwd` clears the gradients, runs a training forward pass and backpropagates
//! dL/doutput = 1 (the gradient of `out.sum()`).

mod workloads;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array3, ArrayD};
use recurrent::prelude::*;
use recurrent::rand::Rng;
use recurrent::Float;
use workloads::{Workload, WORKLOADS};

fn setup<F: Float>(w: &Workload) -> (SimpleRnn<F>, Array3<F>, ArrayD<F>) {
    let mut rng = StdRng::seed_from_u64(0);
    let rnn = SimpleRnnConfig::new(w.i, w.h)
        .with_return_sequences(true)
        .init::<F, _>(&mut rng)
        .expect("valid bench configuration");
    let x = Array3::from_shape_fn((w.b, w.t, w.i), |_| F::of(rng.random::<f64>() * 2.0 - 1.0));
    let ones = ArrayD::from_elem(vec![w.b, w.t, w.h], F::one());
    (rnn, x, ones)
}

/// Useful GEMM FLOPs of one forward pass, as the reference scripts count them.
fn forward_flops(w: &Workload) -> u64 {
    (2 * w.b * w.t * w.h * (w.i + w.h)) as u64
}

fn bench_dtype<F: Float>(c: &mut Criterion, dtype: &str) {
    let mut group = c.benchmark_group(format!("simple_rnn/{dtype}"));
    for w in WORKLOADS.iter().filter(|w| dtype == "f32" || w.f64_too) {
        let (mut rnn, x, ones) = setup::<F>(w);
        let big = w.b * w.t * w.h * (w.i + w.h) > 10_000_000;
        group.sample_size(if big { 10 } else { 50 });
        group.measurement_time(Duration::from_secs(if big { 8 } else { 4 }));
        group.warm_up_time(Duration::from_secs(1));

        group.throughput(Throughput::Elements(forward_flops(w)));
        group.bench_with_input(BenchmarkId::new("forward", w.name), &x, |bch, x| {
            bch.iter(|| black_box(rnn.forward(black_box(x.view().into_dyn()), Mode::Infer).expect("forward")))
        });
        group.throughput(Throughput::Elements(3 * forward_flops(w)));
        group.bench_with_input(BenchmarkId::new("fwd_bwd", w.name), &x, |bch, x| {
            bch.iter(|| {
                rnn.zero_grad();
                rnn.forward(black_box(x.view().into_dyn()), Mode::Train).expect("forward");
                black_box(rnn.backward(ones.view()).expect("backward"))
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_dtype::<f32>(c, "f32");
    bench_dtype::<f64>(c, "f64");
}

criterion_group!(recurrent_benches, benches);
criterion_main!(recurrent_benches);
