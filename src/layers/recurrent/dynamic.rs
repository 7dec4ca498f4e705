//! [`RecurrentLayer`]: the recurrent layers' own methods as an object-safe trait, so code
//! (such as [`crate::Bidirectional`]) can drive any recurrent layer without knowing its cell.

use ndarray::{Array3, ArrayD, ArrayView2, ArrayView3, ArrayViewD};
use ndarray_rand::rand::RngCore;

use crate::error::Result;
use crate::float::Float;
use crate::layers::layer::{Layer, Mode};
use crate::layers::recurrent::state::State;
use crate::layers::recurrent::trace::GradientTrace;

/// What every recurrent layer offers beyond [`Layer`]: states, direction, and the state
/// gradients. Implemented by [`super::Recurrent`] for every cell; reach it from a
/// `dyn Layer` with [`Layer::as_recurrent`].
pub trait RecurrentLayer<F: Float>: Layer<F> {
    /// Units `H`.
    fn units(&self) -> usize;

    /// Input features `I`.
    fn input_size(&self) -> usize;

    /// Whether the state has a cell part `c` (the LSTM).
    fn has_cell_state(&self) -> bool;

    /// Whether the output is every step's state.
    fn return_sequences(&self) -> bool;

    /// Sets whether the output is every step's state.
    fn set_return_sequences(&mut self, on: bool);

    /// Whether the input is read from the last step to the first.
    fn go_backwards(&self) -> bool;

    /// Sets whether the input is read from the last step to the first.
    fn set_go_backwards(&mut self, on: bool);

    /// Forward from an explicit initial state (see [`super::Recurrent::forward_with_state`]).
    ///
    /// # Errors
    /// As [`super::Recurrent::forward_with_state`].
    fn forward_with_state(&mut self, x: ArrayView3<'_, F>, initial: Option<&State<F>>, mode: Mode)
        -> Result<ArrayD<F>>;

    /// Forward from an explicit initial state, skipping masked steps (see
    /// [`super::Recurrent::forward_masked_with_state`]).
    ///
    /// # Errors
    /// As [`super::Recurrent::forward_masked_with_state`].
    fn forward_masked_with_state(
        &mut self,
        x: ArrayView3<'_, F>,
        mask: Option<ArrayView2<'_, bool>>,
        initial: Option<&State<F>>,
        mode: Mode,
    ) -> Result<ArrayD<F>>;

    /// Backward with a gradient on the final state (see
    /// [`super::Recurrent::backward_with_state`]).
    ///
    /// # Errors
    /// As [`super::Recurrent::backward_with_state`].
    fn backward_with_state(
        &mut self,
        grad_output: ArrayViewD<'_, F>,
        grad_final: Option<&State<F>>,
    ) -> Result<Array3<F>>;

    /// Checks that `state` fits this layer for a batch of `batch`: `h` `(B, H)`, `c` exactly
    /// when the cell has one, all finite.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] or [`crate::Error::NonFinite`].
    fn validate_state(&self, state: &State<F>, batch: usize) -> Result<()>;

    /// The initial state used by `forward` (`None`: zeros).
    fn initial_state(&self) -> Option<&State<F>>;

    /// Sets the initial state used by `forward`.
    fn set_initial_state(&mut self, state: Option<State<F>>);

    /// The state after the last forward pass.
    fn final_state(&self) -> Option<&State<F>>;

    /// dL/d(initial state) after the last backward pass.
    fn initial_state_grad(&self) -> Option<&State<F>>;

    /// ‖dL/dh_t‖ per step after the last backward pass.
    fn gradient_trace(&self) -> Option<&GradientTrace<F>>;

    /// How many forward passes the layer has run: a wrapper that caches a pass (such as
    /// [`crate::Bidirectional`]) compares it to notice that the layer ran again since. The
    /// default, 0, never changes (no such check).
    fn pass_count(&self) -> u64 {
        0
    }

    /// Reserves everything the next [`RecurrentLayer::backward_with_state`] allocates, so it
    /// cannot fail for memory once it has started accumulating gradients (how
    /// [`crate::Bidirectional`] makes sure an error in one half leaves the other's gradients
    /// untouched). The default does nothing.
    ///
    /// # Errors
    /// [`crate::Error::NoForwardCache`] without a training forward pass;
    /// [`crate::Error::OutOfMemory`] if a buffer cannot be reserved.
    fn reserve_backward(&mut self) -> Result<()> {
        Ok(())
    }

    /// A layer of the same kind and configuration with freshly initialised weights (how
    /// [`crate::Bidirectional`] makes its backward half).
    ///
    /// # Errors
    /// [`crate::Error::TooLarge`] or [`crate::Error::OutOfMemory`] if the weights cannot be
    /// held.
    fn fresh_copy(&self, rng: &mut dyn RngCore) -> Result<Box<dyn RecurrentLayer<F>>>;
}
