//! Optimisers: the [`Optimizer`] trait and [`Sgd`].

mod optimizer;
mod sgd;

pub use optimizer::Optimizer;
pub use sgd::Sgd;
