//! Error context shared by both readers.

use crate::error::Error;

/// Prefixes the `what` of an error with where it arose (a file position, a layer).
pub(crate) fn within(ctx: &str, e: Error) -> Error {
    let join = |what: String| if what.is_empty() { ctx.to_string() } else { format!("{ctx} {what}") };
    match e {
        Error::ShapeMismatch { what, expected, got } => Error::ShapeMismatch { what: join(what), expected, got },
        Error::Empty { what, axis, shape } => Error::Empty { what: join(what), axis, shape },
        Error::InvalidConfig { what, expected, got } => Error::InvalidConfig { what: join(what), expected, got },
        Error::NonFinite { what, index, value } => Error::NonFinite { what: join(what), index, value },
        Error::OutOfRange { what, expected, got, index } => {
            Error::OutOfRange { what: join(what), expected, got, index }
        }
        Error::Format { what, expected, got } => Error::Format { what: join(what), expected, got },
        Error::TooLarge { what, limit, got } => Error::TooLarge { what: join(what), limit, got },
        Error::OutOfMemory { what, bytes } => Error::OutOfMemory { what: join(what), bytes },
        other => other,
    }
}
