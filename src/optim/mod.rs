//! Optimisers and gradient clipping: the [`Optimizer`] trait, [`Sgd`] (momentum, Nesterov,
//! weight decay), [`Adam`], [`AdamW`] and [`RmsProp`], all step for step as `torch.optim`
//! ([`EpsilonPlacement::Keras`] for Keras 3's formulas), plus [`clip_grad_norm`],
//! [`clip_grad_value`] and the [`GradientClip`] setting the optimisers apply before a step;
//! learning-rate schedules as `torch.optim.lr_scheduler`'s ([`Schedule`]: [`StepLR`],
//! [`ExponentialLR`], [`CosineAnnealingLR`], [`OneCycleLR`], [`ReduceLROnPlateau`]).

mod adam;
mod clip;
mod epsilon;
mod kind;
mod optimizer;
mod rmsprop;
mod schedule;
mod sgd;
mod state;

pub use adam::{Adam, AdamW};
pub use clip::{clip_grad_norm, clip_grad_value, GradientClip};
pub use epsilon::EpsilonPlacement;
pub use optimizer::Optimizer;
pub use rmsprop::RmsProp;
pub use schedule::{
    CosineAnnealingLR, ExponentialLR, OneCycleLR, PlateauMode, ReduceLROnPlateau, Schedule, ScheduleExt, StepLR,
    StepUnit, ThresholdMode,
};
pub use sgd::Sgd;
