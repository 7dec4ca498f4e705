//! A linear stack of layers.

use ndarray::{ArrayD, AsArray, Dimension};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{Layer, Mode, ParamMut, ParamRef, Params};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::shape::{check_nonempty, fmt_shape};

/// A linear stack of layers, each feeding the next (Keras's `Sequential`).
///
/// The model is created with the per-sample input shape (batch axis left out), for example
/// `[5, 1]` for windows of 5 steps of 1 feature. Each added layer is checked against the
/// output shape of the one before it. At run time the time axis may have any length ≥ 1:
/// the declared length is what `summary()` shows.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(42);
/// let mut model = Sequential::<f64>::new(&[5, 1])?;
/// model.add(SimpleRnnConfig::new(1, 3).init(&mut rng)?)?;
/// model.add(DenseConfig::new(3, 1).init(&mut rng)?)?;
/// assert_eq!(model.param_count(), 15 + 4);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug)]
pub struct Sequential<F: Float> {
    name: String,
    input_shape: Vec<usize>,
    layers: Vec<Box<dyn Layer<F>>>,
    /// Per-sample output shape of each layer.
    shapes: Vec<Vec<usize>>,
}

impl<F: Float> Sequential<F> {
    /// An empty model taking samples of shape `input_shape` (batch axis left out).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `input_shape` is empty or has a zero axis.
    pub fn new(input_shape: &[usize]) -> Result<Self> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(Error::config(
                "Sequential input shape",
                "at least one axis, each of length ≥ 1",
                fmt_shape(input_shape),
            ));
        }
        Ok(Sequential {
            name: "sequential".to_string(),
            input_shape: input_shape.to_vec(),
            layers: Vec::new(),
            shapes: Vec::new(),
        })
    }

    /// The model's name (shown by `summary()`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The per-sample output shape of the last layer (the input shape with no layers).
    pub fn output_shape(&self) -> &[usize] {
        self.shapes.last().map(Vec::as_slice).unwrap_or(&self.input_shape)
    }

    /// Appends a layer after checking it accepts the current output shape. A layer whose name
    /// is already taken is renamed Keras-style (`dense` → `dense_1`).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the layer cannot take the previous layer's output (for
    /// example a Dense with 4 inputs after a SimpleRNN of 3 units). The model is unchanged.
    pub fn add<L: Layer<F> + 'static>(&mut self, layer: L) -> Result<&mut Self> {
        self.add_boxed(Box::new(layer))
    }

    /// As [`Sequential::add`], for a layer already boxed.
    ///
    /// # Errors
    /// As [`Sequential::add`].
    pub fn add_boxed(&mut self, mut layer: Box<dyn Layer<F>>) -> Result<&mut Self> {
        let prev = self.output_shape().to_vec();
        let out = layer.output_shape(&prev).map_err(|e| match e {
            Error::ShapeMismatch { expected, got, .. } => Error::ShapeMismatch {
                what: format!(
                    "layer at index {} ({}) added after {}",
                    self.layers.len(),
                    layer.kind(),
                    self.layers.last().map(|l| format!("{} ({})", l.name(), l.kind())).unwrap_or("the input".into())
                ),
                expected,
                got,
            },
            other => other,
        })?;
        let base = layer.name().to_string();
        let mut name = base.clone();
        let mut k = 0;
        while self.layers.iter().any(|l| l.name() == name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        layer.set_name(name);
        self.layers.push(layer);
        self.shapes.push(out);
        Ok(self)
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer<F>>] {
        &self.layers
    }

    /// Mutable access to the layers as [`Layer`] trait objects (parameters through the
    /// visitor, names, caches). For a layer's own methods use [`Sequential::layer_as_mut`].
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer<F>>] {
        &mut self.layers
    }

    /// The layer at `index` as its concrete type, or `None` if the index is out of range or
    /// the layer is of another type.
    ///
    /// ```
    /// use recurrent::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let mut model = Sequential::<f64>::new(&[5, 1])?;
    /// model.add(SimpleRnnConfig::new(1, 3).init(&mut rng)?)?;
    /// model.predict(&ndarray::Array3::<f64>::zeros((2, 5, 1)))?;
    /// let rnn = model.layer_as::<SimpleRnn<f64>>(0).expect("a SimpleRNN at index 0");
    /// assert_eq!(rnn.final_state().map(|s| s.h.dim()), Some((2, 3)));
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    pub fn layer_as<L: Layer<F> + 'static>(&self, index: usize) -> Option<&L> {
        self.layers.get(index)?.as_any().downcast_ref::<L>()
    }

    /// The layer at `index` as its concrete type, mutably (to set weights or an initial
    /// state), or `None` if the index is out of range or the layer is of another type.
    pub fn layer_as_mut<L: Layer<F> + 'static>(&mut self, index: usize) -> Option<&mut L> {
        self.layers.get_mut(index)?.as_any_mut().downcast_mut::<L>()
    }

    /// Per-sample output shape of each layer, in order.
    pub fn layer_output_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    fn check_input(&self, shape: &[usize]) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::config("Sequential", "at least one layer", "no layers"));
        }
        let rank = self.input_shape.len() + 1;
        if shape.len() != rank {
            let spec = self.layers.first().map(|l| l.input_spec()).unwrap_or_default();
            let offset = self.input_shape.len().saturating_sub(spec.len());
            let mut want = vec!["B".to_string()];
            want.extend(self.input_shape.iter().enumerate().map(|(k, d)| {
                let free = k >= offset && spec.get(k - offset).is_some_and(|s| s.is_none());
                if free {
                    "T".to_string()
                } else {
                    d.to_string()
                }
            }));
            return Err(Error::shape(
                format!("{} input", self.name),
                format!("({}): rank {rank}", want.join(", ")),
                format!("{} (rank {})", fmt_shape(shape), shape.len()),
            ));
        }
        check_nonempty(format_args!("{} input", self.name), shape, &["batch size", "time steps", "features"])
    }

    /// Runs every layer in turn.
    ///
    /// # Errors
    /// The first layer error (shape, emptiness, non-finite values), naming the layer.
    pub fn forward<'a, V, D>(&mut self, x: V, mode: Mode) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        let x = x.into().into_dyn();
        self.check_input(x.shape())?;
        let mut layers = self.layers.iter_mut();
        let mut out = match layers.next() {
            Some(first) => first.forward(x, mode)?,
            None => return Err(Error::config("Sequential", "at least one layer", "no layers")),
        };
        for layer in layers {
            out = layer.forward(out.view(), mode)?;
        }
        Ok(out)
    }

    /// Backpropagates dL/doutput through every layer, last to first, adding to each
    /// parameter's gradient; returns dL/dinput.
    ///
    /// # Errors
    /// [`Error::NoForwardCache`] without a training forward pass before it;
    /// [`Error::ShapeMismatch`] if `grad_output` does not have the output's shape.
    pub fn backward<'a, V, D>(&mut self, grad_output: V) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        let g = grad_output.into().into_dyn();
        // Check every layer first, so a missing cache adds no partial gradients.
        if let Some(l) = self.layers.iter().find(|l| !l.has_cache()) {
            return Err(Error::NoForwardCache { layer: l.name().to_string() });
        }
        let mut layers = self.layers.iter_mut().rev();
        let mut grad = match layers.next() {
            Some(last) => last.backward(g)?,
            None => return Err(Error::config("Sequential", "at least one layer", "no layers")),
        };
        for layer in layers {
            grad = layer.backward(grad.view())?;
        }
        Ok(grad)
    }

    /// Inference: a forward pass that keeps no cache.
    ///
    /// # Errors
    /// As [`Sequential::forward`].
    pub fn predict<'a, V, D>(&mut self, x: V) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        self.forward(x, Mode::Infer)
    }

    fn check_batch(&self, xb: Option<usize>, yb: Option<usize>, y_shape: &[usize]) -> Result<()> {
        if xb != yb {
            return Err(Error::shape(
                format!("{} targets y: batch size must equal x's", self.name),
                format!("{} rows", xb.unwrap_or(0)),
                format!("{} rows (y has shape {})", yb.unwrap_or(0), fmt_shape(y_shape)),
            ));
        }
        Ok(())
    }

    /// One training step on a batch: forward in training mode, compute the loss, zero the
    /// gradients, backpropagate, and let the optimiser update every parameter. Returns the
    /// loss before the update.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` and `y` have different batch sizes or `y` does not
    /// fit the output; any error of the forward pass, the loss or the optimiser. On error
    /// the weights are unchanged.
    pub fn train_step<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        y: VY,
        loss: &dyn Loss<F>,
        optimizer: &mut dyn Optimizer<F>,
    ) -> Result<F>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b,
    {
        let x = x.into().into_dyn();
        let y = y.into().into_dyn();
        self.check_batch(x.shape().first().copied(), y.shape().first().copied(), y.shape())?;
        let pred = self.forward(x, Mode::Train)?;
        let out = loss.compute(&pred.view(), &y)?;
        self.zero_grad();
        self.backward(&out.grad)?;
        optimizer.step(self)?;
        Ok(out.value)
    }

    /// The loss of the model's predictions on `x` against `y`, without training.
    ///
    /// # Errors
    /// As [`Sequential::train_step`].
    pub fn evaluate<'a, 'b, VX, DX, VY, DY>(&mut self, x: VX, y: VY, loss: &dyn Loss<F>) -> Result<F>
    where
        VX: AsArray<'a, F, DX>,
        DX: Dimension,
        VY: AsArray<'b, F, DY>,
        DY: Dimension,
        F: 'a + 'b,
    {
        let x = x.into().into_dyn();
        let y = y.into().into_dyn();
        self.check_batch(x.shape().first().copied(), y.shape().first().copied(), y.shape())?;
        let pred = self.predict(x)?;
        loss.value(&pred.view(), &y)
    }
}

impl<F: Float> Params<F> for Sequential<F> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        for layer in &self.layers {
            layer.visit_params(f);
        }
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        for layer in &mut self.layers {
            layer.visit_params_mut(f);
        }
    }
}
