//! The registry of model versions and `LATEST` pointers.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::ModelVersion;

/// Registry of model versions and each model's `LATEST` pointer (DynamoDB or SQLite).
#[async_trait]
pub trait ModelRegistry: Send + Sync {
    /// Atomically writes `item` only if its version does not exist and moves `LATEST` to it only
    /// if `LATEST` is still `expected_latest` (`None`: the model has no version yet) and the new
    /// version is above it. Either condition failing is a [`StoreError::Conflict`] and writes
    /// nothing, so `LATEST` never goes backwards and no version is overwritten.
    async fn register_version(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError>;

    /// The model's current version number, or `None` for an unknown model.
    async fn latest(&self, name: &str) -> Result<Option<u32>, StoreError>;

    /// One version's item, or `None`.
    async fn version(&self, name: &str, version: u32) -> Result<Option<ModelVersion>, StoreError>;

    /// The latest version item of every model, by name.
    async fn list_models(&self) -> Result<Vec<ModelVersion>, StoreError>;

    /// Every version of one model, oldest first (empty for an unknown model).
    async fn versions(&self, name: &str) -> Result<Vec<ModelVersion>, StoreError>;
}
