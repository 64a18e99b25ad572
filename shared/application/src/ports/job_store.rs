//! The job table: recording and reading jobs.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Job, Tenant};

/// One page of a model's jobs, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobPage {
    /// The jobs on this page.
    pub jobs: Vec<Job>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The job table: every recorded train, detect, batch and backup job.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes or replaces a job.
    async fn put_job(&self, job: &Job) -> Result<(), StoreError>;

    /// Writes or replaces many jobs (backup and restore); when an id repeats, the last one wins.
    /// Adapters batch the writes; this default writes one job at a time.
    async fn put_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        for job in jobs {
            self.put_job(job).await?;
        }
        Ok(())
    }

    /// Writes a job only if no job of its id exists: [`StoreError::Conflict`] otherwise. This is
    /// how at-least-once events claim their deterministic job id. Adapters make it atomic; this
    /// default (read, then write) is not, and is only for stores used by one writer.
    async fn put_job_if_absent(&self, job: &Job) -> Result<(), StoreError> {
        if self.get_job(&job.tenant, &job.id).await?.is_some() {
            return Err(StoreError::Conflict(format!("job '{}' exists", job.id)));
        }
        self.put_job(job).await
    }

    /// Replaces a `pending` job, or a running job whose lease ended before `now_ms` (or that
    /// holds none), with `job`: how an upload or an engine starts an accepted job, how a
    /// redelivery takes over a job whose invocation died, and how the sweep fails it.
    /// [`StoreError::Conflict`] when the stored job is missing, finished, or still leased.
    /// Atomic in both adapters: of two takers, one wins.
    async fn take_over_job(&self, job: &Job, now_ms: u64) -> Result<(), StoreError>;

    /// Counts range `index` of a split job as done with `rows` rows, once: `Ok(true)` the first
    /// time, `Ok(false)` when it was already counted (a retried range) or the job has no
    /// progress to count in. Atomic in both adapters.
    async fn record_range(
        &self,
        tenant: &Tenant,
        id: &str,
        index: u32,
        rows: u64,
    ) -> Result<bool, StoreError>;

    /// One of `tenant`'s jobs, or `None`.
    async fn get_job(&self, tenant: &Tenant, id: &str) -> Result<Option<Job>, StoreError>;

    /// Jobs of one of `tenant`'s models, newest first, at most `limit` (clamped to 1..=1000), after `cursor` when
    /// given; a cursor this store did not hand out is [`StoreError::Invalid`].
    async fn jobs_for_model(
        &self,
        tenant: &Tenant,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage, StoreError>;
}
