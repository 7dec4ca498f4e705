//! The orthogonal initialiser against the algorithm it replaced: the same standard-normal
//! draws, factored by modified Gram–Schmidt with re-orthogonalisation (kept here as the
//! reference), give the same matrix to rounding, on tall, wide and square shapes on both
//! sides of the QR's block width (64).

use ndarray::Array2;
use ndarray_rand::rand_distr::{Distribution, StandardNormal};
use recurrent::prelude::*;
use recurrent::rand::Rng;

/// The initialiser as it was: draw the tall (n, m) matrix row-major, orthonormalise its
/// columns in order (Gram–Schmidt twice), transpose back for a wide result.
fn reference<R: Rng>(rng: &mut R, rows: usize, cols: usize) -> Array2<f64> {
    let (n, m) = if rows >= cols { (rows, cols) } else { (cols, rows) };
    let draws = Array2::<f64>::from_shape_fn((n, m), |_| StandardNormal.sample(rng));
    let mut v = draws.t().as_standard_layout().into_owned();
    for j in 0..m {
        let (done, rest) = v.view_mut().split_at(ndarray::Axis(0), j);
        let mut vj = rest.index_axis_move(ndarray::Axis(0), 0);
        for _ in 0..2 {
            for p in done.outer_iter() {
                let dot = p.dot(&vj);
                vj.scaled_add(-dot, &p);
            }
        }
        let norm = vj.dot(&vj).sqrt();
        vj.mapv_inplace(|x| x / norm);
    }
    let q = if rows >= cols { v.reversed_axes() } else { v };
    q.as_standard_layout().into_owned()
}

const SHAPES: [(usize, usize); 12] =
    [(1, 1), (1, 7), (7, 1), (5, 5), (3, 12), (12, 3), (16, 64), (64, 64), (65, 65), (100, 37), (37, 100), (150, 150)];

#[test]
fn orthogonal_matches_gram_schmidt_on_the_same_draws() {
    for (seed, &(rows, cols)) in SHAPES.iter().enumerate() {
        let mut a = StdRng::seed_from_u64(seed as u64);
        let mut b = StdRng::seed_from_u64(seed as u64);
        let want = reference(&mut a, rows, cols);
        let got: Array2<f64> = recurrent::init::orthogonal(&mut b, rows, cols).unwrap();
        assert_eq!(got.shape(), &[rows, cols]);
        assert!(got.is_standard_layout(), "({rows}, {cols}) must come back row-major");
        for ((i, j), &g) in got.indexed_iter() {
            let w = want[[i, j]];
            assert!((g - w).abs() < 1e-12, "({rows}, {cols}) at [{i}, {j}]: {g} vs {w}");
        }
        // The same number of draws: both generators are at the same place afterwards.
        assert_eq!(a.random::<u64>(), b.random::<u64>(), "({rows}, {cols}) drew a different amount");
    }
}

#[test]
fn orthogonal_is_orthonormal_and_f32_is_the_rounded_f64() {
    for &(rows, cols) in &[(70, 200), (200, 70), (129, 129)] {
        let q: Array2<f64> = recurrent::init::orthogonal(&mut StdRng::seed_from_u64(3), rows, cols).unwrap();
        // Orthonormal columns (tall, square) or rows (wide).
        let g = if rows >= cols { q.t().dot(&q) } else { q.dot(&q.t()) };
        for ((i, j), &v) in g.indexed_iter() {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-12, "({rows}, {cols}) gram[{i}, {j}] = {v}");
        }
        // Computed in f64 either way, so f32 is exactly the rounded f64 matrix.
        let q32: Array2<f32> = recurrent::init::orthogonal(&mut StdRng::seed_from_u64(3), rows, cols).unwrap();
        assert_eq!(q32, q.mapv(|v| v as f32), "({rows}, {cols})");
    }
}

#[test]
fn layers_use_the_same_recurrent_kernel_as_before() {
    // A SimpleRNN draws its kernel (Glorot) first, then the recurrent kernel.
    let mut rng = StdRng::seed_from_u64(11);
    let rnn = SimpleRnnConfig::new(3, 70).init::<f64, _>(&mut rng).unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let _kernel: Array2<f64> = recurrent::init::glorot_uniform(&mut rng, 3, 70).unwrap();
    let want = reference(&mut rng, 70, 70);
    let got = &rnn.weights().recurrent_kernel;
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-12, "largest difference {worst}");
}

#[test]
fn empty_shapes_give_empty_matrices() {
    for &(rows, cols) in &[(0, 0), (0, 5), (5, 0)] {
        let mut rng = StdRng::seed_from_u64(1);
        let q: Array2<f32> = recurrent::init::orthogonal(&mut rng, rows, cols).unwrap();
        assert_eq!(q.shape(), &[rows, cols]);
        let g: Array2<f32> = recurrent::init::glorot_uniform(&mut rng, rows, cols).unwrap();
        assert_eq!(g.shape(), &[rows, cols]);
        // Nothing to draw, nothing drawn.
        assert_eq!(rng.random::<u64>(), StdRng::seed_from_u64(1).random::<u64>());
    }
}
