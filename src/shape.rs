//! Shape and value checks shared by the layers, losses and models.
//!
//! `ndarray`'s products panic on mismatched shapes, so every public entry point runs its
//! arguments through these helpers first and turns a bad shape into an [`Error`].

use std::fmt::Display;

use ndarray::{ArrayBase, Data, Dimension};

use crate::error::{Error, Result};
use crate::float::Float;

/// Formats a shape as `(2, 5, 1)`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    let inner: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if inner.len() == 1 {
        format!("({},)", inner[0])
    } else {
        format!("({})", inner.join(", "))
    }
}

/// Formats a row-major multi-index as `[0, 3, 1]`.
pub(crate) fn fmt_index(shape: &[usize], flat: usize) -> String {
    let mut idx = vec![0; shape.len()];
    let mut rest = flat;
    for (slot, &dim) in idx.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *slot = rest % dim;
            rest /= dim;
        }
    }
    let inner: Vec<String> = idx.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

/// Errs with [`Error::NonFinite`] naming the first NaN or infinity in `a`.
pub(crate) fn check_finite<F, S, D>(what: impl Display, a: &ArrayBase<S, D>) -> Result<()>
where
    F: Float,
    S: Data<Elem = F>,
    D: Dimension,
{
    // The common case, all finite, as one vectorisable pass over contiguous memory.
    if let Some(s) = a.as_slice_memory_order() {
        if s.iter().fold(true, |ok, v| ok & v.is_finite()) {
            return Ok(());
        }
    }
    if let Some((flat, v)) = a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: what.to_string(),
            index: fmt_index(a.shape(), flat),
            value: v.to_string(),
        });
    }
    Ok(())
}

/// Errs unless every element of `a` lies in `[lo, hi]` (NaN fails too).
pub(crate) fn check_range<F, S, D>(what: impl Display, a: &ArrayBase<S, D>, lo: F, hi: F) -> Result<()>
where
    F: Float,
    S: Data<Elem = F>,
    D: Dimension,
{
    if let Some((flat, v)) = a.iter().enumerate().find(|(_, v)| !(**v >= lo && **v <= hi)) {
        return Err(Error::OutOfRange {
            what: what.to_string(),
            expected: format!("values in [{lo}, {hi}]"),
            got: v.to_string(),
            index: fmt_index(a.shape(), flat),
        });
    }
    Ok(())
}

/// Errs unless `shape` has no zero-length axis; `names` labels the axes in the message.
pub(crate) fn check_nonempty(what: impl Display, shape: &[usize], names: &[&str]) -> Result<()> {
    for (axis, &d) in shape.iter().enumerate() {
        if d == 0 {
            let name = names.get(axis).copied().unwrap_or("every axis");
            return Err(Error::Empty { what: what.to_string(), axis: name.to_string(), shape: fmt_shape(shape) });
        }
    }
    Ok(())
}

/// Errs unless `shape` equals `expected` exactly.
pub(crate) fn check_same(what: impl Display, expected: &[usize], shape: &[usize]) -> Result<()> {
    if expected != shape {
        return Err(Error::shape(what.to_string(), fmt_shape(expected), fmt_shape(shape)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_row_major() {
        assert_eq!(fmt_index(&[2, 3, 4], 0), "[0, 0, 0]");
        assert_eq!(fmt_index(&[2, 3, 4], 12 + 2 * 4 + 3), "[1, 2, 3]");
        assert_eq!(fmt_shape(&[7]), "(7,)");
        assert_eq!(fmt_shape(&[2, 5, 1]), "(2, 5, 1)");
    }
}
