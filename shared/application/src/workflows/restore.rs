//! Restoring a backup (direct invocation only): every object and the table dump are read and
//! checked against the manifest before anything is written, then the differences are applied in
//! an order that never leaves an item pointing at a missing artifact (artifacts, versions,
//! `LATEST`, jobs). Idempotent: what is already there is left alone. Newer data (a higher
//! `LATEST`, an item or object that differs) is kept unless the caller asks to replace it. A dry
//! run reports the same plan and writes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::domain::ids::is_plausible_job_id;
use crate::domain::{ApiKey, Job, ModelVersion, Tenant};
use crate::error::ServiceError;
use crate::ports::Stores;
use crate::ports::{
    JobScan, JobStore, KeyStore, ModelRegistry, ObjectAdmin, RegistryRestore, StoreError,
    StoredObject,
};
use crate::workflows::backup::COPY_CONCURRENCY;
use crate::workflows::manifest::{manifest_key, BackupManifest, BackupStatus, ManifestObject};
use crate::workflows::table_dump::TableSnapshot;

/// Most attempts to write a restored latest version forward while trainers keep registering.
const MAX_FORWARD_ATTEMPTS: u32 = 20;

/// Most conflicts named in a report (the counts are always complete).
pub const MAX_REPORTED_CONFLICTS: usize = 100;

/// `{"action":"restore","backup_id":"...","dry_run":false,"replace":false}` without `action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The backup to restore.
    pub backup_id: String,
    /// Report what would change and write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Overwrite what differs from the backup (and move `LATEST` back) instead of keeping it.
    #[serde(default)]
    pub replace: bool,
}

/// What a restore did (or, in a dry run, would do) to one kind of thing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Written from the backup (missing, or replaced on request).
    pub written: usize,
    /// Already equal to the backup.
    pub unchanged: usize,
    /// Different from the backup and kept (newer data), since `replace` was not asked.
    pub kept: usize,
}

/// The restore's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// The backup restored.
    pub backup_id: String,
    /// `restored`, or `dry_run` when nothing was written.
    pub status: &'static str,
    /// Whether differing data was replaced.
    pub replace: bool,
    /// Model artifacts.
    pub objects: Tally,
    /// Version items.
    pub versions: Tally,
    /// `LATEST` pointers.
    pub latest: Tally,
    /// Job items.
    pub jobs: Tally,
    /// API keys: only missing ones are written; a key that differs (revoked or used since) is
    /// always kept, even with `replace`, so a restore never brings a revoked key back.
    pub keys: Tally,
    /// What was kept (or replaced), first [`MAX_REPORTED_CONFLICTS`].
    pub conflicts: Vec<String>,
}

/// How the store compares with the backup for one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diff {
    Missing,
    Same,
    Differs,
}

/// Restores backups from the vault into the stores.
#[derive(Clone)]
pub struct RestoreWorkflow {
    objects: Arc<dyn ObjectAdmin>,
    registry: Arc<dyn ModelRegistry>,
    restore: Arc<dyn RegistryRestore>,
    jobs: Arc<dyn JobStore>,
    scan: Arc<dyn JobScan>,
    keys: Arc<dyn KeyStore>,
    vault: Arc<dyn ObjectAdmin>,
}

/// A backup read whole and verified.
struct VerifiedBackup {
    objects: Vec<(ManifestObject, StoredObject)>,
    table: TableSnapshot,
}

impl RestoreWorkflow {
    /// Restores from `vault` into the models and the items of `stores`.
    pub fn new(stores: &Stores, vault: Arc<dyn ObjectAdmin>) -> Self {
        Self {
            objects: stores.admin.clone(),
            registry: stores.registry.clone(),
            restore: stores.restore.clone(),
            jobs: stores.jobs.clone(),
            scan: stores.scan.clone(),
            keys: stores.keys.clone(),
            vault,
        }
    }

    /// Verifies the backup, compares it with the stores and, unless `dry_run`, writes the
    /// differences. A backup that does not verify is [`ServiceError::CorruptedBackup`], with
    /// nothing written.
    pub async fn restore(&self, request: &RestoreRequest) -> Result<RestoreReport, ServiceError> {
        let id = request.backup_id.as_str();
        if !is_plausible_job_id(id) {
            return Err(ServiceError::BackupNotFound(
                id.escape_default().to_string(),
            ));
        }
        let backup = self.read_verified(id).await?;
        let mut report = RestoreReport {
            backup_id: id.to_owned(),
            status: if request.dry_run {
                "dry_run"
            } else {
                "restored"
            },
            replace: request.replace,
            objects: Tally::default(),
            versions: Tally::default(),
            latest: Tally::default(),
            jobs: Tally::default(),
            keys: Tally::default(),
            conflicts: Vec::new(),
        };
        let write =
            |diff: Diff| diff == Diff::Missing || (diff == Diff::Differs && request.replace);

        // Plan everything first, so a dry run and a real run report the same.
        let object_diffs = self.object_diffs(&backup.objects).await?;
        let version_diffs = self.version_diffs(&backup.table.versions).await?;
        let latest_items: Vec<ModelVersion> = latest_items(&backup.table)?;
        let latest_diffs = self.latest_diffs(&latest_items).await?;
        let existing_jobs: HashMap<(Tenant, String), Job> = self
            .scan
            .all_jobs()
            .await?
            .into_iter()
            .map(|j| ((j.tenant.clone(), j.id.clone()), j))
            .collect();
        let job_diffs: Vec<Diff> = backup
            .table
            .jobs
            .iter()
            .map(
                |job| match existing_jobs.get(&(job.tenant.clone(), job.id.clone())) {
                    None => Diff::Missing,
                    Some(current) if current == job => Diff::Same,
                    Some(_) => Diff::Differs,
                },
            )
            .collect();

        let key_diffs = self.key_diffs(&backup.table.keys).await?;
        let conflicts = &mut report.conflicts;
        let replace = request.replace;
        for ((object, _), diff) in backup.objects.iter().zip(&object_diffs) {
            let what = || object.source_key.clone();
            tally(&mut report.objects, conflicts, *diff, replace, what);
        }
        for (v, diff) in backup.table.versions.iter().zip(&version_diffs) {
            let what = || format!("model '{}' version {}", v.name, v.version);
            tally(&mut report.versions, conflicts, *diff, replace, what);
        }
        for (v, diff) in latest_items.iter().zip(&latest_diffs) {
            let what = || format!("LATEST of model '{}' (backup: {})", v.name, v.version);
            tally(&mut report.latest, conflicts, *diff, replace, what);
        }
        for (job, diff) in backup.table.jobs.iter().zip(&job_diffs) {
            let what = || format!("job '{}'", job.id);
            tally(&mut report.jobs, conflicts, *diff, replace, what);
        }
        for (key, diff) in backup.table.keys.iter().zip(&key_diffs) {
            let what = || format!("API key '{}' of tenant '{}'", key.id, key.tenant);
            tally(&mut report.keys, conflicts, *diff, false, what);
        }
        if request.dry_run {
            return Ok(report);
        }

        let objects: Vec<_> = backup
            .objects
            .into_iter()
            .zip(object_diffs)
            .filter(|(_, d)| write(*d))
            .collect();
        stream::iter(objects)
            .map(|((object, stored), diff)| async move {
                self.write_object(&object, &stored, diff).await
            })
            .buffer_unordered(COPY_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        for (v, diff) in backup.table.versions.iter().zip(&version_diffs) {
            if write(*diff) {
                ignore_conflict(self.restore.restore_version(v, request.replace).await)?;
            }
        }
        for (v, diff) in latest_items.iter().zip(&latest_diffs) {
            if write(*diff) {
                self.restore_latest_forward(v, request.replace).await?;
            }
        }
        let jobs: Vec<Job> = backup
            .table
            .jobs
            .into_iter()
            .zip(&job_diffs)
            .filter(|(_, d)| write(**d))
            .map(|(job, _)| job)
            .collect();
        self.jobs.put_jobs(&jobs).await?;
        for (key, diff) in backup.table.keys.iter().zip(&key_diffs) {
            if *diff == Diff::Missing {
                ignore_conflict(self.keys.put_key_if_absent(key).await)?;
            }
        }
        tracing::info!(backup = %id, objects = report.objects.written, versions = report.versions.written, jobs = report.jobs.written, "backup restored");
        Ok(report)
    }

    /// Makes the backup's latest version `v` the model's latest without ever moving `LATEST`
    /// back: where the live `LATEST` is above it (and `replace` was asked), `v` is registered
    /// again as the next version (same artifact, same features), so trainers keep counting
    /// forward from where they were.
    async fn restore_latest_forward(
        &self,
        v: &ModelVersion,
        replace: bool,
    ) -> Result<(), ServiceError> {
        for _ in 0..MAX_FORWARD_ATTEMPTS {
            let live = self.registry.latest(&v.tenant, &v.name).await?;
            let Some(live) = live.filter(|live| *live > v.version && replace) else {
                return ignore_conflict(self.restore.restore_latest(v, replace).await);
            };
            let current = self.registry.version(&v.tenant, &v.name, live).await?;
            if current.is_some_and(|c| c.sha256 == v.sha256 && c.features == v.features) {
                // Written forward by an earlier run of this restore: nothing to do twice.
                return Ok(());
            }
            let forward = ModelVersion {
                version: live.saturating_add(1),
                created_at: crate::domain::ids::now_millis(),
                job: None,
                ..v.clone()
            };
            match self.registry.register_version(&forward, Some(live)).await {
                Ok(()) => {
                    tracing::info!(model = %v.name, restored = v.version, as_version = forward.version, "restored latest written forward");
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "model '{}' kept moving while its restored version was written forward; run the restore again",
            v.name
        )))
    }

    /// The manifest, every object and the dump, each checked against the manifest, and the
    /// dump checked against the objects and the counts.
    async fn read_verified(&self, id: &str) -> Result<VerifiedBackup, ServiceError> {
        let corrupted = |reason: String| ServiceError::CorruptedBackup {
            id: id.to_owned(),
            reason,
        };
        let manifest = match self.vault.get(&manifest_key(id)).await {
            Ok(Some(object)) => BackupManifest::parse(&object.bytes).map_err(corrupted)?,
            Ok(None) => return Err(ServiceError::BackupNotFound(id.to_owned())),
            Err(StoreError::Corrupted(e)) => return Err(corrupted(e)),
            Err(e) => return Err(e.into()),
        };
        if manifest.id != id {
            return Err(corrupted(format!(
                "its manifest is for backup '{}'",
                manifest.id
            )));
        }
        if manifest.status != BackupStatus::Succeeded {
            return Err(corrupted(format!(
                "it failed when taken: {}",
                manifest.error.as_deref().unwrap_or("no reason recorded")
            )));
        }
        let table_object = manifest
            .table
            .clone()
            .ok_or_else(|| corrupted("its manifest lists no table dump".into()))?;
        let wanted: Vec<ManifestObject> = manifest
            .objects
            .iter()
            .cloned()
            .chain([table_object])
            .collect();
        let mut fetched: Vec<(ManifestObject, StoredObject)> = stream::iter(wanted)
            .map(|object| async move { self.fetch_verified(id, object).await })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let (_, dump) = fetched
            .pop()
            .ok_or_else(|| corrupted("the table dump was not read".into()))?;
        let table = TableSnapshot::decode(&dump.bytes).map_err(corrupted)?;
        if table.counts() != manifest.items {
            return Err(corrupted(format!(
                "the table dump holds {:?} items; the manifest says {:?}",
                table.counts(),
                manifest.items
            )));
        }
        let artifacts: HashMap<&str, &str> = fetched
            .iter()
            .map(|(o, _)| (o.source_key.as_str(), o.sha256.as_str()))
            .collect();
        for v in &table.versions {
            if artifacts.get(v.s3_key.as_str()) != Some(&v.sha256.as_str()) {
                return Err(corrupted(format!(
                    "model '{}' version {} names artifact {} (sha256 {}), which the backup does not hold",
                    v.name, v.version, v.s3_key, v.sha256
                )));
            }
        }
        Ok(VerifiedBackup {
            objects: fetched,
            table,
        })
    }

    async fn fetch_verified(
        &self,
        id: &str,
        object: ManifestObject,
    ) -> Result<(ManifestObject, StoredObject), ServiceError> {
        let corrupted = |reason: String| ServiceError::CorruptedBackup {
            id: id.to_owned(),
            reason,
        };
        let stored = match self.vault.get(&object.backup_key).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Err(corrupted(format!("{} is missing", object.backup_key))),
            Err(StoreError::Corrupted(e)) => return Err(corrupted(e)),
            Err(e) => return Err(e.into()),
        };
        object.verify(&stored.bytes).map_err(corrupted)?;
        Ok((object, stored))
    }

    async fn object_diffs(
        &self,
        objects: &[(ManifestObject, StoredObject)],
    ) -> Result<Vec<Diff>, ServiceError> {
        let wanted: Vec<(String, String)> = objects
            .iter()
            .map(|(o, _)| (o.source_key.clone(), o.sha256.clone()))
            .collect();
        stream::iter(wanted)
            .map(|(key, sha256)| async move {
                Ok::<_, ServiceError>(match self.objects.get(&key).await {
                    Ok(None) => Diff::Missing,
                    Ok(Some(current)) if current.meta.sha256 == sha256 => Diff::Same,
                    Ok(Some(_)) | Err(StoreError::Corrupted(_)) => Diff::Differs,
                    Err(e) => return Err(e.into()),
                })
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn version_diffs(&self, versions: &[ModelVersion]) -> Result<Vec<Diff>, ServiceError> {
        stream::iter(versions.to_vec())
            .map(|v| async move {
                Ok::<_, ServiceError>(
                    match self.registry.version(&v.tenant, &v.name, v.version).await? {
                        None => Diff::Missing,
                        Some(current) if current == v => Diff::Same,
                        Some(_) => Diff::Differs,
                    },
                )
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn key_diffs(&self, keys: &[ApiKey]) -> Result<Vec<Diff>, ServiceError> {
        stream::iter(keys.to_vec())
            .map(|key| async move {
                Ok::<_, ServiceError>(match self.keys.get_key(&key.tenant, &key.id).await? {
                    None => Diff::Missing,
                    Some(current) if current == key => Diff::Same,
                    Some(_) => Diff::Differs,
                })
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn latest_diffs(&self, items: &[ModelVersion]) -> Result<Vec<Diff>, ServiceError> {
        let wanted: Vec<(Tenant, String, u32)> = items
            .iter()
            .map(|v| (v.tenant.clone(), v.name.clone(), v.version))
            .collect();
        stream::iter(wanted)
            .map(|(tenant, name, version)| async move {
                Ok::<_, ServiceError>(match self.registry.latest(&tenant, &name).await? {
                    None => Diff::Missing,
                    Some(current) if current < version => Diff::Missing,
                    Some(current) if current == version => Diff::Same,
                    Some(_) => Diff::Differs,
                })
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn write_object(
        &self,
        object: &ManifestObject,
        stored: &StoredObject,
        diff: Diff,
    ) -> Result<(), ServiceError> {
        let (key, bytes, meta) = (&object.source_key, &stored.bytes, &stored.meta);
        let written = if diff == Diff::Differs {
            self.objects.put(key, bytes, meta).await
        } else {
            self.objects.put_if_absent(key, bytes, meta).await
        };
        ignore_conflict(written)
    }
}

/// The version item each `LATEST` of the dump names.
fn latest_items(table: &TableSnapshot) -> Result<Vec<ModelVersion>, ServiceError> {
    table
        .latest
        .iter()
        .map(|pointer| {
            table
                .versions
                .iter()
                .find(|v| {
                    v.tenant == pointer.tenant
                        && v.name == pointer.name
                        && v.version == pointer.version
                })
                .cloned()
                .ok_or_else(|| {
                    ServiceError::Internal(format!(
                        "LATEST of model '{}' of tenant '{}' names version {}, which the backup does not hold",
                        pointer.name, pointer.tenant, pointer.version
                    ))
                })
        })
        .collect()
}

/// A conditional write lost to a concurrent writer: what is there now is newer, and kept.
fn ignore_conflict(result: Result<(), StoreError>) -> Result<(), ServiceError> {
    match result {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Counts one compared thing in `t`, and names it in `conflicts` (capped) when it differs;
/// `what` is only formatted then.
fn tally(
    t: &mut Tally,
    conflicts: &mut Vec<String>,
    diff: Diff,
    replace: bool,
    what: impl FnOnce() -> String,
) {
    match diff {
        Diff::Missing => t.written += 1,
        Diff::Same => t.unchanged += 1,
        Diff::Differs if replace => t.written += 1,
        Diff::Differs => t.kept += 1,
    }
    if diff == Diff::Differs && conflicts.len() < MAX_REPORTED_CONFLICTS {
        let action = if replace { "replaced" } else { "kept" };
        conflicts.push(format!("{} differs from the backup: {action}", what()));
    }
}
