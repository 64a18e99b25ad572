//! Immutable blob storage for small objects (model artifacts) and the metadata kept with them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Metadata kept beside every stored object, so readers can verify what they load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Lowercase hex SHA-256 of the object's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, for tools that browse the store.
    pub content_type: String,
}

/// An object read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes, exactly as written.
    pub bytes: Vec<u8>,
    /// The metadata written with them.
    pub meta: ObjectMeta,
}

/// Immutable blob storage for model artifacts (S3 in AWS, a directory locally).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes `bytes` at `key` only if nothing is there; [`StoreError::Conflict`] otherwise.
    /// Readers never see a half-written object.
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError>;

    /// The object at `key`, or `None` when there is none; [`StoreError::Corrupted`] when its
    /// bytes do not match the SHA-256 stored with them.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError>;
}
