//! A streamed object being read, which remembers whether its transport failed.

use super::StoreError;

/// A streamed object being read: a blocking [`Read`](std::io::Read) to use off the async runtime
/// (in `spawn_blocking`), which remembers whether the transport failed, so a caller can tell a
/// network fault (retry) from bad bytes (the data's fault) after the parser gives up.
pub struct BlobReader {
    inner: Box<dyn std::io::Read + Send>,
    failure: ReadFailure,
}

/// Shared with a [`BlobReader`]: the transport error that ended it, if one did.
#[derive(Debug, Clone, Default)]
pub struct ReadFailure(std::sync::Arc<std::sync::Mutex<Option<StoreError>>>);

impl ReadFailure {
    /// Records the transport error (the first one wins).
    pub fn set(&self, error: StoreError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(error);
        }
    }

    /// The transport error, if the reader met one.
    pub fn get(&self) -> Option<StoreError> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

impl BlobReader {
    /// A reader over `inner`, whose transport errors are recorded in `failure`.
    pub fn new(inner: Box<dyn std::io::Read + Send>, failure: ReadFailure) -> Self {
        Self { inner, failure }
    }

    /// The handle to check after reading stops.
    pub fn failure(&self) -> ReadFailure {
        self.failure.clone()
    }
}

impl std::io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader").finish_non_exhaustive()
    }
}
