//! Restoring a backup (direct invocation only): every artifact, series state and dump part are
//! read and checked against the manifest before anything is written, then the differences are
//! applied in an order that never leaves an item pointing at a missing object (artifacts, then
//! the dump's items in order: each model's versions before its `LATEST`, keys, each series' state
//! before its record, labels and jobs in bounded batches). Idempotent: what is already there is
//! left alone. Newer data (a higher `LATEST`, an item or object that differs, a series at another
//! sequence, a row labelled otherwise since) is kept unless the caller asks to replace it. A dry run reports the same and writes nothing.
//!
//! A series' state is written only with its record, so a series kept as newer data gets no
//! stray state. A replaced series is written one sequence above the stored one, as an append
//! is, so appends racing the restore fail their condition and go on from the restored state.
//!
//! Memory stays bounded: artifacts are read a batch at a time and the dump is streamed. A restore
//! that reaches its deadline writes `backups/{id}/restore-checkpoint.json` and returns
//! [`RestoreStep::Continuing`]; the same request again continues it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::domain::ids::is_plausible_job_id;
use crate::domain::series::{series_state_prefix, SERIES_STATE_PREFIX};
use crate::domain::{Job, ModelVersion, RowLabel, SeriesRecord, Tenant};
use crate::error::ServiceError;
use crate::ports::Stores;
use crate::ports::{
    JobStore, KeyStore, LabelStore, ModelRegistry, ObjectAdmin, OwnedLabel, RegistryRestore,
    SeriesStore, StoreError, StoredObject, MAX_LABELS_PER_WRITE,
};
use crate::workflows::backup::COPY_CONCURRENCY;
use crate::workflows::checkpoint::{
    self, restore_checkpoint_key, RestoreCheckpoint, RestorePhase, RestoreProgress,
};
use crate::workflows::deadline::Deadline;
use crate::workflows::manifest::{
    manifest_key, BackupManifest, BackupStatus, ItemCounts, ManifestObject,
};
use crate::workflows::table_dump::{DumpError, DumpStream, LatestPointer, TableItem};

/// Most attempts to write a restored latest version (or series record) forward while trainers
/// (or appends) keep moving it.
const MAX_FORWARD_ATTEMPTS: u32 = 20;

/// Most conflicts named in a report (the counts are always complete).
pub const MAX_REPORTED_CONFLICTS: usize = 100;

/// A model's labels read per page when a restore compares the backup's labels with them.
const LABEL_READ_PAGE: usize = 1000;

/// Items (or artifacts) handled per step, unless set with [`RestoreWorkflow::with_batch`].
pub const RESTORE_BATCH: usize = 500;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Model artifacts (series states are counted with their series).
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
    /// Series, each record with the detector state it names: written together (the state
    /// first), unchanged when both are as in the backup, kept when the stored series differs
    /// (another sequence: newer appends) unless `replace`.
    pub series: Tally,
    /// Labelled rows: a label missing from its model is written; one of the same id labelled
    /// otherwise since is kept unless `replace`. Labels added since the backup stay.
    pub labels: Tally,
    /// What was kept (or replaced), first [`MAX_REPORTED_CONFLICTS`].
    pub conflicts: Vec<String>,
}

/// A restore left for a follow-up invocation of the same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestorePending {
    /// The backup being restored: send the same request again to continue.
    pub backup_id: String,
    /// Always `continuing`.
    pub status: &'static str,
    /// What it does next.
    pub phase: RestorePhase,
    /// Invocations that worked on it so far.
    pub invocations: u32,
}

/// What one invocation of a restore achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RestoreStep {
    /// It ended.
    Done(RestoreReport),
    /// The deadline came first: a checkpoint was written.
    Continuing(RestorePending),
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
    keys: Arc<dyn KeyStore>,
    series: Arc<dyn SeriesStore>,
    labels: Arc<dyn LabelStore>,
    vault: Arc<dyn ObjectAdmin>,
    batch: usize,
}

/// One invocation's view of a restore: its request, manifest and checkpoint.
struct Run<'a> {
    id: &'a str,
    request: &'a RestoreRequest,
    manifest: BackupManifest,
    /// Artifact SHA-256 by source key, from the manifest.
    artifacts: HashMap<String, String>,
    /// The series states of the manifest, by source key.
    states: HashMap<String, ManifestObject>,
    checkpoint: RestoreCheckpoint,
    /// `pending` of the checkpoint, by model.
    pending: HashMap<(Tenant, String), ModelVersion>,
}

impl Run<'_> {
    fn corrupted(&self, reason: String) -> ServiceError {
        ServiceError::CorruptedBackup {
            id: self.id.to_owned(),
            reason,
        }
    }

    fn dump_error(&self, e: DumpError) -> ServiceError {
        match e {
            DumpError::Damaged(reason) => self.corrupted(reason),
            DumpError::Store(e) => e.into(),
        }
    }

    /// Whether a thing compared as `diff` is written.
    fn writes(&self, diff: Diff) -> bool {
        !self.request.dry_run
            && (diff == Diff::Missing || (diff == Diff::Differs && self.request.replace))
    }

    fn part(&self, n: usize) -> Option<ManifestObject> {
        self.manifest.dump_parts().nth(n).cloned()
    }
}

impl RestoreWorkflow {
    /// Restores from `vault` into the models, the series, the labels and the items of `stores`.
    pub fn new(stores: &Stores, vault: Arc<dyn ObjectAdmin>) -> Self {
        Self {
            objects: stores.admin.clone(),
            registry: stores.registry.clone(),
            restore: stores.restore.clone(),
            jobs: stores.jobs.clone(),
            keys: stores.keys.clone(),
            series: stores.series.clone(),
            labels: stores.labels.clone(),
            vault,
            batch: RESTORE_BATCH,
        }
    }

    /// The same workflow handling `batch` items or artifacts per step (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Restores in this call (no deadline); see [`RestoreWorkflow::restore_within`].
    pub async fn restore(&self, request: &RestoreRequest) -> Result<RestoreReport, ServiceError> {
        loop {
            if let RestoreStep::Done(report) =
                self.restore_within(request, Deadline::none()).await?
            {
                return Ok(report);
            }
        }
    }

    /// Verifies the backup, compares it with the stores and, unless `dry_run`, writes the
    /// differences, until the end or until `deadline` passes (then the checkpoint is saved and
    /// the same request continues it). A backup that does not verify is
    /// [`ServiceError::CorruptedBackup`], with nothing written.
    pub async fn restore_within(
        &self,
        request: &RestoreRequest,
        deadline: Deadline,
    ) -> Result<RestoreStep, ServiceError> {
        let id = request.backup_id.as_str();
        if !is_plausible_job_id(id) {
            return Err(ServiceError::BackupNotFound(
                id.escape_default().to_string(),
            ));
        }
        let manifest = self.read_manifest(id).await?;
        let key = restore_checkpoint_key(id);
        let checkpoint = checkpoint::load::<RestoreCheckpoint>(self.vault.as_ref(), &key)
            .await?
            .filter(|c| c.dry_run == request.dry_run && c.replace == request.replace)
            .unwrap_or_else(|| RestoreCheckpoint {
                backup_id: id.to_owned(),
                dry_run: request.dry_run,
                replace: request.replace,
                phase: RestorePhase::VerifyObjects,
                next: 0,
                line: 0,
                verified: ItemCounts::default(),
                pending: Vec::new(),
                progress: RestoreProgress::default(),
                invocations: 0,
            });
        let mut run = Run {
            id,
            request,
            artifacts: manifest
                .objects
                .iter()
                .map(|o| (o.source_key.clone(), o.sha256.clone()))
                .collect(),
            states: manifest
                .objects
                .iter()
                .filter(|o| is_series_state(o))
                .map(|o| (o.source_key.clone(), o.clone()))
                .collect(),
            manifest,
            pending: checkpoint
                .pending
                .iter()
                .map(|v| ((v.tenant.clone(), v.name.clone()), v.clone()))
                .collect(),
            checkpoint,
        };
        run.checkpoint.invocations += 1;
        loop {
            let done = match self.step(&mut run, deadline).await {
                Ok(done) => done,
                Err(e) => {
                    if matches!(e, ServiceError::CorruptedBackup { .. }) {
                        // Nothing to continue: the next request starts over.
                        let _ = self.vault.delete(&key).await;
                    }
                    return Err(e);
                }
            };
            if done {
                break;
            }
            if deadline.passed() {
                run.checkpoint.pending = run.pending.values().cloned().collect();
                checkpoint::save(self.vault.as_ref(), &key, &run.checkpoint).await?;
                return Ok(RestoreStep::Continuing(RestorePending {
                    backup_id: id.to_owned(),
                    status: "continuing",
                    phase: run.checkpoint.phase,
                    invocations: run.checkpoint.invocations,
                }));
            }
        }
        self.vault.delete(&key).await?;
        let p = run.checkpoint.progress;
        tracing::info!(backup = %id, objects = p.objects.written, versions = p.versions.written, jobs = p.jobs.written, series = p.series.written, labels = p.labels.written, invocations = run.checkpoint.invocations, "backup restored");
        Ok(RestoreStep::Done(RestoreReport {
            backup_id: id.to_owned(),
            status: if request.dry_run {
                "dry_run"
            } else {
                "restored"
            },
            replace: request.replace,
            objects: p.objects,
            versions: p.versions,
            latest: p.latest,
            jobs: p.jobs,
            keys: p.keys,
            series: p.series,
            labels: p.labels,
            conflicts: p.conflicts,
        }))
    }

    /// One step of the phase the checkpoint is in; `true` when the restore is over.
    async fn step(&self, run: &mut Run<'_>, deadline: Deadline) -> Result<bool, ServiceError> {
        let objects = run.manifest.objects.len();
        let parts = run.manifest.dump_parts().count();
        let c = &mut run.checkpoint;
        match c.phase {
            RestorePhase::VerifyObjects => {
                let end = (c.next + self.batch).min(objects);
                let batch = run
                    .manifest
                    .objects
                    .get(c.next..end)
                    .unwrap_or_default()
                    .to_vec();
                self.fetch_verified(run.id, batch).await?;
                let c = &mut run.checkpoint;
                c.next = end;
                if end >= objects {
                    c.phase = RestorePhase::VerifyDump;
                    c.next = 0;
                }
            }
            RestorePhase::VerifyDump => {
                if c.next < parts {
                    self.verify_part(run).await?;
                    run.checkpoint.next += 1;
                }
                let c = &mut run.checkpoint;
                if c.next >= parts {
                    if c.verified != run.manifest.items {
                        let reason = format!(
                            "the table dump holds {:?} items; the manifest says {:?}",
                            c.verified, run.manifest.items
                        );
                        return Err(run.corrupted(reason));
                    }
                    c.phase = RestorePhase::Objects;
                    c.next = 0;
                }
            }
            RestorePhase::Objects => {
                let (start, end) = (c.next, (c.next + self.batch).min(objects));
                self.apply_objects(run, start..end).await?;
                let c = &mut run.checkpoint;
                c.next = end;
                if end >= objects {
                    c.phase = RestorePhase::Items;
                    c.next = 0;
                    c.line = 0;
                }
            }
            RestorePhase::Items => {
                if c.next >= parts {
                    return Ok(true);
                }
                self.apply_part(run, deadline).await?;
                return Ok(run.checkpoint.next >= parts);
            }
        }
        Ok(false)
    }

    /// The manifest of backup `id`, refused unless it succeeded.
    async fn read_manifest(&self, id: &str) -> Result<BackupManifest, ServiceError> {
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
        if manifest.dump_parts().next().is_none() {
            return Err(corrupted("its manifest lists no table dump".into()));
        }
        Ok(manifest)
    }

    /// Reads `objects` from the vault, each checked against the manifest.
    async fn fetch_verified(
        &self,
        id: &str,
        objects: Vec<ManifestObject>,
    ) -> Result<Vec<(ManifestObject, StoredObject)>, ServiceError> {
        stream::iter(objects)
            .map(|object| async move {
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
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Reads dump part `next` whole: its bytes against the manifest, its items counted, every
    /// version's artifact and every series' state among the backup's.
    async fn verify_part(&self, run: &mut Run<'_>) -> Result<(), ServiceError> {
        let mut stream = self.open_part(run, 0).await?;
        let mut counts = ItemCounts::default();
        let mut missing: Option<String> = None;
        while let Some(batch) = stream.next_batch().await {
            for item in &batch {
                item.count_in(&mut counts);
                if missing.is_some() {
                    continue;
                }
                match item {
                    TableItem::Version(v) if run.artifacts.get(&v.s3_key) != Some(&v.sha256) => {
                        missing = Some(format!(
                            "model '{}' version {} names artifact {} (sha256 {}), which the backup does not hold",
                            v.name, v.version, v.s3_key, v.sha256
                        ));
                    }
                    TableItem::Series { tenant, record }
                        if !record
                            .state_key
                            .starts_with(&series_state_prefix(tenant, &record.name))
                            || !run.states.contains_key(&record.state_key) =>
                    {
                        missing = Some(format!(
                            "series '{}' of tenant '{tenant}' names state {}, which the backup does not hold",
                            record.name, record.state_key
                        ));
                    }
                    _ => {}
                }
            }
        }
        stream.finish().await.map_err(|e| run.dump_error(e))?;
        if let Some(reason) = missing {
            return Err(run.corrupted(reason));
        }
        run.checkpoint.verified.add(&counts);
        Ok(())
    }

    /// Part `next` of the dump, streamed from line `skip`.
    async fn open_part(&self, run: &Run<'_>, skip: u64) -> Result<DumpStream, ServiceError> {
        let part = run
            .part(run.checkpoint.next)
            .ok_or_else(|| run.corrupted("a dump part is missing from the manifest".into()))?;
        let reader = match self.vault.read_stream(&part.backup_key).await? {
            Some(reader) => reader,
            None => return Err(run.corrupted(format!("{} is missing", part.backup_key))),
        };
        Ok(DumpStream::open(reader, part, skip, self.batch))
    }

    /// Compares the artifacts in `range` with the models store and writes what it should (series
    /// states wait for their records: see [`RestoreWorkflow::apply_series`]).
    async fn apply_objects(
        &self,
        run: &mut Run<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<(), ServiceError> {
        let objects: Vec<ManifestObject> = run
            .manifest
            .objects
            .get(range)
            .unwrap_or_default()
            .iter()
            .filter(|o| !is_series_state(o))
            .cloned()
            .collect();
        let diffs: Vec<(ManifestObject, Diff)> = stream::iter(objects)
            .map(|object| async move {
                let diff = match self.objects.get(&object.source_key).await {
                    Ok(None) => Diff::Missing,
                    Ok(Some(current)) if current.meta.sha256 == object.sha256 => Diff::Same,
                    Ok(Some(_)) | Err(StoreError::Corrupted(_)) => Diff::Differs,
                    Err(e) => return Err(ServiceError::from(e)),
                };
                Ok((object, diff))
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let mut writes = Vec::new();
        for (object, diff) in diffs {
            let what = || object.source_key.clone();
            let p = &mut run.checkpoint.progress;
            tally(
                &mut p.objects,
                &mut p.conflicts,
                diff,
                run.request.replace,
                what,
            );
            if run.writes(diff) {
                writes.push((object, diff));
            }
        }
        let id = run.id;
        stream::iter(writes)
            .map(|(object, diff)| async move {
                let fetched = self.fetch_verified(id, vec![object.clone()]).await?;
                let (_, stored) = fetched
                    .into_iter()
                    .next()
                    .ok_or_else(|| ServiceError::Internal("an artifact was not read".into()))?;
                let (key, bytes, meta) = (&object.source_key, &stored.bytes, &stored.meta);
                ignore_conflict(if diff == Diff::Differs {
                    self.objects.put(key, bytes, meta).await
                } else {
                    self.objects.put_if_absent(key, bytes, meta).await
                })
            })
            .buffer_unordered(COPY_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Applies part `next` of the dump from line `line`, a batch at a time, until its end or
    /// `deadline`.
    async fn apply_part(&self, run: &mut Run<'_>, deadline: Deadline) -> Result<(), ServiceError> {
        let mut stream = self.open_part(run, run.checkpoint.line).await?;
        while let Some(batch) = stream.next_batch().await {
            let n = batch.len() as u64;
            self.apply_items(run, batch).await?;
            run.checkpoint.line += n;
            if deadline.passed() {
                // The rest of the part is read again, from `line`, by the next invocation.
                return Ok(());
            }
        }
        stream.finish().await.map_err(|e| run.dump_error(e))?;
        run.checkpoint.next += 1;
        run.checkpoint.line = 0;
        Ok(())
    }

    /// Applies a batch of items in dump order, each run of one kind at once.
    async fn apply_items(
        &self,
        run: &mut Run<'_>,
        items: Vec<TableItem>,
    ) -> Result<(), ServiceError> {
        let mut versions = Vec::new();
        let mut jobs = Vec::new();
        let mut series = Vec::new();
        let mut labels = Vec::new();
        for item in items {
            match item {
                TableItem::Version(v) => {
                    self.apply_jobs(run, std::mem::take(&mut jobs)).await?;
                    self.apply_series(run, std::mem::take(&mut series)).await?;
                    self.apply_labels(run, std::mem::take(&mut labels)).await?;
                    versions.push(v);
                }
                TableItem::Job(job) => {
                    self.apply_versions(run, std::mem::take(&mut versions))
                        .await?;
                    self.apply_series(run, std::mem::take(&mut series)).await?;
                    self.apply_labels(run, std::mem::take(&mut labels)).await?;
                    jobs.push(job);
                }
                TableItem::Series { tenant, record } => {
                    self.apply_versions(run, std::mem::take(&mut versions))
                        .await?;
                    self.apply_jobs(run, std::mem::take(&mut jobs)).await?;
                    self.apply_labels(run, std::mem::take(&mut labels)).await?;
                    series.push((tenant, record));
                }
                TableItem::Label {
                    tenant,
                    model,
                    label,
                } => {
                    self.apply_versions(run, std::mem::take(&mut versions))
                        .await?;
                    self.apply_jobs(run, std::mem::take(&mut jobs)).await?;
                    self.apply_series(run, std::mem::take(&mut series)).await?;
                    labels.push(OwnedLabel {
                        tenant,
                        model,
                        label,
                    });
                }
                TableItem::Latest(pointer) => {
                    self.apply_versions(run, std::mem::take(&mut versions))
                        .await?;
                    self.apply_jobs(run, std::mem::take(&mut jobs)).await?;
                    self.apply_series(run, std::mem::take(&mut series)).await?;
                    self.apply_labels(run, std::mem::take(&mut labels)).await?;
                    self.apply_latest(run, pointer).await?;
                }
                TableItem::Key(key) => {
                    self.apply_versions(run, std::mem::take(&mut versions))
                        .await?;
                    self.apply_jobs(run, std::mem::take(&mut jobs)).await?;
                    self.apply_series(run, std::mem::take(&mut series)).await?;
                    self.apply_labels(run, std::mem::take(&mut labels)).await?;
                    let diff = match self.keys.get_key(&key.tenant, &key.id).await? {
                        None => Diff::Missing,
                        Some(current) if current == key => Diff::Same,
                        Some(_) => Diff::Differs,
                    };
                    let what = || format!("API key '{}' of tenant '{}'", key.id, key.tenant);
                    let p = &mut run.checkpoint.progress;
                    tally(&mut p.keys, &mut p.conflicts, diff, false, what);
                    if diff == Diff::Missing && !run.request.dry_run {
                        ignore_conflict(self.keys.put_key_if_absent(&key).await)?;
                    }
                }
            }
        }
        self.apply_versions(run, versions).await?;
        self.apply_series(run, series).await?;
        self.apply_labels(run, labels).await?;
        self.apply_jobs(run, jobs).await
    }

    /// Compares each label with the one of its id its model holds (read a model's id range at a
    /// time) and writes what it should, a model's labels [`MAX_LABELS_PER_WRITE`] at a time.
    async fn apply_labels(
        &self,
        run: &mut Run<'_>,
        labels: Vec<OwnedLabel>,
    ) -> Result<(), ServiceError> {
        let mut by_model: BTreeMap<(Tenant, String), Vec<RowLabel>> = BTreeMap::new();
        for owned in labels {
            by_model
                .entry((owned.tenant, owned.model))
                .or_default()
                .push(owned.label);
        }
        let compared: Vec<LabelsCompared> = stream::iter(by_model)
            .map(|((tenant, model), labels)| async move {
                let stored = self.stored_labels(&tenant, &model, &labels).await?;
                let labels = labels
                    .into_iter()
                    .map(|label| {
                        let diff = match stored.get(&label.id) {
                            None => Diff::Missing,
                            Some(current) if *current == label => Diff::Same,
                            Some(_) => Diff::Differs,
                        };
                        (label, diff)
                    })
                    .collect();
                Ok::<_, ServiceError>(LabelsCompared {
                    tenant,
                    model,
                    labels,
                })
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        for LabelsCompared {
            tenant,
            model,
            labels,
        } in compared
        {
            let mut writes = Vec::new();
            for (label, diff) in labels {
                let what = || {
                    format!(
                        "the label of row {} of model '{model}' of tenant '{tenant}'",
                        label.id
                    )
                };
                let p = &mut run.checkpoint.progress;
                tally(
                    &mut p.labels,
                    &mut p.conflicts,
                    diff,
                    run.request.replace,
                    what,
                );
                if run.writes(diff) {
                    writes.push(label);
                }
            }
            for chunk in writes.chunks(MAX_LABELS_PER_WRITE) {
                self.labels.put_labels(&tenant, &model, chunk).await?;
            }
        }
        Ok(())
    }

    /// The labels `tenant`'s `model` holds with the ids of `labels`, by id: the model's labels
    /// from just below the least id to the greatest, page by page.
    async fn stored_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        labels: &[RowLabel],
    ) -> Result<HashMap<String, RowLabel>, ServiceError> {
        let wanted: HashSet<&str> = labels.iter().map(|l| l.id.as_str()).collect();
        let (Some(least), Some(greatest)) = (wanted.iter().min(), wanted.iter().max()) else {
            return Ok(HashMap::new());
        };
        // Every id from `least` on sorts after `least` without its last character.
        let mut cursor = least.to_string();
        cursor.pop();
        let mut stored = HashMap::new();
        loop {
            let page = self
                .labels
                .list_labels(tenant, model, LABEL_READ_PAGE, Some(&cursor))
                .await?;
            let past = page
                .labels
                .last()
                .is_none_or(|last| last.id.as_str() >= *greatest);
            stored.extend(
                page.labels
                    .into_iter()
                    .filter(|label| wanted.contains(label.id.as_str()))
                    .map(|label| (label.id.clone(), label)),
            );
            match page.next_cursor {
                Some(next) if !past => cursor = next,
                _ => return Ok(stored),
            }
        }
    }

    async fn apply_versions(
        &self,
        run: &mut Run<'_>,
        versions: Vec<ModelVersion>,
    ) -> Result<(), ServiceError> {
        let diffs: Vec<Diff> = stream::iter(versions.clone())
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
            .await?;
        for (v, diff) in versions.into_iter().zip(diffs) {
            let what = || format!("model '{}' version {}", v.name, v.version);
            let p = &mut run.checkpoint.progress;
            tally(
                &mut p.versions,
                &mut p.conflicts,
                diff,
                run.request.replace,
                what,
            );
            if run.writes(diff) {
                ignore_conflict(self.restore.restore_version(&v, run.request.replace).await)?;
            }
            let model = (v.tenant.clone(), v.name.clone());
            if run
                .pending
                .get(&model)
                .is_none_or(|p| p.version < v.version)
            {
                run.pending.insert(model, v);
            }
        }
        Ok(())
    }

    async fn apply_latest(
        &self,
        run: &mut Run<'_>,
        pointer: LatestPointer,
    ) -> Result<(), ServiceError> {
        let v = run
            .pending
            .remove(&(pointer.tenant.clone(), pointer.name.clone()))
            .filter(|v| v.version == pointer.version)
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "LATEST of model '{}' of tenant '{}' names version {}, which the backup does not hold",
                    pointer.name, pointer.tenant, pointer.version
                ))
            })?;
        let diff = match self.registry.latest(&v.tenant, &v.name).await? {
            None => Diff::Missing,
            Some(current) if current < v.version => Diff::Missing,
            Some(current) if current == v.version => Diff::Same,
            Some(_) => Diff::Differs,
        };
        let what = || format!("LATEST of model '{}' (backup: {})", v.name, v.version);
        let p = &mut run.checkpoint.progress;
        tally(
            &mut p.latest,
            &mut p.conflicts,
            diff,
            run.request.replace,
            what,
        );
        if run.writes(diff) {
            self.restore_latest_forward(&v, run.request.replace).await?;
        }
        Ok(())
    }

    async fn apply_jobs(&self, run: &mut Run<'_>, jobs: Vec<Job>) -> Result<(), ServiceError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let keys: Vec<(Tenant, String)> = jobs
            .iter()
            .map(|job| (job.tenant.clone(), job.id.clone()))
            .collect();
        let current: Vec<Option<Job>> = stream::iter(keys)
            .map(|(tenant, id)| async move { self.jobs.get_job(&tenant, &id).await })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let diffs: Vec<Diff> = jobs
            .iter()
            .zip(current)
            .map(|(job, current)| match current {
                None => Diff::Missing,
                Some(current) if &current == job => Diff::Same,
                Some(_) => Diff::Differs,
            })
            .collect();
        let mut writes = Vec::new();
        for (job, diff) in jobs.into_iter().zip(diffs) {
            let what = || format!("job '{}'", job.id);
            let p = &mut run.checkpoint.progress;
            tally(
                &mut p.jobs,
                &mut p.conflicts,
                diff,
                run.request.replace,
                what,
            );
            if run.writes(diff) {
                writes.push(job);
            }
        }
        self.jobs.put_jobs(&writes).await?;
        Ok(())
    }

    /// Compares each series with the stores (its record, and the state object the backup's
    /// record names) and writes what it should: the state first (from the vault, checked against
    /// the manifest), then the record, so no record ever names a missing state.
    async fn apply_series(
        &self,
        run: &mut Run<'_>,
        series: Vec<(Tenant, SeriesRecord)>,
    ) -> Result<(), ServiceError> {
        if series.is_empty() {
            return Ok(());
        }
        let mut compared = Vec::with_capacity(series.len());
        for (tenant, record) in series {
            let state = run.states.get(&record.state_key).cloned().ok_or_else(|| {
                run.corrupted(format!(
                    "series '{}' names state {}, which the backup does not hold",
                    record.name, record.state_key
                ))
            })?;
            compared.push((tenant, record, state));
        }
        let compared: Vec<SeriesCompared> = stream::iter(compared)
            .map(|(tenant, record, state)| async move {
                self.compare_series(tenant, record, state).await
            })
            .buffered(COPY_CONCURRENCY)
            .try_collect()
            .await?;
        let mut writes = Vec::new();
        for series in compared {
            let diff = series.diff();
            let what = || {
                format!(
                    "series '{}' of tenant '{}' (backup: sequence {})",
                    series.record.name, series.tenant, series.record.sequence
                )
            };
            let p = &mut run.checkpoint.progress;
            tally(
                &mut p.series,
                &mut p.conflicts,
                diff,
                run.request.replace,
                what,
            );
            if run.writes(diff) {
                writes.push(series);
            }
        }
        let id = run.id;
        stream::iter(writes)
            .map(|series| async move { self.write_series(id, series).await })
            .buffer_unordered(COPY_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// How the stored series compares with the backup's `record`, whose state is `state`.
    async fn compare_series(
        &self,
        tenant: Tenant,
        record: SeriesRecord,
        state: ManifestObject,
    ) -> Result<SeriesCompared, ServiceError> {
        let current = self.series.series(&tenant, &record.name).await?;
        let stored_state = match self.objects.head(&state.source_key).await {
            Ok(None) => Diff::Missing,
            Ok(Some(meta)) if meta.sha256 == state.sha256 => Diff::Same,
            Ok(Some(_)) | Err(StoreError::Corrupted(_)) => Diff::Differs,
            Err(e) => return Err(e.into()),
        };
        Ok(SeriesCompared {
            tenant,
            record,
            state,
            current,
            stored_state,
        })
    }

    /// Writes a series the restore decided to write: its state where missing (or differing, when
    /// replacing), then its record where it is not the backup's.
    async fn write_series(&self, id: &str, series: SeriesCompared) -> Result<(), ServiceError> {
        if series.stored_state != Diff::Same {
            let fetched = self.fetch_verified(id, vec![series.state.clone()]).await?;
            let (_, stored) = fetched
                .into_iter()
                .next()
                .ok_or_else(|| ServiceError::Internal("a series state was not read".into()))?;
            let (key, bytes, meta) = (&series.state.source_key, &stored.bytes, &stored.meta);
            ignore_conflict(if series.stored_state == Diff::Differs {
                self.objects.put(key, bytes, meta).await
            } else {
                self.objects.put_if_absent(key, bytes, meta).await
            })?;
        }
        let SeriesCompared {
            tenant,
            record,
            current,
            ..
        } = series;
        match current {
            None => {
                // `false` when a series of this name was created meanwhile: what is there now
                // is newer, and kept.
                self.series.restore_series(&tenant, &record).await?;
                Ok(())
            }
            Some(current) if same_series(&current, &record) => Ok(()),
            Some(_) => self.restore_series_forward(&tenant, &record).await,
        }
    }

    /// Makes the backup's `record` the series' record without moving its sequence back: written
    /// one sequence above the stored one, under the same condition as an append, so an append
    /// racing the restore either lands first (and is replaced) or fails its condition and goes
    /// on from the restored state; the next append's state key sorts after every earlier one.
    async fn restore_series_forward(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<(), ServiceError> {
        for _ in 0..MAX_FORWARD_ATTEMPTS {
            let written = match self.series.series(tenant, &record.name).await? {
                None => self.series.restore_series(tenant, record).await?,
                // Written forward by an earlier run of this restore: nothing to do twice.
                Some(live) if same_series(&live, record) => return Ok(()),
                Some(live) => {
                    let forward = SeriesRecord {
                        sequence: live.sequence.saturating_add(1),
                        ..record.clone()
                    };
                    self.series.put_series(tenant, &forward).await?
                }
            };
            if written {
                tracing::info!(series = %record.name, %tenant, restored = record.sequence, "restored series written forward");
                return Ok(());
            }
        }
        Err(ServiceError::Conflict(format!(
            "series '{}' of tenant '{tenant}' kept moving while it was restored; run the restore again",
            record.name
        )))
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
}

/// One model's labels of the backup, each beside how the model's stored label of its id
/// compares with it.
struct LabelsCompared {
    tenant: Tenant,
    model: String,
    labels: Vec<(RowLabel, Diff)>,
}

/// One series of the backup beside what the stores hold of it.
struct SeriesCompared {
    tenant: Tenant,
    /// The backup's record.
    record: SeriesRecord,
    /// The manifest entry of the state it names.
    state: ManifestObject,
    /// The stored record.
    current: Option<SeriesRecord>,
    /// How the stored object at the state's key compares with the backup's.
    stored_state: Diff,
}

impl SeriesCompared {
    /// The series as one thing: missing when there is no record (or only its state is missing),
    /// the same when the record (but for a sequence it was written forward at) and the state
    /// are, different otherwise.
    fn diff(&self) -> Diff {
        match (&self.current, self.stored_state) {
            (_, Diff::Differs) => Diff::Differs,
            (None, _) => Diff::Missing,
            (Some(current), state) if same_series(current, &self.record) => state,
            (Some(_), _) => Diff::Differs,
        }
    }
}

/// Whether `stored` holds what `backup` does, but perhaps at a higher sequence (a replacing
/// restore writes the backup's record forward, one sequence above what was stored).
fn same_series(stored: &SeriesRecord, backup: &SeriesRecord) -> bool {
    stored.sequence >= backup.sequence
        && SeriesRecord {
            sequence: backup.sequence,
            ..stored.clone()
        } == *backup
}

/// Whether a manifest object is a series state (restored with its series' record, not with the
/// model artifacts).
fn is_series_state(object: &ManifestObject) -> bool {
    object.source_key.starts_with(SERIES_STATE_PREFIX)
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
