//! Activation functions and their backward passes.
//!
//! ```text
//! linear   y = x                                   dx = dy
//! tanh     y = tanh(x)                             dx = dy * (1 - y²)
//! sigmoid  y = σ(x) = 1 / (1 + e^(−x))             dx = dy * y * (1 − y)
//! relu     y = max(x, 0)                           dx = dy * [x > 0]      (relu′(0) = 0, as PyTorch)
//! softmax  y_k = e^(x_k − m) / Σ_j e^(x_j − m),    dx = y ⊙ (dy − Σ_k dy_k y_k)
//!          m = max_j x_j, over the last axis
//! ```
//!
//! Every backward pass is written in terms of the *output* `y`, never the input: that is
//! what the layers cache, and for softmax it gives the vector–Jacobian product in O(K)
//! per row instead of a K×K Jacobian.

use ndarray::{Array, ArrayView, Dimension};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::{check_finite, check_same, fmt_shape};

/// An element-wise (or, for softmax, row-wise) activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The identity, `y = x` (Keras's `"linear"`).
    #[default]
    Linear,
    /// Hyperbolic tangent, SimpleRNN's default.
    Tanh,
    /// Logistic sigmoid `1 / (1 + e^(−x))`, computed without overflow for any finite `x`.
    Sigmoid,
    /// Rectified linear unit `max(x, 0)`, with derivative 0 at 0.
    Relu,
    /// Softmax over the last axis, shifted by the row maximum so it never overflows.
    Softmax,
}

impl Activation {
    /// The Keras name of the activation (`"tanh"`, `"softmax"`...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Softmax => "softmax",
        }
    }

    /// Applies the activation to `x`.
    ///
    /// Softmax acts on the last axis; the others act element by element.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if `x` holds NaN or an infinity; [`Error::ShapeMismatch`] for a
    /// 0-dimensional array with softmax (it needs an axis).
    ///
    /// # Example
    /// ```
    /// use ndarray::array;
    /// use recurrent::Activation;
    /// let y = Activation::Softmax.forward(&array![[1.0_f64, 1.0]].view()).unwrap();
    /// assert_eq!(y, array![[0.5, 0.5]]);
    /// ```
    pub fn forward<F: Float, D: Dimension>(self, x: &ArrayView<'_, F, D>) -> Result<Array<F, D>> {
        check_finite("activation input", x)?;
        let width = self.row_width(x.shape())?;
        let mut y = x.as_standard_layout().into_owned();
        if let Some(s) = y.as_slice_mut() {
            self.apply_rows(s, width);
        }
        Ok(y)
    }

    /// The backward pass: given the activation's output `y` and the upstream gradient
    /// `dy`, returns `dx`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `y` and `dy` differ in shape; [`Error::NonFinite`] if
    /// either holds NaN or an infinity.
    pub fn backward<F: Float, D: Dimension>(
        self,
        y: &ArrayView<'_, F, D>,
        dy: &ArrayView<'_, F, D>,
    ) -> Result<Array<F, D>> {
        check_same("activation gradient (must match the output)", y.shape(), dy.shape())?;
        check_finite("activation output", y)?;
        check_finite("activation upstream gradient", dy)?;
        let width = self.row_width(y.shape())?;
        let y = y.as_standard_layout();
        let mut dx = dy.as_standard_layout().into_owned();
        if let (Some(ys), Some(d)) = (y.as_slice(), dx.as_slice_mut()) {
            self.backward_rows_inplace(ys, d, width);
        }
        Ok(dx)
    }

    fn row_width(self, shape: &[usize]) -> Result<usize> {
        match shape.last() {
            Some(&w) => Ok(w.max(1)),
            None if self == Activation::Softmax => {
                Err(Error::shape("softmax input", "an array with at least one axis", fmt_shape(shape)))
            }
            None => Ok(1),
        }
    }

    /// Applies the activation in place to a row-major buffer of rows `width` wide (the width
    /// matters only for softmax, which normalises each row; a trailing partial row is left
    /// as it is). For cells written outside the crate, on the same fast paths the built-in
    /// cells use.
    #[inline]
    pub fn apply_rows<F: Float>(self, x: &mut [F], width: usize) {
        match self {
            Activation::Linear => {}
            Activation::Tanh => F::tanh_slice(x),
            Activation::Sigmoid => F::sigmoid_slice(x),
            Activation::Relu => x.iter_mut().for_each(|v| {
                if *v < F::zero() {
                    *v = F::zero()
                }
            }),
            Activation::Softmax => {
                if width == 0 {
                    return;
                }
                for row in x.chunks_exact_mut(width) {
                    softmax_row(row);
                }
            }
        }
    }

    /// Writes the activation of `src` into `dst` (rows `width` wide), over the shorter of
    /// the two lengths.
    #[inline]
    pub fn apply_rows_into<F: Float>(self, src: &[F], dst: &mut [F], width: usize) {
        let n = src.len().min(dst.len());
        let (src, dst) = (&src[..n], &mut dst[..n]);
        match self {
            Activation::Tanh => F::tanh_into(src, dst),
            Activation::Sigmoid => F::sigmoid_into(src, dst),
            _ => {
                dst.copy_from_slice(src);
                self.apply_rows(dst, width);
            }
        }
    }

    /// Multiplies `d` (holding dL/dy on entry) in place by the activation's Jacobian at
    /// output `y`, leaving dL/dx. Both buffers are row-major with rows `width` wide; only the
    /// elements both have are touched.
    #[inline]
    pub fn backward_rows_inplace<F: Float>(self, y: &[F], d: &mut [F], width: usize) {
        let one = F::one();
        match self {
            Activation::Linear => {}
            Activation::Tanh => d.iter_mut().zip(y).for_each(|(d, &y)| *d *= one - y * y),
            Activation::Sigmoid => d.iter_mut().zip(y).for_each(|(d, &y)| *d *= y * (one - y)),
            Activation::Relu => d.iter_mut().zip(y).for_each(|(d, &y)| {
                if y <= F::zero() {
                    *d = F::zero()
                }
            }),
            Activation::Softmax => {
                if width == 0 {
                    return;
                }
                for (dr, yr) in d.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
                    let dot: F = dr.iter().zip(yr).map(|(&a, &b)| a * b).sum();
                    dr.iter_mut().zip(yr).for_each(|(d, &y)| *d = y * (*d - dot));
                }
            }
        }
    }
}

/// σ(x) without overflow: `1/(1+e^−x)` for x ≥ 0 and `e^x/(1+e^x)` below.
#[inline(always)]
pub(crate) fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

#[inline]
fn softmax_row<F: Float>(row: &mut [F]) {
    let m = row.iter().copied().fold(F::neg_infinity(), F::max);
    row.iter_mut().for_each(|v| *v -= m);
    F::exp_slice(row);
    let sum: F = row.iter().copied().sum();
    row.iter_mut().for_each(|v| *v /= sum);
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
