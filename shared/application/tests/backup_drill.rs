//! Backup and restore on both adapters (local, and S3 + DynamoDB on moto; the AWS cases skip
//! when `moto_server` is not on PATH unless `NOMALY_REQUIRE_TOOLS=1`): the disaster-recovery
//! drill (train, score, back up, wipe the models and the table, restore, compare every artifact
//! by SHA-256 and every item), idempotence and dry runs, refusal of a corrupted backup with
//! nothing written, newer data kept unless replacing, consistency while trains run, and pruning;
//! and time series: restored to describe the same and to score on as if never interrupted,
//! newer series kept unless replacing, and a backup racing an append holding each record with
//! exactly the state it names; and labelled rows: every tenant's restored as they were, a row
//! labelled otherwise since kept unless replacing.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use application::cache::SeriesCache;
use application::checksum::sha256_hex;
use application::domain::label::row_id;
use application::domain::principal::parse_scopes;
use application::domain::{
    ApiKey, Job, JobStatus, ModelVersion, NewKey, RowLabel, SeriesRecord, Tenant, Verdict,
};
use application::ports::{
    BlobReader, BlobUpload, CopySource, ObjectAdmin, ObjectMeta, ObjectStore, StoreError,
    StoredObject,
};
use application::ports::{OwnedLabel, Stores};
use application::workflows::backup::{BackupState, BackupStep, BackupWorkflow};
use application::workflows::checkpoint::checkpoint_key;
use application::workflows::deadline::Deadline;
use application::workflows::manifest::{
    content_key, manifest_key, BackupManifest, BackupStatus, ItemCounts, CONTENT_PREFIX,
    MANIFEST_FORMAT,
};
use application::workflows::restore::{
    RestoreReport, RestoreRequest, RestoreStep, RestoreWorkflow, Tally,
};
use application::workflows::retention::RetentionPolicy;
use application::workflows::series::{NamedPoint, SeriesWorkflow};
use application::workflows::train::{TrainRequest, TrainWorkflow};
use application::ServiceError;
use detection::series::{PointVerdict, SeriesDetector, SeriesParams};
use detection::Limits;
use fixtures::aws_env::{aws_stores, AwsEnv};
use fixtures::local_env::local_stores;
use fixtures::moto::unique_name;
use fixtures::tenant;
use serde_json::json;
use store_aws::schema::{create_bucket, create_table};
use store_aws::S3ObjectStore;
use store_contract::small_data;
use store_local::{LocalObjectStore, LocalStores};

/// Where a case runs; `wipe` destroys the models and the table (not the vault), as a disaster
/// would.
enum Site {
    Local {
        dir: tempfile::TempDir,
        stores: Stores,
    },
    Aws {
        env: Box<AwsEnv>,
        stores: Stores,
    },
}

impl Site {
    fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stores = Self::open_local(dir.path());
        Self::Local { dir, stores }
    }

    fn open_local(dir: &std::path::Path) -> Stores {
        local_stores(
            LocalStores::open(dir).unwrap(),
            Arc::new(LocalObjectStore::open(dir.join("backup-vault")).unwrap()),
        )
    }

    async fn aws() -> Option<Self> {
        let env = AwsEnv::on_moto().await?;
        let backups = unique_name("backups");
        create_bucket(env.stores.objects.client(), &backups)
            .await
            .unwrap();
        let vault = Arc::new(S3ObjectStore::new(
            env.stores.objects.client().clone(),
            backups,
        ));
        let stores = aws_stores(env.stores.clone(), Some(vault));
        Some(Self::Aws {
            env: Box::new(env),
            stores,
        })
    }

    fn stores(&self) -> &Stores {
        match self {
            Self::Local { stores, .. } | Self::Aws { stores, .. } => stores,
        }
    }

    async fn wipe(&mut self) {
        match self {
            Self::Local { dir, stores } => {
                // Close the database before deleting it.
                *stores = local_stores(
                    LocalStores::open(&dir.path().join("scratch")).unwrap(),
                    Arc::new(LocalObjectStore::open(dir.path().join("backup-vault")).unwrap()),
                );
                std::fs::remove_dir_all(dir.path().join("objects")).unwrap();
                for file in ["nomaly.db", "nomaly.db-wal", "nomaly.db-shm"] {
                    let _ = std::fs::remove_file(dir.path().join(file));
                }
                *stores = Self::open_local(dir.path());
            }
            Self::Aws { env, stores } => {
                for key in stores.admin.list_keys("").await.unwrap() {
                    stores.admin.delete(&key).await.unwrap();
                }
                let items = &env.stores.items;
                items
                    .client()
                    .delete_table()
                    .table_name(items.table())
                    .send()
                    .await
                    .unwrap();
                create_table(items.client(), items.table()).await.unwrap();
            }
        }
    }

    fn backups(&self, policy: RetentionPolicy) -> BackupWorkflow {
        BackupWorkflow::new(self.stores(), self.vault(), policy)
    }

    fn restores(&self) -> RestoreWorkflow {
        RestoreWorkflow::new(self.stores(), self.vault())
    }

    fn vault(&self) -> Arc<dyn ObjectAdmin> {
        self.stores().vault.clone().expect("a vault")
    }

    /// A series workflow keeping nothing warm: every append loads its state from the store, as a
    /// fresh container does.
    fn series(&self) -> SeriesWorkflow {
        let s = self.stores();
        SeriesWorkflow::new(
            s.objects.clone(),
            s.admin.clone(),
            s.series.clone(),
            Arc::new(SeriesCache::new(0)),
        )
    }

    fn train(&self) -> TrainWorkflow {
        let s = self.stores();
        TrainWorkflow::new(
            s.objects.clone(),
            s.registry.clone(),
            s.jobs.clone(),
            Limits::default(),
        )
    }

    async fn train_model(&self, name: &str, algorithm: &str) {
        self.train_model_of(&tenant(), name, algorithm).await;
    }

    async fn train_model_of(&self, tenant: &Tenant, name: &str, algorithm: &str) {
        self.train_on(tenant, name, algorithm, 60).await;
    }

    /// Trains on `rows` rows (other rows than the other trains: an artifact of new bytes).
    async fn train_on(&self, tenant: &Tenant, name: &str, algorithm: &str, rows: usize) {
        let request: TrainRequest = serde_json::from_value(
            json!({"name": name, "algorithm": algorithm, "data": small_data(rows)}),
        )
        .unwrap();
        self.train().train(tenant, request).await.unwrap();
    }

    async fn score(&self, name: &str) {
        let s = self.stores();
        let detect =
            fixtures::aws_env::detect_over(s.objects.clone(), s.registry.clone(), s.jobs.clone());
        let request =
            serde_json::from_value(json!({"model": name, "data": small_data(20)})).unwrap();
        detect.detect(&tenant(), request).await.unwrap();
    }

    /// Every version item, `LATEST`, artifact SHA-256 (of the bytes read back) and job.
    async fn state(&self) -> State {
        let s = self.stores();
        let mut versions = Vec::new();
        let mut latest = Vec::new();
        let mut artifacts = Vec::new();
        for model in s.registry.list_all_models().await.unwrap() {
            latest.push((
                format!("{}/{}", model.tenant, model.name),
                s.registry.latest(&model.tenant, &model.name).await.unwrap(),
            ));
            for v in s
                .registry
                .versions(&model.tenant, &model.name)
                .await
                .unwrap()
            {
                let object = s.objects.get(&v.s3_key).await.unwrap().expect("artifact");
                artifacts.push((v.s3_key.clone(), sha256_hex(&object.bytes)));
                versions.push(v);
            }
        }
        State {
            versions,
            latest,
            artifacts,
            jobs: s.scan.all_jobs().await.unwrap(),
            keys: s.keys.all_keys().await.unwrap(),
        }
    }
}

#[derive(Debug, PartialEq)]
struct State {
    versions: Vec<ModelVersion>,
    latest: Vec<(String, Option<u32>)>,
    artifacts: Vec<(String, String)>,
    jobs: Vec<Job>,
    keys: Vec<ApiKey>,
}

impl State {
    fn is_empty(&self) -> bool {
        self.versions.is_empty()
            && self.latest.is_empty()
            && self.jobs.is_empty()
            && self.keys.is_empty()
    }
}

async fn restore(
    site: &Site,
    id: &str,
    dry_run: bool,
    replace: bool,
) -> Result<RestoreReport, ServiceError> {
    let request = RestoreRequest {
        backup_id: id.into(),
        dry_run,
        replace,
    };
    site.restores().restore(&request).await
}

fn written(n: usize) -> Tally {
    Tally {
        written: n,
        unchanged: 0,
        kept: 0,
    }
}

/// Trains three models in two tenants, one name in both (one of them twice), scores twice, and
/// issues one API key per tenant: 4 versions, 3 models, 6 jobs, 2 keys.
async fn populate(site: &Site) {
    site.train_model("payments", "ecod").await;
    site.train_model("payments", "hbos").await;
    site.train_model("fraud", "isolation_forest").await;
    site.train_model_of(&Tenant::parse("beta").unwrap(), "payments", "pca")
        .await;
    site.score("payments").await;
    site.score("fraud").await;
    for tenant in [tenant(), Tenant::parse("beta").unwrap()] {
        let key = NewKey::generate(&tenant, "ci", parse_scopes("read"), 1);
        site.stores()
            .keys
            .put_key_if_absent(&key.key)
            .await
            .unwrap();
    }
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::Site::local()).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(site) = super::Site::aws().await else {
                        return;
                    };
                    super::$case(site).await;
                }
            )*
        }
    };
}

on_both!(
    when_everything_is_wiped_should_restore_every_artifact_and_item,
    when_a_backup_object_is_corrupted_should_refuse_and_write_nothing,
    when_data_is_newer_than_the_backup_should_keep_it_unless_replacing,
    when_trains_run_during_a_backup_should_hold_whole_versions_only,
    when_pruning_should_keep_exactly_the_policy_set,
    when_a_backup_predates_tenancy_should_restore_into_the_default_tenant,
    when_one_version_is_added_should_copy_exactly_one_artifact,
    when_pruning_should_keep_content_objects_a_kept_backup_names,
    when_a_backup_is_cut_short_should_resume_from_its_checkpoint,
    when_a_restore_is_cut_short_should_resume_from_its_checkpoint,
    when_series_are_wiped_should_restore_them_and_score_on_as_one_uninterrupted_run,
    when_a_series_is_newer_than_the_backup_should_keep_it_unless_replacing,
    when_an_append_deletes_a_state_before_the_backup_looks_should_hold_the_record_with_its_state,
    when_an_append_deletes_a_state_before_the_backup_copies_should_hold_the_record_with_its_state,
    when_labels_are_wiped_should_restore_every_tenants_labels_as_they_were,
    when_a_row_is_labelled_otherwise_since_the_backup_should_keep_it_unless_replacing,
);

async fn when_everything_is_wiped_should_restore_every_artifact_and_item(mut site: Site) {
    populate(&site).await;
    let before = site.state().await;
    assert_eq!(before.versions.len(), 4);
    assert_eq!(before.jobs.len(), 6);

    let created = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap();
    let backup = created.backup;
    assert_eq!(backup.status, BackupState::Succeeded);
    assert_eq!(backup.objects, 4);
    assert_eq!(
        backup.items,
        ItemCounts {
            models: 3,
            versions: 4,
            jobs: 6,
            keys: 2,
            series: 0,
            labels: 0
        }
    );
    assert!(backup.size_bytes > 0);
    // The backup is recorded as a job, and listed.
    let job = site
        .stores()
        .jobs
        .get_job(&Tenant::system(), &backup.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    let listed = site
        .backups(RetentionPolicy::default())
        .list()
        .await
        .unwrap();
    assert_eq!(listed.backups, vec![backup.clone()]);
    let mut before_jobs = before.jobs.clone();
    before_jobs.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));

    site.wipe().await;
    assert!(site.state().await.is_empty(), "the wipe left data behind");

    // A dry run reports everything as to be written, and writes nothing.
    let dry = restore(&site, &backup.id, true, false).await.unwrap();
    assert_eq!(dry.status, "dry_run");
    assert_eq!(
        (
            dry.objects.clone(),
            dry.versions.clone(),
            dry.latest.clone(),
            dry.jobs.clone()
        ),
        (written(4), written(4), written(3), written(6))
    );
    assert!(site.state().await.is_empty(), "a dry run wrote something");

    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(report.status, "restored");
    assert_eq!(
        (report.objects, report.versions, report.latest, report.jobs),
        (dry.objects, dry.versions, dry.latest, dry.jobs)
    );
    let after = site.state().await;
    assert_eq!(after.versions, before.versions);
    assert_eq!(after.latest, before.latest);
    assert_eq!(
        after.artifacts, before.artifacts,
        "artifact bytes differ after restore"
    );
    assert_eq!(after.jobs, before_jobs);
    assert_eq!(after.keys, before.keys, "API keys differ after restore");
    assert_eq!(report.keys.written, 2);

    // Idempotent: a second restore finds everything in place.
    let again = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(
        (
            again.objects.unchanged,
            again.versions.unchanged,
            again.latest.unchanged,
            again.jobs.unchanged
        ),
        (4, 4, 3, 6)
    );
    assert_eq!(
        again.objects.written + again.versions.written + again.latest.written + again.jobs.written,
        0
    );
    // The restored models serve and train on.
    site.score("payments").await;
    site.train_model("payments", "ecod").await;
    assert_eq!(
        site.stores()
            .registry
            .latest(&tenant(), "payments")
            .await
            .unwrap(),
        Some(3)
    );
}

async fn when_a_backup_object_is_corrupted_should_refuse_and_write_nothing(mut site: Site) {
    populate(&site).await;
    let backup = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    let vault = site.vault();
    let manifest = BackupManifest::parse(
        &vault
            .get(&manifest_key(&backup.id))
            .await
            .unwrap()
            .unwrap()
            .bytes,
    )
    .unwrap();
    site.wipe().await;

    // An artifact whose bytes changed (with metadata to match, so only the manifest can tell).
    let victim = &manifest.objects[1];
    let original = vault.get(&victim.backup_key).await.unwrap().unwrap();
    let mut damaged = original.bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    replace_object(&vault, &victim.backup_key, &damaged).await;
    let e = restore(&site, &backup.id, false, false).await.unwrap_err();
    assert!(matches!(e, ServiceError::CorruptedBackup { .. }), "{e:?}");
    assert_eq!(e.status(), 422);
    assert!(e.to_string().contains(&victim.backup_key), "{e}");
    assert!(
        site.state().await.is_empty(),
        "a refused restore wrote something"
    );
    assert!(site.stores().admin.list_keys("").await.unwrap().is_empty());

    // A missing artifact, and a damaged table dump, are refused the same way.
    replace_object(&vault, &victim.backup_key, &original.bytes).await;
    vault.delete(&manifest.objects[0].backup_key).await.unwrap();
    let e = restore(&site, &backup.id, false, false).await.unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    let dump = manifest.tables[0].backup_key.clone();
    replace_object(&vault, &dump, b"not gzip").await;
    let e = restore(&site, &backup.id, true, false).await.unwrap_err();
    assert!(matches!(e, ServiceError::CorruptedBackup { .. }), "{e:?}");
    assert!(site.state().await.is_empty());

    // An unknown backup is a 404.
    let e = restore(&site, "0123456789abcdef", false, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "backup_not_found");
}

async fn replace_object(vault: &Arc<dyn ObjectAdmin>, key: &str, bytes: &[u8]) {
    let meta = ObjectMeta {
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
        content_type: "application/octet-stream".into(),
    };
    vault.put(key, bytes, &meta).await.unwrap();
}

async fn when_data_is_newer_than_the_backup_should_keep_it_unless_replacing(site: Site) {
    site.train_model("payments", "ecod").await;
    site.score("payments").await;
    let key = NewKey::generate(&tenant(), "ci", parse_scopes("read"), 1).key;
    site.stores().keys.put_key_if_absent(&key).await.unwrap();
    let backup = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    // Newer data: a second version, and the scoring job rewritten.
    site.train_model("payments", "hbos").await;
    let s = site.stores();
    let mut job = s
        .scan
        .all_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.model.is_some() && j.counts.rows == 21)
        .expect("the scoring job");
    let original = job.clone();
    job.error = Some("edited after the backup".into());
    s.jobs.put_job(&job).await.unwrap();
    // The key is revoked after the backup: no restore may bring it back.
    assert!(s.keys.revoke_key(&tenant(), &key.id, 9).await.unwrap());

    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(report.latest.kept, 1, "{report:?}");
    assert_eq!(report.jobs.kept, 1, "{report:?}");
    assert_eq!(report.keys.kept, 1, "{report:?}");
    assert_eq!(report.conflicts.len(), 3, "{report:?}");
    assert_eq!(
        s.registry.latest(&tenant(), "payments").await.unwrap(),
        Some(2)
    );
    assert_eq!(
        s.jobs.get_job(&tenant(), &job.id).await.unwrap(),
        Some(job.clone())
    );

    // Asked to replace, the backup's job comes back; the revoked key stays revoked.
    let report = restore(&site, &backup.id, false, true).await.unwrap();
    assert_eq!(report.jobs.written, 1, "{report:?}");
    assert_eq!(report.keys.kept, 1, "{report:?}");
    let stored = s.keys.get_key(&tenant(), &key.id).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(9));
    assert_eq!(
        s.jobs.get_job(&tenant(), &job.id).await.unwrap(),
        Some(original)
    );
    // Replacing never moves LATEST back: the backup's latest (version 1, ecod) is written
    // forward as version 3, and training afterwards goes on from there.
    let restored = s.registry.latest(&tenant(), "payments").await.unwrap();
    assert_eq!(restored, Some(3), "{report:?}");
    let forward = s
        .registry
        .version(&tenant(), "payments", 3)
        .await
        .unwrap()
        .unwrap();
    let first = s
        .registry
        .version(&tenant(), "payments", 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(forward.algorithm, "ecod");
    assert_eq!(
        (forward.s3_key, forward.sha256),
        (first.s3_key, first.sha256)
    );
    // The same restore again changes nothing: the backup's artifact is already the latest's.
    restore(&site, &backup.id, false, true).await.unwrap();
    assert_eq!(
        s.registry.latest(&tenant(), "payments").await.unwrap(),
        Some(3)
    );
    site.train_model("payments", "pca").await;
    assert_eq!(
        s.registry.latest(&tenant(), "payments").await.unwrap(),
        Some(4)
    );
}

async fn when_trains_run_during_a_backup_should_hold_whole_versions_only(mut site: Site) {
    site.train_model("payments", "ecod").await;
    let trains = (0..6).map(|_| {
        let train = site.train();
        tokio::spawn(async move {
            let request: TrainRequest = serde_json::from_value(
                json!({"name": "payments", "algorithm": "ecod", "data": small_data(60)}),
            )
            .unwrap();
            train.train(&tenant(), request).await
        })
    });
    let trains: Vec<_> = trains.collect();
    let backups = site.backups(RetentionPolicy::default());
    let backup = tokio::spawn(async move { backups.create().await })
        .await
        .unwrap()
        .unwrap()
        .backup;
    for t in trains {
        t.await.unwrap().unwrap();
    }
    // Every version in the backup has its artifact, and LATEST names the highest of them.
    assert_eq!(backup.objects, backup.items.versions);
    site.wipe().await;
    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(report.versions.written, backup.items.versions);
    let s = site.stores();
    let versions = s.registry.versions(&tenant(), "payments").await.unwrap();
    let latest = s.registry.latest(&tenant(), "payments").await.unwrap();
    assert_eq!(latest, versions.last().map(|v| v.version));
    for v in &versions {
        let object = s.objects.get(&v.s3_key).await.unwrap().expect("artifact");
        assert_eq!(sha256_hex(&object.bytes), v.sha256);
    }
}

async fn when_pruning_should_keep_exactly_the_policy_set(site: Site) {
    const DAY: u64 = 86_400_000;
    // 2026-11-30, a Monday, at noon; backups are dated days before it.
    let monday = 20_787 * DAY + DAY / 2;
    let vault = site.vault();
    let mut tag = 0u64;
    let mut put_backup = |created_at: u64, status: Option<BackupStatus>| {
        tag += 1;
        let id = format!("{created_at:012x}{tag:016x}");
        let vault = vault.clone();
        async move {
            let artifact = format!("backups/{id}/models/m/v000001/model.nmly");
            replace_object(&vault, &artifact, b"artifact").await;
            if let Some(status) = status {
                let manifest = BackupManifest {
                    format: MANIFEST_FORMAT,
                    id: id.clone(),
                    created_at,
                    finished_at: created_at + 1,
                    status,
                    error: (status == BackupStatus::Failed).then(|| "boom".into()),
                    objects: Vec::new(),
                    copied: 0,
                    table: None,
                    tables: Vec::new(),
                    items: ItemCounts::default(),
                };
                let bytes = serde_json::to_vec(&manifest).unwrap();
                replace_object(&vault, &manifest_key(&id), &bytes).await;
            }
            id
        }
    };
    // Good backups 0..=20 days ago but 3 days ago; a failed one after the newest good one; a
    // failed and an incomplete (no manifest) one 5 days ago.
    let mut good = Vec::new();
    for days_ago in (0..=20u64).filter(|d| *d != 3) {
        let id = put_backup(monday - days_ago * DAY, Some(BackupStatus::Succeeded)).await;
        good.push((days_ago, id));
    }
    let failed_newest = put_backup(monday + 3_600_000, Some(BackupStatus::Failed)).await;
    let failed_old = put_backup(monday - 5 * DAY + 1, Some(BackupStatus::Failed)).await;
    let incomplete_old = put_backup(monday - 5 * DAY + 2, None).await;

    let policy = RetentionPolicy {
        keep_daily: 3,
        keep_weekly: 3,
    };
    let pruned: BTreeSet<String> = site
        .backups(policy)
        .prune()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let left: BTreeSet<String> = site
        .backups(policy)
        .list()
        .await
        .unwrap()
        .backups
        .into_iter()
        .map(|b| b.id)
        .collect();
    // Daily: the newest good backup of each of the 3 latest days that have one (0, 1, 2).
    // Weekly (ISO weeks; day 0 is a Monday): this week (day 0), last week (day 1), the week
    // before (day 8). Plus the failed backup newer than the newest good one, for diagnosis.
    let mut expected: BTreeSet<String> = good
        .iter()
        .filter(|(d, _)| [0, 1, 2, 8].contains(d))
        .map(|(_, id)| id.clone())
        .collect();
    expected.insert(failed_newest);
    assert_eq!(left, expected);
    let mut all: BTreeSet<String> = good.into_iter().map(|(_, id)| id).collect();
    all.insert(failed_old);
    all.insert(incomplete_old);
    assert_eq!(pruned, all.difference(&expected).cloned().collect());
    // Pruned backups are gone from the vault entirely.
    for id in &pruned {
        assert!(vault
            .list_keys(&format!("backups/{id}/"))
            .await
            .unwrap()
            .is_empty());
    }
}

/// The fixture made by the code before tenancy (commit ea99402, see its README): its data
/// directory and its backup vault.
fn pre_tenancy(part: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/data/pre-tenancy")
        .join(part)
}

/// Copies a directory tree (the fixture is read-only material).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every object of the pre-tenancy vault fixture, put into `vault` with its stored metadata.
async fn upload_pre_tenancy_backup(vault: &dyn ObjectAdmin) -> String {
    let root = pre_tenancy("vault");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if !path.to_string_lossy().ends_with(".meta.json") {
                files.push(path);
            }
        }
    }
    let mut backup_id = String::new();
    for path in files {
        let key = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta_path = format!("{}.meta.json", path.display());
        let meta: application::ports::ObjectMeta =
            serde_json::from_slice(&std::fs::read(meta_path).unwrap()).unwrap();
        vault
            .put(&key, &std::fs::read(&path).unwrap(), &meta)
            .await
            .unwrap();
        backup_id = key.split('/').nth(1).unwrap().to_owned();
    }
    backup_id
}

async fn when_a_backup_predates_tenancy_should_restore_into_the_default_tenant(site: Site) {
    let backup_id = upload_pre_tenancy_backup(site.vault().as_ref()).await;
    let report = restore(&site, &backup_id, false, false).await.unwrap();
    assert_eq!(report.status, "restored", "{report:?}");
    assert_eq!(
        (
            report.versions.written,
            report.latest.written,
            report.jobs.written
        ),
        (3, 2, 4)
    );
    let s = site.stores();
    let default = Tenant::default();
    assert_eq!(
        s.registry.latest(&default, "payments").await.unwrap(),
        Some(2)
    );
    assert_eq!(s.registry.latest(&default, "fraud").await.unwrap(), Some(1));
    assert!(s
        .registry
        .list_models(&tenant(), None, 1000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.scan.all_jobs().await.unwrap().len(), 4);
    // The restored model scores, for the default tenant only.
    let detect =
        fixtures::aws_env::detect_over(s.objects.clone(), s.registry.clone(), s.jobs.clone());
    let request =
        || serde_json::from_value(json!({"model": "payments", "data": small_data(5)})).unwrap();
    assert_eq!(detect.detect(&default, request()).await.unwrap().version, 2);
    assert_eq!(
        detect
            .detect(&tenant(), request())
            .await
            .unwrap_err()
            .code(),
        "model_not_found"
    );
    // A backup taken now holds the restored data under its tenant.
    let created = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap();
    assert_eq!(created.backup.items.versions, 3);
}

/// A local data directory written by the code before tenancy, opened by this code: invisible
/// until the upgrade, then the default tenant's, models scoring from their original artifacts.
#[tokio::test]
async fn when_a_local_store_predates_tenancy_should_upgrade_in_place_into_the_default_tenant() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&pre_tenancy("store"), dir.path());
    let stores = Site::open_local(dir.path());
    let default = Tenant::default();
    assert!(stores.registry.list_all_models().await.unwrap().is_empty());
    let report = application::workflows::upgrade::UpgradeWorkflow::new(&stores)
        .run()
        .await
        .unwrap();
    // Three trains and a detect of the default tenant, and the backup job of the system.
    assert_eq!(
        (report.models, report.versions, report.jobs),
        (2, 3, 5),
        "{report:?}"
    );
    let all = stores.scan.all_jobs().await.unwrap();
    let system = all.iter().filter(|j| j.tenant == Tenant::system()).count();
    assert_eq!(system, 1, "{all:?}");
    assert_eq!(
        stores.registry.latest(&default, "payments").await.unwrap(),
        Some(2)
    );
    let detect = fixtures::aws_env::detect_over(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
    );
    let request =
        serde_json::from_value(json!({"model": "payments", "data": small_data(5)})).unwrap();
    let scored = detect.detect(&default, request).await.unwrap();
    assert_eq!(scored.version, 2);
    assert_eq!(
        application::workflows::upgrade::UpgradeWorkflow::new(&stores)
            .run()
            .await
            .unwrap()
            .status,
        "nothing_to_do"
    );
}

/// A vault that counts its server-side copies.
struct CountingVault {
    inner: Arc<dyn ObjectAdmin>,
    copies: AtomicUsize,
}

#[async_trait]
impl ObjectStore for CountingVault {
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes, meta).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.inner.get(key).await
    }
}

#[async_trait]
impl ObjectAdmin for CountingVault {
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_keys(prefix).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head(key).await
    }

    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        self.inner.put(key, bytes, meta).await
    }

    fn copy_source(&self, key: &str) -> Result<CopySource, StoreError> {
        self.inner.copy_source(key)
    }

    async fn copy(&self, source: &CopySource, key: &str) -> Result<(), StoreError> {
        self.copies.fetch_add(1, Ordering::SeqCst);
        self.inner.copy(source, key).await
    }

    async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        self.inner.write_stream(key, content_type).await
    }

    async fn read_stream(&self, key: &str) -> Result<Option<BlobReader>, StoreError> {
        self.inner.read_stream(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
}

async fn when_one_version_is_added_should_copy_exactly_one_artifact(site: Site) {
    populate(&site).await;
    let vault = Arc::new(CountingVault {
        inner: site.vault(),
        copies: AtomicUsize::new(0),
    });
    let backups = BackupWorkflow::new(site.stores(), vault.clone(), RetentionPolicy::default());
    let first = backups.create().await.unwrap().backup;
    assert_eq!((first.objects, first.copied), (4, 4));
    assert_eq!(vault.copies.load(Ordering::SeqCst), 4);

    let manifest = |id: String| {
        let vault = vault.clone();
        async move {
            BackupManifest::parse(&vault.get(&manifest_key(&id)).await.unwrap().unwrap().bytes)
                .unwrap()
        }
    };
    let a = manifest(first.id).await;
    site.train_on(&tenant(), "fraud", "hbos", 70).await;
    let second = backups.create().await.unwrap().backup;
    assert_eq!((second.objects, second.copied), (5, 1), "{second:?}");
    assert_eq!(
        vault.copies.load(Ordering::SeqCst),
        5,
        "only the new artifact is copied"
    );
    // Both backups name the shared artifacts; the vault holds each once (the first backup was
    // pruned since, by the daily policy, but not what the second one names).
    assert_eq!(vault.list_keys(CONTENT_PREFIX).await.unwrap().len(), 5);
    let b = manifest(second.id).await;
    for object in &a.objects {
        assert!(
            b.objects.contains(object),
            "{object:?} not referenced again"
        );
        assert_eq!(object.backup_key, content_key(&object.sha256));
    }
}

async fn when_pruning_should_keep_content_objects_a_kept_backup_names(mut site: Site) {
    populate(&site).await;
    let vault = site.vault();
    let backups = site.backups(RetentionPolicy {
        keep_daily: 1,
        keep_weekly: 0,
    });
    let first = backups.create().await.unwrap().backup;
    // An object no backup names (as a pruned backup would leave) is swept.
    let orphan = content_key(&sha256_hex(b"orphan"));
    replace_object(&vault, &orphan, b"orphan").await;
    site.train_on(&tenant(), "fraud", "hbos", 70).await;
    let second = backups.create().await.unwrap();
    assert_eq!(
        second.pruned,
        [first.id],
        "the older backup of the day is pruned"
    );
    let held = vault.list_keys(CONTENT_PREFIX).await.unwrap();
    let manifest = BackupManifest::parse(
        &vault
            .get(&manifest_key(&second.backup.id))
            .await
            .unwrap()
            .unwrap()
            .bytes,
    )
    .unwrap();
    let named: Vec<String> = manifest
        .objects
        .iter()
        .map(|o| o.backup_key.clone())
        .collect();
    // Every artifact the pruned backup shared with the kept one is still there; the orphan is not.
    assert_eq!(held.len(), 5);
    assert!(named.iter().all(|k| held.contains(k)), "{held:?}");
    assert!(!held.contains(&orphan));
    site.wipe().await;
    let report = restore(&site, &second.backup.id, false, false)
        .await
        .unwrap();
    assert_eq!(report.objects.written, 5);
}

async fn when_a_backup_is_cut_short_should_resume_from_its_checkpoint(mut site: Site) {
    populate(&site).await;
    let before = site.state().await;
    // A deadline already passed: every invocation makes one step (a batch of models, the keys,
    // a page of two jobs) and checkpoints.
    let backups = site.backups(RetentionPolicy::default()).with_page(2);
    let spent = || Deadline::within(Duration::ZERO);
    let mut step = backups.start(spent()).await.unwrap();
    let mut continuations = 0;
    let backup = loop {
        match step {
            BackupStep::Done(created) => break created.backup,
            BackupStep::Continuing(pending) => {
                continuations += 1;
                let vault = site.vault();
                assert!(vault
                    .get(&checkpoint_key(&pending.id))
                    .await
                    .unwrap()
                    .is_some());
                let listed = backups.list().await.unwrap().backups;
                assert_eq!(listed[0].status, BackupState::InProgress);
                // Another invocation holding the job cannot be doubled: the lease was handed
                // over, so this one takes it.
                step = backups.resume(&pending.id, spent()).await.unwrap();
            }
        }
    };
    assert!(continuations >= 4, "{continuations} continuations");
    assert_eq!(
        backup.items,
        ItemCounts {
            models: 3,
            versions: 4,
            jobs: 6,
            keys: 2,
            series: 0,
            labels: 0
        }
    );
    assert_eq!(backup.status, BackupState::Succeeded);
    let vault = site.vault();
    assert!(vault
        .get(&checkpoint_key(&backup.id))
        .await
        .unwrap()
        .is_none());
    let manifest = BackupManifest::parse(
        &vault
            .get(&manifest_key(&backup.id))
            .await
            .unwrap()
            .unwrap()
            .bytes,
    )
    .unwrap();
    assert_eq!(
        manifest.tables.len(),
        continuations + 1,
        "one dump part per invocation"
    );
    // The same backup as an uninterrupted one: it restores everything.
    site.wipe().await;
    restore(&site, &backup.id, false, false).await.unwrap();
    let mut after = site.state().await;
    after
        .jobs
        .sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
    let mut expected = before;
    expected
        .jobs
        .sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
    assert_eq!(after, expected);
}

async fn when_a_restore_is_cut_short_should_resume_from_its_checkpoint(mut site: Site) {
    populate(&site).await;
    let before = site.state().await;
    let backup = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    site.wipe().await;
    let uninterrupted_dry_run = restore(&site, &backup.id, true, false).await.unwrap();
    // One artifact or item per step, and a deadline already passed: one step per invocation.
    let restores = site.restores().with_batch(1);
    let request = RestoreRequest {
        backup_id: backup.id.clone(),
        dry_run: false,
        replace: false,
    };
    let spent = || Deadline::within(Duration::ZERO);
    let mut continuations = 0;
    let report = loop {
        match restores.restore_within(&request, spent()).await.unwrap() {
            RestoreStep::Done(report) => break report,
            RestoreStep::Continuing(pending) => {
                continuations += 1;
                assert_eq!(pending.status, "continuing");
            }
        }
    };
    assert!(continuations >= 10, "{continuations} continuations");
    assert_eq!(report.status, "restored");
    assert_eq!(
        (
            report.objects,
            report.versions,
            report.latest,
            report.jobs,
            report.keys
        ),
        (
            uninterrupted_dry_run.objects,
            uninterrupted_dry_run.versions,
            uninterrupted_dry_run.latest,
            uninterrupted_dry_run.jobs,
            uninterrupted_dry_run.keys
        )
    );
    let mut after = site.state().await;
    after
        .jobs
        .sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
    let mut expected = before;
    expected
        .jobs
        .sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
    assert_eq!(after, expected);
    let checkpoint = application::workflows::checkpoint::restore_checkpoint_key(&backup.id);
    assert!(site.vault().get(&checkpoint).await.unwrap().is_none());
}

/// Five minutes, in milliseconds: the series' step.
const STEP_MS: i64 = 300_000;

/// Point `i` of the series: a daily-ish wave with a weekly-ish ripple.
fn series_value(i: usize) -> f64 {
    50.0 + 20.0 * ((i % 48) as f64 / 48.0 * std::f64::consts::TAU).sin() + (i % 7) as f64
}

/// Points `range` of the series, valued `cpu`.
fn series_points(range: std::ops::Range<usize>) -> Vec<NamedPoint> {
    range
        .map(|i| NamedPoint {
            timestamp: i as i64 * STEP_MS,
            values: BTreeMap::from([("cpu".to_string(), series_value(i))]),
            entity: None,
        })
        .collect()
}

/// The verdicts on points `range` of a series never backed up nor restored: a fresh detector
/// fed every point up to the end of `range`.
fn uninterrupted(range: std::ops::Range<usize>) -> Vec<PointVerdict> {
    let settings = SeriesParams::default().check(1).unwrap();
    let mut detector = SeriesDetector::new(settings).unwrap();
    (0..range.end)
        .map(|i| {
            detector
                .observe(i as i64 * STEP_MS, &[series_value(i)])
                .unwrap()
        })
        .skip(range.start)
        .collect()
}

/// Every series of every tenant, and the state objects in the models store.
async fn series_state(site: &Site) -> (Vec<(Tenant, SeriesRecord)>, Vec<String>) {
    let s = site.stores();
    (
        s.series.all_series().await.unwrap(),
        s.admin.list_keys("series/").await.unwrap(),
    )
}

async fn when_series_are_wiped_should_restore_them_and_score_on_as_one_uninterrupted_run(
    mut site: Site,
) {
    let beta = Tenant::parse("beta").unwrap();
    let series = site.series();
    for chunk in [0..30, 30..50] {
        series
            .append(&tenant(), "cpu", None, &series_points(chunk))
            .await
            .unwrap();
    }
    series
        .append(&beta, "cpu", None, &series_points(0..20))
        .await
        .unwrap();
    let before = series_state(&site).await;
    assert_eq!(before.0.len(), 2);
    let cpu = series.describe(&tenant(), "cpu").await.unwrap();
    assert_eq!((cpu.sequence, cpu.points_seen), (2, 50));

    // Cut short at every step, one series a page: the series phase goes on from its cursor.
    let backups = site.backups(RetentionPolicy::default()).with_page(1);
    let spent = || Deadline::within(Duration::ZERO);
    let mut step = backups.start(spent()).await.unwrap();
    let backup = loop {
        match step {
            BackupStep::Done(created) => break created.backup,
            BackupStep::Continuing(pending) => {
                step = backups.resume(&pending.id, spent()).await.unwrap()
            }
        }
    };
    assert_eq!(backup.status, BackupState::Succeeded);
    assert_eq!(
        backup.items,
        ItemCounts {
            series: 2,
            ..ItemCounts::default()
        }
    );
    assert_eq!((backup.objects, backup.copied), (2, 2), "{backup:?}");
    let manifest = BackupManifest::parse(
        &site
            .vault()
            .get(&manifest_key(&backup.id))
            .await
            .unwrap()
            .unwrap()
            .bytes,
    )
    .unwrap();
    let held: Vec<String> = manifest
        .objects
        .iter()
        .map(|o| o.source_key.clone())
        .collect();
    assert_eq!(held, before.1, "the manifest names every series state");

    site.wipe().await;
    assert_eq!(series_state(&site).await, (Vec::new(), Vec::new()));
    let dry = restore(&site, &backup.id, true, false).await.unwrap();
    assert_eq!(dry.series, written(2), "{dry:?}");
    assert_eq!(series_state(&site).await, (Vec::new(), Vec::new()));

    // Cut short at every step too, one item a batch: the tallies carry over in the checkpoint.
    let restores = site.restores().with_batch(1);
    let request = RestoreRequest {
        backup_id: backup.id.clone(),
        dry_run: false,
        replace: false,
    };
    let report = loop {
        match restores.restore_within(&request, spent()).await.unwrap() {
            RestoreStep::Done(report) => break report,
            RestoreStep::Continuing(pending) => assert_eq!(pending.status, "continuing"),
        }
    };
    assert_eq!(report.series, written(2), "{report:?}");
    assert_eq!(
        report.objects,
        Tally::default(),
        "series states are not artifacts"
    );
    assert_eq!(series_state(&site).await, before);
    // Idempotent: a second restore finds both series in place.
    let again = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(
        again.series,
        Tally {
            unchanged: 2,
            ..Tally::default()
        }
    );
    assert_eq!(series_state(&site).await, before);

    // The restored series score on exactly as series never backed up do.
    let series = site.series();
    let cpu = series
        .append(&tenant(), "cpu", None, &series_points(50..80))
        .await
        .unwrap();
    assert_eq!(cpu.verdicts, uninterrupted(50..80));
    assert_eq!((cpu.record.sequence, cpu.record.points_seen), (3, 80));
    let b = series
        .append(&beta, "cpu", None, &series_points(20..30))
        .await
        .unwrap();
    assert_eq!(b.verdicts, uninterrupted(20..30));
}

async fn when_a_series_is_newer_than_the_backup_should_keep_it_unless_replacing(site: Site) {
    let series = site.series();
    series
        .append(&tenant(), "cpu", None, &series_points(0..30))
        .await
        .unwrap();
    let backed_up = series.describe(&tenant(), "cpu").await.unwrap();
    let backup = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    // Newer data: more points, whose append deleted the state the backup holds.
    series
        .append(&tenant(), "cpu", None, &series_points(30..40))
        .await
        .unwrap();
    let newer = series_state(&site).await;
    assert!(!newer.1.contains(&backed_up.state_key));

    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(
        report.series,
        Tally {
            kept: 1,
            ..Tally::default()
        },
        "{report:?}"
    );
    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    assert!(report.conflicts[0].contains("series 'cpu'"), "{report:?}");
    assert_eq!(
        series_state(&site).await,
        newer,
        "a kept series is left alone, and gets no stray state"
    );

    // Asked to replace, the backup's series comes back, one sequence above the newer one.
    let report = restore(&site, &backup.id, false, true).await.unwrap();
    assert_eq!(report.series, written(1), "{report:?}");
    let restored = series.describe(&tenant(), "cpu").await.unwrap();
    assert_eq!(
        restored,
        SeriesRecord {
            sequence: 3,
            ..backed_up.clone()
        }
    );
    // The same restore again changes nothing.
    let again = restore(&site, &backup.id, false, true).await.unwrap();
    assert_eq!(
        again.series,
        Tally {
            unchanged: 1,
            ..Tally::default()
        },
        "{again:?}"
    );
    // Appends go on from the backup's state: the points after the backup score again as an
    // uninterrupted run does, and the superseded state is deleted as usual.
    let outcome = series
        .append(&tenant(), "cpu", None, &series_points(30..40))
        .await
        .unwrap();
    assert_eq!(outcome.verdicts, uninterrupted(30..40));
    assert_eq!(
        (outcome.record.sequence, outcome.record.points_seen),
        (4, 40)
    );
    let states = series_state(&site).await.1;
    assert!(states.contains(&outcome.record.state_key), "{states:?}");
    assert!(!states.contains(&backed_up.state_key), "{states:?}");
}

/// The models store with one append to a series slipped in at the backup's first look at that
/// series' state: before the look (the state is gone when looked for) or after it (gone when
/// copied).
struct AppendingAdmin {
    inner: Arc<dyn ObjectAdmin>,
    series: SeriesWorkflow,
    name: String,
    points: Vec<NamedPoint>,
    before_the_look: bool,
    appended: AtomicBool,
}

impl AppendingAdmin {
    async fn append_once(&self, key: &str) {
        let prefix = format!("series/{}/{}/", tenant(), self.name);
        if key.starts_with(&prefix) && !self.appended.swap(true, Ordering::SeqCst) {
            self.series
                .append(&tenant(), &self.name, None, &self.points)
                .await
                .unwrap();
        }
    }
}

#[async_trait]
impl ObjectStore for AppendingAdmin {
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes, meta).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.inner.get(key).await
    }
}

#[async_trait]
impl ObjectAdmin for AppendingAdmin {
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_keys(prefix).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        if self.before_the_look {
            self.append_once(key).await;
            return self.inner.head(key).await;
        }
        let meta = self.inner.head(key).await;
        self.append_once(key).await;
        meta
    }

    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
        self.inner.put(key, bytes, meta).await
    }

    fn copy_source(&self, key: &str) -> Result<CopySource, StoreError> {
        self.inner.copy_source(key)
    }

    async fn copy(&self, source: &CopySource, key: &str) -> Result<(), StoreError> {
        self.inner.copy(source, key).await
    }

    async fn write_stream(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError> {
        self.inner.write_stream(key, content_type).await
    }

    async fn read_stream(&self, key: &str) -> Result<Option<BlobReader>, StoreError> {
        self.inner.read_stream(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
}

/// A backup racing an append that supersedes (and deletes) the state of the record it read:
/// the backup reads the record again and holds it with the state it names now, which restores
/// into a series scoring on as if never interrupted.
async fn backup_racing_an_append(mut site: Site, before_the_look: bool) {
    let series = site.series();
    series
        .append(&tenant(), "cpu", None, &series_points(0..30))
        .await
        .unwrap();
    let read = series.describe(&tenant(), "cpu").await.unwrap();
    let admin = Arc::new(AppendingAdmin {
        inner: site.stores().admin.clone(),
        series: site.series(),
        name: "cpu".into(),
        points: series_points(30..40),
        before_the_look,
        appended: AtomicBool::new(false),
    });
    let racing = Stores {
        admin: admin.clone(),
        ..site.stores().clone()
    };
    let backup = BackupWorkflow::new(&racing, site.vault(), RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    assert!(admin.appended.load(Ordering::SeqCst), "no append raced");
    let moved = series_state(&site).await;
    assert_eq!(moved.0[0].1.sequence, read.sequence + 1);
    assert!(!moved.1.contains(&read.state_key), "the read state is gone");
    assert_eq!((backup.items.series, backup.objects), (1, 1), "{backup:?}");

    site.wipe().await;
    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(report.series, written(1), "{report:?}");
    assert_eq!(
        series_state(&site).await,
        moved,
        "the backup held the record as the append left it, with its state"
    );
    let outcome = site
        .series()
        .append(&tenant(), "cpu", None, &series_points(40..60))
        .await
        .unwrap();
    assert_eq!(outcome.verdicts, uninterrupted(40..60));
}

async fn when_an_append_deletes_a_state_before_the_backup_looks_should_hold_the_record_with_its_state(
    site: Site,
) {
    backup_racing_an_append(site, true).await;
}

async fn when_an_append_deletes_a_state_before_the_backup_copies_should_hold_the_record_with_its_state(
    site: Site,
) {
    backup_racing_an_append(site, false).await;
}

/// Labelled rows `range` of a two-column table, anomalies every third row.
fn row_labels(range: std::ops::Range<u32>) -> Vec<RowLabel> {
    range
        .map(|n| {
            let features = vec!["amount".to_string(), "hour".to_string()];
            let values = vec![f64::from(n) * 1.5, f64::from(n % 24)];
            RowLabel {
                id: row_id(&features, &values),
                features,
                values,
                label: if n.is_multiple_of(3) {
                    Verdict::Anomaly
                } else {
                    Verdict::Normal
                },
                job: Some(format!("job-{}", n / 10)),
                row: Some(u64::from(n % 10)),
                created_at: 1_700_000_000_000 + u64::from(n),
            }
        })
        .collect()
}

/// Writes `labels` for `tenant`'s `model`, 100 a write.
async fn label_rows(site: &Site, tenant: &Tenant, model: &str, labels: &[RowLabel]) {
    for chunk in labels.chunks(100) {
        site.stores()
            .labels
            .put_labels(tenant, model, chunk)
            .await
            .unwrap();
    }
}

async fn all_labels(site: &Site) -> Vec<OwnedLabel> {
    site.stores().labels.all_labels().await.unwrap()
}

async fn when_labels_are_wiped_should_restore_every_tenants_labels_as_they_were(mut site: Site) {
    let beta = Tenant::parse("beta").unwrap();
    label_rows(&site, &tenant(), "payments", &row_labels(0..230)).await;
    label_rows(&site, &tenant(), "fraud", &row_labels(100..105)).await;
    label_rows(&site, &beta, "payments", &row_labels(0..40)).await;
    let before = all_labels(&site).await;
    assert_eq!(before.len(), 275);

    // Cut short at every step, 64 labels a page: the labels phase goes on from its cursor.
    let backups = site.backups(RetentionPolicy::default()).with_page(64);
    let spent = || Deadline::within(Duration::ZERO);
    let mut step = backups.start(spent()).await.unwrap();
    let mut label_steps = 0;
    let backup = loop {
        match step {
            BackupStep::Done(created) => break created.backup,
            BackupStep::Continuing(pending) => {
                label_steps += usize::from(
                    pending.phase == application::workflows::checkpoint::BackupPhase::Labels,
                );
                step = backups.resume(&pending.id, spent()).await.unwrap()
            }
        }
    };
    assert!(label_steps >= 4, "{label_steps} steps in the labels phase");
    assert_eq!(backup.status, BackupState::Succeeded);
    assert_eq!(
        backup.items,
        ItemCounts {
            labels: 275,
            ..ItemCounts::default()
        }
    );
    assert_eq!(backup.objects, 0, "labels are items only");

    site.wipe().await;
    assert!(
        all_labels(&site).await.is_empty(),
        "the wipe left labels behind"
    );
    let dry = restore(&site, &backup.id, true, false).await.unwrap();
    assert_eq!(dry.labels, written(275), "{dry:?}");
    assert!(all_labels(&site).await.is_empty(), "a dry run wrote labels");

    // Batches of 150 items: one model's labels span batches, one batch spans models.
    let report = site
        .restores()
        .with_batch(150)
        .restore(&RestoreRequest {
            backup_id: backup.id.clone(),
            dry_run: false,
            replace: false,
        })
        .await
        .unwrap();
    assert_eq!(report.labels, written(275), "{report:?}");
    assert_eq!(all_labels(&site).await, before);
    // Idempotent: a second restore finds every label in place.
    let again = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(
        again.labels,
        Tally {
            unchanged: 275,
            ..Tally::default()
        }
    );
    assert_eq!(all_labels(&site).await, before);
}

async fn when_a_row_is_labelled_otherwise_since_the_backup_should_keep_it_unless_replacing(
    site: Site,
) {
    let backed_up = row_labels(0..3);
    label_rows(&site, &tenant(), "payments", &backed_up).await;
    let backup = site
        .backups(RetentionPolicy::default())
        .create()
        .await
        .unwrap()
        .backup;
    assert_eq!(backup.items.labels, 3);
    // Since the backup: row 1 labelled otherwise, row 7 labelled for the first time.
    let relabelled = RowLabel {
        label: Verdict::Anomaly,
        created_at: backed_up[1].created_at + 1_000,
        ..backed_up[1].clone()
    };
    let added = row_labels(7..8);
    label_rows(
        &site,
        &tenant(),
        "payments",
        std::slice::from_ref(&relabelled),
    )
    .await;
    label_rows(&site, &tenant(), "payments", &added).await;
    let newer = all_labels(&site).await;

    let report = restore(&site, &backup.id, false, false).await.unwrap();
    assert_eq!(
        report.labels,
        Tally {
            unchanged: 2,
            kept: 1,
            ..Tally::default()
        }
    );
    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    assert!(
        report.conflicts[0].contains(&format!("row {}", relabelled.id))
            && report.conflicts[0].ends_with("kept"),
        "{report:?}"
    );
    assert_eq!(all_labels(&site).await, newer, "newer labels are kept");

    // Asked to replace, the backup's verdict comes back; a label added since stays.
    let report = restore(&site, &backup.id, false, true).await.unwrap();
    assert_eq!(
        report.labels,
        Tally {
            written: 1,
            unchanged: 2,
            kept: 0
        }
    );
    let labels: Vec<RowLabel> = all_labels(&site)
        .await
        .into_iter()
        .map(|owned| owned.label)
        .collect();
    let mut expected: Vec<RowLabel> = backed_up.into_iter().chain(added).collect();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(labels, expected);
}
