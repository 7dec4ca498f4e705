//! Weight initialisers, as Keras defines them. All draw from a caller-supplied RNG, so a
//! seeded RNG gives the same weights on every run and every machine.
//!
//! ```text
//! glorot_uniform  W ~ U[−l, l],  l = sqrt(6 / (fan_in + fan_out))      (kernels)
//! orthogonal      W = Q · diag(sign(diag R)),  QR of a standard-normal matrix
//!                 (recurrent kernels; for a wide matrix the rows are orthonormal)
//! zeros           biases
//! ```

use ndarray::Array2;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::{Distribution, StandardNormal};

use crate::float::Float;

/// Glorot (Xavier) uniform initialisation of a `(fan_in, fan_out)` matrix.
pub fn glorot_uniform<F: Float, R: Rng + ?Sized>(rng: &mut R, fan_in: usize, fan_out: usize) -> Array2<F> {
    let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    // U[0, 1) mapped onto [−l, l).
    Array2::from_shape_fn((fan_in, fan_out), |_| F::of((2.0 * rng.random::<f64>() - 1.0) * limit))
}

/// Orthogonal initialisation of a `(rows, cols)` matrix (Keras's `Orthogonal(gain=1)`).
///
/// A standard-normal matrix of the taller orientation is factored as `Q R`; `Q` is made
/// unique by flipping column signs so `diag(R)` is positive, and transposed back when the
/// requested matrix is wide. The result has orthonormal columns (tall or square) or
/// orthonormal rows (wide).
pub fn orthogonal<F: Float, R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize) -> Array2<F> {
    let (n, m) = if rows >= cols { (rows, cols) } else { (cols, rows) };
    // The m vectors of length n to orthonormalise, stored as contiguous rows of an (m, n)
    // array: the columns of the tall (n, m) standard-normal matrix Keras factors.
    let draws = Array2::<f64>::from_shape_fn((n, m), |_| StandardNormal.sample(rng));
    let mut v = draws.t().as_standard_layout().into_owned();
    // Modified Gram–Schmidt with one re-orthogonalisation pass: for these small,
    // well-conditioned random matrices it gives Q to machine precision, and the positive
    // diagonal of the implied R is exactly Keras's sign convention.
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
        if norm > 0.0 {
            vj.mapv_inplace(|x| x / norm);
        }
    }
    // v holds Qᵀ (m, n): the wide result directly, or transposed for a tall one.
    let q = if rows >= cols { v.reversed_axes() } else { v };
    // Row-major, whatever the orientation: the layers read weights as contiguous rows.
    q.mapv(F::of).as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_rand::rand::rngs::StdRng;
    use ndarray_rand::rand::SeedableRng;

    #[test]
    fn orthogonal_is_orthonormal() {
        let mut rng = StdRng::seed_from_u64(7);
        for &(r, c) in &[(5, 5), (3, 12), (12, 3), (1, 1)] {
            let q: Array2<f64> = orthogonal(&mut rng, r, c);
            assert!(q.is_standard_layout(), "({r},{c}) must come back row-major");
            let g = if r >= c { q.t().dot(&q) } else { q.dot(&q.t()) };
            let k = r.min(c);
            for i in 0..k {
                for j in 0..k {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((g[(i, j)] - want).abs() < 1e-12, "({r},{c}) gram[{i},{j}] = {}", g[(i, j)]);
                }
            }
        }
    }

    #[test]
    fn glorot_respects_limit() {
        let mut rng = StdRng::seed_from_u64(1);
        let w: Array2<f32> = glorot_uniform(&mut rng, 4, 8);
        let l = (6.0f32 / 12.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= l));
        assert!(w.iter().any(|v| v.abs() > l / 2.0));
    }
}
