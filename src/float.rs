//! The one scalar bound of the crate: [`Float`], implemented for `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{LinalgScalar, ScalarOperand};
use ndarray_rand::rand_distr::uniform::SampleUniform;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A floating-point element type the crate computes in: `f32` or `f64`.
///
/// Every layer, activation, loss and optimiser is generic over one `F: Float`.
/// The trait bundles what the numerics need (`num_traits::Float`), what `ndarray`'s
/// matrix products need ([`LinalgScalar`]), what the initialisers need (uniform sampling)
/// and what persistence needs (serde), so user code only ever writes `F: Float`.
///
/// It is sealed: the crate's kernels and tolerances are written for IEEE binary32 and
/// binary64 only.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + num_traits::NumAssign
    + LinalgScalar
    + ScalarOperand
    + SampleUniform
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + sealed::Sealed
    + 'static
{
    /// Name of the type as PyTorch and NumPy spell it: `"float32"` or `"float64"`.
    const DTYPE: &'static str;

    /// Converts an `f64` to this type (rounding to nearest for `f32`).
    fn of(x: f64) -> Self;

    /// Converts this value to `f64` exactly.
    fn to_f64_exact(self) -> f64;
}

impl Float for f32 {
    const DTYPE: &'static str = "float32";

    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }

    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";

    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }

    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        self
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}
