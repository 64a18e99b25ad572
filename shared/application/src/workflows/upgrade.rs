//! The upgrade to tenancy (direct invocation `{"action": "upgrade"}`): every model version, `LATEST`
//! pointer and job written before tenancy moves to the `default` tenant. Writes come first
//! (versions, then `LATEST`, then jobs (backup jobs to the system tenant), each only where nothing is there yet), and the old items
//! are removed only after every write succeeded, so a run cut short loses nothing and running it
//! again finishes the work. Artifacts stay at their keys: each version item names its own.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::{Job, JobKind, ModelVersion, Tenant};
use crate::error::ServiceError;
use crate::ports::{JobStore, LegacyItems, RegistryRestore, StoreError, Stores};

/// What an upgrade moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// `upgraded`, or `nothing_to_do` when no item predates tenancy.
    pub status: &'static str,
    /// The tenant the items now belong to.
    pub tenant: String,
    /// Models moved.
    pub models: usize,
    /// Version items moved.
    pub versions: usize,
    /// Jobs moved.
    pub jobs: usize,
}

/// Moves pre-tenancy items to the default tenant.
#[derive(Clone)]
pub struct UpgradeWorkflow {
    legacy: Arc<dyn LegacyItems>,
    restore: Arc<dyn RegistryRestore>,
    jobs: Arc<dyn JobStore>,
}

impl UpgradeWorkflow {
    /// The upgrade over these stores.
    pub fn new(stores: &Stores) -> Self {
        Self {
            legacy: stores.legacy.clone(),
            restore: stores.restore.clone(),
            jobs: stores.jobs.clone(),
        }
    }

    /// Runs the upgrade; idempotent.
    pub async fn run(&self) -> Result<UpgradeReport, ServiceError> {
        let versions = self.legacy.legacy_versions().await?;
        let latest = self.legacy.legacy_latest().await?;
        let mut jobs = self.legacy.legacy_jobs().await?;
        for job in &mut jobs {
            adopt(job);
        }
        let mut report = UpgradeReport {
            status: "upgraded",
            tenant: crate::domain::tenant::DEFAULT_TENANT.to_owned(),
            models: 0,
            versions: versions.len(),
            jobs: jobs.len(),
        };
        if versions.is_empty() && latest.is_empty() && jobs.is_empty() {
            report.status = "nothing_to_do";
            return Ok(report);
        }
        for version in &versions {
            keep_existing(self.restore.restore_version(version, false).await)?;
        }
        for (name, number) in &latest {
            let Some(item) = versions
                .iter()
                .find(|v| v.name == *name && v.version == *number)
            else {
                return Err(ServiceError::Internal(format!(
                    "LATEST of model '{name}' names version {number}, which has no item; the upgrade stopped before removing anything"
                )));
            };
            keep_existing(self.restore.restore_latest(item, false).await)?;
        }
        self.jobs.put_jobs(&jobs).await?;
        let names: BTreeSet<&str> = versions
            .iter()
            .map(|v: &ModelVersion| v.name.as_str())
            .chain(latest.iter().map(|(name, _)| name.as_str()))
            .collect();
        report.models = names.len();
        for name in names {
            self.legacy.remove_legacy_model(name).await?;
        }
        for job in &jobs {
            self.legacy.remove_legacy_job(&job.id).await?;
        }
        tracing::info!(
            models = report.models,
            versions = report.versions,
            jobs = report.jobs,
            "moved items from before tenancy to the default tenant"
        );
        Ok(report)
    }
}

/// The tenant a job from before tenancy belongs to: backups are the system's, everything else
/// the default tenant's (what the record already says when it has no `tenant`).
pub fn adopt(job: &mut Job) {
    if job.kind == JobKind::Backup && job.tenant == Tenant::default() {
        job.tenant = Tenant::system();
    }
}

/// A conditional restore write that found data there already: that data is kept.
fn keep_existing(result: Result<(), StoreError>) -> Result<(), ServiceError> {
    match result {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
