//! The crate's error type.
//!
//! Every public entry point that takes user data returns [`Result`]. Shapes, sizes and
//! values are checked *before* any arithmetic runs, so a bad argument gives an [`Error`]
//! that names what was expected and what came, and leaves the layer or model unchanged.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building, running or training a model.
///
/// The variants carry structured fields so callers can match on them; the `Display`
/// text names the offending argument, the expected value and the value that came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An array had the wrong shape (rank, feature count, batch size...).
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was checked, e.g. `"SimpleRNN input"`.
        what: String,
        /// The expected shape, written like `(B, T, 3)`.
        expected: String,
        /// The shape that came.
        got: String,
    },

    /// An input had no elements along an axis that must not be empty (batch, time).
    #[error("empty {what}: {axis} must be at least 1, got 0 (shape {shape})")]
    Empty {
        /// What was checked.
        what: String,
        /// Which axis was empty, e.g. `"batch size"`.
        axis: String,
        /// The full shape that came.
        shape: String,
    },

    /// A configuration value was out of its allowed range (zero units, zero window...).
    #[error("invalid {what}: expected {expected}, got {got}")]
    InvalidConfig {
        /// The setting, e.g. `"SimpleRNN units"`.
        what: String,
        /// What is allowed.
        expected: String,
        /// The value that came.
        got: String,
    },

    /// An input contained NaN or an infinity.
    #[error("non-finite value in {what}: element {index} is {value}")]
    NonFinite {
        /// Which argument held the value.
        what: String,
        /// Row-major position of the first such element, written like `[0, 3, 1]`.
        index: String,
        /// The value (`NaN`, `inf` or `-inf`).
        value: String,
    },

    /// A value lay outside the domain a function accepts (probabilities outside [0, 1]...).
    #[error("value out of range in {what}: expected {expected}, got {got} at element {index}")]
    OutOfRange {
        /// Which argument held the value.
        what: String,
        /// The accepted range.
        expected: String,
        /// The value that came.
        got: String,
        /// Row-major position of the first such element.
        index: String,
    },

    /// Training produced a non-finite loss or weight. The model keeps the weights it had
    /// before the batch named here.
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: {what}; the model keeps its weights from before that batch"
    )]
    Diverged {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The batch within the epoch, counted from 1.
        batch: usize,
        /// What went non-finite.
        what: String,
    },

    /// `backward` was called on a layer whose last `forward` was not in training mode.
    #[error("{layer}: backward called without a training-mode forward pass before it")]
    NoForwardCache {
        /// The layer's display name.
        layer: String,
    },
}

impl Error {
    pub(crate) fn shape(what: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::ShapeMismatch { what: what.into(), expected: expected.into(), got: got.into() }
    }

    pub(crate) fn config(what: impl Into<String>, expected: impl Into<String>, got: impl ToString) -> Self {
        Error::InvalidConfig { what: what.into(), expected: expected.into(), got: got.to_string() }
    }
}
