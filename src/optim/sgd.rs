//! Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::Params;
use crate::optim::clip::GradientClip;
use crate::optim::kind::{Kind, SgdKind};
use crate::optim::optimizer::Optimizer;
use crate::optim::state::{any_trainable, check_state, check_step, non_negative, positive, update, GradScale, Slot};

/// Stochastic gradient descent, step for step as PyTorch's `torch.optim.SGD(lr, momentum,
/// dampening, weight_decay, nesterov)`:
///
/// ```text
/// g ← g + λ θ                           if weight decay λ ≠ 0 (an L2 penalty)
/// if momentum μ ≠ 0:
///     b_1 = g                           the first step copies g (no dampening)
///     b_t = μ b_{t−1} + (1 − τ) g       later steps, dampening τ
///     g ← g + μ b_t                     with Nesterov momentum
///     g ← b_t                           without
/// θ ← θ − η g
/// ```
///
/// `Sgd::new(η)` is plain SGD (`θ ← θ − η·g`); momentum, dampening, Nesterov and weight
/// decay are options. With momentum the optimiser keeps one buffer `b` per parameter
/// ([`Sgd::momentum_buffers`]), keyed on the parameters' visiting order; without it, it keeps
/// nothing. Keras's SGD (`v ← μ v − η g`, `θ ← θ + v`) takes the same steps while η is
/// constant; its `weight_decay` is decoupled, which equals this one only without momentum.
///
/// Frozen parameters ([`crate::Layer::set_trainable`]) are not updated and their buffers do
/// not move. The buffers are made for every parameter at the first step, so a parameter
/// frozen then starts from a zero buffer when it is unfrozen: its first step takes
/// `(1 − τ) g` where PyTorch, which makes a buffer at a parameter's own first step, takes `g`
/// (the same without dampening, and the same as Keras, whose momentum starts at zero).
///
/// Hyperparameters are public fields (and `with_*` builders), checked by
/// [`Optimizer::validate`] and at every [`Optimizer::step`] before anything changes. A step
/// whose update would overflow changes nothing and errs (see [`Optimizer::step`]). The serde
/// form starts with `"kind": "Sgd"`, and reading refuses another kind.
///
/// # Example
/// ```
/// use ndarray::array;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut dense = DenseConfig::new(1, 1).init::<f64, _>(&mut rng)?;
/// dense.set_kernel(array![[1.0]])?;
/// dense.forward(array![[2.0]].into_dyn().view(), Mode::Train)?;
/// dense.backward(array![[1.0]].into_dyn().view())?; // dL/dW = x = 2
/// Sgd::new(0.1).step(&mut dense)?;
/// assert!((dense.kernel()[[0, 0]] - 0.8).abs() < 1e-15);
///
/// // With momentum 0.9 the second step with the same gradient moves further:
/// // b = 2 then 0.9·2 + 2 = 3.8, so W = 0.8 − 0.2 − 0.38.
/// let mut sgd = Sgd::new(0.1).with_momentum(0.9);
/// sgd.step(&mut dense)?;
/// sgd.step(&mut dense)?;
/// assert!((dense.kernel()[[0, 0]] - 0.22).abs() < 1e-15);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct Sgd<F> {
    /// `"Sgd"` in the serde form (absent in states written before it existed).
    #[serde(default)]
    kind: Kind<SgdKind>,
    /// The learning rate η. Must be finite and `> 0`.
    pub learning_rate: F,
    /// Momentum μ; defaults to `0` (none). Must be finite and `>= 0`.
    #[serde(default)]
    pub momentum: F,
    /// Dampening τ of the momentum; defaults to `0`. Must lie in `[0, 1]`.
    #[serde(default)]
    pub dampening: F,
    /// Nesterov momentum; defaults to `false`. Needs momentum `> 0` and dampening `0`.
    #[serde(default)]
    pub nesterov: bool,
    /// Weight decay λ (an L2 penalty added to the gradient); defaults to `0`. Must be finite
    /// and `>= 0`.
    #[serde(default)]
    pub weight_decay: F,
    /// Gradient clipping applied before each update; defaults to `None`.
    #[serde(default)]
    pub gradient_clip: Option<GradientClip<F>>,
    /// One momentum buffer per parameter, in visiting order; empty until a step with momentum.
    #[serde(default)]
    momentum_buffer: Vec<ArrayD<F>>,
}

impl<F: Float> Sgd<F> {
    /// Plain SGD with learning rate `learning_rate`: no momentum, no weight decay, no clipping.
    pub fn new(learning_rate: F) -> Self {
        Sgd {
            kind: Kind::new(),
            learning_rate,
            momentum: F::zero(),
            dampening: F::zero(),
            nesterov: false,
            weight_decay: F::zero(),
            gradient_clip: None,
            momentum_buffer: Vec::new(),
        }
    }

    /// Sets the momentum μ (PyTorch's `momentum`; `0.9` is usual). Defaults to `0`.
    pub fn with_momentum(mut self, momentum: F) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening τ of the momentum. Defaults to `0`.
    pub fn with_dampening(mut self, dampening: F) -> Self {
        self.dampening = dampening;
        self
    }

    /// Switches Nesterov momentum on or off. Defaults to `false`.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the weight decay λ, added to the gradient as `λ θ`. Defaults to `0`.
    pub fn with_weight_decay(mut self, weight_decay: F) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Clips the gradients before each update. Defaults to no clipping.
    pub fn with_gradient_clip(mut self, clip: GradientClip<F>) -> Self {
        self.gradient_clip = Some(clip);
        self
    }

    /// The momentum buffers `b_t` (PyTorch's `momentum_buffer`), one per parameter in
    /// visiting order; empty before the first step with momentum and after
    /// [`Optimizer::reset`].
    pub fn momentum_buffers(&self) -> &[ArrayD<F>] {
        &self.momentum_buffer
    }

    fn validate_hyper(&self) -> Result<()> {
        positive("SGD learning rate", self.learning_rate)?;
        non_negative("SGD momentum", self.momentum)?;
        let tau = self.dampening;
        if !(tau >= F::zero() && tau <= F::one()) {
            return Err(Error::config("SGD dampening", "a value in [0, 1]", tau));
        }
        non_negative("SGD weight decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= F::zero() || tau != F::zero()) {
            return Err(Error::config(
                "SGD nesterov",
                "momentum > 0 and dampening 0 (as in PyTorch)",
                format!("momentum {}, dampening {}", self.momentum, tau),
            ));
        }
        if let Some(clip) = &self.gradient_clip {
            clip.validate()?;
        }
        Ok(())
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    /// One SGD step.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a hyperparameter out of range (see the fields) or a bad
    /// clipping threshold; [`Error::ShapeMismatch`] if the parameters differ in number or
    /// shape from those the momentum buffers were made for, or a gradient's shape differs
    /// from its parameter's; [`Error::NonFinite`] for NaN or an infinity in a gradient, or an
    /// update that would make a weight or a buffer non-finite (naming the parameter). On any
    /// error no parameter, gradient or buffer changes.
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()> {
        self.validate_hyper()?;
        let with_momentum = self.momentum != F::zero();
        let buffers: &[(&str, &[ArrayD<F>])] =
            if with_momentum { &[("momentum_buffer", &self.momentum_buffer)] } else { &[] };
        check_step("SGD", params, buffers)?;
        if !any_trainable(params) {
            return Ok(()); // every parameter frozen: nothing to do, no state to create
        }
        let scale = self.gradient_clip.map_or(GradScale::Keep, |c| c.scale(params));

        let neg_lr = -self.learning_rate;
        let (mu, wd, nesterov) = (self.momentum, self.weight_decay, self.nesterov);
        let keep = F::one() - self.dampening;
        if !with_momentum {
            return update("SGD", params, &mut [], scale, |v, g, _| {
                let g = if wd != F::zero() { g + wd * v } else { g };
                v + neg_lr * g
            });
        }
        let first = self.momentum_buffer.is_empty();
        let mut slots: [Slot<'_, F>; 1] = [("momentum_buffer", &mut self.momentum_buffer)];
        update("SGD", params, &mut slots, scale, |v, g, s| {
            let g = if wd != F::zero() { g + wd * v } else { g };
            s[0] = if first { g } else { mu * s[0] + keep * g };
            let d = if nesterov { g + mu * s[0] } else { s[0] };
            v + neg_lr * d
        })
    }

    fn validate(&self, params: &dyn Params<F>) -> Result<()> {
        self.validate_hyper()?;
        if self.momentum != F::zero() {
            check_state("SGD", params, &[("momentum_buffer", &self.momentum_buffer)])?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> F {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: F) -> Result<()> {
        positive("SGD learning rate", lr)?;
        self.learning_rate = lr;
        Ok(())
    }

    /// Drops the momentum buffers; the next step starts them afresh.
    fn reset(&mut self) {
        self.momentum_buffer.clear();
    }
}
