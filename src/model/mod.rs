//! Models: [`Sequential`], a stack of layers trained end to end.

mod sequential;
mod summary;

pub use sequential::Sequential;
