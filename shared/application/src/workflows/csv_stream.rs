//! Reading uploaded CSV objects in chunks, and telling why a stream stopped: the data's fault
//! (recorded as a failed job) or the transport's (retried).

use crate::error::ServiceError;
use crate::ports::{ReadFailure, StoreError};

/// Rows parsed (and scored) at a time.
pub const BATCH_CHUNK_ROWS: usize = 16_384;

/// How a scored stream stopped early.
pub enum StreamStop {
    /// The data is bad.
    Data(ServiceError),
    /// The transport broke (retry).
    Transport(StoreError),
    /// The upload side went away (its error is reported there).
    Stopped,
}

impl StreamStop {
    /// A parser's error, blamed on the transport when the reader recorded a transport failure.
    pub fn from_input(error: impl Into<ServiceError>, reader: &ReadFailure) -> Self {
        match reader.get() {
            Some(transport) => Self::Transport(transport),
            None => Self::Data(error.into()),
        }
    }
}
