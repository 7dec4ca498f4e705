//! Every matrix product of the crate goes through this module, so the engine behind them
//! can change in one place.
//!
//! All operands are contiguous row-major slices with their dimensions, and a transpose flag
//! says how a stored matrix is read:
//! * [`gemm`] for the large products outside the time loop (the input projection of all
//!   steps, the weight gradients gathered over all steps, dL/dx). Today it runs on
//!   `ndarray`'s `general_mat_mul` (the `matrixmultiply` kernels), which may allocate packing
//!   buffers: it is never called inside the step loop.
//! * [`step_gemm`] for the per-step recurrent products. It never allocates, which keeps the
//!   step loop allocation-free.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

use crate::error::{Error, Result};
use crate::float::Float;

/// How a stored operand is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// As stored: an (r×c) operand is stored as r rows of c.
    N,
    /// Transposed: an (r×c) operand is stored as c rows of r.
    T,
}

fn view<F: Float>(data: &[F], rows: usize, cols: usize, op: Op) -> Result<ArrayView2<'_, F>> {
    let (sr, sc) = match op {
        Op::N => (rows, cols),
        Op::T => (cols, rows),
    };
    let v = ArrayView2::from_shape((sr, sc), data.get(..sr * sc).unwrap_or(&[]))
        .map_err(|e| Error::shape("internal matrix operand", format!("{sr}x{sc}"), e.to_string()))?;
    Ok(match op {
        Op::N => v,
        Op::T => v.reversed_axes(),
    })
}

/// `c (m×n) = alpha · op(a) (m×k) · op(b) (k×n) + beta · c`.
///
/// The callers size every buffer; an `Err` here means a bug in the crate, not bad input.
#[allow(clippy::too_many_arguments)] // the BLAS signature: dimensions, scalars, operands
pub(crate) fn gemm<F: Float>(
    m: usize,
    n: usize,
    k: usize,
    alpha: F,
    a: &[F],
    op_a: Op,
    b: &[F],
    op_b: Op,
    beta: F,
    c: &mut [F],
) -> Result<()> {
    let c_len = c.len();
    let mut cv = ArrayViewMut2::from_shape((m, n), c.get_mut(..m * n).unwrap_or(&mut []))
        .map_err(|e| Error::shape("internal matrix result", format!("{m}x{n} of {c_len}"), e.to_string()))?;
    if k == 0 {
        // An empty inner dimension: the product is zero.
        cv.map_inplace(|v| *v = if beta == F::zero() { F::zero() } else { *v * beta });
        return Ok(());
    }
    let av = view(a, m, k, op_a)?;
    let bv = view(b, k, n, op_b)?;
    general_mat_mul(alpha, &av, &bv, beta, &mut cv);
    Ok(())
}

/// `c (m×n) += a (m×k) · b (k×n)`, or `c = a · b` when `accumulate` is false; contiguous
/// row-major slices. Allocation-free.
#[inline]
pub(crate) fn step_gemm<F: Float>(m: usize, k: usize, n: usize, a: &[F], b: &[F], c: &mut [F], accumulate: bool) {
    for (arow, crow) in a.chunks_exact(k.max(1)).zip(c.chunks_exact_mut(n.max(1))).take(m) {
        if !accumulate {
            crow.iter_mut().for_each(|v| *v = F::zero());
        }
        if k == 0 {
            continue;
        }
        for (&aik, brow) in arow.iter().zip(b.chunks_exact(n.max(1))) {
            for (cv, &bv) in crow.iter_mut().zip(brow) {
                *cv += aik * bv;
            }
        }
    }
}

/// Adds the column sums of `a` (rows of width `n`) to `out` (length `n`).
#[inline]
pub(crate) fn add_column_sums<F: Float>(a: &[F], n: usize, out: &mut [F]) {
    if n == 0 {
        return;
    }
    for row in a.chunks_exact(n) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn products_match_ndarray() {
        let a = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64 * 0.25 - 1.0);
        let b = Array2::from_shape_fn((4, 5), |(i, j)| (i as f64 - j as f64) * 0.5);
        let want = a.dot(&b);
        let (sa, sb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        let mut c = vec![1.0; 15];
        step_gemm(3, 4, 5, sa, sb, &mut c, false);
        assert_eq!(c, want.as_slice().unwrap());
        step_gemm(3, 4, 5, sa, sb, &mut c, true);
        assert_eq!(c, (&want * 2.0).as_slice().unwrap());

        let bt = b.t().as_standard_layout().into_owned();
        let at = a.t().as_standard_layout().into_owned();
        let mut c3 = vec![0.0; 15];
        gemm(3, 5, 4, 1.0, at.as_slice().unwrap(), Op::T, bt.as_slice().unwrap(), Op::T, 0.0, &mut c3).unwrap();
        assert_eq!(c3, want.as_slice().unwrap());
    }
}
