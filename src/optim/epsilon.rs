//! [`EpsilonPlacement`]: where Adam and RMSprop add ε, as PyTorch does or as Keras does.

use serde::{Deserialize, Serialize};

/// Where an adaptive optimiser ([`crate::Adam`], [`crate::AdamW`], [`crate::RmsProp`]) adds
/// ε to the denominator of its update.
///
/// PyTorch and Keras 3 write the same optimisers with ε in different places, so the same ε
/// gives different steps wherever the root of the second moment is not much larger than ε
/// (rarely-updated weights, tiny gradients). Only the denominator changes; the moments and
/// the weight-decay convention stay as the optimiser documents them.
///
/// ```text
/// PyTorch   Adam:     θ ← θ − (η / (1 − β1ᵗ)) · m_t / ( √v_t / √(1 − β2ᵗ) + ε )
///           RMSprop:  θ ← θ − η · g / ( √v_t + ε )
/// Keras     Adam:     θ ← θ − (η √(1 − β2ᵗ) / (1 − β1ᵗ)) · m_t / ( √v_t + ε )
///           RMSprop:  θ ← θ − η · g / √( v_t + ε )
/// ```
///
/// Keras's Adam with `epsilon = ε` equals PyTorch's with the step-dependent
/// `ε / √(1 − β2ᵗ)` (31.6 ε at t = 1 for β2 = 0.999), so matching ε values alone does not make
/// the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum EpsilonPlacement {
    /// PyTorch's (`torch.optim`): Adam adds ε to the bias-corrected `√v̂_t`; RMSprop adds it
    /// outside the square root. The default.
    #[default]
    PyTorch,
    /// Keras 3's (`keras.optimizers`): Adam folds both bias corrections into the step size and
    /// adds ε to the uncorrected `√v_t`; RMSprop adds ε inside the square root.
    Keras,
}
