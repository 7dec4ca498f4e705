//! The long short-term memory cell (Keras's `LSTM`, PyTorch's `nn.LSTM`).
//!
//! Gate order i, f, g, o (Keras calls g "c"); with `σ` the recurrent activation (sigmoid)
//! and `φ` the activation (tanh):
//!
//! ```text
//! i_t = σ(x_t W_xi + h_{t−1} W_hi + b_i)        input gate
//! f_t = σ(x_t W_xf + h_{t−1} W_hf + b_f)        forget gate
//! g_t = φ(x_t W_xg + h_{t−1} W_hg + b_g)        candidate
//! o_t = σ(x_t W_xo + h_{t−1} W_ho + b_o)        output gate
//! c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
//! h_t = o_t ⊙ φ(c_t)
//! ```
//!
//! Packed: kernel (I, 4H) = [W_xi | W_xf | W_xg | W_xo], recurrent kernel (H, 4H), bias
//! (4H), one combined bias (PyTorch's `b_ih + b_hh`). Parameters: `4H(I + H + 1)`.
//!
//! Backward through one step (the cell state carries gradient past the gates, which is why
//! LSTM gradients vanish far more slowly than a SimpleRNN's):
//!
//! ```text
//! dc   = dc_t (from step t+1) + dh_t ⊙ o_t ⊙ φ′(c_t)
//! do   = dh_t ⊙ φ(c_t)          di = dc ⊙ g_t        dg = dc ⊙ i_t        df = dc ⊙ c_{t−1}
//! dc_{t−1} = dc ⊙ f_t
//! pre-activation gradients: each gate's gradient times its activation's derivative
//! ```

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::float::Float;
use crate::layers::recurrent::cell::{BackwardStep, Cell, ForwardStep, Init, ParamSpec, Role};
use crate::layers::recurrent::config::RecurrentConfig;
use crate::layers::recurrent::core::Recurrent;

/// The LSTM cell: four gate blocks (i, f, g, o) and a cell state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LstmCell {
    /// Activation of the candidate g and of the cell output φ(c). Defaults to
    /// [`Activation::Tanh`].
    pub activation: Activation,
    /// Activation of the gates i, f, o. Defaults to [`Activation::Sigmoid`].
    pub recurrent_activation: Activation,
    /// Initialise the forget-gate bias to 1 (Keras's `unit_forget_bias`). Defaults to `true`.
    pub unit_forget_bias: bool,
}

impl Default for LstmCell {
    fn default() -> Self {
        LstmCell { activation: Activation::Tanh, recurrent_activation: Activation::Sigmoid, unit_forget_bias: true }
    }
}

impl<F: Float> Cell<F> for LstmCell {
    fn gates(&self) -> usize {
        4
    }

    fn cell_state_width(&self, units: usize) -> usize {
        units
    }

    fn kind(&self) -> &'static str {
        "LSTM"
    }

    fn default_name(&self) -> &'static str {
        "lstm"
    }

    /// φ(c_t) per unit.
    fn cache_width(&self, units: usize) -> usize {
        units
    }

    fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec> {
        let gw = units.saturating_mul(4);
        let bias = if self.unit_forget_bias { Init::Blocks(vec![0.0, 1.0, 0.0, 0.0]) } else { Init::Zeros };
        vec![
            ParamSpec::new("kernel", vec![input_size, gw], Init::GlorotUniform, Role::InputKernel),
            ParamSpec::new("recurrent_kernel", vec![units, gw], Init::Orthogonal, Role::RecurrentKernel),
            ParamSpec::new("bias", vec![gw], bias, Role::InputBias),
        ]
    }

    #[inline]
    fn forward_step(&self, s: ForwardStep<'_, F>) {
        let h = s.units;
        let (act, ract) = (self.activation, self.recurrent_activation);
        if (act, ract) == (Activation::Tanh, Activation::Sigmoid) {
            // The defaults: one fused pass over the step (the same arithmetic as below).
            return F::lstm_step(s.gx, s.c_prev, s.c, s.h, s.cache, h);
        }
        for (r, row) in s.gx.chunks_exact_mut(4 * h).enumerate() {
            // row = pre-activations [i | f | g | o] → activations, in place.
            let (ifg, o) = row.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            let (i, f) = i_f.split_at_mut(h);
            ract.apply_rows(i, h);
            ract.apply_rows(f, h);
            act.apply_rows(g, h);
            ract.apply_rows(o, h);
            let rs = r * h..(r + 1) * h;
            let (cp, c, hn, tc) = (&s.c_prev[rs.clone()], &mut s.c[rs.clone()], &mut s.h[rs.clone()], &mut s.cache[rs]);
            for j in 0..h {
                c[j] = f[j] * cp[j] + i[j] * g[j];
                tc[j] = c[j];
            }
            act.apply_rows(tc, h);
            for j in 0..h {
                hn[j] = o[j] * tc[j];
            }
        }
    }

    #[inline]
    fn backward_step(&self, s: BackwardStep<'_, F>) {
        let h = s.units;
        let (act, ract) = (self.activation, self.recurrent_activation);
        for (r, (row, drow)) in s.gx.chunks_exact(4 * h).zip(s.dgx.chunks_exact_mut(4 * h)).enumerate() {
            let (i, f, g, o) = (&row[..h], &row[h..2 * h], &row[2 * h..3 * h], &row[3 * h..]);
            let rs = r * h..(r + 1) * h;
            let (tc, cp, dc_in) = (&s.cache[rs.clone()], &s.c_prev[rs.clone()], &s.dc[rs.clone()]);
            let dh = &mut s.dh[rs.clone()];
            let (di, rest) = drow.split_at_mut(h);
            let (df, rest) = rest.split_at_mut(h);
            let (dg, d_o) = rest.split_at_mut(h);
            // Through h_t = o ⊙ φ(c_t).
            for j in 0..h {
                d_o[j] = dh[j] * tc[j];
                dh[j] *= o[j];
            }
            act.backward_rows_inplace(tc, dh, h); // dh now holds dL/dc_t via h_t
            let dcp = &mut s.dc_prev[rs];
            for j in 0..h {
                let dc = dh[j] + dc_in[j];
                di[j] = dc * g[j];
                df[j] = dc * cp[j];
                dg[j] = dc * i[j];
                dcp[j] = dc * f[j];
            }
            // Through the gate activations.
            ract.backward_rows_inplace(i, di, h);
            ract.backward_rows_inplace(f, df, h);
            act.backward_rows_inplace(g, dg, h);
            ract.backward_rows_inplace(o, d_o, h);
        }
        // h_{t−1} reaches step t only through W_h.
        s.dh_prev.iter_mut().for_each(|v| *v = F::zero());
    }

    fn config_summary(&self) -> String {
        format!(
            "activation={}, recurrent_activation={}, unit_forget_bias={}",
            self.activation, self.recurrent_activation, self.unit_forget_bias
        )
    }
}

/// An LSTM layer: [`LstmCell`] on the shared recurrent loop.
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`; states
/// `h` and `c` are `(B, H)`.
///
/// # Example
/// ```
/// use ndarray::Array3;
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut lstm = LstmConfig::new(1, 3).init::<f64, _>(&mut rng)?;
/// assert_eq!(lstm.param_count(), 4 * 3 * (1 + 3 + 1)); // 60
/// let h = lstm.forward(Array3::<f64>::zeros((4, 5, 1)).into_dyn().view(), Mode::Infer)?;
/// assert_eq!(h.shape(), &[4, 3]);
/// assert!(lstm.final_state().unwrap().c.is_some());
/// # Ok::<(), recurrent::Error>(())
/// ```
pub type Lstm<F> = Recurrent<F, LstmCell>;

/// Builds an [`Lstm`]: required sizes in `new`, options as `with_*` (the shared ones,
/// `with_return_sequences`, `with_go_backwards`, `with_dropout`, `with_recurrent_dropout`
/// and `init`, are [`RecurrentConfig`]'s).
pub type LstmConfig = RecurrentConfig<LstmCell>;

impl RecurrentConfig<LstmCell> {
    /// An LSTM with `units` units on `input_size` features and Keras's defaults.
    pub fn new(input_size: usize, units: usize) -> Self {
        RecurrentConfig::of(LstmCell::default(), input_size, units)
    }

    /// Sets the activation of g and φ(c). Defaults to [`Activation::Tanh`].
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.cell.activation = activation;
        self
    }

    /// Sets the gates' activation. Defaults to [`Activation::Sigmoid`].
    pub fn with_recurrent_activation(mut self, activation: Activation) -> Self {
        self.cell.recurrent_activation = activation;
        self
    }

    /// Sets whether the forget-gate bias starts at 1. Defaults to `true`.
    pub fn with_unit_forget_bias(mut self, on: bool) -> Self {
        self.cell.unit_forget_bias = on;
        self
    }
}
