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
    + sealed::Kernel
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

pub(crate) mod sealed {
    //! What the engine needs per element type: per-thread packing scratch and the vectorised
    //! transcendental functions (the microkernels are chosen in `linalg`). Public only inside the
    //! crate (the trait is unnameable outside), which also seals [`super::Float`].

    use std::cell::RefCell;

    use crate::math;

    /// Per-type engine hooks; implemented for `f32` and `f64` only.
    pub trait Kernel: Copy + Sized + 'static {
        /// Runs `f` with this thread's two packing buffers (fresh ones if already in use).
        fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self>, &mut Vec<Self>) -> R) -> R;

        /// `x ← tanh(x)` element-wise.
        fn tanh_slice(x: &mut [Self]);
        /// `x ← σ(x)` element-wise.
        fn sigmoid_slice(x: &mut [Self]);
        /// `x ← eˣ` element-wise.
        fn exp_slice(x: &mut [Self]);
        /// `dst ← tanh(src)` element-wise.
        fn tanh_into(src: &[Self], dst: &mut [Self]);
        /// `dst ← σ(src)` element-wise.
        fn sigmoid_into(src: &[Self], dst: &mut [Self]);
        /// The LSTM step with sigmoid gates and tanh, fused (see `math::lstm_step_f32`).
        fn lstm_step(gx: &mut [Self], c_prev: &[Self], c: &mut [Self], h: &mut [Self], tc: &mut [Self], units: usize);
    }

    type Scratch<T> = RefCell<(Vec<T>, Vec<T>)>;

    thread_local! {
        static SCRATCH_F32: Scratch<f32> = const { RefCell::new((Vec::new(), Vec::new())) };
        static SCRATCH_F64: Scratch<f64> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    fn with<T, R>(cell: &Scratch<T>, f: impl FnOnce(&mut Vec<T>, &mut Vec<T>) -> R) -> R {
        match cell.try_borrow_mut() {
            Ok(mut s) => {
                let (a, b) = &mut *s;
                f(a, b)
            }
            Err(_) => f(&mut Vec::new(), &mut Vec::new()),
        }
    }

    impl Kernel for f32 {
        fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
            SCRATCH_F32.with(|cell| with(cell, f))
        }

        fn tanh_slice(x: &mut [f32]) {
            math::tanh_slice_f32(x)
        }

        fn sigmoid_slice(x: &mut [f32]) {
            math::sigmoid_slice_f32(x)
        }

        fn exp_slice(x: &mut [f32]) {
            math::exp_slice_f32(x)
        }

        fn tanh_into(src: &[f32], dst: &mut [f32]) {
            math::tanh_into_f32(src, dst)
        }

        fn sigmoid_into(src: &[f32], dst: &mut [f32]) {
            math::sigmoid_into_f32(src, dst)
        }

        fn lstm_step(gx: &mut [f32], c_prev: &[f32], c: &mut [f32], h: &mut [f32], tc: &mut [f32], units: usize) {
            math::lstm_step_f32(gx, c_prev, c, h, tc, units)
        }
    }

    impl Kernel for f64 {
        fn with_scratch<R>(f: impl FnOnce(&mut Vec<f64>, &mut Vec<f64>) -> R) -> R {
            SCRATCH_F64.with(|cell| with(cell, f))
        }

        fn tanh_slice(x: &mut [f64]) {
            math::tanh_slice_f64(x)
        }

        fn sigmoid_slice(x: &mut [f64]) {
            math::sigmoid_slice_f64(x)
        }

        fn exp_slice(x: &mut [f64]) {
            math::exp_slice_f64(x)
        }

        fn tanh_into(src: &[f64], dst: &mut [f64]) {
            math::tanh_into_f64(src, dst)
        }

        fn sigmoid_into(src: &[f64], dst: &mut [f64]) {
            math::sigmoid_into_f64(src, dst)
        }

        fn lstm_step(gx: &mut [f64], c_prev: &[f64], c: &mut [f64], h: &mut [f64], tc: &mut [f64], units: usize) {
            math::lstm_step_f64(gx, c_prev, c, h, tc, units)
        }
    }
}
