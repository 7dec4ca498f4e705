//! Dropout layers: [`Dropout`] (Keras's `Dropout`, on an input of any rank, with Keras's
//! `noise_shape`) and [`SpatialDropout1D`] (whole feature channels of a sequence).
//!
//! ```text
//! training:   m ~ Bernoulli(1 − p) / (1 − p)     one draw per element of the noise shape,
//!                                                broadcast over its axes of length 1
//!             y = x ⊙ m                          dL/dx = dL/dy ⊙ m   (the same m)
//! inference:  y = x
//! ```
//!
//! Scaling the kept elements by `1/(1−p)` in training ("inverted" dropout) keeps every
//! element's expected value, `E[y] = x`, so inference needs no rescaling: it is the identity.
//! Each training pass draws a fresh mask from the layer's seeded source
//! ([`Dropout::set_seed`], [`Layer::reseed`]): the n-th training pass after a reseed draws
//! the same mask whatever ran before, which is what makes `fit` reproducible bit for bit.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::layer::{Layer, Mode, ParamMut, ParamRef, Params};
use crate::limits;
use crate::random::mix;
use crate::shape::{check_finite, check_nonempty, check_same, fmt_shape};

/// Mixed into the seed `Layer::reseed` gets, so a dropout layer's stream differs from that
/// of a recurrent layer reseeded from the same number ("dropout\0").
const STREAM: u64 = 0x6472_6f70_6f75_7400;

/// Builds a [`Dropout`] layer: the rate in `new`, Keras's `noise_shape` as an option.
///
/// In a model file this is the layer's `"config"`: `{"rate": 0.3, "noise_shape": null}`.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// // One mask per sample and feature, shared by every time step of (B, T, F).
/// let drop = DropoutConfig::new(0.25).with_noise_shape(vec![None, Some(1), None]).build::<f32>()?;
/// assert_eq!(drop.rate(), 0.25);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// The probability of dropping an element in training, in [0, 1).
    pub rate: f64,
    /// Keras's `noise_shape`: the mask's shape, batch axis included, one entry per axis of
    /// the input. `None` takes the input's length on that axis (a draw per position), `Some(1)`
    /// shares one draw along the axis, and `Some(n)` must equal the input's length. `None`
    /// (the default) draws one mask element per input element.
    #[serde(default)]
    pub noise_shape: Option<Vec<Option<usize>>>,
}

impl DropoutConfig {
    /// Dropout of rate `rate`, one draw per element.
    pub fn new(rate: f64) -> Self {
        DropoutConfig { rate, noise_shape: None }
    }

    /// Sets Keras's `noise_shape` (see the field). Checked by [`DropoutConfig::build`]
    /// (entries) and at run time (against the input's shape).
    pub fn with_noise_shape(mut self, noise_shape: Vec<Option<usize>>) -> Self {
        self.noise_shape = Some(noise_shape);
        self
    }

    /// Creates the layer (seed 0; `fit` reseeds it).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the layer if the rate is not in [0, 1) (NaN
    /// included), or the noise shape is empty or has an axis of length 0.
    pub fn build<F: Float>(&self) -> Result<Dropout<F>> {
        Dropout::with_kind("Dropout", "dropout", self.rate, self.noise_shape.clone())
    }
}

/// The training pass's mask, as `backward` needs it.
#[derive(Debug, Clone)]
struct Cache<F> {
    /// The mask in the noise shape (0 or `1/(1−p)`); `None` for rate 0.
    mask: Option<ArrayD<F>>,
    /// The output's shape.
    shape: Vec<usize>,
}

/// Dropout (Keras's `Dropout`, PyTorch's `nn.Dropout`): in training, each element is set to
/// 0 with probability `p` and the rest are scaled by `1/(1−p)`; in [`Mode::Infer`] the layer
/// is the identity. It has no parameters, acts on an input of any rank `(B, …)`, and passes
/// a padding mask on unchanged.
///
/// With a `noise_shape` ([`DropoutConfig::with_noise_shape`]) one draw is shared along every
/// axis of length 1 in it: `[None, Some(1), None]` on `(B, T, F)` drops a sample's feature
/// at every step at once. [`SpatialDropout1D`] is that, for sequences.
///
/// Masks come from the layer's own seeded source, a fresh stream per training pass:
/// [`Dropout::set_seed`] (or [`Layer::reseed`], which `fit` calls through
/// [`crate::Sequential::reseed`]) restarts it, so training is reproducible.
///
/// # Shapes
/// `(B, …)` → the same shape.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// let mut drop = Dropout::<f64>::new(0.5)?;
/// let x = ndarray::Array2::<f64>::ones((4, 1000)).into_dyn();
/// assert_eq!(drop.forward(x.view(), Mode::Infer)?, x); // identity in inference
/// let y = drop.forward(x.view(), Mode::Train)?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0)); // dropped, or kept × 1/(1 − 0.5)
/// let kept = y.iter().filter(|&&v| v > 0.0).count();
/// assert!((1800..2200).contains(&kept)); // about half of 4000
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout<F: Float> {
    kind: &'static str,
    name: String,
    rate: f64,
    noise_shape: Option<Vec<Option<usize>>>,
    seed: u64,
    /// Training passes since the last reseed: the counter of the next pass's stream.
    draws: u64,
    cache: Option<Cache<F>>,
    /// Kept for `Layer::trainable` and the model file (the layer has no parameters).
    trainable: bool,
}

/// Errs unless `p` is a dropout rate the layer can scale by: in [0, 1).
fn check_rate(kind: &str, p: f64) -> Result<()> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::config(format!("{kind} rate"), "a rate in [0, 1) (the kept elements are scaled by 1/(1 − rate))", p))
    }
}

fn check_noise_shape(kind: &str, noise_shape: &Option<Vec<Option<usize>>>) -> Result<()> {
    let Some(ns) = noise_shape else { return Ok(()) };
    if ns.is_empty() || ns.contains(&Some(0)) {
        return Err(Error::config(
            format!("{kind} noise_shape"),
            "one entry per input axis, batch axis included, each None or a length ≥ 1",
            fmt_noise(ns),
        ));
    }
    Ok(())
}

/// `(None, 1, None)`.
fn fmt_noise(ns: &[Option<usize>]) -> String {
    let parts: Vec<String> = ns.iter().map(|d| d.map_or("None".to_string(), |n| n.to_string())).collect();
    format!("({})", parts.join(", "))
}

impl<F: Float> Dropout<F> {
    /// Dropout of rate `rate`, one draw per element (see [`DropoutConfig`] for the
    /// `noise_shape` option).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (`"Dropout rate"`) unless `rate` is in [0, 1); NaN is
    /// refused too.
    pub fn new(rate: f64) -> Result<Self> {
        DropoutConfig::new(rate).build()
    }

    fn with_kind(kind: &'static str, name: &str, rate: f64, noise_shape: Option<Vec<Option<usize>>>) -> Result<Self> {
        check_rate(kind, rate)?;
        check_noise_shape(kind, &noise_shape)?;
        Ok(Dropout { kind, name: name.to_string(), rate, noise_shape, seed: 0, draws: 0, cache: None, trainable: true })
    }

    /// The configuration that rebuilds this layer.
    pub fn config(&self) -> DropoutConfig {
        DropoutConfig { rate: self.rate, noise_shape: self.noise_shape.clone() }
    }

    /// The dropout rate `p`.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Sets the dropout rate. Any training cache is dropped.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `rate` is in [0, 1); the layer is unchanged.
    pub fn set_rate(&mut self, rate: f64) -> Result<()> {
        check_rate(self.kind, rate)?;
        self.rate = rate;
        self.cache = None;
        Ok(())
    }

    /// Keras's `noise_shape`, if set.
    pub fn noise_shape(&self) -> Option<&[Option<usize>]> {
        self.noise_shape.as_deref()
    }

    /// The seed of the layer's random source.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Restarts the layer's random source from `seed`: the n-th training pass after this
    /// draws the same mask whatever came before.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        self.draws = 0;
    }

    /// The mask's shape for an input of `shape` (batch axis included).
    fn mask_shape(&self, shape: &[usize]) -> Result<Vec<usize>> {
        let Some(ns) = &self.noise_shape else { return Ok(shape.to_vec()) };
        let refuse = || {
            Error::shape(
                format!("{} input (against noise_shape {})", self.name, fmt_noise(ns)),
                format!("rank {}, each axis as long as a noise_shape entry other than None or 1", ns.len()),
                fmt_shape(shape),
            )
        };
        if ns.len() != shape.len() {
            return Err(refuse());
        }
        ns.iter()
            .zip(shape)
            .map(|(n, &d)| match *n {
                None => Ok(d),
                Some(1) => Ok(1),
                Some(n) if n == d => Ok(d),
                Some(_) => Err(refuse()),
            })
            .collect()
    }

    /// Checks an input (or output gradient) of this layer: at least a batch axis, no empty
    /// axis, finite.
    fn check_input(&self, what: &str, x: &ArrayViewD<'_, F>) -> Result<()> {
        if x.ndim() == 0 {
            return Err(Error::shape(format!("{} {what}", self.name), "(B, …): at least a batch axis", "a scalar"));
        }
        check_nonempty(format_args!("{} {what}", self.name), x.shape(), &["batch size", "time steps", "features"])?;
        check_finite(format_args!("{} {what}", self.name), x)
    }

    /// The generator of the next training pass: a fresh stream per pass.
    fn pass_rng(&mut self) -> StdRng {
        self.draws = self.draws.wrapping_add(1);
        StdRng::seed_from_u64(mix(self.seed, self.draws - 1))
    }
}

impl<F: Float> Params<F> for Dropout<F> {
    fn visit_params(&self, _f: &mut dyn FnMut(ParamRef<'_, F>)) {}
    fn visit_params_mut(&mut self, _f: &mut dyn FnMut(ParamMut<'_, F>)) {}
}

impl<F: Float> Layer<F> for Dropout<F> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    /// Any rank: no axis is fixed (with a noise shape, its rank less the batch axis).
    fn input_spec(&self) -> Vec<Option<usize>> {
        match &self.noise_shape {
            Some(ns) => vec![None; ns.len().saturating_sub(1)],
            None => Vec::new(),
        }
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        if let Some(ns) = &self.noise_shape {
            // The batch size is not known here: check the per-sample axes only.
            let mut full = vec![ns.first().copied().flatten().unwrap_or(1)];
            full.extend_from_slice(input_shape);
            self.mask_shape(&full)?;
        }
        Ok(input_shape.to_vec())
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        self.check_input("input", &input)?;
        let shape = input.shape().to_vec();
        let mask_shape = self.mask_shape(&shape)?;
        let train = mode == Mode::Train;
        let mut y = limits::try_map(&input, |&v| v, format_args!("{} output {}", self.name, fmt_shape(&shape)))?;
        let mask = if train && self.rate > 0.0 {
            let what = format_args!("{} dropout mask {}", self.name, fmt_shape(&mask_shape));
            let mut mask = limits::try_zeros(IxDyn(&mask_shape), what)?;
            // Drawn only once nothing can fail, so a refused pass leaves the stream where it was.
            let (p, keep) = (self.rate, F::of(1.0 / (1.0 - self.rate)));
            let mut rng = self.pass_rng();
            for m in mask.iter_mut() {
                *m = if rng.random::<f64>() < p { F::zero() } else { keep };
            }
            Some(mask)
        } else {
            None
        };
        if let Some(m) = &mask {
            // Broadcasts the axes of length 1 of the noise shape.
            y *= m;
        }
        self.cache = train.then_some(Cache { mask, shape });
        Ok(y)
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        let cache = self.cache.as_ref().ok_or_else(|| Error::NoForwardCache { layer: self.name.clone() })?;
        check_same(
            format_args!("{} grad_output (must match the output)", self.name),
            &cache.shape,
            grad_output.shape(),
        )?;
        check_finite(format_args!("{} grad_output", self.name), &grad_output)?;
        let mut dx = limits::try_map(&grad_output, |&v| v, format_args!("{} input gradient", self.name))?;
        if let Some(m) = &cache.mask {
            dx *= m;
        }
        Ok(dx)
    }

    fn clear_cache(&mut self) {
        self.cache = None;
    }

    fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    fn reseed(&mut self, seed: u64) {
        self.set_seed(mix(seed, STREAM));
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        self.trainable = trainable;
        Ok(())
    }

    fn config_summary(&self) -> String {
        match &self.noise_shape {
            Some(ns) if self.kind == "Dropout" => format!("rate={}, noise_shape={}", self.rate, fmt_noise(ns)),
            _ => format!("rate={}", self.rate),
        }
    }
}

/// Keras's `SpatialDropout1D`: for sequences `(B, T, C)`, drops whole feature channels, the
/// same channels at every time step of a sample (a fresh choice per sample and training
/// pass), and scales the kept ones by `1/(1−p)`. The identity in [`Mode::Infer`].
///
/// Neighbouring steps of a sequence are strongly correlated, so dropping single elements
/// hardly regularises: the next step carries nearly the same value. Dropping a channel at
/// every step does (Tompson et al., 2015). It is [`Dropout`] with the noise shape
/// `(B, 1, C)`.
///
/// # Shapes
/// `(B, T, C)` → `(B, T, C)`.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// let mut drop = SpatialDropout1D::<f64>::new(0.5)?;
/// let x = ndarray::Array3::<f64>::ones((2, 6, 8)).into_dyn();
/// let y = drop.forward(x.view(), Mode::Train)?;
/// for b in 0..2 {
///     for c in 0..8 {
///         let first = y[[b, 0, c]];
///         assert!((0..6).all(|t| y[[b, t, c]] == first)); // a channel is kept or dropped at every step
///     }
/// }
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpatialDropout1D<F: Float> {
    inner: Dropout<F>,
}

impl<F: Float> SpatialDropout1D<F> {
    /// Spatial dropout of rate `rate`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (`"SpatialDropout1D rate"`) unless `rate` is in [0, 1).
    pub fn new(rate: f64) -> Result<Self> {
        let inner = Dropout::with_kind("SpatialDropout1D", "spatial_dropout1d", rate, Some(vec![None, Some(1), None]))?;
        Ok(SpatialDropout1D { inner })
    }

    /// The dropout rate `p`.
    pub fn rate(&self) -> f64 {
        self.inner.rate()
    }

    /// Sets the dropout rate. Any training cache is dropped.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `rate` is in [0, 1); the layer is unchanged.
    pub fn set_rate(&mut self, rate: f64) -> Result<()> {
        self.inner.set_rate(rate)
    }

    /// The seed of the layer's random source.
    pub fn seed(&self) -> u64 {
        self.inner.seed()
    }

    /// Restarts the layer's random source from `seed` (see [`Dropout::set_seed`]).
    pub fn set_seed(&mut self, seed: u64) {
        self.inner.set_seed(seed);
    }

    fn check_rank(&self, what: &str, shape: &[usize], per_sample: bool) -> Result<()> {
        let rank = if per_sample { 2 } else { 3 };
        if shape.len() != rank {
            let expected = if per_sample { "(T, channels) per sample" } else { "(B, T, channels): rank 3" };
            return Err(Error::shape(format!("{} {what}", self.inner.name), expected, fmt_shape(shape)));
        }
        Ok(())
    }
}

impl<F: Float> Params<F> for SpatialDropout1D<F> {
    fn visit_params(&self, _f: &mut dyn FnMut(ParamRef<'_, F>)) {}
    fn visit_params_mut(&mut self, _f: &mut dyn FnMut(ParamMut<'_, F>)) {}
}

impl<F: Float> Layer<F> for SpatialDropout1D<F> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn set_name(&mut self, name: String) {
        self.inner.set_name(name);
    }

    fn input_spec(&self) -> Vec<Option<usize>> {
        vec![None, None]
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.check_rank("input", input_shape, true)?;
        Ok(input_shape.to_vec())
    }

    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>> {
        self.check_rank("input", input.shape(), false)?;
        self.inner.forward(input, mode)
    }

    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        self.inner.backward(grad_output)
    }

    fn clear_cache(&mut self) {
        self.inner.clear_cache();
    }

    fn has_cache(&self) -> bool {
        self.inner.has_cache()
    }

    fn reseed(&mut self, seed: u64) {
        self.inner.reseed(seed);
    }

    fn trainable(&self) -> bool {
        self.inner.trainable()
    }

    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        self.inner.set_trainable(trainable)
    }

    fn config_summary(&self) -> String {
        self.inner.config_summary()
    }
}
