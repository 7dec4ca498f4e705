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

    /// A file could not be read, written, synced or renamed.
    #[error("could not {op} {path}: {message}")]
    Io {
        /// What was being done, e.g. `"read"`, `"write the temporary file for"`, `"rename onto"`.
        op: String,
        /// The file concerned.
        path: String,
        /// The operating system's error kind.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },

    /// A file's content breaks its format: not JSON or safetensors, a wrong format version,
    /// an unknown layer kind, a missing, unexpected or unsupported entry, a wrong dtype.
    #[error("bad {what}: expected {expected}, got {got}")]
    Format {
        /// What was read, e.g. `"model file version"` or `"state_dict key weight_hh_l0"`.
        what: String,
        /// What the format allows there.
        expected: String,
        /// What the file holds.
        got: String,
    },

    /// A size the caller chose (units, a vocabulary, a padded length, a number of classes, or
    /// a product of them) is over the crate's explicit limit, or its arithmetic overflows.
    /// Checked before anything is allocated.
    #[error("{what} is too large: at most {limit}, got {got}")]
    TooLarge {
        /// What was being sized, e.g. `"LSTM recurrent_kernel (H, 4·H) elements"`.
        what: String,
        /// The largest accepted value.
        limit: String,
        /// The value that came (or the factors whose product overflowed).
        got: String,
    },

    /// Memory for a buffer could not be reserved (the system refused the allocation). The
    /// model, layer or optimiser is unchanged.
    #[error("out of memory: could not allocate {bytes} bytes for {what}")]
    OutOfMemory {
        /// What was being allocated, e.g. `"lstm workspace gx (T·B, G·H)"`.
        what: String,
        /// How many bytes were asked for.
        bytes: usize,
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

    pub(crate) fn format(what: impl Into<String>, expected: impl Into<String>, got: impl ToString) -> Self {
        Error::Format { what: what.into(), expected: expected.into(), got: got.to_string() }
    }

    pub(crate) fn io(op: impl Into<String>, path: &std::path::Path, e: &std::io::Error) -> Self {
        Error::Io { op: op.into(), path: path.display().to_string(), kind: e.kind(), message: e.to_string() }
    }

    pub(crate) fn too_large(what: impl Into<String>, limit: impl ToString, got: impl ToString) -> Self {
        Error::TooLarge { what: what.into(), limit: limit.to_string(), got: got.to_string() }
    }

    pub(crate) fn config(what: impl Into<String>, expected: impl Into<String>, got: impl ToString) -> Self {
        Error::InvalidConfig { what: what.into(), expected: expected.into(), got: got.to_string() }
    }
}
