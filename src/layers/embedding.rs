//! A learned lookup table from token ids to dense vectors (Keras's `Embedding`, PyTorch's
//! `nn.Embedding`).
//!
//! ```text
//! y[b, t, :] = E[ids[b, t], :]          E: (vocab_size, dim)
//!
//! dE[v, :]  += Σ_{(b, t) : ids[b, t] = v}  dy[b, t, :]      (repeated ids accumulate)
//! dids       = 0                                            (ids are not differentiable)
//! ```
//!
//! The ids arrive as floats of the layer's scalar type (the [`Layer`] trait passes
//! `ArrayViewD<F>`), so `forward` checks that each one is a whole number in
//! `[0, vocab_size)` before looking it up. With `mask_zero`, id 0 is reserved for padding and
//! [`Embedding::compute_mask`] marks the steps that hold a real token.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, IxDyn};
use ndarray_rand::rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{visit_uniform, Layer, Mode, ParamMut, ParamRef, Params};
use crate::limits;
use crate::shape::{check_finite, check_nonempty, check_same, fmt_index, fmt_shape};

/// Half-width of the uniform initialisation, Keras's `RandomUniform(-0.05, 0.05)`.
const INIT_LIMIT: f64 = 0.05;

/// Builds an [`Embedding`] layer: required sizes in `new`, options as `with_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingConfig {
    /// Number of distinct token ids: ids run over `0..vocab_size`. Must be at least 1. With
    /// `mask_zero`, id 0 is padding, so a vocabulary of `n` words needs `n + 1`.
    pub vocab_size: usize,
    /// Length of each embedding vector. Must be at least 1.
    pub dim: usize,
    /// Whether id 0 means padding (see [`Embedding::compute_mask`]). Defaults to `false`.
    pub mask_zero: bool,
}

impl EmbeddingConfig {
    /// A table of `vocab_size` vectors of length `dim`.
    pub fn new(vocab_size: usize, dim: usize) -> Self {
        EmbeddingConfig { vocab_size, dim, mask_zero: false }
    }

    /// Reserves id 0 for padding: [`Embedding::compute_mask`] then marks steps whose id is 0
    /// as masked. Defaults to `false`. The lookup itself is unchanged (row 0 exists and is
    /// looked up like any other).
    pub fn with_mask_zero(mut self, mask_zero: bool) -> Self {
        self.mask_zero = mask_zero;
        self
    }

    /// Creates the layer with every entry drawn uniformly from `[-0.05, 0.05)` (Keras's
    /// default), in row-major order from `rng`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `vocab_size` or `dim` is 0; [`Error::TooLarge`] if
    /// `vocab_size · dim` overflows or is over [`crate::limits::MAX_ELEMENTS`] (checked before
    /// anything is drawn from `rng`); [`Error::OutOfMemory`] if the table or its gradient
    /// cannot be allocated.
    pub fn init<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Embedding<F>> {
        if self.vocab_size == 0 {
            return Err(Error::config("Embedding vocab_size", "at least 1", 0));
        }
        if self.dim == 0 {
            return Err(Error::config("Embedding dim", "at least 1", 0));
        }
        let what = "Embedding embeddings (vocab_size, dim)";
        let count = limits::mul(what, self.vocab_size, self.dim)?;
        // Both reserved before drawing, so a refusal leaves `rng` untouched.
        let grad = limits::try_zeros((self.vocab_size, self.dim), "Embedding embeddings gradient (vocab_size, dim)")?;
        let mut data = limits::try_with_capacity(count, what)?;
        data.extend((0..count).map(|_| F::of((2.0 * rng.random::<f64>() - 1.0) * INIT_LIMIT)));
        let table = Array2::from_shape_vec((self.vocab_size, self.dim), data)
            .map_err(|e| Error::shape(what, format!("({}, {})", self.vocab_size, self.dim), e.to_string()))?;
        Ok(Embedding { name: "embedding".to_string(), config: self.clone(), grad, table, cache: None, trainable: true })
    }
}

/// What `backward` needs from the last training forward pass.
#[derive(Debug, Clone)]
struct EmbeddingCache {
    /// The ids as row indices, row-major over (B, T).
    ids: Vec<usize>,
    /// The input's shape, (B, T).
    in_shape: Vec<usize>,
}

/// A learned lookup table: each token id becomes a row of the `(vocab_size, dim)` table.
///
/// # Shapes
/// input `(B, T)` of token ids stored as floats → output `(B, T, dim)`. The gradient
/// `backward` returns for the ids is zero, with shape `(B, T)`.
///
/// # Errors
/// `forward` returns [`Error::NonFinite`] for a NaN or infinite id and
/// [`Error::OutOfRange`] for an id that is not a whole number in `[0, vocab_size)`, naming the
/// value and its `[b, t]` position; [`Error::ShapeMismatch`] unless the input is `(B, T)`;
/// [`Error::Empty`] for a zero-length axis.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut emb = EmbeddingConfig::new(3, 2).init::<f64, _>(&mut rng)?;
/// emb.set_embeddings(array![[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])?;
/// // Two sequences of two token ids.
/// let y = emb.forward(array![[1.0, 2.0], [2.0, 2.0]].into_dyn().view(), Mode::Infer)?;
/// assert_eq!(y, array![[[1.0, 2.0], [3.0, 4.0]], [[3.0, 4.0], [3.0, 4.0]]].into_dyn());
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding<F: Float> {
    name: String,
    config: EmbeddingConfig,
    table: Array2<F>,
    grad: Array2<F>,
    cache: Option<EmbeddingCache>,
    /// Whether optimisers update the weights (see `Layer::set_trainable`).
    trainable: bool,
}

impl<F: Float> Embedding<F> {
    /// The configuration the layer was built from.
    pub fn config(&self) -> &EmbeddingConfig {
        &self.config
    }

    /// The table `E`, `(vocab_size, dim)`: row `v` is the vector of id `v`.
    pub fn embeddings(&self) -> &Array2<F> {
        &self.table
    }

    /// dL/dE accumulated by `backward`, `(vocab_size, dim)`.
    pub fn embeddings_grad(&self) -> &Array2<F> {
        &self.grad
    }

    /// Replaces the table.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless it is `(vocab_size, dim)`; [`Error::NonFinite`] for NaN
    /// or infinities. The layer is unchanged on error.
    pub fn set_embeddings(&mut self, table: Array2<F>) -> Result<()> {
        check_same("Embedding embeddings", self.table.shape(), table.shape())?;
        check_finite("Embedding embeddings", &table)?;
        // Row-major, whatever layout came in: forward copies rows as slices. (Moved when it
        // already is; copied only otherwise.)
        self.table = if table.is_standard_layout() { table } else { table.as_standard_layout().into_owned() };
        Ok(())
    }

    /// The padding mask of a batch of ids, `(B, T)`: `true` where the step holds a real
    /// token. With `mask_zero` that is where the id is not 0; without it every step is
    /// `true` (nothing is padding). The ids are not otherwise checked (`forward` does that):
    /// a NaN id counts as a real token.
    ///
    /// ```
    /// use ndarray::array;
    /// use recurrent::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let emb = EmbeddingConfig::new(10, 4).with_mask_zero(true).init::<f32, _>(&mut rng)?;
    /// let mask = emb.compute_mask(array![[5.0, 2.0, 0.0], [7.0, 0.0, 0.0]].view());
    /// assert_eq!(mask, array![[true, true, false], [true, false, false]]);
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    pub fn compute_mask(&self, ids: ArrayView2<'_, F>) -> Array2<bool> {
        if self.config.mask_zero {
            ids.mapv(|v| v != F::zero())
        } else {
            Array2::from_elem(ids.raw_dim(), true)
        }
    }

    /// Checks the input and turns it into row indices, row-major.
    fn ids(&self, input: &ArrayViewD<'_, F>) -> Result<Vec<usize>> {
        if input.ndim() != 2 {
            return Err(Error::shape(format!("{} input", self.name), "(B, T) of token ids", fmt_shape(input.shape())));
        }
        check_nonempty(format_args!("{} input", self.name), input.shape(), &["batch size", "time steps"])?;
        let what = || format!("{} input (token ids)", self.name);
        let vocab = self.config.vocab_size;
        let limit = F::of(vocab as f64);
        let mut ids = limits::try_with_capacity(input.len(), format_args!("{} token ids (B, T)", self.name))?;
        // One pass, so the first bad id in row-major order is the one reported.
        for (flat, &v) in input.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: what(),
                    index: fmt_index(input.shape(), flat),
                    value: v.to_string(),
                });
            }
            // `to_usize` truncates, so the whole-number and range tests decide.
            match v.to_usize() {
                Some(id) if v >= F::zero() && v < limit && v.fract() == F::zero() => ids.push(id),
                _ => {
                    return Err(Error::OutOfRange {
                        what: what(),
                        expected: format!("whole numbers in [0, {vocab}) (vocab_size {vocab})"),
                        got: v.to_string(),
                        index: fmt_index(input.shape(), flat),
                    })
                }
            }
        }
        Ok(ids)
    }
}

impl<F: Float> Params<F> for Embedding<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        f(ParamRef { name: "embeddings", value: self.table.view().into_dyn(), grad: self.grad.view().into_dyn() });
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        f(ParamMut {
            name: "embeddings",
            value: self.table.view_mut().into_dyn(),
            grad: self.grad.view_mut().into_dyn(),
        });
    }

    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        visit_uniform(self, self.trainable, f);
    }
}

impl<F: Float> Layer<F> for Embedding<F> {
    fn kind(&self) -> &'static str {
        "Embedding"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        match input_shape {
            &[t] => Ok(vec![t, self.config.dim]),
            _ => Err(Error::shape(
                format!("{} input", self.name),
                "(T,) per sample (a sequence of token ids)",
                fmt_shape(input_shape),
            )),
        }
    }

    /// With `mask_zero`, id 0 marks padding: the mask is `ids ≠ 0`, combined (logical and)
    /// with any incoming mask, and the recurrent layers after this one skip those steps.
    /// Without it the incoming mask passes through.
    fn output_mask(
        &self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        if !self.config.mask_zero {
            return Ok(mask.map(|m| m.to_owned()));
        }
        let ids = input
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|_| Error::shape(format!("{} input", self.name), "(B, T) of token ids", "another rank"))?;
        let mut own = self.compute_mask(ids);
        if let Some(m) = mask {
            check_same(format_args!("{} mask (B, T)", self.name), own.shape(), m.shape())?;
            own.zip_mut_with(&m, |a, &b| *a &= b);
        }
        Ok(Some(own))
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        let ids = self.ids(&input)?;
        let dim = self.config.dim;
        // B·T from the input times the layer's dim.
        let what = format_args!("{} output (B, T, dim)", self.name);
        let n_out = limits::elements(what, &[ids.len(), dim])?;
        self.cache = None;
        let mut out = limits::try_with_capacity(n_out, what)?;
        for &id in &ids {
            out.extend(self.table.row(id).iter().copied());
        }
        let out_shape = [input.shape()[0], input.shape()[1], dim];
        let out = ArrayD::from_shape_vec(IxDyn(&out_shape), out)
            .map_err(|e| Error::shape("Embedding output", fmt_shape(&out_shape), e.to_string()))?;
        if mode == Mode::Train {
            self.cache = Some(EmbeddingCache { ids, in_shape: input.shape().to_vec() });
        }
        Ok(out)
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let cache = self.cache.as_ref().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        let dim = self.config.dim;
        let out_shape = [cache.in_shape[0], cache.in_shape[1], dim];
        check_same(format_args!("{} grad_output (must match the output)", self.name), &out_shape, grad_output.shape())?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        // Reserved before any gradient is accumulated.
        let dids = limits::try_zeros(IxDyn(&cache.in_shape), format_args!("{} token id gradient (B, T)", self.name))?;
        let g = limits::try_standard(grad_output, format_args!("{} grad_output copy", self.name))?;
        let g = g.as_slice().ok_or_else(|| Error::shape("Embedding grad_output", "row-major", "strided"))?;
        // Scatter-add: each position adds its output gradient to its id's row, in order.
        for (&id, dy) in cache.ids.iter().zip(g.chunks_exact(dim)) {
            let mut row = self.grad.row_mut(id);
            for (acc, &d) in row.iter_mut().zip(dy) {
                *acc += d;
            }
        }
        Ok(dids)
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
        format!("vocab_size={}, dim={}, mask_zero={}", self.config.vocab_size, self.config.dim, self.config.mask_zero)
    }
}
