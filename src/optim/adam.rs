//! Adam (with an L2 penalty) and AdamW (with decoupled weight decay).

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::float::Float;
use crate::layers::Params;
use crate::optim::clip::GradientClip;
use crate::optim::epsilon::EpsilonPlacement;
use crate::optim::kind::{AdamKind, AdamWKind, Kind};
use crate::optim::optimizer::Optimizer;
use crate::optim::state::{
    any_trainable, check_state, check_step, lerp, non_negative, positive, unit_interval, update, GradScale, Slot,
};

/// Adam, step for step as PyTorch's `torch.optim.Adam(lr, betas, eps, weight_decay)`:
///
/// ```text
/// g ← g + λ θ                          if weight decay λ ≠ 0 (an L2 penalty: it enters the moments)
/// m_t = β1 m_{t−1} + (1 − β1) g        m_0 = 0
/// v_t = β2 v_{t−1} + (1 − β2) g²       v_0 = 0
/// θ ← θ − (η / (1 − β1ᵗ)) · m_t / ( √v_t / √(1 − β2ᵗ) + ε )
/// ```
///
/// Defaults as PyTorch's: β = (0.9, 0.999), ε = 1e-8, λ = 0. [`Adam::keras`] gives Keras
/// 3's defaults and ε placement ([`EpsilonPlacement::Keras`]); Keras has no L2-coupled Adam,
/// its `weight_decay` is [`AdamW`]'s. The state is the step count `t` and, per parameter in
/// visiting order, `m_t` ([`Adam::exp_avg`]) and `v_t` ([`Adam::exp_avg_sq`]), stored
/// without bias correction as PyTorch stores them. AMSGrad is not offered.
///
/// Hyperparameters are public fields (and `with_*` builders), checked by
/// [`Optimizer::validate`] and at every [`Optimizer::step`] before anything changes. A step
/// whose update would overflow changes nothing and errs (see [`Optimizer::step`]). The serde
/// form starts with `"kind": "Adam"`, and reading refuses another kind (an AdamW state
/// included: the two have the same fields).
///
/// Frozen parameters ([`crate::Layer::set_trainable`]) keep their moments unchanged and are
/// not updated. The step count `t` is the optimiser's, as Keras's `iterations`: it advances
/// at every step that updates at least one parameter (a step with every parameter frozen is
/// a no-op, as in Keras), so a parameter unfrozen after `k` steps continues with the bias
/// correction of step `k + 1` on moments that start from zero. PyTorch keeps a step count
/// per parameter and would restart it at 1; with nothing frozen the two agree. The same
/// holds for [`AdamW`].
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(1, 1).init::<f64, _>(&mut rng)?;
/// dense.set_kernel(array![[1.0]])?;
/// dense.forward(array![[2.0]].into_dyn().view(), Mode::Train)?;
/// dense.backward(array![[1.0]].into_dyn().view())?; // dL/dW = 2
/// let mut adam = Adam::new(0.01);
/// adam.step(&mut dense)?;
/// // The first step is η·g / (|g| + ε): the bias corrections cancel.
/// assert!((dense.kernel()[[0, 0]] - (1.0 - 0.01 * 2.0 / (2.0 + 1e-8))).abs() < 1e-15);
/// assert_eq!(adam.step_count(), 1);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct Adam<F> {
    /// `"Adam"` in the serde form (absent in states written before it existed).
    #[serde(default)]
    kind: Kind<AdamKind>,
    /// The learning rate η. Must be finite and `> 0`.
    pub learning_rate: F,
    /// β1, the decay of the first moment; defaults to `0.9`. Must lie in `[0, 1)`.
    pub beta1: F,
    /// β2, the decay of the second moment; defaults to `0.999`. Must lie in `[0, 1)`.
    pub beta2: F,
    /// ε, added to the denominator; defaults to `1e-8`. Must be finite and `> 0`.
    pub epsilon: F,
    /// Weight decay λ as an L2 penalty (`g ← g + λ θ`); defaults to `0`. Must be finite and
    /// `>= 0`.
    pub weight_decay: F,
    /// Where ε enters the denominator; defaults to [`EpsilonPlacement::PyTorch`].
    pub epsilon_placement: EpsilonPlacement,
    /// Gradient clipping applied before each update; defaults to `None`.
    pub gradient_clip: Option<GradientClip<F>>,
    #[serde(default)]
    step: u64,
    #[serde(default)]
    exp_avg: Vec<ArrayD<F>>,
    #[serde(default)]
    exp_avg_sq: Vec<ArrayD<F>>,
}

/// AdamW, step for step as PyTorch's `torch.optim.AdamW(lr, betas, eps, weight_decay)`:
/// Adam with the weight decay *decoupled* from the gradient.
///
/// ```text
/// θ ← θ (1 − η λ)                      first, if λ ≠ 0; the gradient is left as it is
/// m_t = β1 m_{t−1} + (1 − β1) g        m_0 = 0
/// v_t = β2 v_{t−1} + (1 − β2) g²       v_0 = 0
/// θ ← θ − (η / (1 − β1ᵗ)) · m_t / ( √v_t / √(1 − β2ᵗ) + ε )
/// ```
///
/// Defaults as PyTorch's: β = (0.9, 0.999), ε = 1e-8, λ = 0.01. [`AdamW::keras`] gives
/// Keras 3's (λ = 0.004, ε = 1e-7, [`EpsilonPlacement::Keras`]). State, checks and errors as
/// [`Adam`]'s; the serde form starts with `"kind": "AdamW"`.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(1, 1).init::<f64, _>(&mut rng)?;
/// dense.set_kernel(array![[1.0]])?;
/// dense.forward(array![[2.0]].into_dyn().view(), Mode::Train)?;
/// dense.backward(array![[1.0]].into_dyn().view())?; // dL/dW = 2
/// AdamW::new(0.01).step(&mut dense)?;
/// // W shrinks by η·λ = 1e-4 first, then takes Adam's first step η·g / (|g| + ε).
/// let want = 1.0 * (1.0 - 0.01 * 0.01) - 0.01 * 2.0 / (2.0 + 1e-8);
/// assert!((dense.kernel()[[0, 0]] - want).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct AdamW<F> {
    /// `"AdamW"` in the serde form (absent in states written before it existed).
    #[serde(default)]
    kind: Kind<AdamWKind>,
    /// The learning rate η. Must be finite and `> 0`.
    pub learning_rate: F,
    /// β1, the decay of the first moment; defaults to `0.9`. Must lie in `[0, 1)`.
    pub beta1: F,
    /// β2, the decay of the second moment; defaults to `0.999`. Must lie in `[0, 1)`.
    pub beta2: F,
    /// ε, added to the denominator; defaults to `1e-8`. Must be finite and `> 0`.
    pub epsilon: F,
    /// Decoupled weight decay λ (`θ ← θ (1 − η λ)`); defaults to `0.01`. Must be finite and
    /// `>= 0`.
    pub weight_decay: F,
    /// Where ε enters the denominator; defaults to [`EpsilonPlacement::PyTorch`].
    pub epsilon_placement: EpsilonPlacement,
    /// Gradient clipping applied before each update; defaults to `None`.
    pub gradient_clip: Option<GradientClip<F>>,
    #[serde(default)]
    step: u64,
    #[serde(default)]
    exp_avg: Vec<ArrayD<F>>,
    #[serde(default)]
    exp_avg_sq: Vec<ArrayD<F>>,
}

/// The builder methods and accessors Adam and AdamW share.
macro_rules! adam_common {
    ($ty:ident) => {
        impl<F: Float> $ty<F> {
            /// Sets β1 and β2, the decays of the first and second moments. Default
            /// `(0.9, 0.999)`.
            pub fn with_betas(mut self, beta1: F, beta2: F) -> Self {
                self.beta1 = beta1;
                self.beta2 = beta2;
                self
            }

            /// Sets ε. Defaults to `1e-8` (Keras: `1e-7`).
            pub fn with_epsilon(mut self, epsilon: F) -> Self {
                self.epsilon = epsilon;
                self
            }

            /// Sets the weight decay λ (see the type's formula for how it applies).
            pub fn with_weight_decay(mut self, weight_decay: F) -> Self {
                self.weight_decay = weight_decay;
                self
            }

            /// Sets where ε enters the denominator. Defaults to [`EpsilonPlacement::PyTorch`].
            pub fn with_epsilon_placement(mut self, placement: EpsilonPlacement) -> Self {
                self.epsilon_placement = placement;
                self
            }

            /// Clips the gradients before each update. Defaults to no clipping.
            pub fn with_gradient_clip(mut self, clip: GradientClip<F>) -> Self {
                self.gradient_clip = Some(clip);
                self
            }

            /// The number of steps taken since creation or the last [`Optimizer::reset`]
            /// (the `t` of the bias corrections).
            pub fn step_count(&self) -> u64 {
                self.step
            }

            /// The first moments `m_t` (PyTorch's `exp_avg`, Keras's `m`), one per parameter
            /// in visiting order; empty before the first step.
            pub fn exp_avg(&self) -> &[ArrayD<F>] {
                &self.exp_avg
            }

            /// The second moments `v_t` (PyTorch's `exp_avg_sq`, Keras's `v`), one per
            /// parameter in visiting order; empty before the first step.
            pub fn exp_avg_sq(&self) -> &[ArrayD<F>] {
                &self.exp_avg_sq
            }

            fn hyper(&self) -> Hyper<F> {
                Hyper {
                    lr: self.learning_rate,
                    beta1: self.beta1,
                    beta2: self.beta2,
                    eps: self.epsilon,
                    wd: self.weight_decay,
                    placement: self.epsilon_placement,
                    clip: self.gradient_clip,
                }
            }
        }

        impl<F: Float> Optimizer<F> for $ty<F> {
            /// One step.
            ///
            /// # Errors
            /// [`crate::Error::InvalidConfig`] for a hyperparameter out of range (see the
            /// fields) or a bad clipping threshold; [`crate::Error::ShapeMismatch`] if the
            /// parameters differ in number or shape from those the moments were made for, or
            /// a gradient's shape differs from its parameter's; [`crate::Error::NonFinite`]
            /// for NaN or an infinity in a gradient, or an update that would make a weight or
            /// a moment non-finite (naming the parameter). On any error no parameter,
            /// gradient, moment or step count changes.
            fn step(&mut self, params: &mut dyn Params<F>) -> Result<()> {
                let h = self.hyper();
                adam_step(
                    Self::NAME,
                    Self::DECOUPLED,
                    &h,
                    &mut self.step,
                    &mut self.exp_avg,
                    &mut self.exp_avg_sq,
                    params,
                )
            }

            fn validate(&self, params: &dyn Params<F>) -> Result<()> {
                validate_hyper(Self::NAME, &self.hyper())?;
                check_state(Self::NAME, params, &[("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)])
            }

            fn learning_rate(&self) -> F {
                self.learning_rate
            }

            fn set_learning_rate(&mut self, lr: F) -> Result<()> {
                positive(format_args!("{} learning rate", Self::NAME), lr)?;
                self.learning_rate = lr;
                Ok(())
            }

            /// Drops the moments and sets the step count back to 0.
            fn reset(&mut self) {
                self.step = 0;
                self.exp_avg.clear();
                self.exp_avg_sq.clear();
            }
        }
    };
}

adam_common!(Adam);
adam_common!(AdamW);

impl<F: Float> Adam<F> {
    const NAME: &'static str = "Adam";
    const DECOUPLED: bool = false;

    /// Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay.
    pub fn new(learning_rate: F) -> Self {
        Adam {
            kind: Kind::new(),
            learning_rate,
            beta1: F::of(0.9),
            beta2: F::of(0.999),
            epsilon: F::of(1e-8),
            weight_decay: F::zero(),
            epsilon_placement: EpsilonPlacement::PyTorch,
            gradient_clip: None,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
        }
    }

    /// Adam as Keras 3 computes it (`keras.optimizers.Adam`): β = (0.9, 0.999), ε = 1e-7
    /// added to the uncorrected `√v_t` ([`EpsilonPlacement::Keras`]). Keras's default
    /// learning rate is `0.001`.
    pub fn keras(learning_rate: F) -> Self {
        Adam::new(learning_rate).with_epsilon(F::of(1e-7)).with_epsilon_placement(EpsilonPlacement::Keras)
    }
}

impl<F: Float> AdamW<F> {
    const NAME: &'static str = "AdamW";
    const DECOUPLED: bool = true;

    /// AdamW with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, weight decay 0.01.
    pub fn new(learning_rate: F) -> Self {
        AdamW {
            kind: Kind::new(),
            learning_rate,
            beta1: F::of(0.9),
            beta2: F::of(0.999),
            epsilon: F::of(1e-8),
            weight_decay: F::of(0.01),
            epsilon_placement: EpsilonPlacement::PyTorch,
            gradient_clip: None,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
        }
    }

    /// AdamW as Keras 3 computes it (`keras.optimizers.AdamW`): β = (0.9, 0.999),
    /// ε = 1e-7 with [`EpsilonPlacement::Keras`], weight decay 0.004. Keras's default
    /// learning rate is `0.001`.
    pub fn keras(learning_rate: F) -> Self {
        AdamW::new(learning_rate)
            .with_epsilon(F::of(1e-7))
            .with_weight_decay(F::of(0.004))
            .with_epsilon_placement(EpsilonPlacement::Keras)
    }
}

/// The hyperparameters one step reads.
struct Hyper<F> {
    lr: F,
    beta1: F,
    beta2: F,
    eps: F,
    wd: F,
    placement: EpsilonPlacement,
    clip: Option<GradientClip<F>>,
}

fn validate_hyper<F: Float>(name: &str, h: &Hyper<F>) -> Result<()> {
    positive(format_args!("{name} learning rate"), h.lr)?;
    unit_interval(format_args!("{name} beta1"), h.beta1)?;
    unit_interval(format_args!("{name} beta2"), h.beta2)?;
    positive(format_args!("{name} epsilon"), h.eps)?;
    non_negative(format_args!("{name} weight decay"), h.wd)?;
    if let Some(clip) = &h.clip {
        clip.validate()?;
    }
    Ok(())
}

fn adam_step<F: Float>(
    name: &str,
    decoupled: bool,
    h: &Hyper<F>,
    step: &mut u64,
    exp_avg: &mut Vec<ArrayD<F>>,
    exp_avg_sq: &mut Vec<ArrayD<F>>,
    params: &mut dyn Params<F>,
) -> Result<()> {
    validate_hyper(name, h)?;
    check_step(name, params, &[("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)])?;
    if !any_trainable(params) {
        // Every parameter frozen: as Keras's optimisers given no gradients, the step is a
        // no-op, the step count included.
        return Ok(());
    }
    let scale = h.clip.map_or(GradScale::Keep, |c| c.scale(params));

    // The step this update is; stored only if the update succeeds.
    let t_next = if exp_avg.is_empty() && exp_avg_sq.is_empty() { 1 } else { step.saturating_add(1) };
    let t = F::of(t_next as f64);
    let one = F::one();
    let bc1 = one - h.beta1.powf(t);
    let bc2 = one - h.beta2.powf(t);
    let (w1, w2, beta2, eps) = (one - h.beta1, one - h.beta2, h.beta2, h.eps);
    // PyTorch: θ + (−η/bc1)·m / (√v/√bc2 + ε).  Keras: θ − m·(η√bc2/bc1) / (√v + ε).
    let keras = h.placement == EpsilonPlacement::Keras;
    let neg_step = -(h.lr / bc1);
    let bc2_sqrt = bc2.sqrt();
    let alpha = h.lr * bc2_sqrt / bc1;
    let (l2, shrink) = match (decoupled, h.wd != F::zero()) {
        (false, true) => (h.wd, one),
        (true, true) => (F::zero(), one - h.lr * h.wd),
        _ => (F::zero(), one),
    };

    let mut slots: [Slot<'_, F>; 2] = [("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)];
    update(name, params, &mut slots, scale, |theta, g, s| {
        let g = if l2 != F::zero() { g + l2 * theta } else { g };
        let theta = if shrink != one { theta * shrink } else { theta };
        s[0] = lerp(s[0], g, w1);
        s[1] = s[1] * beta2 + w2 * g * g;
        if keras {
            theta - s[0] * alpha / (s[1].sqrt() + eps)
        } else {
            theta + neg_step * (s[0] / (s[1].sqrt() / bc2_sqrt + eps))
        }
    })?;
    *step = t_next;
    Ok(())
}
