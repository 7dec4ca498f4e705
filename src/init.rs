//! Weight initialisers, as Keras defines them. All draw from a caller-supplied RNG, so a
//! seeded RNG gives the same weights on every run and every machine.
//!
//! ```text
//! glorot_uniform  W ~ U[−l, l],  l = sqrt(6 / (fan_in + fan_out))      (kernels)
//! orthogonal      W = Q · diag(sign(diag R)),  QR of a standard-normal matrix
//!                 (recurrent kernels; for a wide matrix the rows are orthonormal)
//! zeros           biases
//! ```

use std::fmt::Display;

use ndarray::Array2;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::limits;
use crate::linalg::qr::Householder;

/// An array of `shape` from row-major data the initialiser built itself.
fn array<F>(what: &dyn Display, rows: usize, cols: usize, data: Vec<F>) -> Result<Array2<F>> {
    Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| Error::shape(what.to_string(), format!("({rows}, {cols})"), e.to_string()))
}

/// Glorot (Xavier) uniform initialisation of a `(fan_in, fan_out)` matrix.
///
/// # Errors
/// [`Error::TooLarge`] if `fan_in · fan_out` overflows or is over [`limits::MAX_ELEMENTS`];
/// [`Error::OutOfMemory`] if the matrix cannot be allocated. Nothing is drawn from `rng` then.
pub fn glorot_uniform<F: Float, R: Rng + ?Sized>(rng: &mut R, fan_in: usize, fan_out: usize) -> Result<Array2<F>> {
    glorot_uniform_named(rng, fan_in, fan_out, &format_args!("glorot_uniform matrix ({fan_in}, {fan_out})"))
}

/// [`glorot_uniform`], with errors naming `what` (the parameter being drawn).
pub(crate) fn glorot_uniform_named<F: Float, R: Rng + ?Sized>(
    rng: &mut R,
    fan_in: usize,
    fan_out: usize,
    what: &dyn Display,
) -> Result<Array2<F>> {
    let count = limits::mul(what, fan_in, fan_out)?;
    let mut data = limits::try_with_capacity(count, what)?;
    let limit = (6.0 / fan_in.saturating_add(fan_out).max(1) as f64).sqrt();
    // U[0, 1) mapped onto [−l, l), row-major.
    data.extend((0..count).map(|_| F::of((2.0 * rng.random::<f64>() - 1.0) * limit)));
    array(what, fan_in, fan_out, data)
}

/// Rows of the standard-normal matrix drawn at a time before being transposed into place.
const DRAW_TILE: usize = 64;

/// Orthogonal initialisation of a `(rows, cols)` matrix (Keras's `Orthogonal(gain=1)`).
///
/// A standard-normal matrix of the taller orientation, `(max, min)`, is drawn row by row and
/// factored as `Q R`; `Q` is made unique by flipping column signs so `diag(R)` is positive,
/// and transposed back when the requested matrix is wide. The result has orthonormal columns
/// (tall or square) or orthonormal rows (wide).
///
/// The factorisation is a blocked Householder QR (about `8/3 · n³` flops for `n × n`, nearly
/// all in matrix products), computed in `f64` whatever `F` is, so one seed gives the same
/// matrix in `f32` and `f64` up to the final rounding.
///
/// # Errors
/// [`Error::TooLarge`] if `rows · cols` overflows or is over [`limits::MAX_ELEMENTS`];
/// [`Error::OutOfMemory`] if the matrix or the factorisation's working memory (about
/// `rows · cols` `f64` besides the result) cannot be allocated. Nothing is drawn from `rng`
/// then.
pub fn orthogonal<F: Float, R: Rng + ?Sized>(rng: &mut R, rows: usize, cols: usize) -> Result<Array2<F>> {
    orthogonal_named(rng, rows, cols, &format_args!("orthogonal matrix ({rows}, {cols})"))
}

/// [`orthogonal`], with errors naming `what` (the parameter being drawn).
pub(crate) fn orthogonal_named<F: Float, R: Rng + ?Sized>(
    rng: &mut R,
    rows: usize,
    cols: usize,
    what: &dyn Display,
) -> Result<Array2<F>> {
    let (n, m) = if rows >= cols { (rows, cols) } else { (cols, rows) };
    let count = limits::mul(what, n, m)?;
    // V = Aᵀ (m, n), A the tall (n, m) standard-normal matrix Keras factors: its columns are
    // the rows of V, which the factorisation streams.
    let mut v = limits::try_vec(count, 0.0f64, format_args!("{what} working copy"))?;
    let mut out = limits::try_with_capacity::<F>(count, what)?;
    let mut tile = limits::try_vec(DRAW_TILE.min(n) * m, 0.0f64, format_args!("{what} draws"))?;
    let mut qr = Householder::new(m, n, what)?;
    // A is drawn row-major, as before: a tile of rows at a time, then transposed into V.
    for r0 in (0..n).step_by(DRAW_TILE) {
        let rn = DRAW_TILE.min(n - r0);
        let tile = &mut tile[..rn * m];
        tile.iter_mut().for_each(|x| *x = StandardNormal.sample(rng));
        for (c, vrow) in v.chunks_exact_mut(n).enumerate() {
            for (dst, r) in vrow[r0..r0 + rn].iter_mut().zip(0..rn) {
                *dst = tile[r * m + c];
            }
        }
    }
    qr.orthonormalize_rows(&mut v)?;
    // v holds Qᵀ (m, n): the wide result directly, or transposed for a tall one; row-major
    // either way, as the layers read weights as contiguous rows.
    if rows < cols {
        out.extend(v.iter().map(|&x| F::of(x)));
    } else {
        out.resize(count, F::zero());
        // In square tiles, so both sides stay in cache.
        for r0 in (0..n).step_by(DRAW_TILE) {
            for c0 in (0..m).step_by(DRAW_TILE) {
                for c in c0..(c0 + DRAW_TILE).min(m) {
                    for r in r0..(r0 + DRAW_TILE).min(n) {
                        out[r * m + c] = F::of(v[c * n + r]);
                    }
                }
            }
        }
    }
    array(what, rows, cols, out)
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
            let q: Array2<f64> = orthogonal(&mut rng, r, c).unwrap();
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
        let w: Array2<f32> = glorot_uniform(&mut rng, 4, 8).unwrap();
        let l = (6.0f32 / 12.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= l));
        assert!(w.iter().any(|v| v.abs() > l / 2.0));
    }
}
