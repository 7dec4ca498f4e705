//! Building blocks for cells and layers written outside the crate: the crate's matrix product
//! on `ndarray` views. (Activations over row-major slices are [`crate::Activation`]'s
//! `apply_rows`, `apply_rows_into` and `backward_rows_inplace`.)

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::{gemm, Mat, MatMut};
use crate::shape::fmt_shape;

/// `c = a · b`, or `c += a · b` when `accumulate` is set, through the crate's blocked product
/// (the one the layers use). Operands may be transposed views (`a.t()`); other strided views
/// are copied first.
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `a` is `(m, k)`, `b` `(k, n)` and `c` `(m, n)`.
///
/// # Example
/// ```
/// use ndarray::{array, Array2};
/// let a = array![[1.0, 2.0], [3.0, 4.0]];
/// let b = array![[1.0, 0.0], [0.0, 2.0]];
/// let mut c = Array2::zeros((2, 2));
/// recurrent::ops::matmul(a.view(), b.t(), c.view_mut(), false)?;
/// assert_eq!(c, array![[1.0, 4.0], [3.0, 8.0]]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn matmul<F: Float>(
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    mut c: ArrayViewMut2<'_, F>,
    accumulate: bool,
) -> Result<()> {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2 || c.dim() != (m, n) {
        return Err(Error::shape(
            "matmul operands",
            format!("a (m, k), b (k, n), c (m, n); with a {} that is b ({k}, n), c ({m}, n)", fmt_shape(a.shape())),
            format!("b {}, c {}", fmt_shape(b.shape()), fmt_shape(c.shape())),
        ));
    }
    let (a_own, b_own);
    let a = match operand(a) {
        Some(mat) => mat,
        None => {
            a_own = a.as_standard_layout().into_owned();
            operand(a_own.view()).ok_or_else(|| Error::shape("matmul a", "a row-major copy", "strided"))?
        }
    };
    let b = match operand(b) {
        Some(mat) => mat,
        None => {
            b_own = b.as_standard_layout().into_owned();
            operand(b_own.view()).ok_or_else(|| Error::shape("matmul b", "a row-major copy", "strided"))?
        }
    };
    match c.as_slice_mut() {
        Some(out) => gemm(a, b, MatMut::new(out, m, n), accumulate),
        None => {
            let mut tmp = if accumulate { c.as_standard_layout().into_owned() } else { ndarray::Array2::zeros((m, n)) };
            let out = tmp.as_slice_mut().ok_or_else(|| Error::shape("matmul c", "a row-major copy", "strided"))?;
            gemm(a, b, MatMut::new(out, m, n), accumulate)?;
            c.assign(&tmp);
            Ok(())
        }
    }
}

/// The view as the engine reads it: row-major, or a transposed row-major block.
fn operand<'a, F: Float>(v: ArrayView2<'a, F>) -> Option<Mat<'a, F>> {
    let (r, c) = v.dim();
    if let Some(s) = v.to_slice() {
        return Some(Mat::new(s, r, c));
    }
    v.reversed_axes().to_slice().map(|s| Mat::new(s, c, r).t())
}
