//! Listing, replacing and deleting objects: what backups and restores need beyond reads and
//! conditional writes.

use async_trait::async_trait;

use super::{ObjectMeta, ObjectStore, StoreError};

/// What backups and restores need of an object store beyond [`ObjectStore`]: listing keys,
/// replacing an object (a restore asked to overwrite) and deleting one (pruning old backups).
/// Implemented by both object adapters, for the models store and the backup vault alike.
#[async_trait]
pub trait ObjectAdmin: ObjectStore {
    /// Every key under `prefix`, in key order.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Writes `bytes` at `key`, replacing whatever is there; readers never see a half-written
    /// object.
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError>;

    /// Deletes the object at `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}
