//! The registry of model versions and `LATEST` pointers.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{ModelVersion, Tenant};

/// Registry of model versions and each model's `LATEST` pointer (DynamoDB or SQLite), per
/// tenant: a read names its tenant, and a written item carries its own.
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

    /// The current version number of `tenant`'s model, or `None` for a model it does not have.
    async fn latest(&self, tenant: &Tenant, name: &str) -> Result<Option<u32>, StoreError>;

    /// One version's item of `tenant`'s model, or `None`.
    async fn version(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, StoreError>;

    /// The latest version items of `tenant`'s models named after `after` (all when `None`), by
    /// name, at most `limit`: one page of a listing, read without reading the rest.
    async fn list_models(
        &self,
        tenant: &Tenant,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ModelVersion>, StoreError>;

    /// The latest version item of every model of every tenant, by tenant then name (backups and
    /// the scheduled retrain, which act for the whole system).
    async fn list_all_models(&self) -> Result<Vec<ModelVersion>, StoreError>;

    /// Every version of one of `tenant`'s models, oldest first (empty for an unknown model).
    async fn versions(&self, tenant: &Tenant, name: &str) -> Result<Vec<ModelVersion>, StoreError>;
}
