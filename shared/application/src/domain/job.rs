//! A recorded job (train, detect, batch, backup): the job table's record.

use serde::{Deserialize, Serialize};

use super::keys::{job_pk, JOB_SK};
use super::tenant::Tenant;

/// How long a job item is kept (DynamoDB TTL) unless configured, in seconds: 30 days.
pub const JOB_TTL_SECS: u64 = 30 * 24 * 3600;

/// How long a job's lease lasts unless configured, in milliseconds: Lambda's longest timeout
/// (15 minutes) plus a minute, so a live invocation never outlives its lease.
pub const DEFAULT_LEASE_MS: u64 = 16 * 60 * 1000;

/// How jobs are kept and held: the expiry of their items and the lease of a running one.
/// Functions build it from `NOMALY_JOB_TTL_DAYS` and `NOMALY_TIMEOUT_SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolicy {
    /// Seconds a job item is kept after its creation.
    pub ttl_secs: u64,
    /// Milliseconds a running job is held by the invocation that started it: a redelivery takes
    /// it over, and the sweep fails it, only once this has passed.
    pub lease_ms: u64,
}

impl Default for JobPolicy {
    fn default() -> Self {
        Self {
            ttl_secs: JOB_TTL_SECS,
            lease_ms: DEFAULT_LEASE_MS,
        }
    }
}

impl JobPolicy {
    /// A policy keeping jobs `ttl_days` and leasing them for a function of `timeout_secs` (plus
    /// a minute's margin).
    pub fn new(ttl_days: u64, timeout_secs: u64) -> Self {
        Self {
            ttl_secs: ttl_days.saturating_mul(24 * 3600),
            lease_ms: timeout_secs.saturating_add(60).saturating_mul(1000),
        }
    }

    /// A finished job's record (it holds no lease), created at `created_at`; callers fill in
    /// what they know with struct update syntax.
    pub fn record(&self, tenant: &Tenant, id: &str, kind: JobKind, created_at: u64) -> Job {
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
            expires_at: created_at / 1000 + self.ttl_secs,
            source: None,
            results_key: None,
            lease_expires_at: None,
            progress: None,
        }
    }

    /// A job started now by this invocation: running, holding a lease until `now + lease_ms`.
    pub fn start(&self, tenant: &Tenant, id: &str, kind: JobKind, now: u64) -> Job {
        Job {
            lease_expires_at: Some(now.saturating_add(self.lease_ms)),
            ..self.record(tenant, id, kind, now)
        }
    }
}

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

/// How far a job split into byte ranges has come (`GET /api/v1/jobs/{id}` while it runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Ranges the file was cut into.
    pub ranges: u32,
    /// Ranges scored so far (each counted once, however often it was retried).
    pub ranges_done: u32,
    /// Rows scored so far.
    pub rows_done: u64,
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
    /// While `running`: when the lease of the invocation working on it ends (milliseconds since
    /// the Unix epoch). A redelivery takes the job over, and the sweep fails it, only after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<u64>,
    /// A job split into byte ranges: how far it has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<JobProgress>,
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

    /// Whether the job is running under a lease that ended before `now` (or under none: a job
    /// written before leases): its invocation is gone, so it may be taken over or failed.
    pub fn lease_expired(&self, now: u64) -> bool {
        self.status == JobStatus::Running && self.lease_expires_at.is_none_or(|at| at < now)
    }

    /// Whether the sweep should fail the job at `now`: running under an ended lease, or pending
    /// past its deadline (the upload URL it waits on expired).
    pub fn overdue(&self, now: u64) -> bool {
        self.lease_expired(now)
            || (self.status == JobStatus::Pending
                && self.lease_expires_at.is_some_and(|at| at < now))
    }

    /// Whether an invocation may take the job over at `now`: it is `pending` (accepted, waiting
    /// for its upload or its engine), or running under an ended lease.
    pub fn claimable(&self, now: u64) -> bool {
        self.status == JobStatus::Pending || self.lease_expired(now)
    }
}

/// A job record under the default [`JobPolicy`] (tests and tools; functions use their
/// configured policy).
pub fn running_job(tenant: &Tenant, id: &str, kind: JobKind, created_at: u64) -> Job {
    JobPolicy::default().record(tenant, id, kind, created_at)
}
