//! Taking, listing and pruning backups: every model artifact the registry references and every
//! table item, copied to the backup vault in the layout `backups/{id}/manifest.json`,
//! `backups/{id}/models/...`, `backups/{id}/table.jsonl.gz`, and recorded as a backup job.
//!
//! Consistency while trains run: each model's `LATEST` is read before its versions and only the
//! versions up to it are kept; a train writes its artifact before it registers the version, so
//! every kept version has its artifact, and a version registered during the backup is above the
//! `LATEST` that was read, so it is wholly absent (item and object).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::checksum::sha256_hex;
use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::JobPolicy;
use crate::domain::{Job, JobKind, JobStatus, ModelVersion, Tenant};
use crate::error::ServiceError;
use crate::metrics::{self, Counter};
use crate::ports::Stores;
use crate::ports::{
    JobScan, JobStore, KeyStore, ModelRegistry, ObjectAdmin, ObjectMeta, StoreError,
};
use crate::workflows::manifest::{
    backup_object_key, backup_prefix, manifest_key, table_dump_key, BackupManifest, BackupStatus,
    ItemCounts, ManifestObject, MANIFEST_FORMAT,
};
use crate::workflows::retention::{BackupRecord, RetentionPolicy};
use crate::workflows::table_dump::{LatestPointer, TableSnapshot};

/// Objects copied (or verified) at once.
pub const COPY_CONCURRENCY: usize = 16;

/// Root of every backup in the vault.
pub const BACKUPS_ROOT: &str = "backups/";

/// Where a listed backup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    /// Complete and verified when written: restorable, counted by retention.
    Succeeded,
    /// Stopped part way; its manifest says why. Never restored from.
    Failed,
    /// No manifest (in progress, or cut off before it could record a failure).
    Incomplete,
}

/// One backup as `GET /api/v1/backups` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupSummary {
    /// Backup id (also the id of its backup job).
    pub id: String,
    /// Where it stands.
    pub status: BackupState,
    /// Start time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// End time, when it ended.
    pub finished_at: Option<u64>,
    /// Bytes of every copied object and the table dump.
    pub size_bytes: u64,
    /// Model artifacts copied.
    pub objects: usize,
    /// Items in the table dump, by kind.
    pub items: ItemCounts,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BackupSummary {
    fn of(manifest: &BackupManifest) -> Self {
        Self {
            id: manifest.id.clone(),
            status: match manifest.status {
                BackupStatus::Succeeded => BackupState::Succeeded,
                BackupStatus::Failed => BackupState::Failed,
            },
            created_at: manifest.created_at,
            finished_at: Some(manifest.finished_at),
            size_bytes: manifest.total_bytes(),
            objects: manifest.objects.len(),
            items: manifest.items.clone(),
            error: manifest.error.clone(),
        }
    }
}

/// What `POST /api/v1/backups` and the schedule return: the new backup and what pruning removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupCreated {
    /// The backup just taken.
    pub backup: BackupSummary,
    /// Ids of the backups the retention policy removed afterwards.
    pub pruned: Vec<String>,
}

/// `{"backups": [...]}`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupList {
    /// Every backup in the vault, newest first.
    pub backups: Vec<BackupSummary>,
}

/// Takes, lists and prunes backups.
#[derive(Clone)]
pub struct BackupWorkflow {
    objects: Arc<dyn ObjectAdmin>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
    scan: Arc<dyn JobScan>,
    keys: Arc<dyn KeyStore>,
    vault: Arc<dyn ObjectAdmin>,
    policy: RetentionPolicy,
    jobs_policy: JobPolicy,
}

impl BackupWorkflow {
    /// Backups of the models and the items of `stores`, kept in `vault` and pruned by `policy`.
    pub fn new(stores: &Stores, vault: Arc<dyn ObjectAdmin>, policy: RetentionPolicy) -> Self {
        Self {
            objects: stores.admin.clone(),
            registry: stores.registry.clone(),
            jobs: stores.jobs.clone(),
            scan: stores.scan.clone(),
            keys: stores.keys.clone(),
            vault,
            policy,
            jobs_policy: JobPolicy::default(),
        }
    }

    /// The same workflow keeping and leasing its backup jobs by `policy`.
    pub fn with_jobs(mut self, policy: JobPolicy) -> Self {
        self.jobs_policy = policy;
        self
    }

    /// Takes a backup, records it as a job, then prunes by the retention policy. A failed backup
    /// is marked failed (manifest and job, best effort), counted in `BackupsFailed`, and
    /// returned as the error.
    pub async fn create(&self) -> Result<BackupCreated, ServiceError> {
        let id = new_job_id();
        let created_at = now_millis();
        let started = Instant::now();
        let mut job = Job {
            results_key: Some(manifest_key(&id)),
            ..self
                .jobs_policy
                .start(&Tenant::system(), &id, JobKind::Backup, created_at)
        };
        let outcome = match self.jobs.put_job(&job).await {
            Ok(()) => self.copy_everything(&id, created_at).await,
            Err(e) => Err(e.into()),
        };
        job.timings.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let manifest = match outcome {
            Ok(manifest) => manifest,
            Err(e) => {
                metrics::count(Counter::BackupsFailed, 1);
                tracing::error!(backup = %id, error = %e, "backup failed");
                self.mark_failed(&mut job, created_at, &e).await;
                return Err(e);
            }
        };
        job.status = JobStatus::Succeeded;
        job.lease_expires_at = None;
        job.counts.rows = manifest.items.models + manifest.items.versions + manifest.items.jobs;
        self.jobs.put_job(&job).await?;
        metrics::count(Counter::BackupsSucceeded, 1);
        let pruned = match self.prune().await {
            Ok(pruned) => pruned,
            Err(e) => {
                // The backup itself is good; the next run prunes again.
                tracing::warn!(backup = %id, error = %e, "pruning old backups failed");
                Vec::new()
            }
        };
        Ok(BackupCreated {
            backup: BackupSummary::of(&manifest),
            pruned,
        })
    }

    /// Every backup in the vault, newest first.
    pub async fn list(&self) -> Result<BackupList, ServiceError> {
        let keys = self.vault.list_keys(BACKUPS_ROOT).await?;
        let mut ids: BTreeMap<String, bool> = BTreeMap::new();
        for key in &keys {
            let Some((id, rest)) = key
                .strip_prefix(BACKUPS_ROOT)
                .and_then(|k| k.split_once('/'))
            else {
                continue;
            };
            *ids.entry(id.to_owned()).or_default() |= rest == "manifest.json";
        }
        let mut backups = stream::iter(ids)
            .map(|(id, has_manifest)| async move {
                if !has_manifest {
                    return Ok(incomplete(&id));
                }
                Ok::<_, ServiceError>(match self.vault.get(&manifest_key(&id)).await {
                    Ok(Some(object)) => match BackupManifest::parse(&object.bytes) {
                        Ok(manifest) => BackupSummary::of(&manifest),
                        Err(e) => damaged(&id, e),
                    },
                    Ok(None) => incomplete(&id),
                    Err(StoreError::Corrupted(e)) => damaged(&id, e),
                    Err(e) => return Err(e.into()),
                })
            })
            .buffer_unordered(COPY_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        backups.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(BackupList { backups })
    }

    /// Deletes the backups the retention policy does not keep (manifest first, so a backup cut
    /// off mid-deletion lists as incomplete, never as good); returns their ids.
    pub async fn prune(&self) -> Result<Vec<String>, ServiceError> {
        let listed = self.list().await?;
        let records: Vec<BackupRecord> = listed
            .backups
            .iter()
            .map(|b| BackupRecord {
                id: b.id.clone(),
                created_at: b.created_at,
                good: b.status == BackupState::Succeeded,
            })
            .collect();
        let plan = self.policy.plan(&records);
        for id in &plan.prune {
            let mut keys = self.vault.list_keys(&backup_prefix(id)).await?;
            let manifest = manifest_key(id);
            keys.sort_by_key(|k| *k != manifest);
            for key in keys {
                self.vault.delete(&key).await?;
            }
            tracing::info!(backup = %id, "backup pruned");
        }
        Ok(plan.prune)
    }

    /// Snapshot, copies, dump and manifest; the manifest is written last, so its presence
    /// means the backup is whole.
    async fn copy_everything(
        &self,
        id: &str,
        created_at: u64,
    ) -> Result<BackupManifest, ServiceError> {
        let snapshot = self.snapshot(id).await?;
        let objects: Vec<ManifestObject> = stream::iter(snapshot.versions.clone())
            .map(|version| async move { self.copy_artifact(id, &version).await })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let dump = snapshot
            .encode()
            .map_err(|e| ServiceError::Internal(format!("encoding the table dump: {e}")))?;
        let table = self
            .write_to_vault(table_dump_key(id), String::new(), &dump, "application/gzip")
            .await?;
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT,
            id: id.to_owned(),
            created_at,
            finished_at: now_millis(),
            status: BackupStatus::Succeeded,
            error: None,
            objects,
            table: Some(table),
            items: snapshot.counts(),
        };
        self.write_manifest(&manifest).await?;
        Ok(manifest)
    }

    /// Every model's `LATEST` and its versions up to it, and every job but this backup's own.
    async fn snapshot(&self, backup_id: &str) -> Result<TableSnapshot, ServiceError> {
        let names: Vec<(Tenant, String)> = self
            .registry
            .list_all_models()
            .await?
            .into_iter()
            .map(|m| (m.tenant, m.name))
            .collect();
        let per_model: Vec<Option<(LatestPointer, Vec<ModelVersion>)>> = stream::iter(names)
            .map(|(tenant, name)| async move {
                let Some(latest) = self.registry.latest(&tenant, &name).await? else {
                    return Ok::<_, ServiceError>(None);
                };
                let versions: Vec<ModelVersion> = self
                    .registry
                    .versions(&tenant, &name)
                    .await?
                    .into_iter()
                    .filter(|v| v.version <= latest)
                    .collect();
                if !versions.iter().any(|v| v.version == latest) {
                    return Err(ServiceError::Internal(format!(
                        "LATEST of model '{name}' of tenant '{tenant}' names version {latest}, which has no item"
                    )));
                }
                let pointer = LatestPointer {
                    tenant,
                    name,
                    version: latest,
                };
                Ok(Some((pointer, versions)))
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let mut snapshot = TableSnapshot::default();
        for (pointer, versions) in per_model.into_iter().flatten() {
            snapshot.latest.push(pointer);
            snapshot.versions.extend(versions);
        }
        snapshot.jobs = self.scan.all_jobs().await?;
        snapshot.keys = self.keys.all_keys().await?;
        snapshot
            .jobs
            .retain(|job| !(job.id == backup_id && job.tenant == Tenant::system()));
        Ok(snapshot)
    }

    /// Copies one version's artifact into the backup, checking it against its registry item.
    async fn copy_artifact(
        &self,
        id: &str,
        version: &ModelVersion,
    ) -> Result<ManifestObject, ServiceError> {
        let what = format!(
            "the artifact of model '{}' version {} ({})",
            version.name, version.version, version.s3_key
        );
        let object = self
            .objects
            .get(&version.s3_key)
            .await
            .map_err(|e| match e {
                StoreError::Unavailable(_) => ServiceError::from(e),
                other => ServiceError::Internal(format!("{what}: {other}")),
            })?
            .ok_or_else(|| ServiceError::Internal(format!("{what} is missing")))?;
        if object.meta.sha256 != version.sha256 {
            return Err(ServiceError::Internal(format!(
                "{what} has sha256 {}, but its registry item says {}",
                object.meta.sha256, version.sha256
            )));
        }
        self.write_to_vault(
            backup_object_key(id, &version.s3_key),
            version.s3_key.clone(),
            &object.bytes,
            &object.meta.content_type,
        )
        .await
    }

    /// Writes `bytes` at `backup_key` in the vault (never over an existing object).
    async fn write_to_vault(
        &self,
        backup_key: String,
        source_key: String,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<ManifestObject, ServiceError> {
        let meta = ObjectMeta {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
            content_type: content_type.to_owned(),
        };
        self.vault.put_if_absent(&backup_key, bytes, &meta).await?;
        Ok(ManifestObject {
            backup_key,
            source_key,
            sha256: meta.sha256,
            size: meta.size,
        })
    }

    async fn write_manifest(&self, manifest: &BackupManifest) -> Result<(), ServiceError> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| ServiceError::Internal(format!("encoding the manifest: {e}")))?;
        self.write_to_vault(
            manifest_key(&manifest.id),
            String::new(),
            &bytes,
            "application/json",
        )
        .await
        .map(|_| ())
    }

    /// Records the failure in a manifest and the job; each write is best effort (the store may
    /// be what failed), and a backup without a manifest lists as incomplete anyway.
    async fn mark_failed(&self, job: &mut Job, created_at: u64, error: &ServiceError) {
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT,
            id: job.id.clone(),
            created_at,
            finished_at: now_millis(),
            status: BackupStatus::Failed,
            error: Some(error.to_string()),
            objects: Vec::new(),
            table: None,
            items: ItemCounts::default(),
        };
        if let Err(e) = self.write_manifest(&manifest).await {
            tracing::warn!(backup = %job.id, error = %e, "could not mark the backup failed");
        }
        job.status = JobStatus::Failed;
        job.lease_expires_at = None;
        job.error = Some(error.public_message());
        if let Err(e) = self.jobs.put_job(job).await {
            tracing::warn!(backup = %job.id, error = %e, "could not record the failed backup job");
        }
    }
}

/// A backup without a manifest, dated by its id.
fn incomplete(id: &str) -> BackupSummary {
    BackupSummary {
        id: id.to_owned(),
        status: BackupState::Incomplete,
        created_at: millis_of_id(id),
        finished_at: None,
        size_bytes: 0,
        objects: 0,
        items: ItemCounts::default(),
        error: None,
    }
}

/// A backup whose manifest does not read back.
fn damaged(id: &str, reason: String) -> BackupSummary {
    BackupSummary {
        status: BackupState::Failed,
        error: Some(format!("the manifest is damaged: {reason}")),
        ..incomplete(id)
    }
}

/// The creation time a backup id carries (its first 12 hex digits, see
/// [`new_job_id`]); 0 for an id of another shape.
pub fn millis_of_id(id: &str) -> u64 {
    id.get(..12)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}
