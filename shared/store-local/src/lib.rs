//! The embedded adapter: objects as files under a data directory and items in SQLite, with the
//! same keys and conditional semantics as S3 + DynamoDB, so a laptop needs no AWS account; alerts
//! and dead letters go to JSON-lines files beside them.

mod admin;
mod alerts;
mod blobs;
mod dead_letters;
mod jsonl;
mod objects;
mod signer;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use alerts::{JsonLinesAlerts, ALERTS_FILE};
pub use dead_letters::{JsonLinesDeadLetters, DEAD_LETTERS_FILE};
pub use objects::LocalObjectStore;
pub use sqlite::SqliteStore;

use application::ports::StoreError;

/// Both local adapters under one data directory (`objects/` and `nomaly.db`), opened once per
/// cold start.
#[derive(Debug, Clone)]
pub struct LocalStores {
    /// Model artifacts.
    pub objects: Arc<LocalObjectStore>,
    /// Registry and job table.
    pub items: Arc<SqliteStore>,
}

impl LocalStores {
    /// Opens (creating when missing) the stores under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            objects: Arc::new(LocalObjectStore::open(data_dir.join("objects"))?),
            items: Arc::new(SqliteStore::open(&data_dir.join("nomaly.db"))?),
        })
    }
}
