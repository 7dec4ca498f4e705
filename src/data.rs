//! Data helpers: turning a series into supervised (window, next value) pairs.

use ndarray::{Array2, Array3};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::check_finite;

/// Cuts a series into sliding windows of `size` past values, each paired with the value
/// that follows it — the lecture's table:
///
/// ```text
/// X[k, j, 0] = series[k + j]      k = 0 … N − size − 1,  j = 0 … size − 1
/// y[k, 0]    = series[k + size]
/// ```
///
/// # Shapes
/// `series` of length `N` → `X` `(N − size, size, 1)` and `y` `(N − size, 1)`.
///
/// # Errors
/// [`Error::InvalidConfig`] if `size` is 0 or the series has no more than `size` values
/// (no window would have a target); [`Error::NonFinite`] if the series holds NaN or an
/// infinity.
///
/// # Example
/// ```
/// let series = [1.0_f64, 2.0, 3.0, 4.0, 5.0];
/// let (x, y) = recurrent::data::windows(&series, 3)?;
/// assert_eq!(x.shape(), &[2, 3, 1]);
/// assert_eq!(x[[1, 0, 0]], 2.0);
/// assert_eq!(y[[1, 0]], 5.0);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub fn windows<F: Float>(series: &[F], size: usize) -> Result<(Array3<F>, Array2<F>)> {
    if size == 0 {
        return Err(Error::config("window size", "at least 1", 0));
    }
    if series.len() <= size {
        return Err(Error::config(
            "series length",
            format!("more than the window size {size} (one window plus its target)"),
            series.len(),
        ));
    }
    check_finite("series", &ndarray::ArrayView1::from(series))?;
    let n = series.len() - size;
    let x = Array3::from_shape_fn((n, size, 1), |(k, j, _)| series[k + j]);
    let y = Array2::from_shape_fn((n, 1), |(k, _)| series[k + size]);
    Ok((x, y))
}
