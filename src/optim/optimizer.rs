//! The [`Optimizer`] trait.

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
pub trait Optimizer<F: Float> {
    /// Applies one update to every parameter of `params` (a layer or a whole model).
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] if a hyperparameter is out of range;
    /// [`crate::Error::ShapeMismatch`] if the parameters no longer match the optimiser's
    /// state, or a gradient's shape differs from its parameter's; [`crate::Error::NonFinite`]
    /// if a gradient holds NaN or an infinity. All are checked before any parameter, gradient
    /// or state changes.
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> F;

    /// Changes the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: F);

    /// Forgets the per-parameter state (momentum buffers, moment estimates, step count), so
    /// the next step starts as the first did, and may see different parameters.
    /// Hyperparameters are kept. Stateless optimisers have nothing to forget.
    fn reset(&mut self) {}
}
