//! Every matrix product of the crate goes through this module, so the engine behind them
//! can change in one place.
//!
//! Operands are [`Mat`]/[`MatMut`] descriptors over row-major slices: a stored `rows × cols`
//! block whose rows are `ld` elements apart (so a column block of a wider matrix needs no
//! copy), read as stored or transposed ([`Mat::t`]).
//! * [`gemm`] for the large products outside the time loop (the input projection of all
//!   steps, the weight gradients gathered over all steps, dL/dx). Today it runs on
//!   `ndarray`'s `general_mat_mul` (the `matrixmultiply` kernels), which may allocate packing
//!   buffers: it is never called inside the step loop.
//! * [`step_gemm`] for the per-step recurrent products. It never allocates, which keeps the
//!   step loop allocation-free.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::error::{Error, Result};
use crate::float::Float;

/// A read-only matrix operand: `rows × cols` stored row-major with row stride `ld`, read
/// transposed when `trans` is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a, F> {
    data: &'a [F],
    rows: usize,
    cols: usize,
    ld: usize,
    trans: bool,
}

impl<'a, F: Float> Mat<'a, F> {
    /// A contiguous `rows × cols` matrix.
    pub(crate) fn new(data: &'a [F], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, ld: cols, trans: false }
    }

    /// A `rows × cols` matrix whose rows start `ld` elements apart.
    pub(crate) fn strided(data: &'a [F], rows: usize, cols: usize, ld: usize) -> Self {
        Mat { data, rows, cols, ld, trans: false }
    }

    /// The transpose (no copy).
    pub(crate) fn t(self) -> Self {
        Mat { trans: !self.trans, ..self }
    }

    /// Rows and columns as read (after any transpose).
    fn dims(&self) -> (usize, usize) {
        if self.trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    fn needed(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.ld + self.cols
        }
    }

    fn view(&self) -> Result<ArrayView2<'a, F>> {
        let data = self.data.get(..self.needed()).unwrap_or(&[]);
        let v = ArrayView2::from_shape((self.rows, self.cols).strides((self.ld, 1)), data).map_err(|e| {
            Error::shape(
                "internal matrix operand",
                format!("{}x{} (ld {})", self.rows, self.cols, self.ld),
                e.to_string(),
            )
        })?;
        Ok(if self.trans { v.reversed_axes() } else { v })
    }
}

/// A mutable matrix result: `rows × cols` stored row-major with row stride `ld`.
#[derive(Debug)]
pub(crate) struct MatMut<'a, F> {
    data: &'a mut [F],
    rows: usize,
    cols: usize,
    ld: usize,
}

impl<'a, F: Float> MatMut<'a, F> {
    /// A contiguous `rows × cols` matrix.
    pub(crate) fn new(data: &'a mut [F], rows: usize, cols: usize) -> Self {
        MatMut { data, rows, cols, ld: cols }
    }

    /// A `rows × cols` matrix whose rows start `ld` elements apart.
    pub(crate) fn strided(data: &'a mut [F], rows: usize, cols: usize, ld: usize) -> Self {
        MatMut { data, rows, cols, ld }
    }
}

/// `c = alpha · a · b + beta · c`.
///
/// The callers size every buffer; an `Err` here means a bug in the crate, not bad input.
pub(crate) fn gemm<F: Float>(alpha: F, a: Mat<'_, F>, b: Mat<'_, F>, beta: F, c: MatMut<'_, F>) -> Result<()> {
    let ((m, k), (k2, n)) = (a.dims(), b.dims());
    if k != k2 || (c.rows, c.cols) != (m, n) {
        return Err(Error::shape(
            "internal matrix product",
            format!("({m}x{k})·({k}x{n}) into {m}x{n}"),
            format!("({m}x{k})·({k2}x{n}) into {}x{}", c.rows, c.cols),
        ));
    }
    let needed = if m == 0 || n == 0 { 0 } else { (m - 1) * c.ld + n };
    let data = match c.data.get_mut(..needed) {
        Some(d) => d,
        None => return Err(Error::shape("internal matrix result", format!("{needed} elements"), "fewer")),
    };
    let mut cv = ArrayViewMut2::from_shape((m, n).strides((c.ld, 1)), data)
        .map_err(|e| Error::shape("internal matrix result", format!("{m}x{n} (ld {})", c.ld), e.to_string()))?;
    if k == 0 {
        // An empty inner dimension: the product is zero.
        cv.map_inplace(|v| *v = if beta == F::zero() { F::zero() } else { *v * beta });
        return Ok(());
    }
    general_mat_mul(alpha, &a.view()?, &b.view()?, beta, &mut cv);
    Ok(())
}

/// `c += a · b`, or `c = a · b` when `accumulate` is false, for operands read as stored
/// (`a`, `b` not transposed). Allocation-free: this is the per-step kernel.
#[inline]
pub(crate) fn step_gemm<F: Float>(a: Mat<'_, F>, b: Mat<'_, F>, c: MatMut<'_, F>, accumulate: bool) {
    debug_assert!(!a.trans && !b.trans);
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // The callers size every buffer before the loop; a mismatch is a crate bug, and indexing
    // below turns it into a loud failure rather than a silently skipped product.
    assert!(
        a.cols == b.rows && c.rows == m && c.cols == n && a.data.len() >= a.needed() && b.data.len() >= b.needed(),
        "step_gemm operand sizes"
    );
    for i in 0..m {
        let crow = &mut c.data[i * c.ld..i * c.ld + n];
        if !accumulate {
            crow.iter_mut().for_each(|v| *v = F::zero());
        }
        let arow = &a.data[i * a.ld..i * a.ld + k];
        for (p, &aik) in arow.iter().enumerate() {
            let brow = &b.data[p * b.ld..p * b.ld + n];
            for (cv, &bv) in crow.iter_mut().zip(brow) {
                *cv += aik * bv;
            }
        }
    }
}

/// Adds the column sums of the `rows × n` block `a` (row stride `ld`) to `out` (length `n`).
#[inline]
pub(crate) fn add_column_sums<F: Float>(a: &[F], rows: usize, n: usize, ld: usize, out: &mut [F]) {
    for r in 0..rows {
        let row = &a[r * ld..r * ld + n];
        for (o, &v) in out[..n].iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    #[test]
    fn products_match_ndarray() {
        let a = Array2::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as f64 * 0.25 - 1.0);
        let b = Array2::from_shape_fn((4, 5), |(i, j)| (i as f64 - j as f64) * 0.5);
        let want = a.dot(&b);
        let (sa, sb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        let mut c = vec![1.0; 15];
        step_gemm(Mat::new(sa, 3, 4), Mat::new(sb, 4, 5), MatMut::new(&mut c, 3, 5), false);
        assert_eq!(c, want.as_slice().unwrap());
        step_gemm(Mat::new(sa, 3, 4), Mat::new(sb, 4, 5), MatMut::new(&mut c, 3, 5), true);
        assert_eq!(c, (&want * 2.0).as_slice().unwrap());

        let at = a.t().as_standard_layout().into_owned();
        let bt = b.t().as_standard_layout().into_owned();
        let mut c3 = vec![0.0; 15];
        let (sat, sbt) = (at.as_slice().unwrap(), bt.as_slice().unwrap());
        gemm(1.0, Mat::new(sat, 4, 3).t(), Mat::new(sbt, 5, 4).t(), 0.0, MatMut::new(&mut c3, 3, 5)).unwrap();
        assert_eq!(c3, want.as_slice().unwrap());
    }

    #[test]
    fn strided_blocks_match_ndarray() {
        // Columns 2..5 of a 4×7 matrix times columns 1..3 of a 3×6 one, into columns 1..3 of a 4×5.
        let a = Array2::from_shape_fn((4, 7), |(i, j)| (i * 7 + j) as f64 * 0.1 - 1.0);
        let b = Array2::from_shape_fn((3, 6), |(i, j)| (i as f64 - 2.0 * j as f64) * 0.3);
        let want = a.slice(s![.., 2..5]).dot(&b.slice(s![.., 1..3]));
        let (sa, sb) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        let mut c = [7.0; 20];
        step_gemm(
            Mat::strided(&sa[2..], 4, 3, 7),
            Mat::strided(&sb[1..], 3, 2, 6),
            MatMut::strided(&mut c[1..], 4, 2, 5),
            false,
        );
        let mut c2 = [7.0; 20];
        gemm(
            1.0,
            Mat::strided(&sa[2..], 4, 3, 7),
            Mat::strided(&sb[1..], 3, 2, 6),
            0.0,
            MatMut::strided(&mut c2[1..], 4, 2, 5),
        )
        .unwrap();
        for i in 0..4 {
            assert_eq!(c[i * 5], 7.0);
            assert_eq!(c2[i * 5], 7.0);
            for j in 0..2 {
                assert!((c[i * 5 + 1 + j] - want[[i, j]]).abs() < 1e-12);
                assert!((c2[i * 5 + 1 + j] - want[[i, j]]).abs() < 1e-12);
            }
        }
        let mut sums = vec![0.0; 3];
        add_column_sums(&sa[2..], 4, 3, 7, &mut sums);
        for (j, sum) in sums.iter().enumerate() {
            assert!((sum - a.column(2 + j).sum()).abs() < 1e-12);
        }
    }
}
