//! Starting asynchronous jobs on an engine that retries, fans out and fails them as a whole.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::JobTicket;

/// Starts the work a [`JobTicket`] describes: an AWS Step Functions execution named by the job id
/// in AWS, the local driver's threads on the embedded store. Starting one ticket twice starts
/// it once.
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Starts `ticket`'s job; `Ok` as well when it was already started.
    async fn start(&self, ticket: &JobTicket) -> Result<(), StoreError>;
}
