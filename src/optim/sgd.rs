//! Plain stochastic gradient descent.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::layers::Params;
use crate::optim::optimizer::Optimizer;

/// Stochastic gradient descent, as PyTorch's `torch.optim.SGD(lr)`:
///
/// ```text
/// θ ← θ − η · g
/// ```
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
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Float")]
pub struct Sgd<F> {
    /// The learning rate η. Must be finite and positive.
    pub learning_rate: F,
}

impl<F: Float> Sgd<F> {
    /// SGD with learning rate `learning_rate`.
    pub fn new(learning_rate: F) -> Self {
        Sgd { learning_rate }
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn step(&mut self, params: &mut dyn Params<F>) -> Result<()> {
        let lr = self.learning_rate;
        if !(lr.is_finite() && lr > F::zero()) {
            return Err(Error::config("SGD learning rate", "a finite value > 0", lr));
        }
        let neg = -lr;
        params.visit_params_mut(&mut |mut p| {
            p.value.zip_mut_with(&p.grad, |v, &g| *v += neg * g);
        });
        Ok(())
    }

    fn learning_rate(&self) -> F {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: F) {
        self.learning_rate = lr;
    }
}
