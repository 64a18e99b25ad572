//! The life of a job started by an event (an upload, a schedule): claimed once, finished once.
//!
//! Delivery is at least once, so every piece of work has a deterministic job id (from the object
//! version, or from the schedule's event id and the model) and is claimed with a conditional put:
//! - no job yet: claim it (`running`) and do the work;
//! - a `succeeded` or `failed` job: a redelivery, nothing to do;
//! - a `running` job whose lease is live: another invocation holds it; nothing to do now (the
//!   holder finishes it, or, if it died, the sweep fails it once the lease ends);
//! - a `running` job whose lease ended (its invocation died): take it over with a conditional
//!   write (of two takers, one wins) and do the work again. The results object is completed with
//!   `If-None-Match: *`, so at most one results file ever exists.
//!
//! Errors: bad data (malformed CSV, unknown model or columns, NaN, too many columns, an object
//! that is gone or changed) records a `failed` job with the reason and is not an error (no
//! retry); a store that is down or a read that breaks returns `Err`, so Lambda retries the event
//! and, in the end, sends it to the failure destination. The job then stays `running` (the error
//! is logged, not written: the store is what failed) until its lease ends: a later delivery takes
//! it over, or the sweep ([`sweep`](super::sweep)) fails it with the reason.

use std::time::Instant;

use crate::domain::ids::{is_generated_job_id, now_millis};
use crate::domain::{Job, JobKind, JobPolicy, JobStatus, S3ObjectRef, Tenant};
use crate::error::ServiceError;
use crate::ports::{BlobReader, BlobStreams, JobStore, StoreError};

/// What became of one event's work.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// The job as recorded (`succeeded` or `failed`).
    pub job: Job,
    /// Whether the work had been done by an earlier delivery (nothing was done now).
    pub duplicate: bool,
}

/// A job of `kind` for `tenant`'s `model`, read from `source`, started now under `policy`'s
/// lease.
pub fn new_job(
    policy: &JobPolicy,
    tenant: &Tenant,
    id: &str,
    kind: JobKind,
    model: &str,
    source: String,
) -> Job {
    Job {
        model: Some(model.to_owned()),
        source: Some(source),
        ..policy.start(tenant, id, kind, now_millis())
    }
}

/// The job an upload's event does: the job `POST /api/v1/uploads` recorded for it (its key's file
/// name is that job's id, and the job names this object as its source), else the object
/// version's deterministic job of `kind` (`kind_name` in the id).
pub async fn event_job_id(
    jobs: &dyn JobStore,
    tenant: &Tenant,
    object: &S3ObjectRef,
    kind: JobKind,
    kind_name: &str,
) -> Result<String, ServiceError> {
    let stem = object
        .key
        .rsplit('/')
        .next()
        .and_then(|name| name.strip_suffix(".csv"))
        .filter(|stem| is_generated_job_id(stem));
    if let Some(stem) = stem {
        if let Some(job) = jobs.get_job(tenant, stem).await? {
            if job.kind == kind && job.source.as_deref() == Some(object.uri().as_str()) {
                return Ok(stem.to_owned());
            }
        }
    }
    Ok(object.job_id(kind_name))
}

/// Claims `job`'s id: `Some(existing)` when an earlier delivery finished it or another live
/// invocation holds it (nothing to do now); `None` when this invocation now holds it.
pub async fn claim(jobs: &dyn JobStore, job: &Job) -> Result<Option<Job>, ServiceError> {
    match jobs.put_job_if_absent(job).await {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict(_)) => {
            let Some(existing) = jobs.get_job(&job.tenant, &job.id).await? else {
                // Expired away between the two calls: claim it afresh.
                jobs.put_job_if_absent(job).await?;
                return Ok(None);
            };
            let now = now_millis();
            if !existing.claimable(now) {
                if existing.status == JobStatus::Running {
                    tracing::info!(job_id = %job.id, lease_expires_at = existing.lease_expires_at, "job is held by a live invocation; not doing it twice");
                }
                return Ok(Some(existing));
            }
            match jobs.take_over_job(job, now).await {
                Ok(()) => {
                    tracing::info!(job_id = %job.id, "job's lease expired (its invocation died); taking it over");
                    Ok(None)
                }
                Err(StoreError::Conflict(_)) => Ok(jobs.get_job(&job.tenant, &job.id).await?),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens `key` in `bucket` as the event named it (its version id or ETag, see
/// [`BlobStreams::open_exact`]); a data error (a failed job) when it is gone or was overwritten
/// since.
pub async fn open_named(
    blobs: &dyn BlobStreams,
    bucket: &str,
    key: &str,
    named: Option<&S3ObjectRef>,
) -> Result<BlobReader, ServiceError> {
    let named = named.filter(|o| o.bucket == bucket && o.key == key);
    let version_id = named.and_then(|o| o.version_id.as_deref());
    let etag = named.and_then(|o| o.etag.as_deref());
    match blobs.open_exact(bucket, key, version_id, etag).await {
        Ok(Some(reader)) => Ok(reader),
        Ok(None) => Err(ServiceError::InvalidInput(format!(
            "object s3://{bucket}/{key} no longer exists{}",
            if version_id.is_some() { " in the version the event named" } else { "" }
        ))),
        Err(StoreError::Conflict(_)) => Err(ServiceError::InvalidInput(format!(
            "object s3://{bucket}/{key} was overwritten after the event named it (ETag {}); the overwrite's own event processes the new content",
            etag.unwrap_or("")
        ))),
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
            // Release the lease, so Lambda's retry takes the job over at once. Best effort: the
            // store may be what failed; the lease then ends on its own.
            job.lease_expires_at = Some(now_millis().saturating_sub(1));
            if let Err(release) = jobs.put_job(&job).await {
                tracing::warn!(job_id = %job.id, error = %release, "could not release the job's lease");
            }
            return Err(e);
        }
        Err(e) => {
            tracing::info!(job_id = %job.id, error = %e, "job failed on its data; not retried");
            job.status = JobStatus::Failed;
            job.error = Some(e.public_message());
        }
    }
    job.lease_expires_at = None;
    jobs.put_job(&job).await?;
    Ok(JobOutcome {
        job,
        duplicate: false,
    })
}
