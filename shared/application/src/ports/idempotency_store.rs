//! Keeping the records of `Idempotency-Key`s.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{IdempotencyRecord, Tenant};

/// The records of keyed creating requests, one per tenant and key.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Writes `record` (in progress) unless a record of its key is live at `now_ms` (see
    /// [`IdempotencyRecord::is_live`]); then returns that record and writes nothing. Atomic:
    /// of two concurrent first requests, one writes and the other gets its record.
    async fn begin_idempotent(
        &self,
        record: &IdempotencyRecord,
        now_ms: u64,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Replaces the record (with its answer, once completed).
    async fn complete_idempotent(&self, record: &IdempotencyRecord) -> Result<(), StoreError>;

    /// Deletes the record of `key` (the request failed: a retry runs again).
    async fn release_idempotent(&self, tenant: &Tenant, key: &str) -> Result<(), StoreError>;
}
