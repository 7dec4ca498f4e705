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
    /// own seed, and `fit` reseeds the model from its configuration's seed.
    fn reseed(&mut self, seed: u64) {
        let _ = seed;
    }

    /// A one-line description of the configuration, e.g. `"units=3, activation=tanh"`.
    fn config_summary(&self) -> String {
        String::new()
    }
}
