//! The Elman recurrent cell (Keras's `SimpleRNN`, PyTorch's `nn.RNN`).
//!
//! ```text
//! h_t = act(x_t W_x + h_{t−1} W_h + b)        W_x: (I, H), W_h: (H, H), b: (H)
//! ```
//!
//! Backward through one step, with `a_t` the pre-activation:
//!
//! ```text
//! da_t      = act′(a_t) ⊙ dh_t          (act′ written from h_t: tanh′ = 1 − h_t², relu′ = [h_t > 0])
//! dh_{t−1}  = da_t W_hᵀ                 (the loop adds this)
//! dW_x += x_tᵀ da_t,  dW_h += h_{t−1}ᵀ da_t,  db += Σ_b da_t   (gathered over all steps)
//! ```
//!
//! Parameters: `H·(I + H + 1)`, so SimpleRNN(2) on 1 feature has 8 and SimpleRNN(3) has 15.

use ndarray_rand::rand::Rng;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Result;
use crate::float::Float;
use crate::layers::recurrent::cell::{BackwardStep, Cell, ForwardStep, Init, ParamSpec, Role};
use crate::layers::recurrent::config::RecurrentConfig;
use crate::layers::recurrent::core::Recurrent;

/// The SimpleRNN (Elman) cell: one gate block, `h_t = act(x_t W_x + h_{t−1} W_h + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleRnnCell {
    /// The activation. Defaults to [`Activation::Tanh`].
    pub activation: Activation,
}

impl Default for SimpleRnnCell {
    fn default() -> Self {
        SimpleRnnCell { activation: Activation::Tanh }
    }
}

impl<F: Float> Cell<F> for SimpleRnnCell {
    fn gates(&self) -> usize {
        1
    }

    fn kind(&self) -> &'static str {
        "SimpleRNN"
    }

    fn default_name(&self) -> &'static str {
        "simple_rnn"
    }

    fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("kernel", vec![input_size, units], Init::GlorotUniform, Role::InputKernel),
            ParamSpec::new("recurrent_kernel", vec![units, units], Init::Orthogonal, Role::RecurrentKernel),
            ParamSpec::new("bias", vec![units], Init::Zeros, Role::InputBias),
        ]
    }

    #[inline]
    fn forward_step(&self, s: ForwardStep<'_, F>) {
        // gx already holds x_t W_x + b + h_{t−1} W_h; the activation writes h_t directly
        // (backward needs only h_t).
        self.activation.apply_rows_into(s.gx, s.h, s.units);
    }

    #[inline]
    fn backward_step(&self, s: BackwardStep<'_, F>) {
        // Backprop through the activation, using its output h_t.
        s.dgx.copy_from_slice(s.dh);
        self.activation.backward_rows_inplace(s.h, s.dgx, s.units);
        // h_{t−1} reaches h_t only through W_h.
        s.dh_prev.iter_mut().for_each(|v| *v = F::zero());
    }

    fn config_summary(&self) -> String {
        format!("activation={}", self.activation)
    }
}

/// A SimpleRNN (Elman) layer: [`SimpleRnnCell`] on the shared recurrent loop.
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`.
///
/// # Example
/// ```
/// use ndarray::Array3;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut rnn = SimpleRnnConfig::new(1, 3).init::<f64, _>(&mut rng)?;
/// assert_eq!(rnn.param_count(), 15);
/// let x = Array3::<f64>::zeros((4, 5, 1)); // 4 windows of 5 steps, 1 feature
/// let h = rnn.forward(x.into_dyn().view(), Mode::Infer)?;
/// assert_eq!(h.shape(), &[4, 3]);
/// # Ok::<(), recurrent::Error>(())
/// ```
pub type SimpleRnn<F> = Recurrent<F, SimpleRnnCell>;

/// Builds a [`SimpleRnn`]: required sizes in `new`, options as `with_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleRnnConfig {
    /// Input features `I`. Must be at least 1.
    pub input_size: usize,
    /// Units `H`. Must be at least 1.
    pub units: usize,
    /// The activation. Defaults to [`Activation::Tanh`].
    pub activation: Activation,
    /// Return every step's state `(B, T, H)` instead of the last `(B, H)`. Defaults to `false`.
    pub return_sequences: bool,
    /// Read the input from the last step to the first. Defaults to `false`.
    pub go_backwards: bool,
    /// Input dropout rate in training (Keras's `dropout`). Defaults to `0`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
    /// Recurrent dropout rate in training (Keras's `recurrent_dropout`). Defaults to `0`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl SimpleRnnConfig {
    /// A tanh SimpleRNN with `units` units on `input_size` features, returning the last state.
    pub fn new(input_size: usize, units: usize) -> Self {
        SimpleRnnConfig {
            input_size,
            units,
            activation: Activation::Tanh,
            return_sequences: false,
            go_backwards: false,
            dropout: 0.0,
            recurrent_dropout: 0.0,
        }
    }

    /// Sets the activation. Defaults to [`Activation::Tanh`].
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets whether to return every step's state. Defaults to `false`.
    pub fn with_return_sequences(mut self, on: bool) -> Self {
        self.return_sequences = on;
        self
    }

    /// Sets whether to read the input backwards. Defaults to `false`.
    pub fn with_go_backwards(mut self, on: bool) -> Self {
        self.go_backwards = on;
        self
    }

    /// Sets the input dropout rate (see [`Recurrent::set_dropout`]). Defaults to `0`.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Sets the recurrent dropout rate (see [`Recurrent::set_recurrent_dropout`]). Defaults
    /// to `0`.
    pub fn with_recurrent_dropout(mut self, p: f64) -> Self {
        self.recurrent_dropout = p;
        self
    }

    /// Creates the layer with Keras's initialisation: Glorot-uniform kernel, orthogonal
    /// recurrent kernel, zero bias, drawn from `rng`.
    ///
    /// # Errors
    /// As [`RecurrentConfig::init`].
    pub fn init<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<SimpleRnn<F>> {
        self.generic().init(rng)
    }

    /// The same configuration in the form every cell shares.
    pub(crate) fn generic(&self) -> RecurrentConfig<SimpleRnnCell> {
        RecurrentConfig {
            input_size: self.input_size,
            units: self.units,
            cell: SimpleRnnCell { activation: self.activation },
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            dropout: self.dropout,
            recurrent_dropout: self.recurrent_dropout,
        }
    }
}
