//! Items written before tenancy (`MODEL#{name}`, `JOB#{id}`), read and removed once by the upgrade
//! that moves them to the default tenant.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Job, ModelVersion};

/// The table's items from before tenancy. Each reads with the default tenant (the records carry
/// no tenant); the upgrade writes them under `T#default#...` and then removes these.
#[async_trait]
pub trait LegacyItems: Send + Sync {
    /// Every version item under a `MODEL#{name}` key.
    async fn legacy_versions(&self) -> Result<Vec<ModelVersion>, StoreError>;

    /// Every `LATEST` pointer under a `MODEL#{name}` key, as (name, version).
    async fn legacy_latest(&self) -> Result<Vec<(String, u32)>, StoreError>;

    /// Every job item under a `JOB#{id}` key.
    async fn legacy_jobs(&self) -> Result<Vec<Job>, StoreError>;

    /// Removes every item under `MODEL#{name}` (versions and `LATEST`).
    async fn remove_legacy_model(&self, name: &str) -> Result<(), StoreError>;

    /// Removes the item under `JOB#{id}`.
    async fn remove_legacy_job(&self, id: &str) -> Result<(), StoreError>;
}
