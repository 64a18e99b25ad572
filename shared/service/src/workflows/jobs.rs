//! Reading recorded jobs (`GET /api/v1/jobs/{id}`).

use std::sync::Arc;

use crate::error::ServiceError;
use crate::ports::{Job, JobCounts, JobKind, JobStatus, JobStore, JobTimings};
use crate::workflows::ids::is_plausible_job_id;
use crate::workflows::train::JOB_TTL_SECS;

/// A job just started: running, nothing counted yet, expiring [`JOB_TTL_SECS`] after
/// `created_at`; callers fill in what they know with struct update syntax.
pub fn running_job(id: &str, kind: JobKind, created_at: u64) -> Job {
    Job {
        id: id.to_owned(),
        kind,
        status: JobStatus::Running,
        model: None,
        version: None,
        counts: JobCounts::default(),
        timings: JobTimings::default(),
        anomaly_rows: Vec::new(),
        error: None,
        created_at,
        expires_at: created_at / 1000 + JOB_TTL_SECS,
        source: None,
        results_key: None,
    }
}

/// Looks up jobs; needs only the job table.
#[derive(Clone)]
pub struct JobQueries {
    jobs: Arc<dyn JobStore>,
}

impl JobQueries {
    /// Queries over `jobs`.
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        Self { jobs }
    }

    /// One job; 404 when unknown or when the id cannot be one.
    pub async fn get_job(&self, id: &str) -> Result<Job, ServiceError> {
        if !is_plausible_job_id(id) {
            return Err(ServiceError::JobNotFound(id.escape_default().to_string()));
        }
        self.jobs
            .get_job(id)
            .await?
            .ok_or_else(|| ServiceError::JobNotFound(id.to_owned()))
    }
}
