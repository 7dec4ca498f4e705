//! A fully connected layer acting on the last axis.
//!
//! ```text
//! y = act(x W + b)          W: (in, units),  b: (units)
//! ```
//!
//! `x` may be `(B, in)` or `(B, T, in)` (any leading axes); the same `W` and `b` apply at
//! every leading position, so a Dense after a `return_sequences` RNN is Keras's
//! time-distributed head.

use ndarray::{Array1, Array2, ArrayD, ArrayViewD, IxDyn};
use ndarray_rand::rand::Rng;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::glorot_uniform_named;
use crate::layers::layer::{visit_uniform, Layer, Mode, ParamMut, ParamRef, Params};
use crate::limits;
use crate::linalg::{add_column_sums, gemm, Mat, MatMut};
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Builds a [`Dense`] layer: required sizes in `new`, options as `with_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Input features. Must be at least 1.
    pub in_features: usize,
    /// Output units. Must be at least 1.
    pub units: usize,
    /// Activation applied to `x W + b`. Defaults to [`Activation::Linear`].
    pub activation: Activation,
}

impl DenseConfig {
    /// A linear layer from `in_features` to `units`.
    pub fn new(in_features: usize, units: usize) -> Self {
        DenseConfig { in_features, units, activation: Activation::Linear }
    }

    /// Sets the activation. Defaults to [`Activation::Linear`].
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Creates the layer with a Glorot-uniform kernel and a zero bias (Keras's defaults).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `in_features` or `units` is 0; [`Error::TooLarge`] if
    /// `in_features · units` overflows or is over [`crate::limits::MAX_ELEMENTS`] (checked
    /// before anything is drawn from `rng`); [`Error::OutOfMemory`] if the weights or their
    /// gradients cannot be allocated.
    pub fn init<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Dense<F>> {
        if self.in_features == 0 {
            return Err(Error::config("Dense input features", "at least 1", 0));
        }
        if self.units == 0 {
            return Err(Error::config("Dense units", "at least 1", 0));
        }
        let kernel = glorot_uniform_named(rng, self.in_features, self.units, &"Dense kernel (in, units)")?;
        let bias = limits::try_zeros(self.units, "Dense bias (units)")?;
        Dense::from_parts(self.clone(), kernel, bias)
    }
}

/// The row-major data of an array the layer made itself (always standard layout); an error
/// here is a crate bug made loud.
fn contiguous<'a, F, S: ndarray::Data<Elem = F>, D: ndarray::Dimension>(
    what: &str,
    a: &'a ndarray::ArrayBase<S, D>,
) -> Result<&'a [F]> {
    a.as_slice().ok_or_else(|| Error::shape(format!("{what} storage"), "row-major (standard layout)", "strided"))
}

#[derive(Debug, Clone)]
struct DenseCache<F> {
    /// The input flattened to (rows, in).
    x: Array2<F>,
    /// The activated output, (rows, units).
    y: Array2<F>,
    /// The input's full shape.
    in_shape: Vec<usize>,
}

/// A fully connected layer, `y = act(x W + b)` on the last axis.
///
/// # Shapes
/// input `(B, in)` or `(B, T, in)` → output `(B, units)` or `(B, T, units)`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(2, 1).init::<f64, _>(&mut rng)?;
/// dense.set_kernel(array![[1.0], [2.0]])?;
/// let y = dense.forward(array![[3.0, 4.0]].into_dyn().view(), Mode::Infer)?;
/// assert_eq!(y, array![[11.0]].into_dyn());
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense<F: Float> {
    name: String,
    config: DenseConfig,
    kernel: Array2<F>,
    bias: Array1<F>,
    grad_kernel: Array2<F>,
    grad_bias: Array1<F>,
    cache: Option<DenseCache<F>>,
    /// Whether optimisers update the weights (see `Layer::set_trainable`).
    trainable: bool,
}

impl<F: Float> Dense<F> {
    fn from_parts(config: DenseConfig, kernel: Array2<F>, bias: Array1<F>) -> Result<Self> {
        Ok(Dense {
            name: "dense".to_string(),
            grad_kernel: limits::try_zeros(kernel.raw_dim(), "Dense kernel gradient (in, units)")?,
            grad_bias: limits::try_zeros(bias.raw_dim(), "Dense bias gradient (units)")?,
            config,
            kernel,
            bias,
            cache: None,
            trainable: true,
        })
    }

    /// The configuration the layer was built from.
    pub fn config(&self) -> &DenseConfig {
        &self.config
    }

    /// The kernel `W`, `(in, units)`.
    pub fn kernel(&self) -> &Array2<F> {
        &self.kernel
    }

    /// The bias `b`, `(units)`.
    pub fn bias(&self) -> &Array1<F> {
        &self.bias
    }

    /// dL/dW accumulated by `backward`.
    pub fn kernel_grad(&self) -> &Array2<F> {
        &self.grad_kernel
    }

    /// dL/db accumulated by `backward`.
    pub fn bias_grad(&self) -> &Array1<F> {
        &self.grad_bias
    }

    /// Replaces the kernel.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless it is `(in, units)`; [`Error::NonFinite`] for NaN or
    /// infinities. The layer is unchanged on error.
    pub fn set_kernel(&mut self, kernel: Array2<F>) -> Result<()> {
        check_same("Dense kernel", self.kernel.shape(), kernel.shape())?;
        check_finite("Dense kernel", &kernel)?;
        self.kernel = kernel;
        Ok(())
    }

    /// Replaces the bias.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless it is `(units)`; [`Error::NonFinite`] for NaN or
    /// infinities. The layer is unchanged on error.
    pub fn set_bias(&mut self, bias: Array1<F>) -> Result<()> {
        check_same("Dense bias", self.bias.shape(), bias.shape())?;
        check_finite("Dense bias", &bias)?;
        self.bias = bias;
        Ok(())
    }

    fn check_input(&self, x: &ArrayViewD<'_, F>) -> Result<()> {
        let fin = self.config.in_features;
        if x.ndim() < 2 || x.shape()[x.ndim() - 1] != fin {
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("(B, {fin}) or (B, T, {fin})"),
                fmt_shape(x.shape()),
            ));
        }
        check_nonempty(format_args!("{} input", self.name), x.shape(), &["batch size", "time steps"])?;
        check_finite(format_args!("{} input", self.name), x)
    }
}

impl<F: Float> Params<F> for Dense<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        f(ParamRef { name: "kernel", value: self.kernel.view().into_dyn(), grad: self.grad_kernel.view().into_dyn() });
        f(ParamRef { name: "bias", value: self.bias.view().into_dyn(), grad: self.grad_bias.view().into_dyn() });
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        f(ParamMut {
            name: "kernel",
            value: self.kernel.view_mut().into_dyn(),
            grad: self.grad_kernel.view_mut().into_dyn(),
        });
        f(ParamMut {
            name: "bias",
            value: self.bias.view_mut().into_dyn(),
            grad: self.grad_bias.view_mut().into_dyn(),
        });
    }

    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        visit_uniform(self, self.trainable, f);
    }
}

impl<F: Float> Layer<F> for Dense<F> {
    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![Some(self.config.in_features)]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let fin = self.config.in_features;
        match input_shape.last() {
            Some(&f) if f == fin => {
                let mut out = input_shape.to_vec();
                let last = out.len() - 1;
                out[last] = self.config.units;
                Ok(out)
            }
            _ => Err(Error::shape(
                format!("{} input", self.name),
                format!("(..., {fin}) per sample"),
                fmt_shape(input_shape),
            )),
        }
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        self.check_input(&input)?;
        let (fin, units) = (self.config.in_features, self.config.units);
        let rows = input.len() / fin;
        // The output's size is the caller's rows times the layer's units: checked, and every
        // buffer reserved fallibly before any arithmetic.
        let n_out = limits::mul(format_args!("{} output (rows, units)", self.name), rows, units)?;
        self.cache = None;
        let name = &self.name;
        let mut x = limits::try_with_capacity(input.len(), format_args!("{name} input copy (rows, in)"))?;
        let mut y = limits::try_with_capacity(n_out, format_args!("{name} output (rows, units)"))?;
        let mut kept = if mode == Mode::Train {
            limits::try_with_capacity(n_out, format_args!("{name} cached output (rows, units)"))?
        } else {
            Vec::new()
        };
        x.extend(input.iter().copied());
        for _ in 0..rows {
            y.extend(self.bias.iter().copied());
        }
        let ks = self.kernel.as_standard_layout();
        let ks = contiguous("Dense kernel", &ks)?;
        gemm(Mat::new(&x, rows, fin), Mat::new(ks, fin, units), MatMut::new(&mut y, rows, units), true)?;
        self.config.activation.apply_rows(&mut y, units);
        kept.extend_from_slice(&y);
        let mut out_shape = input.shape().to_vec();
        let last = out_shape.len() - 1;
        out_shape[last] = units;
        let out = ArrayD::from_shape_vec(IxDyn(&out_shape), y)
            .map_err(|e| Error::shape("Dense output", fmt_shape(&out_shape), e.to_string()))?;
        if mode == Mode::Train {
            let y = Array2::from_shape_vec((rows, units), kept)
                .map_err(|e| Error::shape("Dense output buffer", format!("({rows}, {units})"), e.to_string()))?;
            let x = Array2::from_shape_vec((rows, fin), x)
                .map_err(|e| Error::shape("Dense input buffer", format!("({rows}, {fin})"), e.to_string()))?;
            self.cache = Some(DenseCache { x, y, in_shape: input.shape().to_vec() });
        }
        Ok(out)
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let cache = self.cache.as_ref().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        let (fin, units) = (self.config.in_features, self.config.units);
        let rows = cache.x.nrows();
        let mut out_shape = cache.in_shape.clone();
        let last = out_shape.len() - 1;
        out_shape[last] = units;
        check_same(format_args!("{} grad_output (must match the output)", self.name), &out_shape, grad_output.shape())?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        // Reserved before any gradient is accumulated.
        let name = &self.name;
        let mut da = limits::try_with_capacity(grad_output.len(), format_args!("{name} grad_output copy"))?;
        let mut dx = limits::try_vec(rows * fin, F::zero(), format_args!("{name} input gradient (rows, in)"))?;
        // dA = act'(y) ⊙ dy, rows × units.
        da.extend(grad_output.iter().copied());
        let ys = contiguous("Dense cached output", &cache.y)?;
        self.config.activation.backward_rows_inplace(ys, &mut da, units);
        // dW += xᵀ dA ; db += Σ_rows dA ; dx = dA Wᵀ.
        let xs = contiguous("Dense cached input", &cache.x)?;
        let gk = self.grad_kernel.as_slice_mut().ok_or_else(|| Error::shape("Dense grad", "contiguous", "strided"))?;
        gemm(Mat::new(xs, rows, fin).t(), Mat::new(&da, rows, units), MatMut::new(gk, fin, units), true)?;
        let gb = self.grad_bias.as_slice_mut().ok_or_else(|| Error::shape("Dense grad", "contiguous", "strided"))?;
        add_column_sums(&da, rows, units, units, gb);
        let ks = self.kernel.as_standard_layout();
        gemm(
            Mat::new(&da, rows, units),
            Mat::new(contiguous("Dense kernel", &ks)?, fin, units).t(),
            MatMut::new(&mut dx, rows, fin),
            false,
        )?;
        ArrayD::from_shape_vec(IxDyn(&cache.in_shape), dx)
            .map_err(|e| Error::shape("Dense input gradient", fmt_shape(&cache.in_shape), e.to_string()))
    }

    fn clear_cache(&mut self) {
        self.cache = None;
    }

    fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        self.trainable = trainable;
        Ok(())
    }

    fn config_summary(&self) -> String {
        format!("units={}, activation={}", self.config.units, self.config.activation)
    }
}
