//! An append-only JSON-lines file, the local stand-in for an event bus or a queue: each batch is
//! written whole (one `write_all` to a file opened in append mode, then `sync_data`), under a lock,
//! so a reader never sees half a line and two batches never interleave.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use application::ports::StoreError;

use crate::objects::io_error;

/// A JSON-lines file that batches of values are appended to.
#[derive(Debug)]
pub(crate) struct JsonLinesFile {
    path: PathBuf,
    /// Serializes this process's appends (one batch's lines stay together).
    lock: Mutex<()>,
}

impl JsonLinesFile {
    /// The file at `path` (created, with its directory, by the first append).
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }

    /// Where the lines go.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line per value, all or nothing from a reader's view (nothing for no values).
    pub(crate) fn append<T: Serialize>(&self, values: &[T]) -> Result<(), StoreError> {
        if values.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::new();
        for value in values {
            serde_json::to_writer(&mut batch, value)
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", self.path.display())))?;
            batch.push(b'\n');
        }
        let _guard = self.lock.lock().map_err(|_| {
            StoreError::Unavailable(format!("{}: lock poisoned", self.path.display()))
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io_error(&self.path, e))?;
        file.write_all(&batch)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_error(&self.path, e))
    }
}
