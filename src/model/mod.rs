//! Models: [`Sequential`], a stack of layers trained end to end.

mod fit;
mod sequential;
mod summary;

pub use sequential::Sequential;

pub use fit::{Callback, Control, Direction, EarlyStopping, EpochLogs, FitConfig, History, Validation};
