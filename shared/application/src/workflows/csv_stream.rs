//! Reading uploaded CSV objects in chunks, and telling why a stream stopped: the data's fault
//! (recorded as a failed job) or the transport's (retried).

use std::io::Read;

use detection::tabular::{CsvChunks, MAX_CHUNK_VALUES};
use detection::{InputError, Limits};

use crate::error::ServiceError;
use crate::ports::{ReadFailure, StoreError};

/// Rows parsed (and scored) at a time, at most.
pub const BATCH_CHUNK_ROWS: usize = 16_384;

/// An uploaded CSV in chunks bounded in rows ([`BATCH_CHUNK_ROWS`]) and in values
/// ([`MAX_CHUNK_VALUES`], 8 MiB of numbers), so a wide file comes in chunks of fewer rows and
/// memory stays bounded whatever the width; records, header and names within `limits`' bytes.
pub fn csv_chunks<R: Read>(reader: R, limits: &Limits) -> Result<CsvChunks<R>, InputError> {
    CsvChunks::with_chunk_values(reader, BATCH_CHUNK_ROWS, MAX_CHUNK_VALUES, limits)
}

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
