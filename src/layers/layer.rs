//! The [`Layer`] trait every layer implements, the [`Mode`] a forward pass runs in, and the
//! parameter visitor ([`Params`]) that optimisers, `param_count` and `summary()` share.

use std::any::Any;
use std::fmt::Debug;

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD};

use crate::error::Result;
use crate::float::Float;
use crate::layers::recurrent::RecurrentLayer;

/// Whether a forward pass may be followed by a backward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Keep what the backward pass needs (inputs, activations, states of every step).
    Train,
    /// Keep nothing for backward; a later `backward` returns an error.
    Infer,
}

/// Read-only view of one parameter, handed to a [`Params::visit_params`] visitor.
#[derive(Debug)]
pub struct ParamRef<'a, F> {
    /// The parameter's name within its layer, e.g. `"kernel"`.
    pub name: &'a str,
    /// Its current value.
    pub value: ArrayViewD<'a, F>,
    /// The gradient accumulated by `backward` since the last [`Params::zero_grad`].
    pub grad: ArrayViewD<'a, F>,
}

/// Mutable view of one parameter, handed to a [`Params::visit_params_mut`] visitor.
///
/// The shapes are fixed: a visitor changes values, never shapes.
#[derive(Debug)]
pub struct ParamMut<'a, F> {
    /// The parameter's name within its layer, e.g. `"kernel"`.
    pub name: &'a str,
    /// Its current value.
    pub value: ArrayViewMutD<'a, F>,
    /// The accumulated gradient.
    pub grad: ArrayViewMutD<'a, F>,
}

/// Anything that owns trainable parameters: every layer, and [`crate::Sequential`].
///
/// Parameters are visited in a fixed order (the order of `summary()`), which is what lets an
/// optimiser keep per-parameter state without knowing which layer a parameter belongs to.
pub trait Params<F: Float> {
    /// Calls `f` once per parameter, in a fixed order.
    fn visit_params(&self, f: &mut dyn FnMut(ParamRef<'_, F>));

    /// Calls `f` once per parameter with mutable access, in the same order.
    fn visit_params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_, F>));

    /// Total number of trainable scalars.
    fn param_count(&self) -> usize {
        let mut n = 0;
        self.visit_params(&mut |p| n += p.value.len());
        n
    }

    /// Sets every gradient to zero.
    fn zero_grad(&mut self) {
        self.visit_params_mut(&mut |mut p| p.grad.fill(F::zero()));
    }

    /// Calls `f` once per parameter, in the order of [`Params::visit_params`], with whether
    /// an optimiser may update it (`false`: the parameter belongs to a frozen layer, see
    /// [`Layer::set_trainable`]). Optimisers leave a frozen parameter, its gradient and its
    /// state alone, and `summary()` counts it as non-trainable.
    ///
    /// The default reports every parameter trainable. The crate's layers report their
    /// [`Layer::trainable`] flag for each of their parameters, and containers
    /// ([`crate::Sequential`], [`crate::Bidirectional`], [`crate::EncoderDecoder`]) combine
    /// their parts' answers. A layer of your own that keeps a flag should override this too,
    /// for an optimiser stepping the layer on its own (inside a `Sequential`, its
    /// [`Layer::trainable`] is enough). A container of your own (a [`crate::model::Model`]
    /// holding `Sequential`s) forwards it to its parts as it forwards
    /// [`Params::visit_params`]; with the default, its parts' frozen layers would train.
    fn visit_trainable(&self, f: &mut dyn FnMut(bool)) {
        self.visit_params(&mut |_| f(true));
    }

    /// Number of scalars an optimiser may update (Keras's "Trainable params"): the
    /// parameters [`Params::visit_trainable`] reports trainable.
    fn trainable_param_count(&self) -> usize {
        let flags = trainable_flags(self);
        let mut n = 0;
        let mut k = 0;
        self.visit_params(&mut |p| {
            if flags.get(k).copied().unwrap_or(true) {
                n += p.value.len();
            }
            k += 1;
        });
        n
    }
}

/// Each parameter's [`Params::visit_trainable`] answer, in visiting order. A visitor that
/// reports fewer flags than there are parameters leaves the rest trainable (the callers read
/// missing entries as `true`).
pub(crate) fn trainable_flags<F: Float, P: Params<F> + ?Sized>(params: &P) -> Vec<bool> {
    let mut flags = Vec::new();
    params.visit_trainable(&mut |t| flags.push(t));
    flags
}

/// [`Params::visit_trainable`] for `layer` held by a container whose own flag is `parent`:
/// every parameter frozen unless both the container and the layer are trainable, and then
/// the layer's own answer for each.
pub(crate) fn visit_part<F: Float, L: Layer<F> + ?Sized>(layer: &L, parent: bool, f: &mut dyn FnMut(bool)) {
    if parent && layer.trainable() {
        layer.visit_trainable(f);
    } else {
        visit_uniform(layer, false, f);
    }
}

/// [`Params::visit_trainable`] for a layer whose parameters all share one flag.
pub(crate) fn visit_uniform<F: Float, P: Params<F> + ?Sized>(params: &P, trainable: bool, f: &mut dyn FnMut(bool)) {
    params.visit_params(&mut |_| f(trainable));
}

/// A differentiable layer.
///
/// Shapes are batch-first: a sequence is `(B, T, features)`, a vector batch `(B, features)`.
/// Per-sample shapes (as in [`Layer::output_shape`]) leave the batch axis out.
///
/// The contract:
/// * [`Layer::forward`] checks the input (rank, feature count, non-empty, finite) before any
///   arithmetic; on error the layer is unchanged. In [`Mode::Train`] it keeps a cache for the
///   backward pass; in [`Mode::Infer`] it keeps nothing for backward and invalidates any
///   earlier cache (buffers may be kept for reuse, but a following `backward` errs).
/// * A layer is [`Any`]: reach the concrete type behind a `&dyn Layer<F>` by upcasting,
///   `(layer as &dyn Any).downcast_ref::<Dense<f32>>()` (or [`crate::Sequential::layer_as`]).
/// * [`Layer::backward`] takes dL/doutput for the last training forward pass, *adds* each
///   parameter's gradient to what is accumulated (call [`Params::zero_grad`] between steps),
///   and returns dL/dinput. For recurrent layers this is backpropagation through time over
///   all cached steps. The cache stays valid, so calling `backward` twice adds the gradients
///   twice (as two losses on the same output would).
pub trait Layer<F: Float>: Params<F> + Debug + Send + Any {
    /// The layer type as Keras prints it, e.g. `"SimpleRNN"`.
    fn kind(&self) -> &'static str;

    /// The layer's name, e.g. `"simple_rnn"` (unique within a [`crate::Sequential`]).
    fn name(&self) -> &str;

    /// Renames the layer.
    fn set_name(&mut self, name: String);

    /// The per-sample input shape this layer accepts, with `None` for an axis of any length
    /// (the time axis of a recurrent layer).
    fn input_spec(&self) -> Vec<Option<usize>>;

    /// The per-sample output shape for a per-sample input shape (batch axis left out).
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] if the layer cannot take that input.
    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>>;

    /// Runs the layer on a batch.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`], [`crate::Error::Empty`] or
    /// [`crate::Error::NonFinite`] for an input the layer cannot take.
    fn forward(&mut self, input: ArrayViewD<'_, F>, mode: Mode) -> Result<ArrayD<F>>;

    /// Runs the layer on a batch of padded sequences with a mask `(B, T)` (`true`: a real
    /// step, `false`: padding). `None` is the same as [`Layer::forward`].
    ///
    /// Recurrent layers (and [`crate::Bidirectional`]) skip masked steps: the state is carried
    /// over unchanged and the output row is zero (see
    /// [`crate::Recurrent::forward_masked_with_state`]). The default, for layers that act on
    /// each position on its own (such as [`crate::Dense`]), ignores the mask: a padded
    /// position's output is simply not used downstream.
    ///
    /// # Errors
    /// As [`Layer::forward`]; [`crate::Error::ShapeMismatch`] if the mask is not `(B, T)`
    /// for a layer that uses it.
    fn forward_masked(
        &mut self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        mode: Mode,
    ) -> Result<ArrayD<F>> {
        let _ = mask;
        self.forward(input, mode)
    }

    /// The mask of this layer's output, given its input and the mask that came with it (as
    /// Keras's `compute_mask`). The default passes the incoming mask on, which is right for
    /// layers that keep the time axis; a recurrent layer without `return_sequences` ends
    /// it (`None`), and a layer that makes masks (such as [`crate::Masking`]) makes one.
    ///
    /// # Errors
    /// As [`Layer::forward`], for an input the layer cannot take.
    fn output_mask(
        &self,
        input: ArrayViewD<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
    ) -> Result<Option<Array2<bool>>> {
        let _ = input;
        Ok(mask.map(|m| m.to_owned()))
    }

    /// Backpropagates dL/doutput of the last training forward pass; returns dL/dinput.
    ///
    /// # Errors
    /// [`crate::Error::NoForwardCache`] if the last forward pass was not in
    /// [`Mode::Train`]; [`crate::Error::ShapeMismatch`] if `grad_output` does not have the
    /// output's shape; [`crate::Error::NonFinite`] if it holds NaN or infinities.
    fn backward(&mut self, grad_output: ArrayViewD<'_, F>) -> Result<ArrayD<F>>;

    /// Drops the training cache (the next `backward` errs until a training forward runs).
    fn clear_cache(&mut self);

    /// Whether a training forward pass is cached, so `backward` can run.
    fn has_cache(&self) -> bool;

    /// The layer's recurrent interface, if it is a recurrent layer.
    fn as_recurrent(&self) -> Option<&dyn RecurrentLayer<F>> {
        None
    }

    /// The layer's recurrent interface, mutably, if it is a recurrent layer.
    fn as_recurrent_mut(&mut self) -> Option<&mut dyn RecurrentLayer<F>> {
        None
    }

    /// Restarts the layer's random source (dropout masks) from `seed`. Layers without
    /// randomness ignore it (the default). [`crate::Sequential::reseed`] gives each layer its
    /// own seed, and `fit` reseeds the model every epoch from its configuration's seed and the
    /// epoch number.
    fn reseed(&mut self, seed: u64) {
        let _ = seed;
    }

    /// Whether an optimiser may update this layer's parameters (Keras's `layer.trainable`).
    /// `true` for a new layer. The default, for layers written outside the crate that keep
    /// no flag, is always `true`.
    fn trainable(&self) -> bool {
        true
    }

    /// Freezes (`false`) or unfreezes (`true`) the layer's parameters, as Keras's
    /// `layer.trainable = False`. A frozen layer still runs forward and backward as before:
    /// it passes dL/dinput to the layers before it, and its parameters' gradients are still
    /// accumulated. But optimisers leave its parameters, and their state for them (momentum,
    /// moments), unchanged, and `summary()` counts them as non-trainable. The flag is saved
    /// in the model file. A layer holding other layers ([`crate::Bidirectional`]) sets the
    /// flag of each of them too.
    ///
    /// An optimiser's state stays keyed on every parameter, frozen or not, so freezing or
    /// unfreezing between steps needs no [`crate::Optimizer::reset`].
    ///
    /// # Errors
    /// The default, for a layer written outside the crate, accepts `true` and refuses `false`
    /// with [`crate::Error::InvalidConfig`] (it has nowhere to keep the flag): such a layer
    /// overrides this and [`Layer::trainable`] (and [`Params::visit_trainable`]) to be
    /// frozen. The crate's layers never err.
    fn set_trainable(&mut self, trainable: bool) -> Result<()> {
        if trainable {
            return Ok(());
        }
        Err(crate::error::Error::config(
            format!("layer {} ({}) trainable", self.name(), self.kind()),
            "a layer that keeps a trainable flag (one that implements Layer::set_trainable and Layer::trainable)",
            "false, for a layer that keeps none",
        ))
    }

    /// A one-line description of the configuration, e.g. `"units=3, activation=tanh"`.
    fn config_summary(&self) -> String {
        String::new()
    }
}
