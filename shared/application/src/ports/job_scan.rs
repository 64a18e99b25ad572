//! Reading the whole job table (backups) and the jobs whose lease expired (the sweep).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::Job;

/// Reading the whole job table, for backups.
#[async_trait]
pub trait JobScan: Send + Sync {
    /// Every job item, in id order.
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError>;

    /// At most `limit` running jobs, of every tenant, whose lease ended before `now_ms`, oldest
    /// lease first.
    async fn expired_leases(&self, now_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError>;
}
