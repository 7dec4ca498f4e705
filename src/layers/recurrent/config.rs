//! [`RecurrentConfig`]: the builder of a recurrent layer on any cell (LSTM, GRU, or one of
//! your own). Required sizes first, options as `with_*`, then `init`.

use ndarray_rand::rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::float::Float;
use crate::layers::recurrent::cell::Cell;
use crate::layers::recurrent::core::Recurrent;

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Builds a [`Recurrent`] layer stepping the cell `C`: [`crate::LstmConfig`] and
/// [`crate::GruConfig`] are `RecurrentConfig<LstmCell>` and `RecurrentConfig<GruCell>`, and a
/// cell of your own gets the same options with [`RecurrentConfig::of`].
///
/// In a model file this is the layer's `"config"`: the cell's options under `"cell"`, and
/// `dropout`/`recurrent_dropout` only when they are not 0.
///
/// # Example
/// ```
/// use recurrent::layers::recurrent::{RecurrentConfig, LstmCell};
/// use recurrent::prelude::*;
/// let mut rng = StdRng::seed_from_u64(0);
/// let lstm = RecurrentConfig::of(LstmCell::default(), 3, 8)
///     .with_return_sequences(true)
///     .with_recurrent_dropout(0.25)
///     .init::<f32, _>(&mut rng)?;
/// assert_eq!(lstm.param_count(), 4 * 8 * (3 + 8 + 1));
/// assert_eq!(lstm.recurrent_dropout(), 0.25);
/// # Ok::<(), recurrent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecurrentConfig<C> {
    /// Input features `I`. Must be at least 1.
    pub input_size: usize,
    /// Units `H`. Must be at least 1.
    pub units: usize,
    /// The cell and its options.
    pub cell: C,
    /// Return every step's state. Defaults to `false`.
    pub return_sequences: bool,
    /// Read the input from the last step to the first. Defaults to `false`.
    pub go_backwards: bool,
    /// Input dropout rate in training, in [0, 1) (Keras's `dropout`). Defaults to `0`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f64,
    /// Dropout rate of the state fed to the recurrent product in training, in [0, 1)
    /// (Keras's `recurrent_dropout`). Defaults to `0`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f64,
}

impl<C> RecurrentConfig<C> {
    /// A layer of `units` units on `input_size` features stepping `cell`, with the defaults
    /// above.
    pub fn of(cell: C, input_size: usize, units: usize) -> Self {
        RecurrentConfig {
            input_size,
            units,
            cell,
            return_sequences: false,
            go_backwards: false,
            dropout: 0.0,
            recurrent_dropout: 0.0,
        }
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

    /// Sets the input dropout rate (see [`Recurrent::set_dropout`]). Defaults to `0`;
    /// checked by `init`.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Sets the recurrent dropout rate (see [`Recurrent::set_recurrent_dropout`]). Defaults to
    /// `0`; checked by `init`.
    pub fn with_recurrent_dropout(mut self, p: f64) -> Self {
        self.recurrent_dropout = p;
        self
    }

    /// Creates the layer, its parameters drawn by the cell's initialisers from `rng`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidConfig`] if `input_size` or `units` is 0, a dropout rate is
    /// outside [0, 1), or the cell's parameter list breaks the loop's rules;
    /// [`crate::Error::TooLarge`] or [`crate::Error::OutOfMemory`] for sizes that cannot be held.
    pub fn init<F: Float, R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Recurrent<F, C>>
    where
        C: Cell<F>,
    {
        let kind = self.cell.kind();
        // Options first: a bad rate is refused before any weight is drawn.
        crate::layers::recurrent::core::check_rate(&format!("{kind} dropout"), self.dropout)?;
        crate::layers::recurrent::core::check_rate(&format!("{kind} recurrent_dropout"), self.recurrent_dropout)?;
        let layer = Recurrent::new(self.cell.clone(), self.input_size, self.units, self.return_sequences, rng)?;
        self.with_options(layer)
    }

    /// The layer with every parameter zero, for loaders that set them all right after.
    pub(crate) fn zeroed<F: Float>(&self) -> Result<Recurrent<F, C>>
    where
        C: Cell<F>,
    {
        let kind = self.cell.kind();
        crate::layers::recurrent::core::check_rate(&format!("{kind} dropout"), self.dropout)?;
        crate::layers::recurrent::core::check_rate(&format!("{kind} recurrent_dropout"), self.recurrent_dropout)?;
        let layer = Recurrent::zeroed(self.cell.clone(), self.input_size, self.units, self.return_sequences)?;
        self.with_options(layer)
    }

    fn with_options<F: Float>(&self, mut layer: Recurrent<F, C>) -> Result<Recurrent<F, C>>
    where
        C: Cell<F>,
    {
        layer.set_go_backwards(self.go_backwards);
        layer.set_dropout(self.dropout)?;
        layer.set_recurrent_dropout(self.recurrent_dropout)?;
        Ok(layer)
    }
}

impl<F: Float, C: Cell<F>> Recurrent<F, C> {
    /// The configuration that rebuilds this layer (weights aside).
    pub fn config(&self) -> RecurrentConfig<C> {
        RecurrentConfig {
            input_size: self.input_size,
            units: self.units,
            cell: self.cell.clone(),
            return_sequences: self.return_sequences,
            go_backwards: self.go_backwards,
            dropout: self.dropout,
            recurrent_dropout: self.recurrent_dropout,
        }
    }
}
