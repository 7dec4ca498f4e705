//! A linear stack of layers.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, AsArray, Axis, Dimension};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::{visit_part, Layer, Mode, ParamMut, ParamRef, Params, State};
use crate::loss::{Loss, LossOutput};
use crate::model::traits::{masked_loss, Model, ModelOutput};
use crate::optim::Optimizer;
use crate::shape::{check_nonempty, check_same, fmt_shape};

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
    /// The mask of the last forward pass's output (`None` when it has no time axis or no
    /// layer made or received a mask).
    output_mask: Option<Array2<bool>>,
    /// Whether each recurrent layer starts from where the previous batch left it.
    stateful: bool,
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
            output_mask: None,
            stateful: false,
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

    /// Restarts every layer's random source (dropout masks): layer `k` gets its own stream
    /// mixed from `seed` and `k`, so the training passes that follow draw the same masks
    /// whatever ran before. [`Sequential::fit`] calls this at the start of every epoch with a seed
    /// mixed from its configuration's seed and the epoch number.
    pub fn reseed(&mut self, seed: u64) {
        for (k, layer) in self.layers.iter_mut().enumerate() {
            layer.reseed(crate::random::mix(seed, k as u64));
        }
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

    /// Freezes (`false`) or unfreezes (`true`) the layer at `index`: Keras's
    /// `model.layers[index].trainable = False`. See [`Layer::set_trainable`] for what a frozen
    /// layer does; [`Sequential::summary`] counts its parameters as non-trainable, and the
    /// model file keeps the flag. The same as `model.layers_mut()[index].set_trainable(..)`,
    /// with the index checked.
    ///
    /// ```
    /// use recurrent::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let mut model = Sequential::<f64>::new(&[5, 1])?;
    /// model.add(SimpleRnnConfig::new(1, 3).init(&mut rng)?)?;
    /// model.add(DenseConfig::new(3, 1).init(&mut rng)?)?;
    /// model.set_trainable(0, false)?;
    /// assert!(!model.layers()[0].trainable());
    /// assert_eq!(model.trainable_param_count(), 4); // the Dense's kernel and bias
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if there is no layer at `index`; the layer's own error if it
    /// cannot be frozen (see [`Layer::set_trainable`]). The model is then unchanged.
    pub fn set_trainable(&mut self, index: usize, trainable: bool) -> Result<()> {
        let count = self.layers.len();
        let layer = self.layers.get_mut(index).ok_or_else(|| {
            Error::config(
                format!("{} layer index for set_trainable", self.name),
                format!("an index in [0, {count}) (the model has {count} layers)"),
                index,
            )
        })?;
        layer.set_trainable(trainable)
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
        (self.layers.get(index)?.as_ref() as &dyn std::any::Any).downcast_ref::<L>()
    }

    /// The layer at `index` as its concrete type, mutably (to set weights or an initial
    /// state), or `None` if the index is out of range or the layer is of another type.
    pub fn layer_as_mut<L: Layer<F> + 'static>(&mut self, index: usize) -> Option<&mut L> {
        (self.layers.get_mut(index)?.as_mut() as &mut dyn std::any::Any).downcast_mut::<L>()
    }

    /// Per-sample output shape of each layer, in order.
    pub fn layer_output_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// The per-sample output shape for an input batch of shape `shape`, checked as a forward
    /// pass checks it (rank, no empty axis) and then layer by layer without running any:
    /// each layer's [`Layer::output_shape`] must accept what the one before gives.
    /// Whether the first layer takes features (the last axis of its input spec is fixed),
    /// so that dL/dx means something: not token ids.
    pub(crate) fn takes_features(&self) -> bool {
        self.layers.first().is_some_and(|l| l.input_spec().last().copied().flatten().is_some())
    }

    pub(crate) fn output_shape_for(&self, shape: &[usize]) -> Result<Vec<usize>> {
        self.check_input_shape(shape)?;
        let mut s = shape.get(1..).unwrap_or_default().to_vec();
        for layer in &self.layers {
            s = layer.output_shape(&s)?;
        }
        Ok(s)
    }

    fn check_input_shape(&self, shape: &[usize]) -> Result<()> {
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
    /// Masks made by layers (a [`crate::Masking`] layer) flow to the layers after them, as
    /// with [`Sequential::forward_masked`].
    ///
    /// # Errors
    /// The first layer error (shape, emptiness, non-finite values), naming the layer.
    pub fn forward<'a, V, D>(&mut self, x: V, mode: Mode) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        self.run(x.into().into_dyn(), None, mode)
    }

    /// Runs every layer in turn on padded sequences with a mask `(B, T)` (`true`: a real
    /// step). Each layer gets the mask of its input (see [`Layer::forward_masked`]) and passes
    /// one on ([`Layer::output_mask`]): recurrent layers skip masked steps, and a recurrent
    /// layer without `return_sequences` ends the mask. The mask of the final output is kept
    /// for the loss ([`Sequential::output_mask`]).
    ///
    /// # Errors
    /// As [`Sequential::forward`]; [`Error::ShapeMismatch`] if the mask is not `(B, T)` for
    /// an input `(B, T, …)`.
    pub fn forward_masked<'a, V, D>(
        &mut self,
        x: V,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>>
    where
        V: AsArray<'a, F, D>,
        D: Dimension,
        F: 'a,
    {
        self.run(x.into().into_dyn(), mask, mode)
    }

    /// The mask of the last forward pass's output, `(B, T)`: present when the output keeps
    /// the time axis and a mask was given or made. Losses in [`Sequential::train_step`] and
    /// [`Sequential::evaluate`] leave the masked positions out.
    pub fn output_mask(&self) -> Option<&Array2<bool>> {
        self.output_mask.as_ref()
    }

    fn run(&mut self, x: ArrayViewD<'_, F>, mask: Option<ArrayView2<'_, bool>>, mode: Mode) -> Result<ArrayD<F>> {
        self.check_input_shape(x.shape())?;
        if let Some(m) = &mask {
            let want = &x.shape()[..2.min(x.ndim())];
            if want.len() < 2 {
                return Err(Error::shape(
                    format!("{} mask", self.name),
                    "an input with a time axis (B, T, …)",
                    fmt_shape(x.shape()),
                ));
            }
            check_same(format_args!("{} mask (B, T)", self.name), want, m.shape())?;
        }
        if self.stateful {
            self.check_carried_states(x.shape()[0])?;
        }
        self.output_mask = None;
        let mut mask: Option<Array2<bool>> = mask.map(|m| m.to_owned());
        let mut out: Option<ArrayD<F>> = None;
        for layer in self.layers.iter_mut() {
            let input = match &out {
                Some(o) => o.view(),
                None => x.view(),
            };
            let next_mask = layer.output_mask(input.view(), mask.as_ref().map(|m| m.view()))?;
            let y = layer.forward_masked(input, mask.as_ref().map(|m| m.view()), mode)?;
            mask = next_mask;
            out = Some(y);
        }
        let out = out.ok_or_else(|| Error::config("Sequential", "at least one layer", "no layers"))?;
        if self.stateful {
            for layer in self.layers.iter_mut() {
                if let Some(r) = layer.as_recurrent_mut() {
                    let fin = r.final_state().cloned();
                    r.set_initial_state(fin);
                }
            }
        }
        self.output_mask = mask.filter(|m| out.ndim() >= 3 && out.shape()[..2] == *m.shape());
        Ok(out)
    }

    /// Makes the model stateful (Keras's `stateful=True`) or not. A stateful model's
    /// recurrent layers start each forward pass from the state the previous pass ended in, so
    /// a long sequence can be fed in consecutive chunks (the batch size must then stay the
    /// same). Gradients do not flow across chunks: this is truncated BPTT (see
    /// [`Sequential::train_truncated`]). Switching clears the carried states.
    /// [`crate::Bidirectional`] layers read whole sequences and are never stateful.
    pub fn set_stateful(&mut self, on: bool) {
        self.stateful = on;
        self.reset_states();
    }

    /// Whether the model is stateful.
    pub fn is_stateful(&self) -> bool {
        self.stateful
    }

    /// Forgets the carried states: the next forward pass starts from zeros (Keras's
    /// `reset_states`). Also clears initial states set on the recurrent layers.
    pub fn reset_states(&mut self) {
        for layer in self.layers.iter_mut() {
            if let Some(r) = layer.as_recurrent_mut() {
                r.set_initial_state(None);
            }
        }
    }

    /// Runs `f` with the carried (or user-set initial) states of the recurrent layers set
    /// aside and statefulness off, then puts both back: a forward pass inside starts from
    /// zeros and leaves the states the model carries as they were.
    pub(crate) fn with_states_set_aside<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.take_states();
        let stateful = std::mem::replace(&mut self.stateful, false);
        let out = f(self);
        self.stateful = stateful;
        self.put_states(saved);
        out
    }

    /// A copy of the initial state of each recurrent layer (`None` for other layers).
    fn states(&self) -> Vec<Option<State<F>>> {
        self.layers.iter().map(|l| l.as_recurrent().and_then(|r| r.initial_state()).cloned()).collect()
    }

    /// The initial state of each recurrent layer, taken out (`None` for other layers).
    fn take_states(&mut self) -> Vec<Option<State<F>>> {
        self.layers
            .iter_mut()
            .map(|l| {
                l.as_recurrent_mut().and_then(|r| {
                    let s = r.initial_state().cloned();
                    r.set_initial_state(None);
                    s
                })
            })
            .collect()
    }

    /// Puts back what [`Sequential::take_states`] took.
    fn put_states(&mut self, states: Vec<Option<State<F>>>) {
        for (layer, state) in self.layers.iter_mut().zip(states) {
            if let Some(r) = layer.as_recurrent_mut() {
                r.set_initial_state(state);
            }
        }
    }

    /// The batch size the carried states hold, if any layer carries one.
    pub(crate) fn carried_batch(&self) -> Option<usize> {
        self.layers.iter().find_map(|l| l.as_recurrent().and_then(|r| r.initial_state()).map(|s| s.h.nrows()))
    }

    /// Each parameter's path, `layer/parameter` (`dense/kernel`), in visiting order.
    pub(crate) fn param_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        for layer in &self.layers {
            let name = layer.name();
            layer.visit_params(&mut |p| out.push(format!("{name}/{}", p.name)));
        }
        out
    }

    fn check_carried_states(&self, batch: usize) -> Result<()> {
        for layer in &self.layers {
            if let Some(s) = layer.as_recurrent().and_then(|r| r.initial_state()) {
                if s.h.nrows() != batch {
                    return Err(Error::shape(
                        format!("{} input of a stateful model: the batch size must stay the one the carried state of {} has (call reset_states() to change it)", self.name, layer.name()),
                        format!("{} samples", s.h.nrows()),
                        format!("{batch} samples"),
                    ));
                }
            }
        }
        Ok(())
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

    /// The loss of `pred` against `y`, leaving out positions the output mask marks as
    /// padding (see [`crate::model::ModelOutput::mask`]): mean losses average over real
    /// positions only (Keras's and PyTorch's rule).
    pub(crate) fn masked_loss(
        &self,
        loss: &dyn Loss<F>,
        pred: &ArrayViewD<'_, F>,
        y: &ArrayViewD<'_, F>,
    ) -> Result<LossOutput<F>> {
        masked_loss(&self.name, loss, self.output_mask.as_ref(), pred, y)
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
    /// loss before the update. The optimiser sees each parameter named `layer/parameter`
    /// (`dense/kernel`), so its errors say which layer they mean.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` and `y` have different batch sizes or `y` does not
    /// fit the output; any error of the forward pass, the loss or the optimiser (checked
    /// with [`Optimizer::validate`] before the forward pass), among them
    /// [`Error::NonFinite`] for an update that would make a weight non-finite. On error the
    /// weights, the optimiser's state and a stateful model's carried states are as they
    /// were (the gradients may hold this batch's).
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
        self.train_step_inner(x, None, y, loss, optimizer)
    }

    /// As [`Sequential::train_step`], on padded sequences with a mask `(B, T)` (`true`: a
    /// real step): recurrent layers skip padded steps and, for a sequence output, the loss
    /// leaves padded positions out. The returned loss is the mean over the batch's real
    /// positions (Keras's and PyTorch's rule, the same as [`Sequential::evaluate`] and
    /// [`Sequential::fit`]).
    ///
    /// # Errors
    /// As [`Sequential::train_step`] and [`Sequential::forward_masked`].
    pub fn train_step_masked<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        mask: ArrayView2<'_, bool>,
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
        self.train_step_inner(x, Some(mask), y, loss, optimizer)
    }

    fn train_step_inner(
        &mut self,
        x: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        y: ArrayViewD<'_, F>,
        loss: &dyn Loss<F>,
        optimizer: &mut dyn Optimizer<F>,
    ) -> Result<F> {
        optimizer.validate(self)?;
        // A stateful forward pass moves the carried states on: put them back on error.
        let saved = self.stateful.then(|| self.states());
        let result = (|| {
            let pred = self.run(x, mask, Mode::Train)?;
            let out = self.masked_loss(loss, &pred.view(), &y)?;
            self.zero_grad();
            self.backward(&out.grad)?;
            self.step_named(optimizer)?;
            Ok(out.value)
        })();
        if let (Err(_), Some(states)) = (&result, saved) {
            self.put_states(states);
        }
        result
    }

    /// One optimiser step, the parameters named `layer/parameter` (see [`Named`]).
    pub(crate) fn step_named(&mut self, optimizer: &mut dyn Optimizer<F>) -> Result<()> {
        let names = self.param_paths();
        optimizer.step(&mut Named { model: self, names: &names })
    }

    /// Truncated backpropagation through time: trains on a long batch `x` `(B, T, …)` in
    /// consecutive windows of `k` steps, carrying the recurrent state from one window to the
    /// next but backpropagating only within a window, with one optimiser step per window.
    ///
    /// With targets per step, `y` `(B, T, …)`, every window trains on its own slice of `y`;
    /// with one target per sequence, `y` `(B, …)`, the earlier windows only advance the state
    /// and the last one trains. Returns the mean loss over the windows that trained. The
    /// state starts from the carried state of a stateful model (zeros otherwise) and is left
    /// carried only if the model is stateful.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `k` is 0; as [`Sequential::train_step`] otherwise. An
    /// error in a later window leaves the updates of the earlier windows in place.
    pub fn train_truncated<'a, 'b, VX, DX, VY, DY>(
        &mut self,
        x: VX,
        y: VY,
        k: usize,
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
        if k == 0 {
            return Err(Error::config("truncated BPTT window k", "at least 1 step", 0));
        }
        self.check_input_shape(x.shape())?;
        self.check_batch(x.shape().first().copied(), y.shape().first().copied(), y.shape())?;
        if x.ndim() < 3 {
            return Err(Error::shape(
                format!("{} input for truncated BPTT", self.name),
                "(B, T, features)",
                fmt_shape(x.shape()),
            ));
        }
        let t = x.shape()[1];
        let per_step = y.ndim() >= 3 && self.output_shape().len() >= 2;
        if per_step && y.shape()[1] != t {
            return Err(Error::shape(
                format!("{} targets y per step: time steps must equal x's", self.name),
                format!("{t} steps"),
                format!("{} steps (y has shape {})", y.shape()[1], fmt_shape(y.shape())),
            ));
        }
        let was_stateful = self.stateful;
        self.stateful = true;
        let result = (|| {
            let (mut total, mut n) = (F::zero(), 0usize);
            let mut start = 0;
            while start < t {
                let end = (start + k).min(t);
                let xs = x.slice_axis(Axis(1), (start..end).into());
                if per_step {
                    let ys = y.slice_axis(Axis(1), (start..end).into());
                    total += self.train_step_inner(xs, None, ys, loss, optimizer)?;
                    n += 1;
                } else if end == t {
                    total += self.train_step_inner(xs, None, y.view(), loss, optimizer)?;
                    n += 1;
                } else {
                    self.run(xs, None, Mode::Infer)?;
                }
                start = end;
            }
            Ok(total / F::of(n as f64))
        })();
        self.stateful = was_stateful;
        if !was_stateful {
            self.reset_states();
        }
        result
    }

    /// The loss of the model's predictions on `x` against `y`, without training. Under a
    /// mask (from a [`crate::Masking`] layer) it is the mean over real positions.
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
        Ok(self.masked_loss(loss, &pred.view(), &y)?.value)
    }
}

/// A model's parameters as `train_step` and `fit` hand them to the optimiser: the same
/// parameters in the same order, each named by its path (`dense/kernel`), so an optimiser's
/// message says which layer it means.
pub(crate) struct Named<'m, 'n, P: ?Sized> {
    pub(crate) model: &'m mut P,
    pub(crate) names: &'n [String],
}

impl<F: Float, P: Params<F> + ?Sized> Params<F> for Named<'_, '_, P> {
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>)) {
        let mut k = 0;
        self.model.visit_params(&mut |p| {
            let name = self.names.get(k).map_or(p.name, String::as_str);
            k += 1;
            f(ParamRef { name, value: p.value, grad: p.grad });
        });
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>)) {
        let names = self.names;
        let mut k = 0;
        self.model.visit_params_mut(&mut |p| {
            let name = names.get(k).map_or(p.name, String::as_str);
            k += 1;
            f(ParamMut { name, value: p.value, grad: p.grad });
        });
    }

    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        self.model.visit_trainable(f);
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

    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        for layer in &self.layers {
            visit_part(layer.as_ref(), true, f);
        }
    }
}

impl<F: Float> Model<F> for Sequential<F> {
    fn name(&self) -> &str {
        &self.name
    }

    fn check_input(&self, x: ArrayViewD<'_, F>) -> Result<()> {
        self.output_shape_for(x.shape()).map(|_| ())
    }

    /// The output shape for `x`: the targets are the loss's to check.
    fn check_targets(&self, x: ArrayViewD<'_, F>, _y: ArrayViewD<'_, F>) -> Result<Vec<usize>> {
        self.output_shape_for(x.shape())
    }

    /// [`Sequential::forward`]; the targets are not read. The mask is
    /// [`Sequential::output_mask`].
    fn forward_with_targets(
        &mut self,
        x: ArrayViewD<'_, F>,
        _y: ArrayViewD<'_, F>,
        mode: Mode,
    ) -> Result<ModelOutput<F>> {
        let pred = self.run(x, None, mode)?;
        Ok(ModelOutput { pred, mask: self.output_mask.clone() })
    }

    /// [`Sequential::backward`]; dL/dx is returned when the first layer takes features (not
    /// for token ids into an [`crate::Embedding`], whose input gradient is zero).
    fn backward(&mut self, grad: ArrayViewD<'_, F>) -> Result<Option<ArrayD<F>>> {
        let dx = Sequential::backward(self, grad)?;
        Ok(self.takes_features().then_some(dx))
    }

    fn predict(&mut self, x: ArrayViewD<'_, F>) -> Result<ArrayD<F>> {
        Sequential::predict(self, x)
    }

    fn reseed(&mut self, seed: u64) {
        Sequential::reseed(self, seed);
    }

    fn param_paths(&self) -> Vec<String> {
        Sequential::param_paths(self)
    }

    fn is_stateful(&self) -> bool {
        self.stateful
    }

    fn carried_batch(&self) -> Option<usize> {
        Sequential::carried_batch(self)
    }

    fn reset_states(&mut self) {
        Sequential::reset_states(self);
    }

    /// A forward pass with the carried states set aside (see [`Sequential::set_stateful`]).
    fn forward_stateless(&mut self, x: ArrayViewD<'_, F>, y: ArrayViewD<'_, F>) -> Result<ModelOutput<F>> {
        self.with_states_set_aside(|m| m.forward_with_targets(x, y, Mode::Infer))
    }
}
