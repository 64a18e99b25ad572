//! The scheduled sweep, so every job ends and no artifact is left behind:
//! - jobs still `running` after their lease ended (their invocation timed out or crashed, and no
//!   redelivery took them over) are marked `failed` with the reason, and counted in
//!   `JobsExpired` (the jobs-left-running alarm);
//! - artifacts under a model's prefix at a version below its `LATEST` that no version item
//!   names (a registration that failed or lost a race after the artifact was written) are
//!   deleted. Only versions below `LATEST` are touched: a trainer writing the next version
//!   writes above it, and no version at or below `LATEST` can be registered any more.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::ids::now_millis;
use crate::domain::names::artifact_key;
use crate::domain::{Job, JobStatus};
use crate::error::ServiceError;
use crate::metrics::{self, Counter};
use crate::ports::{JobScan, JobStore, ModelRegistry, ObjectAdmin, StoreError, Stores};

/// Most expired jobs failed by one sweep (the next sweep takes the rest).
pub const MAX_SWEPT_JOBS: usize = 500;

/// How long after its lease ended a job is failed, in milliseconds: a job whose attempt failed
/// transiently releases its lease for Lambda's retries (one and three minutes later), which
/// must find it still running.
pub const SWEEP_GRACE_MS: u64 = 10 * 60 * 1000;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Jobs marked failed because their lease ended.
    pub jobs_expired: usize,
    /// Orphaned artifacts deleted.
    pub artifacts_deleted: usize,
}

/// Fails expired jobs and deletes orphaned artifacts.
#[derive(Clone)]
pub struct SweepWorkflow {
    jobs: Arc<dyn JobStore>,
    scan: Arc<dyn JobScan>,
    registry: Arc<dyn ModelRegistry>,
    objects: Arc<dyn ObjectAdmin>,
}

impl SweepWorkflow {
    /// A sweep over the job table, the registry and the model artifacts of `stores`.
    pub fn new(stores: &Stores) -> Self {
        Self {
            jobs: stores.jobs.clone(),
            scan: stores.scan.clone(),
            registry: stores.registry.clone(),
            objects: stores.admin.clone(),
        }
    }

    /// Both sweeps: expired jobs, then orphaned artifacts (the schedule's
    /// `{"action":"sweep"}`, every 15 minutes; one list and one query per model).
    pub async fn run(&self) -> Result<SweepReport, ServiceError> {
        let jobs = self.expire_jobs().await?;
        let artifacts = self.delete_orphans().await?;
        Ok(SweepReport {
            jobs_expired: jobs.jobs_expired,
            artifacts_deleted: artifacts.artifacts_deleted,
        })
    }

    /// Marks every job whose lease ended more than [`SWEEP_GRACE_MS`] ago as failed (at most
    /// [`MAX_SWEPT_JOBS`]).
    /// A job finished or taken over meanwhile is left alone (the write is conditional).
    pub async fn expire_jobs(&self) -> Result<SweepReport, ServiceError> {
        let now = now_millis();
        let cutoff = now.saturating_sub(SWEEP_GRACE_MS);
        let mut report = SweepReport::default();
        for job in self.scan.expired_leases(cutoff, MAX_SWEPT_JOBS).await? {
            let failed = expired(job, now);
            match self.jobs.take_over_job(&failed, cutoff).await {
                Ok(()) => {
                    tracing::warn!(tenant = %failed.tenant, job_id = %failed.id, kind = ?failed.kind, "job failed by the sweep: its lease ended");
                    report.jobs_expired += 1;
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        metrics::count(Counter::JobsExpired, report.jobs_expired as u64);
        Ok(report)
    }

    /// Deletes, for every model, the artifacts below its `LATEST` version that no version item
    /// names.
    pub async fn delete_orphans(&self) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        for latest in self.registry.list_all_models().await? {
            let registered: BTreeSet<String> = self
                .registry
                .versions(&latest.tenant, &latest.name)
                .await?
                .into_iter()
                .map(|v| v.s3_key)
                .collect();
            let prefix = model_prefix(&latest.tenant.to_string(), &latest.name);
            for key in self.objects.list_keys(&prefix).await? {
                let below_latest = version_of(&prefix, &key).is_some_and(|v| {
                    v < latest.version && artifact_key(&latest.tenant, &latest.name, v) == key
                });
                if below_latest && !registered.contains(&key) {
                    self.objects.delete(&key).await?;
                    tracing::info!(key = %key, "orphaned artifact deleted");
                    report.artifacts_deleted += 1;
                }
            }
        }
        Ok(report)
    }
}

/// The prefix of every artifact of one model.
fn model_prefix(tenant: &str, name: &str) -> String {
    format!("models/{tenant}/{name}/")
}

/// The version of an artifact key `{prefix}v000042/model.nmly`.
fn version_of(prefix: &str, key: &str) -> Option<u32> {
    key.strip_prefix(prefix)?
        .strip_prefix('v')?
        .strip_suffix("/model.nmly")?
        .parse()
        .ok()
}

/// `job` failed because its lease ended at `now`.
fn expired(job: Job, now: u64) -> Job {
    let ended = job.lease_expires_at.unwrap_or(job.created_at);
    let error = if job.status == JobStatus::Pending {
        format!(
            "no upload arrived before the job's upload URL expired ({} s before the sweep); ask for a new URL",
            now.saturating_sub(ended) / 1000
        )
    } else {
        format!(
            "the invocation working on this job stopped before finishing (a timeout or a crash); its lease ended {} s before the sweep. Send the input again to retry",
            now.saturating_sub(ended) / 1000
        )
    };
    Job {
        status: JobStatus::Failed,
        error: Some(error),
        lease_expires_at: None,
        ..job
    }
}
