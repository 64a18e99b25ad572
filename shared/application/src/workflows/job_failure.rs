//! The end of an asynchronous job its engine gave up on (retries spent, or a timeout): recorded
//! `failed`, so its caller is never left polling a job that stays `pending` or `running`.

use crate::domain::{JobStatus, JobTicket};
use crate::error::ServiceError;
use crate::ports::JobStore;

/// Records `ticket`'s job failed after its engine gave up, unless it already ended.
pub async fn fail_job(jobs: &dyn JobStore, ticket: &JobTicket) -> Result<(), ServiceError> {
    let Some(mut job) = jobs.get_job(&ticket.tenant, &ticket.id).await? else {
        return Ok(());
    };
    if matches!(job.status, JobStatus::Succeeded | JobStatus::Failed) {
        return Ok(());
    }
    job.status = JobStatus::Failed;
    job.error =
        Some("the job stopped after its retries ran out; send the request again to retry".into());
    job.lease_expires_at = None;
    jobs.put_job(&job).await?;
    Ok(())
}
