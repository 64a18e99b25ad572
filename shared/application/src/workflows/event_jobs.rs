//! The life of a job started by an event (an upload, a schedule): claimed once, finished once.
//!
//! Delivery is at least once, so every piece of work has a deterministic job id (from the object
//! version, or from the schedule's event id and the model) and is claimed with a conditional put:
//! - no job yet: claim it (`running`) and do the work;
//! - a `succeeded` or `failed` job: a redelivery, nothing to do;
//! - a `running` job: an earlier attempt died or is still going; do the work again. The results
//!   object is completed with `If-None-Match: *`, so at most one results file ever exists; the
//!   loser of a race finds it there and records the same outcome. Duplicate work, in the rare
//!   concurrent redelivery, is the price of never stranding a job whose invocation died.
//!
//! Errors: bad data (malformed CSV, unknown model or columns, NaN, too many columns, an object
//! that is gone) records a `failed` job with the reason and is not an error (no retry); a store
//! that is down or a read that breaks returns `Err`, so Lambda retries the event and, in the end,
//! sends it to the failure destination. The job then stays `running` (the error is logged, not
//! written: the store is what failed); the retry takes it over.

use std::time::Instant;

use crate::domain::ids::now_millis;
use crate::domain::{running_job, Job, JobKind, JobStatus, Tenant};
use crate::error::ServiceError;
use crate::ports::{JobStore, StoreError};

/// What became of one event's work.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// The job as recorded (`succeeded` or `failed`).
    pub job: Job,
    /// Whether the work had been done by an earlier delivery (nothing was done now).
    pub duplicate: bool,
}

/// A running job of `kind` for `tenant`'s `model`, read from `source`.
pub fn new_job(tenant: &Tenant, id: &str, kind: JobKind, model: &str, source: String) -> Job {
    Job {
        model: Some(model.to_owned()),
        source: Some(source),
        ..running_job(tenant, id, kind, now_millis())
    }
}

/// Claims `job`'s id: `Some(existing)` when an earlier delivery finished it.
pub async fn claim(jobs: &dyn JobStore, job: &Job) -> Result<Option<Job>, ServiceError> {
    match jobs.put_job_if_absent(job).await {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict(_)) => match jobs.get_job(&job.tenant, &job.id).await? {
            Some(existing)
                if matches!(existing.status, JobStatus::Succeeded | JobStatus::Failed) =>
            {
                Ok(Some(existing))
            }
            _ => {
                tracing::info!(job_id = %job.id, "job is running or was left running by an earlier attempt; doing it again");
                jobs.put_job(job).await?;
                Ok(None)
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// Records the end of `job`: `failed` with `error`'s message when it is a data error, or
/// `Err` when the error is transient (the job stays `running`, the event is retried).
pub async fn finish(
    jobs: &dyn JobStore,
    mut job: Job,
    started: Instant,
    result: Result<(), ServiceError>,
) -> Result<JobOutcome, ServiceError> {
    job.timings.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => job.status = JobStatus::Succeeded,
        Err(e) if e.is_transient() => {
            tracing::warn!(job_id = %job.id, error = %e, "job failed transiently; the event will be retried");
            return Err(e);
        }
        Err(e) => {
            tracing::info!(job_id = %job.id, error = %e, "job failed on its data; not retried");
            job.status = JobStatus::Failed;
            job.error = Some(e.to_string());
        }
    }
    jobs.put_job(&job).await?;
    Ok(JobOutcome {
        job,
        duplicate: false,
    })
}
