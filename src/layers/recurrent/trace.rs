//! [`GradientTrace`]: how large dL/dh_t is at every step after a backward pass — the
//! vanishing (or exploding) gradient made visible.

/// The norm of dL/dh_t for every step t = 1 … T of the last backward pass, in processing
/// order (for a `go_backwards` layer, step 1 is the last input position).
///
/// Each entry is the Frobenius norm over the batch, `sqrt(Σ_b Σ_j (dL/dh_t[b, j])²)`, of
/// the *total* gradient reaching h_t: from the output at step t (with `return_sequences`)
/// and from every later step through the recurrence. With only the last state feeding the
/// loss, `norms[T−1]` is the gradient the loss puts on h_T and `norms[0]` what is left of it
/// after travelling back through T − 1 steps: their ratio is the lecture's vanishing
/// gradient, in one number.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientTrace<F> {
    norms: Vec<F>,
}

impl<F: crate::Float> GradientTrace<F> {
    pub(crate) fn new(norms: Vec<F>) -> Self {
        GradientTrace { norms }
    }

    /// ‖dL/dh_t‖ for t = 1 … T.
    pub fn norms(&self) -> &[F] {
        &self.norms
    }

    /// Number of steps T.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    /// Whether the trace is empty (it never is after a backward pass).
    pub fn is_empty(&self) -> bool {
        self.norms.is_empty()
    }

    /// ‖dL/dh_1‖, the first step.
    pub fn first(&self) -> F {
        self.norms.first().copied().unwrap_or_else(F::zero)
    }

    /// ‖dL/dh_t‖ at the middle step, t = ⌈T/2⌉.
    pub fn middle(&self) -> F {
        self.norms.get(self.norms.len().saturating_sub(1) / 2).copied().unwrap_or_else(F::zero)
    }

    /// ‖dL/dh_T‖, the last step.
    pub fn last(&self) -> F {
        self.norms.last().copied().unwrap_or_else(F::zero)
    }

    /// `first / last`: far below 1 when gradients vanish on the way back, far above when they
    /// explode. NaN when the last norm is 0.
    pub fn first_to_last_ratio(&self) -> F {
        let last = self.last();
        if last == F::zero() {
            F::nan()
        } else {
            self.first() / last
        }
    }
}
