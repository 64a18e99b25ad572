//! API keys: issued, read when a caller authenticates, listed and revoked per tenant.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{ApiKey, Tenant};

/// Where API keys live (the table, under `T#{tenant}#KEYS`). Every read names its tenant.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; [`StoreError::Conflict`] if its id exists in its tenant.
    async fn put_key_if_absent(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// One of `tenant`'s keys, revoked or not, or `None`.
    async fn get_key(&self, tenant: &Tenant, id: &str) -> Result<Option<ApiKey>, StoreError>;

    /// Every key of `tenant`, by id.
    async fn list_keys(&self, tenant: &Tenant) -> Result<Vec<ApiKey>, StoreError>;

    /// Every key of every tenant, by tenant then id (backups).
    async fn all_keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Marks one of `tenant`'s keys revoked at `at` (milliseconds) unless it already is; `false`
    /// when the tenant has no such key.
    async fn revoke_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<bool, StoreError>;

    /// Records a successful use of one of `tenant`'s keys at `at`; nothing when the key is gone.
    async fn touch_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<(), StoreError>;
}
