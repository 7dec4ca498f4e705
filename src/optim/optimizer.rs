//! The [`Optimizer`] trait.

use crate::error::Result;
use crate::float::Float;
use crate::layers::Params;

/// Updates parameters from their accumulated gradients.
///
/// An optimiser sees parameters only through the [`Params`] visitor, so it never knows which
/// layer a parameter belongs to; the visit order is fixed, which is what stateful optimisers
/// key their per-parameter state on.
pub trait Optimizer<F: Float> {
    /// Applies one update to every parameter of `params` (a layer or a whole model).
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] if a hyperparameter is out of range (checked before any
    /// parameter changes).
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> F;

    /// Changes the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: F);
}
