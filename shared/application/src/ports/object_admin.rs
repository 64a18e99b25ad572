//! Listing, replacing, copying, streaming and deleting objects: what backups and restores need
//! beyond reads and conditional writes.

use async_trait::async_trait;

use super::{BlobReader, BlobUpload, ObjectMeta, ObjectStore, StoreError};

/// An object of one store as another store of the same adapter names it for a server-side copy
/// (S3: `bucket/key`; the local adapter: the object's file). Made only by
/// [`ObjectAdmin::copy_source`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource(String);

impl CopySource {
    /// A source as an adapter spells it.
    pub fn new(spelled: String) -> Self {
        Self(spelled)
    }

    /// How the adapter spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What backups and restores need of an object store beyond [`ObjectStore`]: listing keys,
/// reading metadata, replacing an object (a restore asked to overwrite), copying one server-side
/// (a backup's artifacts), streaming large objects (a backup's table dump) and deleting one
/// (pruning old backups). Implemented by both object adapters, for the models store and the
/// backup vault alike.
#[async_trait]
pub trait ObjectAdmin: ObjectStore {
    /// Every key under `prefix`, in key order.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The metadata of the object at `key` without its bytes, or `None` when there is none.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;

    /// Writes `bytes` at `key`, replacing whatever is there; readers never see a half-written
    /// object.
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError>;

    /// How another store of this adapter names the object at `key` for [`ObjectAdmin::copy`].
    fn copy_source(&self, key: &str) -> Result<CopySource, StoreError>;

    /// Copies the object `source` names (in this or another store of the same adapter) to `key`,
    /// with its metadata, inside the store: the bytes never pass through this process. Replaces
    /// whatever is at `key`; a missing source is [`StoreError::Invalid`].
    async fn copy(&self, source: &CopySource, key: &str) -> Result<(), StoreError>;

    /// Starts writing an object of any size at `key` in parts (never over an existing object).
    async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError>;

    /// Opens the object at `key` for a streamed read, or `None` when there is none.
    async fn read_stream(&self, key: &str) -> Result<Option<BlobReader>, StoreError>;

    /// Deletes the object at `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}
