//! Explicit size limits and fallible allocation.
//!
//! Every buffer whose size a caller chooses (through a config, a data helper, or the shape of
//! an input) is sized here: the element count is a checked product held to
//! [`MAX_ELEMENTS`], so an absurd size is [`Error::TooLarge`] before anything is allocated,
//! and the memory is reserved fallibly, so a size the system cannot hold is
//! [`Error::OutOfMemory`] instead of an abort.
//!
//! ```
//! use recurrent::prelude::*;
//! // A 2^20-unit SimpleRNN's recurrent kernel alone would be 2^40 elements (4 TiB of f32):
//! // refused before anything is drawn or allocated.
//! let err = SimpleRnnConfig::new(1, 1 << 20).init::<f32, _>(&mut StdRng::seed_from_u64(0)).unwrap_err();
//! assert!(matches!(err, Error::TooLarge { .. }), "{err}");
//! assert!(err.to_string().contains("SimpleRNN recurrent_kernel"), "{err}");
//! ```

use std::fmt::Display;

use ndarray::{Array, ArrayBase, ArrayView, CowArray, Data, Dimension, IntoDimension, ShapeBuilder};

use crate::error::{Error, Result};

/// The most elements any one array or buffer may hold: 2^36 (256 GiB of `f32`).
///
/// Larger requests are [`Error::TooLarge`]; smaller ones the system cannot hold are
/// [`Error::OutOfMemory`].
pub const MAX_ELEMENTS: usize = 1 << 36;

/// The element count of an array of shape `dims`, checked: the product must not overflow and
/// must be at most [`MAX_ELEMENTS`].
pub(crate) fn elements(what: impl Display, dims: &[usize]) -> Result<usize> {
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match n {
        Some(n) if n <= MAX_ELEMENTS => Ok(n),
        _ => {
            let factors: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            let got = match n {
                Some(n) => format!("{n} elements ({})", factors.join(" × ")),
                None => format!("{} elements (overflows usize)", factors.join(" × ")),
            };
            Err(Error::too_large(what.to_string(), format!("{MAX_ELEMENTS} elements"), got))
        }
    }
}

/// `a · b`, checked like [`elements`].
pub(crate) fn mul(what: impl Display, a: usize, b: usize) -> Result<usize> {
    elements(what, &[a, b])
}

/// Resizes `v` to `n` elements (new ones set to `value`), reserving fallibly.
///
/// Shrinking never allocates; growing past the capacity asks the allocator once and turns a
/// refusal into [`Error::OutOfMemory`] naming `what`. `v` is unchanged on error.
pub(crate) fn try_resize<T: Clone>(v: &mut Vec<T>, n: usize, value: T, what: impl Display) -> Result<()> {
    if n > v.capacity() {
        if n > MAX_ELEMENTS {
            return Err(Error::too_large(what.to_string(), format!("{MAX_ELEMENTS} elements"), n));
        }
        let extra = n - v.len();
        v.try_reserve_exact(extra).map_err(|_| Error::OutOfMemory {
            what: what.to_string(),
            bytes: n.saturating_mul(std::mem::size_of::<T>()),
        })?;
    }
    v.resize(n, value);
    Ok(())
}

/// Makes room for `n` elements in `v` in all (its length included), fallibly; a no-op when
/// the capacity is already there. `v` is unchanged on error.
pub(crate) fn try_reserve<T>(v: &mut Vec<T>, n: usize, what: impl Display) -> Result<()> {
    if n <= v.capacity() {
        return Ok(());
    }
    if n > MAX_ELEMENTS {
        return Err(Error::too_large(what.to_string(), format!("{MAX_ELEMENTS} elements"), n));
    }
    v.try_reserve_exact(n - v.len())
        .map_err(|_| Error::OutOfMemory { what: what.to_string(), bytes: n.saturating_mul(std::mem::size_of::<T>()) })
}

/// A vector of `n` copies of `value`, reserved fallibly (see [`try_resize`]).
pub(crate) fn try_vec<T: Clone>(n: usize, value: T, what: impl Display) -> Result<Vec<T>> {
    let mut v = Vec::new();
    try_resize(&mut v, n, value, what)?;
    Ok(v)
}

/// An empty vector with room for `n` elements, reserved fallibly.
pub(crate) fn try_with_capacity<T>(n: usize, what: impl Display) -> Result<Vec<T>> {
    if n > MAX_ELEMENTS {
        return Err(Error::too_large(what.to_string(), format!("{MAX_ELEMENTS} elements"), n));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what: what.to_string(),
        bytes: n.saturating_mul(std::mem::size_of::<T>()),
    })?;
    Ok(v)
}

/// An array of `shape` filled with `value`: element count checked, memory reserved fallibly.
pub(crate) fn try_full<T, Sh>(shape: Sh, value: T, what: impl Display) -> Result<Array<T, Sh::Dim>>
where
    T: Clone,
    Sh: IntoDimension,
{
    let dim = shape.into_dimension();
    let n = elements(&what, dim.slice())?;
    let data = try_vec(n, value, &what)?;
    Array::from_shape_vec(dim.clone().into_shape_with_order(), data)
        .map_err(|e| Error::shape(what.to_string(), format!("{:?}", dim.slice()), e.to_string()))
}

/// An array of `shape` filled with zeros (see [`try_full`]).
pub(crate) fn try_zeros<T, D>(shape: D, what: impl Display) -> Result<Array<T, D::Dim>>
where
    T: Clone + num_traits::Zero,
    D: IntoDimension,
    D::Dim: Dimension,
{
    try_full(shape, T::zero(), what)
}

/// `a` in standard (row-major) layout: borrowed when it already is, else copied into memory
/// reserved fallibly.
pub(crate) fn try_standard<'a, T, D>(a: ArrayView<'a, T, D>, what: impl Display) -> Result<CowArray<'a, T, D>>
where
    T: Clone,
    D: Dimension,
{
    if a.is_standard_layout() {
        return Ok(CowArray::from(a));
    }
    Ok(CowArray::from(try_map(&a, T::clone, what)?))
}

/// `f` applied to every element of `a`, into a new standard-layout array reserved fallibly.
pub(crate) fn try_map<T, U, S, D>(
    a: &ArrayBase<S, D>,
    f: impl FnMut(&T) -> U,
    what: impl Display,
) -> Result<Array<U, D>>
where
    S: Data<Elem = T>,
    D: Dimension,
{
    let mut data = try_with_capacity(a.len(), &what)?;
    data.extend(a.iter().map(f));
    Array::from_shape_vec(a.raw_dim(), data)
        .map_err(|e| Error::shape(what.to_string(), format!("{:?}", a.shape()), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_checked() {
        assert_eq!(elements("x", &[3, 4, 5]).unwrap(), 60);
        assert_eq!(elements("x", &[]).unwrap(), 1);
        assert!(matches!(elements("x", &[1 << 20, 1 << 20]), Err(Error::TooLarge { .. })));
        assert!(matches!(elements("x", &[usize::MAX, 2]), Err(Error::TooLarge { .. })));
        assert_eq!(elements("x", &[usize::MAX, 0]).unwrap(), 0);
    }

    #[test]
    fn huge_vectors_are_refused_without_allocating() {
        let mut v = vec![1.0f32; 4];
        let err = try_resize(&mut v, MAX_ELEMENTS + 1, 0.0, "test buffer").unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert_eq!(v, vec![1.0; 4], "unchanged on error");
        // Under the limit but far more than any machine has (2^36 f64 = 512 GiB).
        let err = try_vec(MAX_ELEMENTS, 0.0f64, "test buffer").unwrap_err();
        assert!(matches!(err, Error::OutOfMemory { bytes, .. } if bytes == MAX_ELEMENTS * 8), "{err}");
    }

    #[test]
    fn arrays_have_their_shape() {
        let a: ndarray::Array2<f64> = try_zeros((2, 3), "a").unwrap();
        assert_eq!(a.shape(), &[2, 3]);
        let a = try_full((2, 3, 1), 7u8, "a").unwrap();
        assert!(a.iter().all(|&v| v == 7));
    }
}
