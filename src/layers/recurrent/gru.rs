//! The gated recurrent unit (Keras's `GRU`, PyTorch's `nn.GRU`), in both formulations.
//!
//! Gate order r, z, n (PyTorch's; Keras packs z, r, h). With `σ` the recurrent activation
//! (sigmoid) and `φ` the activation (tanh):
//!
//! ```text
//! r_t = σ(x_t W_xr + b_xr + h_{t−1} W_hr + b_hr)              reset gate
//! z_t = σ(x_t W_xz + b_xz + h_{t−1} W_hz + b_hz)              update gate
//! reset_after = true (PyTorch; Keras's default since 2.x):
//!     n_t = φ(x_t W_xn + b_xn + r_t ⊙ (h_{t−1} W_hn + b_hn))
//! reset_after = false (Cho et al. 2014; Keras's old default):
//!     n_t = φ(x_t W_xn + b_n + (r_t ⊙ h_{t−1}) W_hn)
//! h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}
//! ```
//!
//! Packed: kernel (I, 3H), recurrent kernel (H, 3H), bias (3H), and with `reset_after` a
//! separate recurrent bias (3H) — needed because `b_hn` sits inside `r ⊙ (...)`. Parameters:
//! `3H(I + H + 2)` with `reset_after`, `3H(I + H + 1)` without.
//!
//! Backward through one step:
//!
//! ```text
//! dn = dh ⊙ (1 − z)      dz = dh ⊙ (h_{t−1} − n)      dh_{t−1} ⊇ dh ⊙ z
//! da_n = φ′ ⊙ dn
//! reset_after:   dgh_n = da_n ⊙ r,  dr = da_n ⊙ gh_n
//! original:      du = da_n W_hnᵀ (u = r ⊙ h_{t−1}),  dr = du ⊙ h_{t−1},  dh_{t−1} ⊇ du ⊙ r
//! ```

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::Result;
use crate::float::Float;
use crate::layers::recurrent::cell::{BackwardStep, Cell, ForwardStep, Init, ParamGrads, ParamSpec, Role};
use crate::layers::recurrent::config::RecurrentConfig;
use crate::layers::recurrent::core::Recurrent;
use crate::linalg::{gemm, step_gemm_packed, Mat, MatMut};

/// Index of the recurrent kernel in [`GruCell`]'s parameter list.
const RECURRENT_KERNEL: usize = 1;

/// The GRU cell: three gate blocks (r, z, n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GruCell {
    /// Activation of the candidate n. Defaults to [`Activation::Tanh`].
    pub activation: Activation,
    /// Activation of the gates r and z. Defaults to [`Activation::Sigmoid`].
    pub recurrent_activation: Activation,
    /// Apply the reset gate after the recurrent product (PyTorch, Keras ≥ 2) rather than
    /// before it (Cho et al.). Defaults to `true`.
    pub reset_after: bool,
}

impl Default for GruCell {
    fn default() -> Self {
        GruCell { activation: Activation::Tanh, recurrent_activation: Activation::Sigmoid, reset_after: true }
    }
}

impl<F: Float> Cell<F> for GruCell {
    fn gates(&self) -> usize {
        3
    }

    fn separate_recurrent(&self) -> bool {
        self.reset_after
    }

    /// With `reset_after` the loop's product covers all three blocks; Cho's candidate block
    /// multiplies `r ⊙ h̃_{t−1}`, known only mid-step, so the cell does that product itself.
    fn recurrent_columns(&self, units: usize) -> usize {
        if self.reset_after {
            3 * units
        } else {
            2 * units
        }
    }

    fn kind(&self) -> &'static str {
        "GRU"
    }

    fn default_name(&self) -> &'static str {
        "gru"
    }

    /// `gh_n` (reset_after) or `u = r ⊙ h̃_{t−1}` (original), per unit.
    fn cache_width(&self, units: usize) -> usize {
        units
    }

    /// Cho's form: `u W_hn` in the forward step, dL/du in the backward step.
    fn scratch_width(&self, units: usize) -> usize {
        if self.reset_after {
            0
        } else {
            units
        }
    }

    fn params(&self, input_size: usize, units: usize) -> Vec<ParamSpec> {
        let gw = units.saturating_mul(3);
        let mut specs = vec![
            ParamSpec::new("kernel", vec![input_size, gw], Init::GlorotUniform, Role::InputKernel),
            ParamSpec::new("recurrent_kernel", vec![units, gw], Init::Orthogonal, Role::RecurrentKernel),
            ParamSpec::new("bias", vec![gw], Init::Zeros, Role::InputBias),
        ];
        if self.reset_after {
            specs.push(ParamSpec::new("recurrent_bias", vec![gw], Init::Zeros, Role::RecurrentBias));
        }
        specs
    }

    #[inline]
    fn forward_step(&self, s: ForwardStep<'_, F>) {
        let h = s.units;
        let one = F::one();
        let (act, ract) = (self.activation, self.recurrent_activation);
        if self.reset_after {
            for (r, row) in s.gx.chunks_exact_mut(3 * h).enumerate() {
                let gh = &s.gh[r * 3 * h..(r + 1) * 3 * h];
                let (rz, n) = row.split_at_mut(2 * h);
                for (a, &b) in rz.iter_mut().zip(&gh[..2 * h]) {
                    *a += b;
                }
                let (rg, z) = rz.split_at_mut(h);
                ract.apply_rows(rg, h);
                ract.apply_rows(z, h);
                let ghn = &gh[2 * h..];
                let cache = &mut s.cache[r * h..(r + 1) * h];
                cache.copy_from_slice(ghn);
                for j in 0..h {
                    n[j] += rg[j] * ghn[j];
                }
                act.apply_rows(n, h);
                let (hp, hn) = (&s.h_prev[r * h..(r + 1) * h], &mut s.h[r * h..(r + 1) * h]);
                for j in 0..h {
                    hn[j] = (one - z[j]) * n[j] + z[j] * hp[j];
                }
            }
        } else {
            // gx holds x W_x + b + h W_h on the r and z blocks; n needs (r ⊙ h) W_hn first.
            for (r, row) in s.gx.chunks_exact_mut(3 * h).enumerate() {
                let (rg, rest) = row.split_at_mut(h);
                ract.apply_rows(rg, h);
                ract.apply_rows(&mut rest[..h], h);
                let (hp, u) = (&s.h_rec[r * h..(r + 1) * h], &mut s.cache[r * h..(r + 1) * h]);
                for j in 0..h {
                    u[j] = rg[j] * hp[j];
                }
            }
            // u_t W_hn: the candidate block of the recurrent kernel, (H, H) of (H, 3H), packed
            // by the loop once per pass.
            let wh = s.params.get(RECURRENT_KERNEL);
            step_gemm_packed(
                Mat::new(s.cache, s.batch, h),
                Mat::strided(wh.get(2 * h..).unwrap_or(&[]), h, h, 3 * h),
                s.params.late().map(|l| l.packed),
                MatMut::new(s.scratch, s.batch, h),
                false,
            );
            for (r, row) in s.gx.chunks_exact_mut(3 * h).enumerate() {
                let (z, n) = row[h..].split_at_mut(h);
                for (a, &b) in n.iter_mut().zip(&s.scratch[r * h..(r + 1) * h]) {
                    *a += b;
                }
                act.apply_rows(n, h);
                let (hp, hn) = (&s.h_prev[r * h..(r + 1) * h], &mut s.h[r * h..(r + 1) * h]);
                for j in 0..h {
                    hn[j] = (one - z[j]) * n[j] + z[j] * hp[j];
                }
            }
        }
    }

    #[inline]
    fn backward_step(&self, s: BackwardStep<'_, F>) {
        let h = s.units;
        let one = F::one();
        let (act, ract) = (self.activation, self.recurrent_activation);
        // Shared part: through h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, and through φ.
        for (r, (row, drow)) in s.gx.chunks_exact(3 * h).zip(s.dgx.chunks_exact_mut(3 * h)).enumerate() {
            let (z, n) = (&row[h..2 * h], &row[2 * h..]);
            let rs = r * h..(r + 1) * h;
            let (dh, hp, dhp) = (&s.dh[rs.clone()], &s.h_prev[rs.clone()], &mut s.dh_prev[rs]);
            let (dz, dn) = drow[h..].split_at_mut(h);
            for j in 0..h {
                dn[j] = dh[j] * (one - z[j]);
                dz[j] = dh[j] * (hp[j] - n[j]);
                dhp[j] = dh[j] * z[j];
            }
            act.backward_rows_inplace(n, dn, h);
            ract.backward_rows_inplace(z, dz, h);
        }
        if self.reset_after {
            for (r, (row, drow)) in s.gx.chunks_exact(3 * h).zip(s.dgx.chunks_exact_mut(3 * h)).enumerate() {
                let rg = &row[..h];
                let ghn = &s.cache[r * h..(r + 1) * h];
                let dgh = &mut s.dgh[r * 3 * h..(r + 1) * 3 * h];
                let (dr, rest) = drow.split_at_mut(h);
                let (dz, dn) = rest.split_at_mut(h);
                for j in 0..h {
                    dr[j] = dn[j] * ghn[j];
                    dgh[2 * h + j] = dn[j] * rg[j];
                }
                ract.backward_rows_inplace(rg, dr, h);
                dgh[..h].copy_from_slice(dr);
                dgh[h..2 * h].copy_from_slice(dz);
            }
        } else {
            // du = da_n W_hnᵀ, then through u = r ⊙ h̃_{t−1} (h̃ = h ⊙ m with recurrent dropout).
            let wh = s.params.get(RECURRENT_KERNEL);
            step_gemm_packed(
                Mat::strided(s.dgx.get(2 * h..).unwrap_or(&[]), s.batch, h, 3 * h),
                Mat::strided(wh.get(2 * h..).unwrap_or(&[]), h, h, 3 * h).t(),
                s.params.late().map(|l| l.packed),
                MatMut::new(s.scratch, s.batch, h),
                false,
            );
            for (r, (row, drow)) in s.gx.chunks_exact(3 * h).zip(s.dgx.chunks_exact_mut(3 * h)).enumerate() {
                let rg = &row[..h];
                let rs = r * h..(r + 1) * h;
                let (du, hp, dhp) = (&s.scratch[rs.clone()], &s.h_rec[rs.clone()], &mut s.dh_prev[rs.clone()]);
                let dr = &mut drow[..h];
                if s.rec_mask.is_empty() {
                    for j in 0..h {
                        dr[j] = du[j] * hp[j];
                        dhp[j] += du[j] * rg[j];
                    }
                } else {
                    let m = &s.rec_mask[rs];
                    for j in 0..h {
                        dr[j] = du[j] * hp[j];
                        dhp[j] += du[j] * rg[j] * m[j];
                    }
                }
                ract.backward_rows_inplace(rg, dr, h);
            }
        }
    }

    /// Cho's form: the candidate block of the recurrent kernel multiplied `u_t`, kept in the
    /// first `H` columns of each cache row: `dW_hn += Uᵀ dGX_n` over all rows at once.
    fn backward_params(&self, mut p: ParamGrads<'_, '_, F>) -> Result<()> {
        if self.reset_after {
            return Ok(());
        }
        let (h, rows) = (p.units, p.steps * p.batch);
        let grk = p.grads.get_mut(RECURRENT_KERNEL);
        gemm(
            Mat::strided(p.cache, rows, h, h).t(),
            Mat::strided(p.dgx.get(2 * h..).unwrap_or(&[]), rows, h, 3 * h),
            MatMut::strided(grk.get_mut(2 * h..).unwrap_or(&mut []), h, h, 3 * h),
            true,
        )
    }

    fn config_summary(&self) -> String {
        format!(
            "activation={}, recurrent_activation={}, reset_after={}",
            self.activation, self.recurrent_activation, self.reset_after
        )
    }
}

/// A GRU layer: [`GruCell`] on the shared recurrent loop.
///
/// # Shapes
/// input `(B, T, I)` → output `(B, T, H)` with `return_sequences`, else `(B, H)`.
///
/// # Example
/// ```
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let gru = GruConfig::new(1, 3).init::<f64, _>(&mut rng)?;
/// assert_eq!(gru.param_count(), 3 * 3 * (1 + 3 + 2)); // 54: two biases with reset_after
/// let cho = GruConfig::new(1, 3).with_reset_after(false).init::<f64, _>(&mut rng)?;
/// assert_eq!(cho.param_count(), 3 * 3 * (1 + 3 + 1)); // 45
/// # Ok::<(), recurrent::Error>(())
/// ```
pub type Gru<F> = Recurrent<F, GruCell>;

/// Builds a [`Gru`]: required sizes in `new`, options as `with_*` (the shared ones,
/// `with_return_sequences`, `with_go_backwards`, `with_dropout`, `with_recurrent_dropout`
/// and `init`, are [`RecurrentConfig`]'s).
pub type GruConfig = RecurrentConfig<GruCell>;

impl RecurrentConfig<GruCell> {
    /// A GRU with `units` units on `input_size` features and Keras's defaults
    /// (`reset_after = true`, PyTorch's formulation).
    pub fn new(input_size: usize, units: usize) -> Self {
        RecurrentConfig::of(GruCell::default(), input_size, units)
    }

    /// Sets the candidate's activation. Defaults to [`Activation::Tanh`].
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.cell.activation = activation;
        self
    }

    /// Sets the gates' activation. Defaults to [`Activation::Sigmoid`].
    pub fn with_recurrent_activation(mut self, activation: Activation) -> Self {
        self.cell.recurrent_activation = activation;
        self
    }

    /// Chooses the formulation: `true` (default) applies the reset gate after the recurrent
    /// product, as PyTorch and Keras ≥ 2; `false` is Cho et al.'s original.
    pub fn with_reset_after(mut self, on: bool) -> Self {
        self.cell.reset_after = on;
        self
    }
}
