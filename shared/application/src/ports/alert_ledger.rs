//! The suppression state of alerts per (tenant, model, entity), kept in the item store and written
//! under a revision, so concurrent invocations and redelivered records never raise an alert twice.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::alert::{AlertKey, AlertState};
use crate::domain::Tenant;

/// Reads and conditionally writes alert suppression states.
#[async_trait]
pub trait AlertLedger: Send + Sync {
    /// The state of `key` in `tenant`, or `None` when none was written (or it expired).
    async fn alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
    ) -> Result<Option<AlertState>, StoreError>;

    /// Writes `state` (whose revision is one more than the one read) only if the stored revision
    /// is still `state.revision - 1` (absent counts as 0); `false` when another writer moved it.
    async fn put_alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
        state: &AlertState,
    ) -> Result<bool, StoreError>;
}
