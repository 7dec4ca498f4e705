//! RMSprop: steps scaled by a running root mean square of the gradient.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::float::Float;
use crate::layers::Params;
use crate::optim::clip::GradientClip;
use crate::optim::epsilon::EpsilonPlacement;
use crate::optim::kind::{Kind, RmsPropKind};
use crate::optim::optimizer::Optimizer;
use crate::optim::state::{
    any_trainable, check_state, check_step, lerp, non_negative, positive, unit_interval, update, GradScale, Slot,
};

/// RMSprop, step for step as PyTorch's `torch.optim.RMSprop(lr, alpha, eps, weight_decay,
/// momentum, centered)`:
///
/// ```text
/// g ← g + λ θ                          if weight decay λ ≠ 0 (an L2 penalty)
/// v_t = α v_{t−1} + (1 − α) g²         v_0 = 0, no bias correction
/// s_t = v_t                            not centered
/// s_t = v_t − ḡ_t²,  ḡ_t = α ḡ_{t−1} + (1 − α) g     centered (ḡ_0 = 0)
/// d_t = g / (√s_t + ε)                 PyTorch's ε placement (the default)
/// d_t = g / √(s_t + ε)                 Keras's ([`EpsilonPlacement::Keras`])
/// θ ← θ − η d_t                        without momentum
/// b_t = μ b_{t−1} + d_t,  θ ← θ − η b_t     with momentum μ > 0 (b_0 = 0)
/// ```
///
/// Defaults as PyTorch's: α = 0.99, ε = 1e-8, no weight decay, no momentum, not centered.
/// With no bias correction the first step is large, about `η·sign(g)/√(1 − α)` (10 η for
/// α = 0.99). [`RmsProp::keras`] gives Keras 3's defaults (ρ = α = 0.9, ε = 1e-7 inside the
/// root). Keras keeps its momentum buffer with η folded in, which takes the same steps while
/// η is constant; its `weight_decay` is decoupled, unlike this one. A centered `s_t` that
/// rounding makes slightly negative is taken as 0.
///
/// The state, per parameter in visiting order: `v_t` ([`RmsProp::square_avg`]), `ḡ_t` when
/// centered ([`RmsProp::grad_avg`]) and `b_t` with momentum ([`RmsProp::momentum_buffers`]).
/// Frozen parameters ([`crate::Layer::set_trainable`]) are not updated and their state
/// values do not move; a step with every parameter frozen changes nothing.
///
/// Hyperparameters are public fields (and `with_*` builders), checked by
/// [`Optimizer::validate`] and at every [`Optimizer::step`] before anything changes. A step
/// whose update would overflow changes nothing and errs (see [`Optimizer::step`]). The serde
/// form starts with `"kind": "RmsProp"`, and reading refuses another kind.
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
/// let mut rms = RmsProp::new(0.01);
/// rms.step(&mut dense)?;
/// // v = 0.01·g² = 0.04, so W moves by η·g / (√0.04 + ε) ≈ 10 η.
/// assert!((dense.kernel()[[0, 0]] - (1.0 - 0.01 * 2.0 / (0.04f64.sqrt() + 1e-8))).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct RmsProp<F> {
    /// `"RmsProp"` in the serde form (absent in states written before it existed).
    #[serde(default)]
    kind: Kind<RmsPropKind>,
    /// The learning rate η. Must be finite and `> 0`.
    pub learning_rate: F,
    /// α, the decay of the mean square (Keras's `rho`); defaults to `0.99`. Must lie in
    /// `[0, 1)`.
    pub alpha: F,
    /// ε, added to the denominator; defaults to `1e-8`. Must be finite and `> 0`.
    pub epsilon: F,
    /// Weight decay λ as an L2 penalty (`g ← g + λ θ`); defaults to `0`. Must be finite and
    /// `>= 0`.
    pub weight_decay: F,
    /// Momentum μ; defaults to `0` (none). Must be finite and `>= 0`.
    pub momentum: F,
    /// Divide by an estimate of the gradient's variance instead of its mean square; defaults
    /// to `false`.
    pub centered: bool,
    /// Where ε enters the denominator; defaults to [`EpsilonPlacement::PyTorch`].
    pub epsilon_placement: EpsilonPlacement,
    /// Gradient clipping applied before each update; defaults to `None`.
    pub gradient_clip: Option<GradientClip<F>>,
    #[serde(default)]
    square_avg: Vec<ArrayD<F>>,
    #[serde(default)]
    grad_avg: Vec<ArrayD<F>>,
    #[serde(default)]
    momentum_buffer: Vec<ArrayD<F>>,
}

impl<F: Float> RmsProp<F> {
    /// RMSprop with PyTorch's defaults: α = 0.99, ε = 1e-8, no weight decay, no momentum,
    /// not centered.
    pub fn new(learning_rate: F) -> Self {
        RmsProp {
            kind: Kind::new(),
            learning_rate,
            alpha: F::of(0.99),
            epsilon: F::of(1e-8),
            weight_decay: F::zero(),
            momentum: F::zero(),
            centered: false,
            epsilon_placement: EpsilonPlacement::PyTorch,
            gradient_clip: None,
            square_avg: Vec::new(),
            grad_avg: Vec::new(),
            momentum_buffer: Vec::new(),
        }
    }

    /// RMSprop as Keras 3 computes it (`keras.optimizers.RMSprop`): ρ = 0.9, ε = 1e-7 inside
    /// the square root ([`EpsilonPlacement::Keras`]). Keras's default learning rate is
    /// `0.001`.
    pub fn keras(learning_rate: F) -> Self {
        RmsProp::new(learning_rate)
            .with_alpha(F::of(0.9))
            .with_epsilon(F::of(1e-7))
            .with_epsilon_placement(EpsilonPlacement::Keras)
    }

    /// Sets α, the decay of the mean square. Defaults to `0.99` (Keras: `0.9`).
    pub fn with_alpha(mut self, alpha: F) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets ε. Defaults to `1e-8` (Keras: `1e-7`).
    pub fn with_epsilon(mut self, epsilon: F) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Sets the weight decay λ, added to the gradient as `λ θ`. Defaults to `0`.
    pub fn with_weight_decay(mut self, weight_decay: F) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum μ. Defaults to `0`.
    pub fn with_momentum(mut self, momentum: F) -> Self {
        self.momentum = momentum;
        self
    }

    /// Switches the centered variant on or off. Defaults to `false`.
    pub fn with_centered(mut self, centered: bool) -> Self {
        self.centered = centered;
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

    /// The mean squares `v_t` (PyTorch's `square_avg`, Keras's `velocity`), one per parameter
    /// in visiting order; empty before the first step.
    pub fn square_avg(&self) -> &[ArrayD<F>] {
        &self.square_avg
    }

    /// The mean gradients `ḡ_t` of the centered variant (PyTorch's `grad_avg`), one per
    /// parameter in visiting order; empty before the first centered step.
    pub fn grad_avg(&self) -> &[ArrayD<F>] {
        &self.grad_avg
    }

    /// The momentum buffers `b_t` (PyTorch's `momentum_buffer`), one per parameter in
    /// visiting order; empty before the first step with momentum.
    pub fn momentum_buffers(&self) -> &[ArrayD<F>] {
        &self.momentum_buffer
    }

    /// The state lists a step reads with the current settings.
    fn buffers(&self) -> Vec<(&'static str, &[ArrayD<F>])> {
        let mut buffers: Vec<(&str, &[ArrayD<F>])> = vec![("square_avg", &self.square_avg)];
        if self.centered {
            buffers.push(("grad_avg", &self.grad_avg));
        }
        if self.momentum != F::zero() {
            buffers.push(("momentum_buffer", &self.momentum_buffer));
        }
        buffers
    }

    fn validate_hyper(&self) -> Result<()> {
        positive("RMSprop learning rate", self.learning_rate)?;
        unit_interval("RMSprop alpha", self.alpha)?;
        positive("RMSprop epsilon", self.epsilon)?;
        non_negative("RMSprop weight decay", self.weight_decay)?;
        non_negative("RMSprop momentum", self.momentum)?;
        if let Some(clip) = &self.gradient_clip {
            clip.validate()?;
        }
        Ok(())
    }
}

impl<F: Float> Optimizer<F> for RmsProp<F> {
    /// One RMSprop step.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] for a hyperparameter out of range (see the fields) or
    /// a bad clipping threshold; [`crate::Error::ShapeMismatch`] if the parameters differ in
    /// number or shape from those the state was made for, or a gradient's shape differs from
    /// its parameter's; [`crate::Error::NonFinite`] for NaN or an infinity in a gradient, or
    /// an update that would make a weight or a state value non-finite (naming the
    /// parameter). On any error no parameter, gradient or state value changes.
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()> {
        self.validate_hyper()?;
        let centered = self.centered;
        let with_momentum = self.momentum != F::zero();
        check_step("RMSprop", params, &self.buffers())?;
        if !any_trainable(params) {
            return Ok(()); // every parameter frozen: nothing to do, no state to create
        }
        let scale = self.gradient_clip.map_or(GradScale::Keep, |c| c.scale(params));

        let one = F::one();
        let (alpha, w, eps, wd, mu) = (self.alpha, one - self.alpha, self.epsilon, self.weight_decay, self.momentum);
        let neg_lr = -self.learning_rate;
        let keras = self.epsilon_placement == EpsilonPlacement::Keras;
        // Slot 0 is the mean square; the mean gradient and the momentum buffer follow when in use.
        let mut slots: Vec<Slot<'_, F>> = vec![("square_avg", &mut self.square_avg)];
        if centered {
            slots.push(("grad_avg", &mut self.grad_avg));
        }
        if with_momentum {
            slots.push(("momentum_buffer", &mut self.momentum_buffer));
        }
        let b = usize::from(centered) + 1;
        update("RMSprop", params, &mut slots, scale, |theta, g, s| {
            let g = if wd != F::zero() { g + wd * theta } else { g };
            s[0] = s[0] * alpha + w * g * g;
            let sq = if centered {
                s[1] = lerp(s[1], g, w);
                (s[0] - s[1] * s[1]).max(F::zero())
            } else {
                s[0]
            };
            let denom = if keras { (sq + eps).sqrt() } else { sq.sqrt() + eps };
            if with_momentum {
                s[b] = s[b] * mu + g / denom;
                theta + neg_lr * s[b]
            } else {
                theta + neg_lr * (g / denom)
            }
        })
    }

    fn validate(&self, params: &dyn Params<F>) -> Result<()> {
        self.validate_hyper()?;
        check_state("RMSprop", params, &self.buffers())
    }

    fn learning_rate(&self) -> F {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: F) -> Result<()> {
        positive("RMSprop learning rate", lr)?;
        self.learning_rate = lr;
        Ok(())
    }

    /// Drops the mean squares, mean gradients and momentum buffers.
    fn reset(&mut self) {
        self.square_avg.clear();
        self.grad_avg.clear();
        self.momentum_buffer.clear();
    }
}
