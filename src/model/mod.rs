//! Models: the [`Model`] trait that `fit`, evaluation, prediction, callbacks and gradient
//! checks work with; [`Sequential`], a stack of layers trained end to end; and
//! [`EncoderDecoder`], an encoder whose final state starts a decoder (sequence to sequence).

mod callbacks;
mod encoder_decoder;
mod fit;
mod sequential;
mod summary;
mod traits;
mod weights;

pub use encoder_decoder::{Decoding, EncoderDecoder};
pub use sequential::Sequential;
pub use traits::{Model, ModelOutput};

pub use callbacks::{
    BatchLogs, Callback, CallbackState, Checkpoint, Control, Direction, EarlyStopping, HistoryLogger,
    LearningRateScheduler, LogFormat, ModelCheckpoint, ResumeState, TrainingContext,
};
pub use fit::{EpochLogs, FitConfig, History, ModelExt, Validation};

pub(crate) use traits::masked_loss;
