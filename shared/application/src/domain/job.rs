//! A recorded job (train, detect, batch, backup): the job table's record.

use serde::{Deserialize, Serialize};

use super::keys::{job_pk, JOB_SK};
use super::tenant::Tenant;

/// How long a job item is kept (DynamoDB TTL), in seconds: 30 days.
pub const JOB_TTL_SECS: u64 = 30 * 24 * 3600;

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Trained a model version.
    Train,
    /// Scored rows synchronously.
    Detect,
    /// Scored an uploaded file.
    Batch,
    /// Backed up models and the table.
    Backup,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted, not started.
    Pending,
    /// Started.
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error (see `error`).
    Failed,
}

/// Counts a job reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Rows read.
    pub rows: usize,
    /// Rows labelled anomalous.
    pub anomalies: usize,
}

/// Timings a job reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTimings {
    /// Wall time of the work, in milliseconds.
    pub duration_ms: f64,
}

/// A recorded job: the `T#{tenant}#JOB#{id}` / `JOB` item, expiring at `expires_at` (DynamoDB
/// TTL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The tenant owning the job (absent in records written before tenancy: the default one;
    /// backups belong to [`SYSTEM_TENANT`](super::tenant::SYSTEM_TENANT)).
    #[serde(default)]
    pub tenant: Tenant,
    /// Unique, time-ordered id.
    pub id: String,
    /// What the job did.
    pub kind: JobKind,
    /// Where it is.
    pub status: JobStatus,
    /// The model it concerns.
    pub model: Option<String>,
    /// The model version it used or produced.
    pub version: Option<u32>,
    /// Counts.
    pub counts: JobCounts,
    /// Timings.
    pub timings: JobTimings,
    /// Row indexes (0-based) of the first anomalies found, capped.
    #[serde(default)]
    pub anomaly_rows: Vec<usize>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The input of a job started by an event: `s3://bucket/key` of the uploaded object, or the
    /// `s3://bucket/prefix/` of a scheduled retraining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Object key of a batch job's results CSV (in the source's bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_key: Option<String>,
}

impl Job {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        job_pk(&self.tenant, &self.id)
    }

    /// The item's sort key.
    pub fn sk(&self) -> &'static str {
        JOB_SK
    }
}

/// A job just started: running, nothing counted yet, expiring [`JOB_TTL_SECS`] after
/// `created_at`; callers fill in what they know with struct update syntax.
pub fn running_job(tenant: &Tenant, id: &str, kind: JobKind, created_at: u64) -> Job {
    Job {
        tenant: tenant.clone(),
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
