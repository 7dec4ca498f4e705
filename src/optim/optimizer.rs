//! The [`Optimizer`] trait.

use std::any::Any;

use crate::error::Result;
use crate::float::Float;
use crate::layers::Params;

/// Updates parameters from their accumulated gradients.
///
/// An optimiser sees parameters only through the [`Params`] visitor, so it never knows which
/// layer a parameter belongs to; the visit order is fixed, which is what stateful optimisers
/// key their per-parameter state on. A stateful optimiser ([`crate::Sgd`] with momentum,
/// [`crate::Adam`], [`crate::AdamW`], [`crate::RmsProp`]) creates its state at its first
/// step and from then on expects the same parameters, in number and shape, at every step:
/// give each model its own optimiser, or [`Optimizer::reset`] it between models.
///
/// A step is all or nothing: the optimisers of this crate compute every new weight and
/// buffer value first and store them only if all are finite, so an `Err` from
/// [`Optimizer::step`] leaves parameters, gradients and state exactly as they were. An
/// optimiser written outside the crate should keep that promise too: [`crate::Sequential::fit`]
/// relies on it (and restores the weights from before the batch if a step leaves a
/// non-finite one anyway).
///
/// `Any` lets code given a `&dyn Optimizer` reach the concrete type (upcast to `&dyn Any`
/// and downcast): [`crate::model::ModelCheckpoint`] does, to save the optimiser's state.
pub trait Optimizer<F: Float>: Any {
    /// Applies one update to every parameter of `params` (a layer or a whole model).
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] if a hyperparameter is out of range;
    /// [`crate::Error::ShapeMismatch`] if the parameters no longer match the optimiser's
    /// state, or a gradient's shape differs from its parameter's; [`crate::Error::NonFinite`]
    /// if a gradient holds NaN or an infinity, or if the update would make a weight or a
    /// state value NaN or infinite (a learning rate far too large, a gradient whose square
    /// overflows): the message names the optimiser, the parameter (its index in visiting
    /// order and its name) and the first such element. In every case nothing changes: no
    /// parameter, gradient or state value.
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()>;

    /// Checks, without changing anything, what [`Optimizer::step`] checks before it
    /// computes: the hyperparameters, and that the state fits `params` (one array per
    /// parameter, of its shape). [`crate::Sequential::fit`] calls it before training, so a
    /// bad setting or a state made for another model fails before the first batch. The
    /// default accepts everything.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] or [`crate::Error::ShapeMismatch`], as `step` would.
    fn validate(&self, params: &dyn Params<F>) -> Result<()> {
        let _ = params;
        Ok(())
    }

    /// The current learning rate.
    fn learning_rate(&self) -> F;

    /// Changes the learning rate (for schedules).
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] unless `lr` is finite and `> 0`; the learning rate is
    /// then left as it was.
    fn set_learning_rate(&mut self, lr: F) -> Result<()>;

    /// Forgets the per-parameter state (momentum buffers, moment estimates, step count), so
    /// the next step starts as the first did, and may see different parameters.
    /// Hyperparameters are kept. Stateless optimisers have nothing to forget.
    fn reset(&mut self) {}
}
