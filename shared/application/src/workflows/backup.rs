//! Taking, continuing, listing and pruning backups: every model artifact the registry
//! references and every series' detector state, copied server-side into the vault's
//! content-addressed store (only when no earlier backup holds the same bytes), and every table
//! item (labelled rows included), streamed page by page into gzip parts (`backups/{id}/table/{n}.jsonl.gz`), then
//! `backups/{id}/manifest.json`; recorded as a backup job.
//!
//! A backup that reaches its deadline writes `backups/{id}/checkpoint.json` (phase, cursor, what
//! it holds so far) and returns [`BackupStep::Continuing`]; [`BackupWorkflow::resume`] (the
//! function's `{"action":"backup","continue":id}`, and its 15-minute sweep for every pending
//! backup) takes it over through the backup job's lease and goes on from there.
//!
//! Consistency while trains run: each model's `LATEST` is read before its versions and only the
//! versions up to it are kept; a train writes its artifact before it registers the version, so
//! every kept version has its artifact, and a version registered during the backup is above the
//! `LATEST` that was read, so it is wholly absent (item and object).
//!
//! Consistency while series are appended to: each series' record is read, then the state it
//! names is copied; an append in between writes a new state, moves the record on and deletes the
//! state that was read, so a state found missing sends the backup back to the record (a few
//! times). The backup holds each series as one record with exactly the state it names.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::JobPolicy;
use crate::domain::{Job, JobKind, JobStatus, ModelVersion, SeriesRecord, Tenant};
use crate::error::ServiceError;
use crate::metrics::{self, Counter};
use crate::ports::Stores;
use crate::ports::{
    JobScan, JobStore, KeyStore, LabelStore, ModelRegistry, ObjectAdmin, SeriesStore, StoreError,
};
use crate::workflows::checkpoint::{self, checkpoint_key, BackupCheckpoint, BackupPhase};
use crate::workflows::content_store::{ContentStore, Held};
use crate::workflows::deadline::Deadline;
use crate::workflows::manifest::{
    backup_prefix, manifest_key, table_part_key, BackupManifest, BackupStatus, ItemCounts,
    ManifestObject, CONTENT_PREFIX, MANIFEST_FORMAT,
};
use crate::workflows::retention::{BackupRecord, RetentionPolicy};
use crate::workflows::table_dump::{DumpWriter, LatestPointer, TableItem};

/// Objects copied (or verified) at once.
pub const COPY_CONCURRENCY: usize = 16;

/// Root of every backup in the vault.
pub const BACKUPS_ROOT: &str = "backups/";

/// Job items read per page of the table scan, unless set with [`BackupWorkflow::with_page`].
pub const JOB_PAGE: usize = 1000;

/// Models dumped (and their artifacts held) per step.
const MODEL_BATCH: usize = 64;

/// Most series dumped (and their states held) per step; fewer when the job page is smaller.
const SERIES_PAGE: usize = 100;

/// Times a series' record is read again when appends keep superseding the state it names
/// before the backup can copy it.
const MAX_HOLD_ATTEMPTS: usize = 8;

/// Where a listed backup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    /// Complete and verified when written: restorable, counted by retention.
    Succeeded,
    /// Stopped part way; its manifest says why. Never restored from.
    Failed,
    /// Cut short by its deadline: a checkpoint, no manifest yet; a follow-up invocation
    /// continues it. Never pruned.
    InProgress,
    /// No manifest and no checkpoint (cut off before it could record a failure).
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
    /// Bytes of every artifact it holds and of the table dump.
    pub size_bytes: u64,
    /// Model artifacts and series states it holds.
    pub objects: usize,
    /// Of those, the ones it copied (the others an earlier backup already held).
    pub copied: usize,
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
            copied: manifest.copied,
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

/// A backup left for a follow-up invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupPending {
    /// Backup id: continue it with `{"action":"backup","continue":id}`.
    pub id: String,
    /// Always `continuing`.
    pub status: &'static str,
    /// What it does next.
    pub phase: BackupPhase,
    /// Items dumped so far, by kind.
    pub items: ItemCounts,
    /// Invocations that worked on it so far.
    pub invocations: u32,
}

/// What one invocation of a backup achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BackupStep {
    /// It ended (and old backups were pruned).
    Done(BackupCreated),
    /// The deadline came first: a checkpoint was written.
    Continuing(BackupPending),
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
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
    scan: Arc<dyn JobScan>,
    keys: Arc<dyn KeyStore>,
    series: Arc<dyn SeriesStore>,
    labels: Arc<dyn LabelStore>,
    vault: Arc<dyn ObjectAdmin>,
    content: ContentStore,
    policy: RetentionPolicy,
    jobs_policy: JobPolicy,
    page: usize,
}

impl BackupWorkflow {
    /// Backups of the models, the series, the labels and the items of `stores`, kept in `vault`
    /// and pruned by `policy`.
    pub fn new(stores: &Stores, vault: Arc<dyn ObjectAdmin>, policy: RetentionPolicy) -> Self {
        Self {
            registry: stores.registry.clone(),
            jobs: stores.jobs.clone(),
            scan: stores.scan.clone(),
            keys: stores.keys.clone(),
            series: stores.series.clone(),
            labels: stores.labels.clone(),
            content: ContentStore::new(stores.admin.clone(), vault.clone()),
            vault,
            policy,
            jobs_policy: JobPolicy::default(),
            page: JOB_PAGE,
        }
    }

    /// The same workflow keeping and leasing its backup jobs by `policy`.
    pub fn with_jobs(mut self, policy: JobPolicy) -> Self {
        self.jobs_policy = policy;
        self
    }

    /// The same workflow reading `page` job items or labels (and at most `page` series) per step
    /// (at least 1).
    pub fn with_page(mut self, page: usize) -> Self {
        self.page = page.max(1);
        self
    }

    /// Takes a whole backup in this call (no deadline), then prunes.
    pub async fn create(&self) -> Result<BackupCreated, ServiceError> {
        let mut step = self.start(Deadline::none()).await?;
        loop {
            match step {
                BackupStep::Done(created) => return Ok(created),
                BackupStep::Continuing(pending) => {
                    step = self.resume(&pending.id, Deadline::none()).await?
                }
            }
        }
    }

    /// Starts a backup, recorded as a job, and works on it until it ends (then prunes by the
    /// retention policy) or `deadline` passes (then checkpoints). A failed backup is marked
    /// failed (manifest and job, best effort), counted in `BackupsFailed`, and returned as the
    /// error.
    pub async fn start(&self, deadline: Deadline) -> Result<BackupStep, ServiceError> {
        let id = new_job_id();
        let created_at = now_millis();
        let job = Job {
            results_key: Some(manifest_key(&id)),
            ..self
                .jobs_policy
                .start(&Tenant::system(), &id, JobKind::Backup, created_at)
        };
        self.jobs.put_job(&job).await?;
        let checkpoint = BackupCheckpoint {
            id,
            created_at,
            phase: BackupPhase::Models,
            cursor: None,
            invocations: 1,
            objects: Vec::new(),
            copied: 0,
            tables: Vec::new(),
            items: ItemCounts::default(),
        };
        self.run(job, checkpoint, deadline).await
    }

    /// Continues backup `id` from its checkpoint, taking its job's lease over (a
    /// [`ServiceError::Conflict`] while another invocation holds it); see [`BackupWorkflow::start`].
    pub async fn resume(&self, id: &str, deadline: Deadline) -> Result<BackupStep, ServiceError> {
        let key = checkpoint_key(id);
        let Some(mut checkpoint) =
            checkpoint::load::<BackupCheckpoint>(self.vault.as_ref(), &key).await?
        else {
            return Err(ServiceError::BackupNotFound(format!(
                "{id} (no backup in progress has this id)"
            )));
        };
        let Some(mut job) = self.jobs.get_job(&Tenant::system(), id).await? else {
            return Err(ServiceError::Internal(format!(
                "backup '{id}' has a checkpoint but no job"
            )));
        };
        if job.status != JobStatus::Running {
            // Its job was failed (by the sweep, or by hand): the backup ends failed too.
            let e = ServiceError::Conflict(format!("backup '{id}' is no longer running"));
            self.mark_failed(&mut job, checkpoint.created_at, &e).await;
            return Err(e);
        }
        let now = now_millis();
        let job = Job {
            lease_expires_at: Some(now + self.jobs_policy.lease_ms),
            ..job
        };
        self.jobs
            .take_over_job(&job, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(format!(
                    "backup '{id}' is being continued by another invocation"
                )),
                other => other.into(),
            })?;
        checkpoint.invocations += 1;
        self.run(job, checkpoint, deadline).await
    }

    /// Continues every backup in progress whose job no invocation holds, oldest first, until
    /// `deadline` (at least one step of the oldest; what the 15-minute sweep runs); one held by
    /// another invocation is skipped.
    pub async fn resume_pending(
        &self,
        deadline: Deadline,
    ) -> Result<Vec<BackupStep>, ServiceError> {
        let mut pending: Vec<BackupSummary> = self
            .list()
            .await?
            .backups
            .into_iter()
            .filter(|b| b.status == BackupState::InProgress)
            .collect();
        pending.reverse();
        let mut steps = Vec::new();
        for backup in pending {
            match self.resume(&backup.id, deadline).await {
                Ok(step) => steps.push(step),
                Err(ServiceError::Conflict(reason)) => {
                    tracing::info!(backup = %backup.id, %reason, "backup not continued")
                }
                Err(e) => return Err(e),
            }
            if deadline.passed() {
                break;
            }
        }
        Ok(steps)
    }

    /// Steps, then either the manifest, the job and pruning (done), a checkpoint (deadline), or
    /// the failure recorded.
    async fn run(
        &self,
        mut job: Job,
        mut checkpoint: BackupCheckpoint,
        deadline: Deadline,
    ) -> Result<BackupStep, ServiceError> {
        let started = Instant::now();
        let id = checkpoint.id.clone();
        let outcome = self.advance(&mut checkpoint, deadline).await;
        job.timings.duration_ms += started.elapsed().as_secs_f64() * 1000.0;
        let manifest = match outcome {
            Ok(Some(manifest)) => manifest,
            Ok(None) => {
                // Hand the job over: the next invocation may take it at once (a lease counts as
                // ended once it is before the taker's clock).
                job.lease_expires_at = Some(now_millis().saturating_sub(1));
                self.jobs.put_job(&job).await?;
                tracing::info!(backup = %id, phase = ?checkpoint.phase, invocations = checkpoint.invocations, "backup continues in a follow-up invocation");
                return Ok(BackupStep::Continuing(BackupPending {
                    id,
                    status: "continuing",
                    phase: checkpoint.phase,
                    items: checkpoint.items,
                    invocations: checkpoint.invocations,
                }));
            }
            Err(e) => {
                metrics::count(Counter::BackupsFailed, 1);
                tracing::error!(backup = %id, error = %e, "backup failed");
                self.mark_failed(&mut job, checkpoint.created_at, &e).await;
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
        Ok(BackupStep::Done(BackupCreated {
            backup: BackupSummary::of(&manifest),
            pruned,
        }))
    }

    /// Every backup in the vault, newest first.
    pub async fn list(&self) -> Result<BackupList, ServiceError> {
        let keys = self.vault.list_keys(BACKUPS_ROOT).await?;
        // Per id: (has a manifest, has a checkpoint).
        let mut ids: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for key in &keys {
            let Some((id, rest)) = key
                .strip_prefix(BACKUPS_ROOT)
                .filter(|k| !format!("{BACKUPS_ROOT}{k}").starts_with(CONTENT_PREFIX))
                .and_then(|k| k.split_once('/'))
            else {
                continue;
            };
            let entry = ids.entry(id.to_owned()).or_default();
            entry.0 |= rest == "manifest.json";
            entry.1 |= rest == "checkpoint.json";
        }
        let mut backups = stream::iter(ids)
            .map(|(id, (has_manifest, has_checkpoint))| async move {
                if !has_manifest {
                    return Ok(incomplete(&id, has_checkpoint));
                }
                Ok::<_, ServiceError>(match self.vault.get(&manifest_key(&id)).await {
                    Ok(Some(object)) => match BackupManifest::parse(&object.bytes) {
                        Ok(manifest) => BackupSummary::of(&manifest),
                        Err(e) => damaged(&id, e),
                    },
                    Ok(None) => incomplete(&id, has_checkpoint),
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
    /// off mid-deletion lists as incomplete, never as good), then every content object no kept
    /// backup names (mark and sweep; skipped while a backup is in progress, since what it holds
    /// is not in a manifest yet); returns the ids of the pruned backups.
    pub async fn prune(&self) -> Result<Vec<String>, ServiceError> {
        let listed = self.list().await?;
        let records: Vec<BackupRecord> = listed
            .backups
            .iter()
            .map(|b| BackupRecord {
                id: b.id.clone(),
                created_at: b.created_at,
                good: b.status == BackupState::Succeeded,
                in_progress: b.status == BackupState::InProgress,
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
        if listed
            .backups
            .iter()
            .any(|b| b.status == BackupState::InProgress)
        {
            tracing::info!("a backup is in progress: content objects are swept next time");
        } else {
            self.sweep_content(&plan.keep).await?;
        }
        Ok(plan.prune)
    }

    /// Deletes every content object that none of the manifests of `kept` names.
    async fn sweep_content(&self, kept: &[String]) -> Result<(), ServiceError> {
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        for id in kept {
            let Some(object) = self.vault.get(&manifest_key(id)).await? else {
                continue;
            };
            let manifest = BackupManifest::parse(&object.bytes).map_err(|e| {
                ServiceError::Internal(format!("the manifest of kept backup '{id}': {e}"))
            })?;
            referenced.extend(manifest.objects.into_iter().map(|o| o.backup_key));
        }
        let mut swept = 0usize;
        for key in self.vault.list_keys(CONTENT_PREFIX).await? {
            if !referenced.contains(&key) {
                self.vault.delete(&key).await?;
                swept += 1;
            }
        }
        tracing::info!(
            swept,
            referenced = referenced.len(),
            "content objects swept"
        );
        Ok(())
    }

    /// Works from the checkpoint until the backup is whole (its manifest, written last, is
    /// returned and the checkpoint deleted) or `deadline` passes (the checkpoint is saved).
    /// This invocation's items go to one dump part.
    async fn advance(
        &self,
        checkpoint: &mut BackupCheckpoint,
        deadline: Deadline,
    ) -> Result<Option<BackupManifest>, ServiceError> {
        let key = checkpoint_key(&checkpoint.id);
        checkpoint::save(self.vault.as_ref(), &key, checkpoint).await?;
        let part = table_part_key(&checkpoint.id, checkpoint.invocations);
        let mut dump = DumpWriter::open(self.vault.as_ref(), part).await?;
        loop {
            let stepped = match checkpoint.phase {
                BackupPhase::Models => self.dump_models(checkpoint, &mut dump).await,
                BackupPhase::Keys => self.dump_keys(checkpoint, &mut dump).await,
                BackupPhase::Series => self.dump_series(checkpoint, &mut dump).await,
                BackupPhase::Labels => self.dump_labels(checkpoint, &mut dump).await,
                BackupPhase::Jobs => self.dump_jobs(checkpoint, &mut dump).await,
                BackupPhase::Manifest => break,
            };
            if let Err(e) = stepped {
                dump.abort().await;
                return Err(e);
            }
            if deadline.passed() && checkpoint.phase != BackupPhase::Manifest {
                break;
            }
        }
        let (part, counts) = dump.finish().await?;
        checkpoint.tables.push(part);
        checkpoint.items.add(&counts);
        if checkpoint.phase != BackupPhase::Manifest {
            checkpoint::save(self.vault.as_ref(), &key, checkpoint).await?;
            return Ok(None);
        }
        let mut objects: BTreeMap<String, ManifestObject> = BTreeMap::new();
        for object in std::mem::take(&mut checkpoint.objects) {
            objects.insert(object.source_key.clone(), object);
        }
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT,
            id: checkpoint.id.clone(),
            created_at: checkpoint.created_at,
            finished_at: now_millis(),
            status: BackupStatus::Succeeded,
            error: None,
            objects: objects.into_values().collect(),
            copied: checkpoint.copied,
            table: None,
            tables: std::mem::take(&mut checkpoint.tables),
            items: checkpoint.items.clone(),
        };
        self.write_manifest(&manifest).await?;
        self.vault.delete(&key).await?;
        Ok(Some(manifest))
    }

    /// The next batch of models after the cursor (by tenant, then name): each one's `LATEST`,
    /// its versions up to it and their artifacts; then the keys.
    async fn dump_models(
        &self,
        checkpoint: &mut BackupCheckpoint,
        dump: &mut DumpWriter,
    ) -> Result<(), ServiceError> {
        let after = checkpoint.cursor.clone();
        let mut names: Vec<(Tenant, String)> = self
            .registry
            .list_all_models()
            .await?
            .into_iter()
            .map(|m| (m.tenant, m.name))
            .filter(|(tenant, name)| {
                after
                    .as_ref()
                    .is_none_or(|a| model_cursor(tenant, name) > *a)
            })
            .collect();
        names.sort_by_key(|(tenant, name)| model_cursor(tenant, name));
        names.truncate(MODEL_BATCH);
        let Some((tenant, name)) = names.last() else {
            checkpoint.phase = BackupPhase::Keys;
            checkpoint.cursor = None;
            return Ok(());
        };
        let next_cursor = model_cursor(tenant, name);
        let per_model: Vec<Option<ModelDump>> = stream::iter(names)
            .map(|(tenant, name)| async move { self.model_dump(tenant, name).await })
            .buffered(COPY_CONCURRENCY / 4)
            .try_collect()
            .await?;
        for model in per_model.into_iter().flatten() {
            for v in model.versions {
                dump.write(&TableItem::Version(v)).await?;
            }
            dump.write(&TableItem::Latest(model.pointer)).await?;
            checkpoint.copied += model.held.iter().filter(|h| h.copied).count();
            checkpoint
                .objects
                .extend(model.held.into_iter().map(|h| h.object));
        }
        checkpoint.cursor = Some(next_cursor);
        Ok(())
    }

    /// One model's `LATEST`, its versions up to it, and their artifacts held in the vault;
    /// `None` for a model without `LATEST`.
    async fn model_dump(
        &self,
        tenant: Tenant,
        name: String,
    ) -> Result<Option<ModelDump>, ServiceError> {
        let Some(latest) = self.registry.latest(&tenant, &name).await? else {
            return Ok(None);
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
        let held = stream::iter(versions.clone())
            .map(|v| async move { self.content.hold(&v).await })
            .buffered(4)
            .try_collect()
            .await?;
        Ok(Some(ModelDump {
            pointer: LatestPointer {
                tenant,
                name,
                version: latest,
            },
            versions,
            held,
        }))
    }

    /// Every API key (a few per tenant: one step).
    async fn dump_keys(
        &self,
        checkpoint: &mut BackupCheckpoint,
        dump: &mut DumpWriter,
    ) -> Result<(), ServiceError> {
        for key in self.keys.all_keys().await? {
            dump.write(&TableItem::Key(key)).await?;
        }
        checkpoint.phase = BackupPhase::Series;
        checkpoint.cursor = None;
        Ok(())
    }

    /// One page of the series scan: each record, with the state it names held in the vault.
    async fn dump_series(
        &self,
        checkpoint: &mut BackupCheckpoint,
        dump: &mut DumpWriter,
    ) -> Result<(), ServiceError> {
        let page = self
            .series
            .scan_series(checkpoint.cursor.as_deref(), self.page.min(SERIES_PAGE))
            .await?;
        let held: Vec<Option<SeriesDump>> = stream::iter(page.series)
            .map(|(tenant, record)| async move { self.series_dump(tenant, record).await })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        for SeriesDump {
            tenant,
            record,
            held,
        } in held.into_iter().flatten()
        {
            dump.write(&TableItem::Series { tenant, record }).await?;
            checkpoint.copied += usize::from(held.copied);
            checkpoint.objects.push(held.object);
        }
        match page.next_cursor {
            Some(next) => checkpoint.cursor = Some(next),
            None => {
                checkpoint.phase = BackupPhase::Labels;
                checkpoint.cursor = None;
            }
        }
        Ok(())
    }

    /// One page of the label scan (labels are items only: no object to hold).
    async fn dump_labels(
        &self,
        checkpoint: &mut BackupCheckpoint,
        dump: &mut DumpWriter,
    ) -> Result<(), ServiceError> {
        let page = self
            .labels
            .scan_labels(checkpoint.cursor.as_deref(), self.page)
            .await?;
        for owned in page.labels {
            dump.write(&TableItem::Label {
                tenant: owned.tenant,
                model: owned.model,
                label: owned.label,
            })
            .await?;
        }
        match page.next_cursor {
            Some(next) => checkpoint.cursor = Some(next),
            None => {
                checkpoint.phase = BackupPhase::Jobs;
                checkpoint.cursor = None;
            }
        }
        Ok(())
    }

    /// `record` of `tenant` with the state it names held in the vault. An append between reading
    /// the record and copying its state deletes that state: the record is read again (up to
    /// [`MAX_HOLD_ATTEMPTS`] times) and the state it names now is held instead, so the record
    /// dumped always names the state held. `None` for a series gone since the scan.
    async fn series_dump(
        &self,
        tenant: Tenant,
        mut record: SeriesRecord,
    ) -> Result<Option<SeriesDump>, ServiceError> {
        for _ in 0..MAX_HOLD_ATTEMPTS {
            let what = format!(
                "the state of series '{}' of tenant '{tenant}' ({})",
                record.name, record.state_key
            );
            if let Some(held) = self.content.hold_current(&record.state_key, &what).await? {
                return Ok(Some(SeriesDump {
                    tenant,
                    record,
                    held,
                }));
            }
            match self.series.series(&tenant, &record.name).await? {
                None => return Ok(None),
                Some(now)
                    if now.sequence == record.sequence && now.state_key == record.state_key =>
                {
                    return Err(ServiceError::Internal(format!("{what} is missing")));
                }
                Some(now) => record = now,
            }
        }
        Err(ServiceError::Conflict(format!(
            "series '{}' of tenant '{tenant}' kept moving under {MAX_HOLD_ATTEMPTS} attempts to hold its state; take the backup again",
            record.name
        )))
    }

    /// One page of the job scan (every job but this backup's own).
    async fn dump_jobs(
        &self,
        checkpoint: &mut BackupCheckpoint,
        dump: &mut DumpWriter,
    ) -> Result<(), ServiceError> {
        let page = self
            .scan
            .scan_jobs(checkpoint.cursor.as_deref(), self.page)
            .await?;
        for job in page.jobs {
            if !(job.id == checkpoint.id && job.tenant == Tenant::system()) {
                dump.write(&TableItem::Job(job)).await?;
            }
        }
        match page.next_cursor {
            Some(next) => checkpoint.cursor = Some(next),
            None => {
                checkpoint.phase = BackupPhase::Manifest;
                checkpoint.cursor = None;
            }
        }
        Ok(())
    }

    async fn write_manifest(&self, manifest: &BackupManifest) -> Result<(), ServiceError> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| ServiceError::Internal(format!("encoding the manifest: {e}")))?;
        let meta = crate::ports::ObjectMeta {
            sha256: crate::checksum::sha256_hex(&bytes),
            size: bytes.len() as u64,
            content_type: "application/json".into(),
        };
        self.vault
            .put_if_absent(&manifest_key(&manifest.id), &bytes, &meta)
            .await?;
        Ok(())
    }

    /// Records the failure in a manifest and the job and drops the checkpoint; each write is
    /// best effort (the store may be what failed), and a backup without a manifest lists as
    /// incomplete anyway.
    async fn mark_failed(&self, job: &mut Job, created_at: u64, error: &ServiceError) {
        let manifest = BackupManifest {
            format: MANIFEST_FORMAT,
            id: job.id.clone(),
            created_at,
            finished_at: now_millis(),
            status: BackupStatus::Failed,
            error: Some(error.to_string()),
            objects: Vec::new(),
            copied: 0,
            table: None,
            tables: Vec::new(),
            items: ItemCounts::default(),
        };
        if let Err(e) = self.write_manifest(&manifest).await {
            tracing::warn!(backup = %job.id, error = %e, "could not mark the backup failed");
        }
        if let Err(e) = self.vault.delete(&checkpoint_key(&job.id)).await {
            tracing::warn!(backup = %job.id, error = %e, "could not drop the failed backup's checkpoint");
        }
        job.status = JobStatus::Failed;
        job.lease_expires_at = None;
        job.error = Some(error.public_message());
        if let Err(e) = self.jobs.put_job(job).await {
            tracing::warn!(backup = %job.id, error = %e, "could not record the failed backup job");
        }
    }
}

/// One model as a backup step dumps it.
struct ModelDump {
    pointer: LatestPointer,
    versions: Vec<ModelVersion>,
    held: Vec<Held>,
}

/// One series as a backup step dumps it: its record and the state it names, held.
struct SeriesDump {
    tenant: Tenant,
    record: SeriesRecord,
    held: Held,
}

/// The cursor of the models phase after `tenant`'s model `name` (ordered as the pair).
fn model_cursor(tenant: &Tenant, name: &str) -> String {
    format!("{tenant}\n{name}")
}

/// A backup without a manifest, dated by its id.
fn incomplete(id: &str, in_progress: bool) -> BackupSummary {
    BackupSummary {
        id: id.to_owned(),
        status: if in_progress {
            BackupState::InProgress
        } else {
            BackupState::Incomplete
        },
        created_at: millis_of_id(id),
        finished_at: None,
        size_bytes: 0,
        objects: 0,
        copied: 0,
        items: ItemCounts::default(),
        error: None,
    }
}

/// A backup whose manifest does not read back.
fn damaged(id: &str, reason: String) -> BackupSummary {
    BackupSummary {
        status: BackupState::Failed,
        error: Some(format!("the manifest is damaged: {reason}")),
        ..incomplete(id, false)
    }
}

/// The creation time a backup id carries (its first 12 hex digits, see
/// [`new_job_id`]); 0 for an id of another shape.
pub fn millis_of_id(id: &str) -> u64 {
    id.get(..12)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}
