//! Registry writes of a restore, outside the train workflow's conditional registration.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::ModelVersion;

/// Writing registry items back from a backup, outside the train workflow's conditional
/// registration: a version item as it was, and a `LATEST` pointer that only moves forward.
#[async_trait]
pub trait RegistryRestore: Send + Sync {
    /// Writes a version item if its version does not exist; [`StoreError::Conflict`] otherwise,
    /// unless `replace`.
    async fn restore_version(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError>;

    /// Points the model's `LATEST` at `item` if the model has no `LATEST` or one naming a lower
    /// version; [`StoreError::Conflict`] otherwise (newer data is kept), unless `replace`.
    async fn restore_latest(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError>;
}
