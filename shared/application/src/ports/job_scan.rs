//! Reading the whole job table, for backups.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::Job;

/// Reading the whole job table, for backups.
#[async_trait]
pub trait JobScan: Send + Sync {
    /// Every job item, in id order.
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError>;
}
