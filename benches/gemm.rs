//! The crate's product engine against the well-kept Rust ones, single-threaded, on the shapes
//! the recurrent layers multiply (workloads of benches/workloads.rs, LSTM's G = 4):
//!
//! ```text
//! proj   (T·B, I)·(I, G·H)          the input projection of all steps as one product (the layers now
//!                                   project per step, (B, I)·(I, G·H) with W_x packed; this shape
//!                                   stays as the engines' large-shape reference)
//! step   (B, H)·(H, G·H)            the per-step recurrent product (B packed once per pass)
//! dx     (T·B, G·H)·(G·H, I)        dL/dXs = dGX W_xᵀ (B read transposed)
//! dw     (I, T·B)·(T·B, G·H)        dL/dW_x = Xsᵀ dGX (A read transposed)
//! ```
//!
//! Engines: `recurrent` (this crate: `gemm` for the one-off products, the packed product for
//! `step`, as the layers call them), the `gemm` crate 0.19 (runtime dispatch, x86-v4 kernels
//! where the CPU has AVX-512) and `matrixmultiply` 0.3 (ndarray's). The throughput criterion
//! prints is GFLOP/s as 2·m·k·n. Group names: `gemm/<dtype>/<kind>_<m>x<k>x<n>`, one benchmark
//! per engine.
//!
//! ```sh
//! cargo bench --bench gemm                        # everything (a few minutes)
//! cargo bench --bench gemm -- 'gemm/f32/step'     # the per-step shapes in f32
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use recurrent::Float;

/// One product: kind, m, k, n; `a_t`/`b_t` when the layer reads that operand transposed.
struct Shape {
    kind: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
}

const fn shape(kind: &'static str, m: usize, k: usize, n: usize) -> Shape {
    let (a_t, b_t) = match kind.as_bytes()[1] {
        b'x' => (false, true), // dx
        b'w' => (true, false), // dw
        _ => (false, false),
    };
    Shape { kind, m, k, n, a_t, b_t }
}

/// LSTM (G = 4) on the small (32, 50, 16, 64), medium (64, 100, 128, 256) and large
/// (64, 100, 512, 512) workloads, and the (64, 128)·(128, 512) step of H = 128.
const SHAPES: [Shape; 13] = [
    shape("step", 32, 64, 256),
    shape("step", 64, 128, 512),
    shape("step", 64, 256, 1024),
    shape("step", 64, 512, 2048),
    shape("proj", 1600, 16, 256),
    shape("proj", 6400, 128, 1024),
    shape("proj", 6400, 512, 2048),
    shape("dx", 1600, 256, 16),
    shape("dx", 6400, 1024, 128),
    shape("dx", 6400, 2048, 512),
    shape("dw", 16, 1600, 256),
    shape("dw", 128, 6400, 1024),
    shape("dw", 512, 6400, 2048),
];

/// What each foreign engine needs per element type.
trait Peer: Float {
    /// `c = a·b` through the `gemm` crate, strides in elements.
    #[allow(clippy::too_many_arguments)]
    fn gemm_crate(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        ars: isize,
        acs: isize,
        b: &[Self],
        brs: isize,
        bcs: isize,
        c: &mut [Self],
    );
    /// `c = a·b` through matrixmultiply.
    #[allow(clippy::too_many_arguments)]
    fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        ars: isize,
        acs: isize,
        b: &[Self],
        brs: isize,
        bcs: isize,
        c: &mut [Self],
    );
}

macro_rules! peer {
    ($t:ty, $mm:ident) => {
        impl Peer for $t {
            fn gemm_crate(
                m: usize,
                k: usize,
                n: usize,
                a: &[$t],
                ars: isize,
                acs: isize,
                b: &[$t],
                brs: isize,
                bcs: isize,
                c: &mut [$t],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                // SAFETY: the strides address m×k, k×n and m×n elements inside the slices.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        a.as_ptr(),
                        acs,
                        ars,
                        b.as_ptr(),
                        bcs,
                        brs,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }

            fn mm(
                m: usize,
                k: usize,
                n: usize,
                a: &[$t],
                ars: isize,
                acs: isize,
                b: &[$t],
                brs: isize,
                bcs: isize,
                c: &mut [$t],
            ) {
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
                // SAFETY: as above.
                unsafe {
                    matrixmultiply::$mm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        ars,
                        acs,
                        b.as_ptr(),
                        brs,
                        bcs,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}
peer!(f32, sgemm);
peer!(f64, dgemm);

fn bench_dtype<F: Peer>(c: &mut Criterion, dtype: &str) {
    eprintln!("recurrent's kernel for {dtype}: {}", recurrent::__bench::kernel_name::<F>());
    for s in &SHAPES {
        let (m, k, n) = (s.m, s.k, s.n);
        let a: Vec<F> = (0..m * k).map(|i| F::of(((i * 37) % 101) as f64 / 101.0 - 0.5)).collect();
        let b: Vec<F> = (0..k * n).map(|i| F::of(((i * 53) % 97) as f64 / 97.0 - 0.5)).collect();
        let mut out = vec![F::zero(); m * n];
        // Strides of the operands as the layer stores them.
        let (ars, acs) = if s.a_t { (1, m as isize) } else { (k as isize, 1) };
        let (brs, bcs) = if s.b_t { (1, k as isize) } else { (n as isize, 1) };
        let flops = 2 * m * k * n;
        let mut group = c.benchmark_group(format!("gemm/{dtype}/{}_{m}x{k}x{n}", s.kind));
        group.throughput(Throughput::Elements(flops as u64));
        let big = flops > 1 << 30;
        group.sample_size(if big { 10 } else { 30 });
        group.measurement_time(Duration::from_secs(if big { 4 } else { 2 }));
        group.warm_up_time(Duration::from_millis(500));
        if s.kind == "step" {
            let packed = recurrent::__bench::Packed::new(&b, k, n).expect("sizes");
            group.bench_function("recurrent", |bch| {
                bch.iter(|| packed.product(black_box(&a), &mut out, m).expect("sizes"))
            });
        } else {
            group.bench_function("recurrent", |bch| {
                bch.iter(|| {
                    recurrent::__bench::gemm(black_box(&a), s.a_t, &b, s.b_t, &mut out, m, k, n).expect("sizes")
                })
            });
        }
        group.bench_function("gemm", |bch| {
            bch.iter(|| F::gemm_crate(m, k, n, black_box(&a), ars, acs, &b, brs, bcs, &mut out))
        });
        group.bench_function("matrixmultiply", |bch| {
            bch.iter(|| F::mm(m, k, n, black_box(&a), ars, acs, &b, brs, bcs, &mut out))
        });
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_dtype::<f32>(c, "f32");
    bench_dtype::<f64>(c, "f64");
}

criterion_group!(gemm_benches, benches);
criterion_main!(gemm_benches);
