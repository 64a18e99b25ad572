//! The store contract every adapter passes: each case is one async function over the ports of a
//! [`Backend`], and [`contract_suite!`] turns the whole list into one `#[tokio::test]` per case in
//! the adapter's own test crate (`store-local`: directory + SQLite; `store-aws`: S3 + DynamoDB on
//! a moto server). Cases: conditional puts write nothing on conflict, `LATEST` never goes
//! backwards, concurrent trainers get distinct versions, job paging newest first with cursors,
//! batch job writes, corrupted objects detected by SHA-256, tenants that never see each other's
//! models, jobs or keys, API keys revoked and touched, the upgrade of items from before
//! tenancy, alert suppression states written under a revision, per tenant, model and entity,
//! forgotten once expired, series records written under their sequence and listed by name,
//! every tenant's series scanned (backups) and written back where missing (restores), and
//! labelled rows kept per tenant and model, replaced by id, paged by id and scanned across
//! tenants (backups).
//!
//! Test code: a broken contract fails with a panic naming what differed.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::collections::BTreeSet;
use std::sync::Arc;

use application::checksum::sha256_hex;
use application::domain::alert::{AlertKey, AlertState, PendingAlert};
use application::domain::label::row_id;
use application::domain::principal::parse_scopes;
use application::domain::{
    AnswerRecord, IdempotencyRecord, IdempotencyStatus, Job, JobCounts, JobKind, JobStatus,
    JobTimings, ModelVersion, NewKey, RowLabel, SeriesAnomaly, SeriesRecord, Tenant, TrainingStats,
    Verdict,
};
use application::ports::{
    JobStore, KeyStore, ModelRegistry, ObjectMeta, ObjectStore, OwnedLabel, StoreError, Stores,
    MAX_LABELS_PER_WRITE,
};
use application::workflows::train::{TrainRequest, TrainWorkflow};
use application::workflows::upgrade::UpgradeWorkflow;
use async_trait::async_trait;
use detection::series::SeriesParams;
use detection::Limits;
use serde_json::{json, Value};

/// An item as the adapters wrote it before tenancy, for the upgrade case to plant.
#[derive(Debug, Clone)]
pub enum LegacyItem {
    /// `MODEL#{name}` / `VERSION#{n}`.
    Version(ModelVersion),
    /// `MODEL#{name}` / `LATEST`, pointing at this version.
    Latest(ModelVersion),
    /// `JOB#{id}` / `JOB`.
    Job(Job),
}

/// An adapter under test: its ports, a way to damage a stored object behind its back, and a way
/// to write an item the way the adapter did before tenancy.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Every port of the adapter (no vault).
    fn stores(&self) -> Stores;

    /// Replaces the bytes stored at `key` behind the adapter's back, keeping the metadata (and
    /// so the SHA-256) written with the original.
    async fn corrupt(&self, key: &str, bytes: &[u8], sha256: &str);

    /// Writes `item` in the adapter's pre-tenancy layout (keys without a tenant; records
    /// without a `tenant` field).
    async fn plant_legacy(&self, item: LegacyItem);

    /// The object store.
    fn objects(&self) -> Arc<dyn ObjectStore> {
        self.stores().objects
    }

    /// The model registry.
    fn registry(&self) -> Arc<dyn ModelRegistry> {
        self.stores().registry
    }

    /// The job table.
    fn jobs(&self) -> Arc<dyn JobStore> {
        self.stores().jobs
    }

    /// The key store.
    fn keys(&self) -> Arc<dyn KeyStore> {
        self.stores().keys
    }

    /// A train workflow over this backend's ports.
    fn train(&self) -> TrainWorkflow {
        TrainWorkflow::new(
            self.objects(),
            self.registry(),
            self.jobs(),
            Limits::default(),
        )
    }
}

/// A small, deterministic two-column data set with one far outlier at the last row.
pub fn small_data(n: usize) -> Value {
    let mut rows: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![(i % 10) as f64, ((i * 7) % 13) as f64])
        .collect();
    rows.push(vec![100.0, -100.0]);
    json!({"columns": ["a", "b"], "rows": rows})
}

/// One `#[tokio::test]` per contract case, each on a fresh backend from `$backend` (an async
/// expression giving `Option<impl Backend>`; `None` skips, e.g. when moto is not installed).
#[macro_export]
macro_rules! contract_suite {
    (@cases $backend:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let Some(backend) = $backend.await else {
                    return;
                };
                $crate::$case(&backend).await;
            }
        )*
    };
    ($backend:expr) => {
        $crate::contract_suite!(@cases $backend; when_two_tenants_use_one_name_should_never_see_each_other, when_keys_issued_should_be_read_listed_revoked_and_touched_within_their_tenant, when_items_predate_tenancy_should_move_to_the_default_tenant_once, when_object_exists_should_conflict_and_keep_original, when_object_absent_should_get_none, when_an_object_is_copied_should_arrive_whole_with_its_metadata, when_key_unsafe_should_be_refused, when_meta_does_not_describe_bytes_should_refuse_and_write_nothing, when_object_corrupted_should_be_detected_by_sha256, when_version_exists_should_conflict, when_latest_moved_should_conflict_and_write_nothing, when_older_version_registered_should_never_move_latest_backwards, when_models_listed_should_show_latest_of_each, when_jobs_listed_should_page_newest_first, when_cursor_forged_should_be_invalid, when_many_jobs_put_in_one_batch_should_store_all_and_last_of_an_id_wins, when_n_trains_of_one_model_run_concurrently_should_get_distinct_versions, when_a_lease_expires_should_be_found_and_taken_over_once, when_a_split_job_counts_ranges_should_count_each_once_and_pending_jobs_be_taken_over, when_an_idempotency_key_is_begun_should_hold_it_until_released_or_lapsed, when_an_alert_state_is_written_should_read_back_equal, when_an_alert_state_revision_is_stale_should_refuse_and_keep_the_state, when_8_writers_race_for_a_first_alert_state_should_let_exactly_one_win, when_alert_states_differ_by_tenant_model_or_entity_should_never_see_each_other, when_an_alert_state_expired_should_read_as_none_and_be_written_afresh, when_a_series_record_is_written_should_read_back_equal_and_move_by_one_sequence, when_a_series_sequence_is_stale_should_refuse_and_keep_the_record, when_8_writers_race_for_one_series_sequence_should_let_exactly_one_win, when_series_are_listed_should_page_by_name_within_their_tenant, when_every_tenants_series_are_scanned_should_give_each_once_with_its_tenant, when_a_series_is_restored_should_write_it_only_where_none_is, when_labels_are_written_should_be_invisible_to_other_tenants_and_models, when_a_label_is_written_again_should_replace_it_with_the_newest_verdict, when_labels_are_paged_should_give_each_once_in_id_order, when_every_tenants_labels_are_scanned_should_give_each_once_with_its_tenant_and_model, when_a_label_cannot_be_kept_or_read_back_should_be_refused);
    };
}

/// Metadata that describes `bytes`.
pub fn meta_of(bytes: &[u8]) -> ObjectMeta {
    ObjectMeta {
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
        content_type: "application/octet-stream".into(),
    }
}

/// The tenant the single-tenant cases use.
pub fn tenant() -> Tenant {
    Tenant::parse("acme").unwrap()
}

/// Another tenant, for the isolation cases.
pub fn other_tenant() -> Tenant {
    Tenant::parse("beta").unwrap()
}

/// A version item of [`tenant`]'s model `name` (its artifact is not stored).
pub fn item(name: &str, version: u32) -> ModelVersion {
    item_of(&tenant(), name, version)
}

/// A version item of `tenant`'s model `name` (its artifact is not stored).
pub fn item_of(tenant: &Tenant, name: &str, version: u32) -> ModelVersion {
    ModelVersion {
        tenant: tenant.clone(),
        name: name.into(),
        version,
        algorithm: "ecod".into(),
        features: vec!["b".into(), "a".into()],
        threshold: 1.5 + f64::from(version) / 3.0,
        s3_key: format!("models/{tenant}/{name}/v{version:06}/model.nmly"),
        sha256: "00".into(),
        size: 1,
        training: TrainingStats {
            rows: 10,
            calibration_rows: 10,
            duration_ms: 1,
            labels: 0,
        },
        created_at: 1_700_000_000_000 + u64::from(version),
        source: None,
        job: None,
    }
}

fn job(id: &str, model: &str, created_at: u64) -> Job {
    job_of(&tenant(), id, model, created_at)
}

fn job_of(tenant: &Tenant, id: &str, model: &str, created_at: u64) -> Job {
    Job {
        tenant: tenant.clone(),
        id: id.into(),
        kind: JobKind::Detect,
        status: JobStatus::Succeeded,
        model: Some(model.into()),
        version: Some(1),
        counts: JobCounts {
            rows: 3,
            anomalies: 1,
        },
        timings: JobTimings { duration_ms: 0.5 },
        anomaly_rows: vec![2],
        error: None,
        created_at,
        expires_at: created_at / 1000 + 60,
        source: None,
        results_key: None,
        lease_expires_at: None,
        progress: None,
    }
}

fn ids(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

/// A contract case (its name says the rule).
pub async fn when_object_exists_should_conflict_and_keep_original(b: &dyn Backend) {
    let objects = b.objects();
    let key = "models/m/v000001/model.nmly";
    objects
        .put_if_absent(key, b"first", &meta_of(b"first"))
        .await
        .unwrap();
    let err = objects
        .put_if_absent(key, b"second", &meta_of(b"second"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let got = objects.get(key).await.unwrap().unwrap();
    assert_eq!(got.bytes, b"first");
    assert_eq!(got.meta, meta_of(b"first"));
}

/// A contract case (its name says the rule).
pub async fn when_object_absent_should_get_none(b: &dyn Backend) {
    assert!(b.objects().get("models/x/v1").await.unwrap().is_none());
}

/// A contract case (its name says the rule): the object-admin copy (server-side), head and
/// streamed write and read.
pub async fn when_an_object_is_copied_should_arrive_whole_with_its_metadata(b: &dyn Backend) {
    let admin = b.stores().admin;
    let (from, to) = ("models/m/v000001/model.nmly", "copies/sha256/ab");
    assert!(admin.head(from).await.unwrap().is_none());
    admin
        .put_if_absent(from, b"model", &meta_of(b"model"))
        .await
        .unwrap();
    assert_eq!(admin.head(from).await.unwrap(), Some(meta_of(b"model")));
    let source = admin.copy_source(from).unwrap();
    admin.copy(&source, to).await.unwrap();
    let copied = admin.get(to).await.unwrap().unwrap();
    assert_eq!(
        (copied.bytes, copied.meta),
        (b"model".to_vec(), meta_of(b"model"))
    );
    // A second copy over it is harmless; a missing source is refused.
    admin.copy(&source, to).await.unwrap();
    let missing = admin.copy_source("models/none").unwrap();
    let e = admin.copy(&missing, "copies/none").await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    // Streams: written in parts, read back whole.
    let mut upload = admin
        .write_stream("dumps/d.gz", "application/gzip")
        .await
        .unwrap();
    upload.write_part(b"part".to_vec()).await.unwrap();
    upload.complete().await.unwrap();
    let mut read = Vec::new();
    let mut reader = admin.read_stream("dumps/d.gz").await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || {
        std::io::Read::read_to_end(&mut reader, &mut read).unwrap();
        read
    })
    .await
    .map(|read| assert_eq!(read, b"part"))
    .unwrap();
    assert!(admin.read_stream("dumps/none").await.unwrap().is_none());
}

/// A contract case (its name says the rule).
pub async fn when_key_unsafe_should_be_refused(b: &dyn Backend) {
    let objects = b.objects();
    let long = "k".repeat(1025);
    for key in [
        "../x",
        "/etc/passwd",
        "a/../../b",
        "",
        "a/",
        "a//b",
        "./a",
        "a\nb",
        &long,
    ] {
        let err = objects
            .put_if_absent(key, b"x", &meta_of(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{key:?}: {err:?}");
        let err = objects.get(key).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{key:?}: {err:?}");
    }
}

/// A contract case (its name says the rule).
pub async fn when_meta_does_not_describe_bytes_should_refuse_and_write_nothing(b: &dyn Backend) {
    let objects = b.objects();
    let mut wrong_sha = meta_of(b"other");
    wrong_sha.size = 5;
    let mut wrong_size = meta_of(b"bytes");
    wrong_size.size = 4;
    for meta in [wrong_sha, wrong_size] {
        let err = objects
            .put_if_absent("k/m", b"bytes", &meta)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert!(objects.get("k/m").await.unwrap().is_none());
}

/// A contract case (its name says the rule).
pub async fn when_object_corrupted_should_be_detected_by_sha256(b: &dyn Backend) {
    let objects = b.objects();
    let key = "models/c/v000001/model.nmly";
    let original = b"the original artifact".to_vec();
    let meta = meta_of(&original);
    objects.put_if_absent(key, &original, &meta).await.unwrap();
    assert_eq!(objects.get(key).await.unwrap().unwrap().bytes, original);
    let mut flipped = original.clone();
    flipped[4] ^= 0x01;
    b.corrupt(key, &flipped, &meta.sha256).await;
    let err = objects.get(key).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupted(_)), "{err:?}");
}

/// A contract case (its name says the rule).
pub async fn when_version_exists_should_conflict(b: &dyn Backend) {
    let reg = b.registry();
    reg.register_version(&item("m", 1), None).await.unwrap();
    assert_eq!(
        reg.version(&tenant(), "m", 1).await.unwrap(),
        Some(item("m", 1))
    );
    let err = reg
        .register_version(&item("m", 1), Some(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Version exists although LATEST would match: still a conflict, nothing written.
    reg.register_version(&item("m", 2), Some(1)).await.unwrap();
    let mut again = item("m", 2);
    again.threshold = 9.0;
    let err = reg.register_version(&again, Some(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        reg.version(&tenant(), "m", 2).await.unwrap(),
        Some(item("m", 2))
    );
    assert_eq!(reg.latest(&tenant(), "m").await.unwrap(), Some(2));
}

/// A contract case (its name says the rule).
pub async fn when_latest_moved_should_conflict_and_write_nothing(b: &dyn Backend) {
    let reg = b.registry();
    reg.register_version(&item("m", 1), None).await.unwrap();
    reg.register_version(&item("m", 2), Some(1)).await.unwrap();
    // A trainer that still believes LATEST is 1 tries version 3.
    let err = reg
        .register_version(&item("m", 3), Some(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        reg.version(&tenant(), "m", 3).await.unwrap().is_none(),
        "version written without LATEST"
    );
    assert_eq!(reg.latest(&tenant(), "m").await.unwrap(), Some(2));
    // A trainer that believes the model is new.
    let err = reg.register_version(&item("m", 5), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(reg.version(&tenant(), "m", 5).await.unwrap().is_none());
    assert_eq!(reg.latest(&tenant(), "m").await.unwrap(), Some(2));
}

/// A contract case (its name says the rule).
pub async fn when_older_version_registered_should_never_move_latest_backwards(b: &dyn Backend) {
    let reg = b.registry();
    reg.register_version(&item("m", 1), None).await.unwrap();
    reg.register_version(&item("m", 5), Some(1)).await.unwrap();
    let err = reg
        .register_version(&item("m", 3), Some(5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(reg.latest(&tenant(), "m").await.unwrap(), Some(5));
    let versions: Vec<u32> = reg
        .versions(&tenant(), "m")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![1, 5]);
}

/// A contract case (its name says the rule).
pub async fn when_models_listed_should_show_latest_of_each(b: &dyn Backend) {
    let reg = b.registry();
    assert!(reg
        .list_models(&tenant(), None, 1000)
        .await
        .unwrap()
        .is_empty());
    reg.register_version(&item("b", 1), None).await.unwrap();
    reg.register_version(&item("a", 1), None).await.unwrap();
    reg.register_version(&item("a", 2), Some(1)).await.unwrap();
    assert_eq!(
        reg.list_models(&tenant(), None, 1000).await.unwrap(),
        vec![item("a", 2), item("b", 1)]
    );
    assert_eq!(
        reg.versions(&tenant(), "a").await.unwrap(),
        vec![item("a", 1), item("a", 2)]
    );
    assert_eq!(reg.latest(&tenant(), "zzz").await.unwrap(), None);
    // Pages: names after the cursor only, at most the limit, another tenant's never.
    reg.register_version(&item("a-1", 1), None).await.unwrap();
    reg.register_version(&item_of(&other_tenant(), "a0", 1), None)
        .await
        .unwrap();
    let names =
        |page: Vec<ModelVersion>| -> Vec<String> { page.into_iter().map(|m| m.name).collect() };
    assert_eq!(
        names(reg.list_models(&tenant(), None, 2).await.unwrap()),
        ["a", "a-1"]
    );
    assert_eq!(
        names(reg.list_models(&tenant(), Some("a"), 2).await.unwrap()),
        ["a-1", "b"]
    );
    assert_eq!(
        names(reg.list_models(&tenant(), Some("a-1"), 5).await.unwrap()),
        ["b"]
    );
    assert!(reg
        .list_models(&tenant(), Some("b"), 5)
        .await
        .unwrap()
        .is_empty());
    assert!(reg.versions(&tenant(), "zzz").await.unwrap().is_empty());
}

/// A contract case (its name says the rule).
pub async fn when_jobs_listed_should_page_newest_first(b: &dyn Backend) {
    let jobs = b.jobs();
    for i in 0..5u64 {
        jobs.put_job(&job(&format!("j{i}"), "m", 1000 + i))
            .await
            .unwrap();
    }
    jobs.put_job(&job("other", "n", 5000)).await.unwrap();
    let first = jobs.jobs_for_model(&tenant(), "m", 2, None).await.unwrap();
    assert_eq!(ids(&first.jobs), ["j4", "j3"]);
    let second = jobs
        .jobs_for_model(&tenant(), "m", 2, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(ids(&second.jobs), ["j2", "j1"]);
    let last = jobs
        .jobs_for_model(&tenant(), "m", 2, second.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(ids(&last.jobs), ["j0"]);
    assert!(last.next_cursor.is_none());
    // A page that ends exactly at the last job has no cursor either.
    let all = jobs.jobs_for_model(&tenant(), "m", 5, None).await.unwrap();
    assert_eq!(all.jobs.len(), 5);
    assert!(all.next_cursor.is_none());
    assert_eq!(
        jobs.get_job(&tenant(), "j3").await.unwrap().unwrap(),
        job("j3", "m", 1003)
    );
    assert!(jobs.get_job(&tenant(), "nope").await.unwrap().is_none());
    assert!(jobs
        .jobs_for_model(&tenant(), "unknown", 10, None)
        .await
        .unwrap()
        .jobs
        .is_empty());
}

/// A contract case (its name says the rule).
pub async fn when_cursor_forged_should_be_invalid(b: &dyn Backend) {
    let jobs = b.jobs();
    jobs.put_job(&job("j0", "m", 1000)).await.unwrap();
    for bad in [
        "",
        "not a cursor",
        "zz",
        "00",
        "%%%",
        "0000000000000000000z#x",
    ] {
        let err = jobs
            .jobs_for_model(&tenant(), "m", 2, Some(bad))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
}

/// A contract case (its name says the rule).
pub async fn when_many_jobs_put_in_one_batch_should_store_all_and_last_of_an_id_wins(
    b: &dyn Backend,
) {
    let jobs = b.jobs();
    let mut batch: Vec<Job> = (0..60u64)
        .map(|i| job(&format!("b{i:02}"), "bulk", 10_000 + i))
        .collect();
    let mut replaced = job("b07", "bulk", 10_007);
    replaced.status = JobStatus::Failed;
    replaced.error = Some("replaced in the same batch".into());
    batch.push(replaced.clone());
    jobs.put_jobs(&batch).await.unwrap();
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = jobs
            .jobs_for_model(&tenant(), "bulk", 25, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);
    assert_eq!(
        jobs.get_job(&tenant(), "b07").await.unwrap(),
        Some(replaced)
    );
    assert_eq!(
        jobs.get_job(&tenant(), "b59").await.unwrap(),
        Some(job("b59", "bulk", 10_059))
    );
    jobs.put_jobs(&[]).await.unwrap();
}

/// A contract case (its name says the rule).
pub async fn when_n_trains_of_one_model_run_concurrently_should_get_distinct_versions(
    b: &dyn Backend,
) {
    const N: usize = 6;
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let train = b.train();
            tokio::spawn(async move {
                let request: TrainRequest = serde_json::from_value(serde_json::json!({
                    "name": "shared", "algorithm": "hbos", "data": small_data(40)
                }))
                .unwrap();
                train.train(&tenant(), request).await.unwrap().version
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), N, "versions repeated: {versions:?}");
    let registry = b.registry();
    assert_eq!(
        registry.latest(&tenant(), "shared").await.unwrap(),
        versions.last().copied()
    );
    let registered = registry.versions(&tenant(), "shared").await.unwrap();
    let registered_numbers: Vec<u32> = registered.iter().map(|v| v.version).collect();
    assert_eq!(registered_numbers, versions);
    // Every registered version's artifact is stored and passes its SHA-256 check.
    let objects = b.objects();
    for v in &registered {
        let stored = objects
            .get(&v.s3_key)
            .await
            .unwrap()
            .expect("artifact stored");
        assert_eq!(stored.meta.sha256, sha256_hex(&stored.bytes));
    }
}

/// A contract case (its name says the rule): one model name in two tenants is two models, and
/// no read of one tenant returns anything of the other.
pub async fn when_two_tenants_use_one_name_should_never_see_each_other(b: &dyn Backend) {
    let (a, other) = (tenant(), other_tenant());
    let reg = b.registry();
    reg.register_version(&item_of(&a, "m", 1), None)
        .await
        .unwrap();
    reg.register_version(&item_of(&a, "m", 2), Some(1))
        .await
        .unwrap();
    // The other tenant's first version: its LATEST is its own, not a's 2.
    reg.register_version(&item_of(&other, "m", 1), None)
        .await
        .unwrap();
    assert_eq!(reg.latest(&a, "m").await.unwrap(), Some(2));
    assert_eq!(reg.latest(&other, "m").await.unwrap(), Some(1));
    assert_eq!(reg.version(&other, "m", 2).await.unwrap(), None);
    assert_eq!(
        reg.versions(&other, "m").await.unwrap(),
        vec![item_of(&other, "m", 1)]
    );
    assert_eq!(
        reg.list_models(&a, None, 1000).await.unwrap(),
        vec![item_of(&a, "m", 2)]
    );
    assert_eq!(
        reg.list_models(&other, None, 1000).await.unwrap(),
        vec![item_of(&other, "m", 1)]
    );
    let nobody = Tenant::parse("acme-2").unwrap();
    assert!(reg
        .list_models(&nobody, None, 1000)
        .await
        .unwrap()
        .is_empty());
    let all = reg.list_all_models().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let jobs = b.jobs();
    jobs.put_job(&job_of(&a, "j1", "m", 1000)).await.unwrap();
    jobs.put_job(&job_of(&other, "j2", "m", 2000))
        .await
        .unwrap();
    assert!(jobs.get_job(&other, "j1").await.unwrap().is_none());
    assert!(jobs.get_job(&a, "j1").await.unwrap().is_some());
    assert_eq!(
        ids(&jobs.jobs_for_model(&a, "m", 10, None).await.unwrap().jobs),
        ["j1"]
    );
    assert_eq!(
        ids(&jobs
            .jobs_for_model(&other, "m", 10, None)
            .await
            .unwrap()
            .jobs),
        ["j2"]
    );
    let scanned = b.stores().scan.all_jobs().await.unwrap();
    assert_eq!(scanned.len(), 2);
}

/// A contract case (its name says the rule).
pub async fn when_keys_issued_should_be_read_listed_revoked_and_touched_within_their_tenant(
    b: &dyn Backend,
) {
    let (a, other) = (tenant(), other_tenant());
    let keys = b.keys();
    let first = NewKey::generate(&a, "ci", parse_scopes("read detect"), 1_000);
    keys.put_key_if_absent(&first.key).await.unwrap();
    let err = keys.put_key_if_absent(&first.key).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let second = NewKey::generate(&a, "admin", parse_scopes("admin"), 2_000);
    keys.put_key_if_absent(&second.key).await.unwrap();
    assert_eq!(
        keys.get_key(&a, &first.key.id).await.unwrap(),
        Some(first.key.clone())
    );
    assert_eq!(keys.get_key(&other, &first.key.id).await.unwrap(), None);
    let mut listed: Vec<String> = keys
        .list_keys(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    listed.sort();
    let mut expected = vec![first.key.id.clone(), second.key.id.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    assert!(keys.list_keys(&other).await.unwrap().is_empty());
    let elsewhere = NewKey::generate(&other, "ops", parse_scopes("read"), 3_000);
    keys.put_key_if_absent(&elsewhere.key).await.unwrap();
    let all: Vec<(Tenant, String)> = keys
        .all_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.tenant, k.id))
        .collect();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.contains(&(other.clone(), elsewhere.key.id.clone())));
    keys.touch_key(&a, &first.key.id, 5_000).await.unwrap();
    keys.touch_key(&other, &first.key.id, 5_000).await.unwrap();
    assert!(
        keys.get_key(&other, &first.key.id).await.unwrap().is_none(),
        "touch created a key"
    );
    assert!(!keys.revoke_key(&other, &first.key.id, 6_000).await.unwrap());
    assert!(keys.revoke_key(&a, &first.key.id, 6_000).await.unwrap());
    assert!(keys.revoke_key(&a, &first.key.id, 7_000).await.unwrap());
    let stored = keys.get_key(&a, &first.key.id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(5_000));
    assert_eq!(
        stored.revoked_at,
        Some(6_000),
        "a second revoke moved the time"
    );
    assert_eq!(stored.secret_sha256, first.key.secret_sha256);
    assert!(!keys
        .revoke_key(&a, "0123456789abcdef", 8_000)
        .await
        .unwrap());
}

/// A contract case (its name says the rule): versions, `LATEST` and jobs written before tenancy
/// become the default tenant's, the old items are gone, and a second run changes nothing.
pub async fn when_items_predate_tenancy_should_move_to_the_default_tenant_once(b: &dyn Backend) {
    let default = Tenant::default();
    let old = |v: u32| {
        let mut item = item_of(&default, "old", v);
        item.s3_key = format!("models/old/v{v:06}/model.nmly");
        item
    };
    b.plant_legacy(LegacyItem::Version(old(1))).await;
    b.plant_legacy(LegacyItem::Version(old(2))).await;
    b.plant_legacy(LegacyItem::Latest(old(2))).await;
    b.plant_legacy(LegacyItem::Job(job_of(&default, "j-old", "old", 1_000)))
        .await;
    let reg = b.registry();
    assert_eq!(
        reg.latest(&default, "old").await.unwrap(),
        None,
        "legacy items read as tenant items"
    );
    assert!(reg.list_all_models().await.unwrap().is_empty());
    let upgrade = UpgradeWorkflow::new(&b.stores());
    let report = upgrade.run().await.unwrap();
    assert_eq!(
        (report.models, report.versions, report.jobs),
        (1, 2, 1),
        "{report:?}"
    );
    assert_eq!(reg.latest(&default, "old").await.unwrap(), Some(2));
    assert_eq!(
        reg.versions(&default, "old").await.unwrap(),
        vec![old(1), old(2)]
    );
    assert_eq!(
        reg.list_models(&default, None, 1000).await.unwrap(),
        vec![old(2)]
    );
    let jobs = b.jobs();
    assert_eq!(
        jobs.get_job(&default, "j-old").await.unwrap(),
        Some(job_of(&default, "j-old", "old", 1_000))
    );
    assert_eq!(
        ids(&jobs
            .jobs_for_model(&default, "old", 10, None)
            .await
            .unwrap()
            .jobs),
        ["j-old"]
    );
    let legacy = b.stores().legacy;
    assert!(legacy.legacy_versions().await.unwrap().is_empty());
    assert!(legacy.legacy_latest().await.unwrap().is_empty());
    assert!(legacy.legacy_jobs().await.unwrap().is_empty());
    let again = upgrade.run().await.unwrap();
    assert_eq!(again.status, "nothing_to_do");
    assert_eq!(reg.latest(&default, "old").await.unwrap(), Some(2));
}

/// A contract case (its name says the rule): a running job under a live lease is neither listed
/// as expired nor taken over; once the lease ends it is listed (every tenant's, oldest first),
/// exactly one of two takers wins, and a finished job is never taken over nor listed.
pub async fn when_a_lease_expires_should_be_found_and_taken_over_once(b: &dyn Backend) {
    let jobs = b.jobs();
    let scan = b.stores().scan;
    let running = |tenant: &Tenant, id: &str, lease: u64| Job {
        status: JobStatus::Running,
        lease_expires_at: Some(lease),
        ..job_of(tenant, id, "m", 1_000)
    };
    jobs.put_job(&running(&tenant(), "live", 50_000))
        .await
        .unwrap();
    jobs.put_job(&running(&other_tenant(), "dead", 9_000))
        .await
        .unwrap();
    jobs.put_job(&running(&tenant(), "older", 8_000))
        .await
        .unwrap();
    jobs.put_job(&job_of(&tenant(), "done", "m", 1_000))
        .await
        .unwrap();
    let expired = scan.expired_leases(10_000, 100).await.unwrap();
    assert_eq!(ids(&expired), ["older", "dead"], "{expired:?}");
    assert_eq!(expired[1].tenant, other_tenant());
    let taker = running(&other_tenant(), "dead", 99_000);
    let live = running(&tenant(), "live", 99_000);
    assert!(matches!(
        jobs.take_over_job(&live, 10_000).await,
        Err(StoreError::Conflict(_))
    ));
    jobs.take_over_job(&taker, 10_000).await.unwrap();
    assert!(
        matches!(
            jobs.take_over_job(&taker, 10_000).await,
            Err(StoreError::Conflict(_))
        ),
        "a second taker won too"
    );
    let finished = job_of(&tenant(), "done", "m", 1_000);
    assert!(matches!(
        jobs.take_over_job(&finished, 10_000).await,
        Err(StoreError::Conflict(_))
    ));
    let missing = running(&tenant(), "missing", 1);
    assert!(matches!(
        jobs.take_over_job(&missing, 10_000).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        jobs.get_job(&other_tenant(), "dead").await.unwrap(),
        Some(taker)
    );
    let failed = Job {
        status: JobStatus::Failed,
        lease_expires_at: None,
        progress: None,
        ..running(&tenant(), "older", 8_000)
    };
    jobs.take_over_job(&failed, 10_000).await.unwrap();
    assert!(scan.expired_leases(10_000, 100).await.unwrap().is_empty());
    assert_eq!(
        ids(&scan.expired_leases(100_000, 1).await.unwrap()).len(),
        1
    );
}

/// A contract case (its name says the rule): a range is counted in its job's progress once however
/// often (and however concurrently) it is reported, never in a job without progress or a missing
/// one; a `pending` job is taken over whatever its deadline, and found by the sweep once its
/// deadline passed.
pub async fn when_a_split_job_counts_ranges_should_count_each_once_and_pending_jobs_be_taken_over(
    b: &dyn Backend,
) {
    let jobs = b.jobs();
    let split = Job {
        status: JobStatus::Running,
        lease_expires_at: Some(u64::MAX / 2),
        progress: Some(application::domain::JobProgress {
            ranges: 3,
            ..Default::default()
        }),
        ..job_of(&tenant(), "split", "m", 1_000)
    };
    jobs.put_job(&split).await.unwrap();
    assert!(jobs.record_range(&tenant(), "split", 0, 10).await.unwrap());
    assert!(!jobs.record_range(&tenant(), "split", 0, 10).await.unwrap());
    let acme = tenant();
    let racers = (0..8).map(|_| jobs.record_range(&acme, "split", 1, 5));
    let won = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1, "one of the concurrent reports counted");
    let progress = jobs
        .get_job(&tenant(), "split")
        .await
        .unwrap()
        .unwrap()
        .progress
        .unwrap();
    assert_eq!(
        (progress.ranges, progress.ranges_done, progress.rows_done),
        (3, 2, 15)
    );
    assert!(!jobs
        .record_range(&other_tenant(), "split", 2, 1)
        .await
        .unwrap());
    jobs.put_job(&job_of(&tenant(), "plain", "m", 1_000))
        .await
        .unwrap();
    assert!(!jobs.record_range(&tenant(), "plain", 0, 1).await.unwrap());
    assert!(!jobs.record_range(&tenant(), "missing", 0, 1).await.unwrap());

    let pending = |id: &str, deadline: u64| Job {
        status: JobStatus::Pending,
        lease_expires_at: Some(deadline),
        ..job_of(&tenant(), id, "m", 1_000)
    };
    jobs.put_job(&pending("waiting", 9_000)).await.unwrap();
    jobs.put_job(&pending("arriving", 90_000)).await.unwrap();
    let overdue = b.stores().scan.expired_leases(10_000, 100).await.unwrap();
    assert_eq!(ids(&overdue), ["waiting"], "{overdue:?}");
    let started = Job {
        status: JobStatus::Running,
        ..pending("arriving", 99_000)
    };
    jobs.take_over_job(&started, 10_000).await.unwrap();
    assert!(matches!(
        jobs.take_over_job(&started, 10_000).await,
        Err(StoreError::Conflict(_))
    ));
}

/// A contract case (its name says the rule): the first `begin` of a key writes its record, a
/// second gets that record back and writes nothing, a completed answer is read back, a released
/// key begins afresh, a lapsed in-progress record is replaced, and tenants never share records.
pub async fn when_an_idempotency_key_is_begun_should_hold_it_until_released_or_lapsed(
    b: &dyn Backend,
) {
    let store = b.stores().idempotency;
    let record = |tenant: &Tenant, payload: &str| IdempotencyRecord {
        tenant: tenant.clone(),
        key: "k".repeat(64),
        payload_sha256: payload.into(),
        status: IdempotencyStatus::InProgress,
        answer: None,
        in_progress_until: 60_000,
        expires_at: 1_000,
    };
    let first = record(&tenant(), "p1");
    assert_eq!(store.begin_idempotent(&first, 1_000).await.unwrap(), None);
    assert_eq!(
        store
            .begin_idempotent(&record(&tenant(), "p2"), 2_000)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .begin_idempotent(&record(&other_tenant(), "p3"), 2_000)
            .await
            .unwrap(),
        None,
        "another tenant's key collided"
    );
    let done = IdempotencyRecord {
        status: IdempotencyStatus::Completed,
        answer: Some(AnswerRecord {
            status: 201,
            body: "{\"version\":1}".into(),
        }),
        ..first.clone()
    };
    store.complete_idempotent(&done).await.unwrap();
    assert_eq!(
        store.begin_idempotent(&first, 70_000).await.unwrap(),
        Some(done.clone()),
        "a completed answer lapsed with the in-progress time"
    );
    store
        .release_idempotent(&tenant(), &first.key)
        .await
        .unwrap();
    assert_eq!(store.begin_idempotent(&first, 3_000).await.unwrap(), None);
    let retry = record(&tenant(), "p1");
    assert_eq!(
        store.begin_idempotent(&retry, 60_000).await.unwrap(),
        None,
        "a lapsed in-progress record still blocked"
    );
    assert_eq!(
        store.begin_idempotent(&retry, 60_001).await.unwrap(),
        None,
        "an in-progress record lapsed at 60 000 still blocked"
    );
    let expired = IdempotencyRecord {
        expires_at: 1,
        ..done
    };
    store.complete_idempotent(&expired).await.unwrap();
    assert_eq!(store.begin_idempotent(&first, 5_000).await.unwrap(), None);
}

/// Milliseconds since the Unix epoch now: alert states expire by the store's clock.
fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The alert key of `model` and `entity`.
fn alert_key(model: &str, entity: &str) -> AlertKey {
    AlertKey {
        model: model.into(),
        entity: entity.into(),
    }
}

/// A live alert state at `revision` remembering `records`, the last one pending (expiring in an
/// hour).
fn alert_state(revision: u64, records: &[&str]) -> AlertState {
    AlertState {
        last_published_ms: Some(now_ms() - 5_000),
        suppressed: revision * 3,
        recent: records.iter().map(|r| (*r).to_owned()).collect(),
        pending: records.last().map(|r| PendingAlert {
            record_id: (*r).to_owned(),
            suppressed: revision,
        }),
        revision,
        expires_at_ms: now_ms() + 3_600_000,
    }
}

/// A contract case (its name says the rule): every field survives, including none published yet
/// and no records remembered.
pub async fn when_an_alert_state_is_written_should_read_back_equal(b: &dyn Backend) {
    let ledger = b.stores().ledger;
    let key = alert_key("payments", "card-1");
    assert_eq!(ledger.alert_state(&tenant(), &key).await.unwrap(), None);
    let first = alert_state(1, &["r-1", "r-2"]);
    assert!(ledger
        .put_alert_state(&tenant(), &key, &first)
        .await
        .unwrap());
    assert_eq!(
        ledger.alert_state(&tenant(), &key).await.unwrap(),
        Some(first)
    );
    let second = AlertState {
        last_published_ms: None,
        suppressed: 0,
        recent: Vec::new(),
        pending: None,
        ..alert_state(2, &[])
    };
    assert!(ledger
        .put_alert_state(&tenant(), &key, &second)
        .await
        .unwrap());
    assert_eq!(
        ledger.alert_state(&tenant(), &key).await.unwrap(),
        Some(second)
    );
}

/// A contract case (its name says the rule): a write whose revision is not one above the stored
/// one (behind, equal, ahead, or a first write over a live state) is refused with `false`, and
/// the stored state stays as it was.
pub async fn when_an_alert_state_revision_is_stale_should_refuse_and_keep_the_state(
    b: &dyn Backend,
) {
    let ledger = b.stores().ledger;
    let key = alert_key("payments", "");
    assert!(ledger
        .put_alert_state(&tenant(), &key, &alert_state(1, &["a"]))
        .await
        .unwrap());
    let stored = alert_state(2, &["a", "b"]);
    assert!(ledger
        .put_alert_state(&tenant(), &key, &stored)
        .await
        .unwrap());
    for (revision, what) in [
        (1, "a first write"),
        (2, "an equal revision"),
        (4, "a skipped revision"),
    ] {
        assert!(
            !ledger
                .put_alert_state(&tenant(), &key, &alert_state(revision, &["stale"]))
                .await
                .unwrap(),
            "{what} was accepted"
        );
    }
    assert_eq!(
        ledger.alert_state(&tenant(), &key).await.unwrap(),
        Some(stored)
    );
}

/// A contract case (its name says the rule): concurrent first writes of one state (what two
/// invocations deciding the same entity do) let exactly one through, and that one is stored.
pub async fn when_8_writers_race_for_a_first_alert_state_should_let_exactly_one_win(
    b: &dyn Backend,
) {
    let key = alert_key("payments", "card-9");
    let tasks: Vec<_> = (0..8)
        .map(|writer| {
            let ledger = b.stores().ledger;
            let key = key.clone();
            tokio::spawn(async move {
                let state = alert_state(1, &[&format!("writer-{writer}")]);
                let won = ledger
                    .put_alert_state(&tenant(), &key, &state)
                    .await
                    .unwrap();
                (won, state)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, state) = task.await.unwrap();
        if won {
            winners.push(state);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        b.stores()
            .ledger
            .alert_state(&tenant(), &key)
            .await
            .unwrap(),
        winners.pop()
    );
}

/// A contract case (its name says the rule): one state per (tenant, model, entity); a write to
/// one never shows in, or is refused because of, another.
pub async fn when_alert_states_differ_by_tenant_model_or_entity_should_never_see_each_other(
    b: &dyn Backend,
) {
    let ledger = b.stores().ledger;
    let places = [
        (tenant(), alert_key("m", "e")),
        (other_tenant(), alert_key("m", "e")),
        (tenant(), alert_key("m2", "e")),
        (tenant(), alert_key("m", "e2")),
        (tenant(), alert_key("m", "")),
    ];
    for (i, (tenant, key)) in places.iter().enumerate() {
        let state = alert_state(1, &[&format!("record-{i}")]);
        assert!(
            ledger.put_alert_state(tenant, key, &state).await.unwrap(),
            "the first write of {tenant} {key:?} was refused"
        );
    }
    for (i, (tenant, key)) in places.iter().enumerate() {
        let state = ledger.alert_state(tenant, key).await.unwrap().unwrap();
        assert_eq!(state.recent, [format!("record-{i}")], "{tenant} {key:?}");
    }
    let nobody = Tenant::parse("acme-2").unwrap();
    assert_eq!(
        ledger
            .alert_state(&nobody, &alert_key("m", "e"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        ledger
            .alert_state(&tenant(), &alert_key("m", "e3"))
            .await
            .unwrap(),
        None
    );
}

/// A contract case (its name says the rule): a state whose expiry passed reads as absent, so the
/// next decision starts from revision 0 and its first write replaces the expired state.
pub async fn when_an_alert_state_expired_should_read_as_none_and_be_written_afresh(
    b: &dyn Backend,
) {
    let ledger = b.stores().ledger;
    let key = alert_key("payments", "card-2");
    let expired = AlertState {
        expires_at_ms: now_ms() - 60_000,
        ..alert_state(1, &["old"])
    };
    assert!(ledger
        .put_alert_state(&tenant(), &key, &expired)
        .await
        .unwrap());
    assert_eq!(ledger.alert_state(&tenant(), &key).await.unwrap(), None);
    let fresh = alert_state(1, &["new"]);
    assert!(
        ledger
            .put_alert_state(&tenant(), &key, &fresh)
            .await
            .unwrap(),
        "a first write over an expired state was refused"
    );
    assert_eq!(
        ledger.alert_state(&tenant(), &key).await.unwrap(),
        Some(fresh)
    );
}

/// A series record of `name` at `sequence`, remembering `points` points.
fn series_record(name: &str, sequence: u64, points: u64) -> SeriesRecord {
    SeriesRecord {
        name: name.into(),
        params: SeriesParams {
            seasonality: Some(24),
            ..SeriesParams::default()
        },
        values: vec!["cpu".into(), "memory".into()],
        sequence,
        points_seen: points,
        last_timestamp: Some(1_700_000_000_000 + points as i64),
        state_key: format!("series/acme/{name}/{sequence:012}-w.state"),
        created_at_ms: 1,
        updated_at_ms: 2 + sequence,
        recent_anomalies: vec![SeriesAnomaly {
            timestamp: 1_700_000_000_000,
            values: vec![0.5, -2.25],
            score: 0.75,
            grade: 0.5,
            entity: Some("host-1".into()),
        }],
    }
}

/// A contract case (its name says the rule): a first record (sequence 1) and each next one
/// (one more than stored) are written and read back whole.
pub async fn when_a_series_record_is_written_should_read_back_equal_and_move_by_one_sequence(
    b: &dyn Backend,
) {
    let series = b.stores().series;
    assert_eq!(series.series(&tenant(), "cpu").await.unwrap(), None);
    for sequence in 1..=3 {
        let record = series_record("cpu", sequence, sequence * 10);
        assert!(series.put_series(&tenant(), &record).await.unwrap());
        assert_eq!(series.series(&tenant(), "cpu").await.unwrap(), Some(record));
    }
}

/// A contract case (its name says the rule): a write whose sequence is not one above the stored
/// one (a first write over a record, an equal or a skipped sequence) is refused with `false`,
/// and the stored record stays as it was.
pub async fn when_a_series_sequence_is_stale_should_refuse_and_keep_the_record(b: &dyn Backend) {
    let series = b.stores().series;
    for sequence in 1..=2 {
        assert!(series
            .put_series(&tenant(), &series_record("cpu", sequence, sequence))
            .await
            .unwrap());
    }
    for (sequence, what) in [
        (1, "a first write"),
        (2, "an equal sequence"),
        (4, "a skipped sequence"),
    ] {
        assert!(
            !series
                .put_series(&tenant(), &series_record("cpu", sequence, 99))
                .await
                .unwrap(),
            "{what} was accepted"
        );
    }
    assert_eq!(
        series.series(&tenant(), "cpu").await.unwrap(),
        Some(series_record("cpu", 2, 2))
    );
}

/// A contract case (its name says the rule): concurrent writers of the same next sequence (two
/// invocations appending to one series) let exactly one through, and that one is stored.
pub async fn when_8_writers_race_for_one_series_sequence_should_let_exactly_one_win(
    b: &dyn Backend,
) {
    assert!(b
        .stores()
        .series
        .put_series(&tenant(), &series_record("cpu", 1, 1))
        .await
        .unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|writer| {
            let series = b.stores().series;
            tokio::spawn(async move {
                let record = series_record("cpu", 2, 100 + writer);
                let won = series.put_series(&tenant(), &record).await.unwrap();
                (won, record)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, record) = task.await.unwrap();
        if won {
            winners.push(record);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        b.stores().series.series(&tenant(), "cpu").await.unwrap(),
        winners.pop()
    );
}

/// A contract case (its name says the rule): a tenant's series list by name in pages, the cursor
/// handing over exactly where the last page stopped, and never shows another tenant's series.
pub async fn when_series_are_listed_should_page_by_name_within_their_tenant(b: &dyn Backend) {
    let series = b.stores().series;
    let names = ["a", "b-1", "b_2", "c", "cpu", "z9"];
    for name in names.iter().rev() {
        assert!(series
            .put_series(&tenant(), &series_record(name, 1, 1))
            .await
            .unwrap());
    }
    assert!(series
        .put_series(&other_tenant(), &series_record("aa", 1, 1))
        .await
        .unwrap());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = series
            .list_series(&tenant(), 4, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.series.len() <= 4);
        seen.extend(page.series.into_iter().map(|record| record.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let other = series.list_series(&other_tenant(), 10, None).await.unwrap();
    assert_eq!(other.series.len(), 1);
    assert_eq!(series.series(&tenant(), "aa").await.unwrap(), None);
}

/// A contract case (its name says the rule): a scan of every tenant's series, page by page (a
/// backup), gives each record once, whole, with the tenant it belongs to, and nothing else of
/// the table; a forged cursor is refused.
pub async fn when_every_tenants_series_are_scanned_should_give_each_once_with_its_tenant(
    b: &dyn Backend,
) {
    let s = b.stores();
    assert!(s.series.all_series().await.unwrap().is_empty());
    let mut expected = Vec::new();
    for (tenant, name, sequence) in [
        (tenant(), "cpu", 3),
        (tenant(), "disk", 1),
        (other_tenant(), "cpu", 2),
        (other_tenant(), "a-1", 1),
        (Tenant::system(), "z_9", 1),
    ] {
        for n in 1..=sequence {
            assert!(s
                .series
                .put_series(&tenant, &series_record(name, n, n))
                .await
                .unwrap());
        }
        expected.push((tenant, series_record(name, sequence, sequence)));
    }
    // Other items of the same tenants are not series.
    s.registry
        .register_version(&item("cpu", 1), None)
        .await
        .unwrap();
    let key = NewKey::generate(&tenant(), "ci", parse_scopes("read"), 1).key;
    s.keys.put_key_if_absent(&key).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s.series.scan_series(cursor.as_deref(), 2).await.unwrap();
        assert!(page.series.len() <= 2, "{page:?}");
        seen.extend(page.series);
        pages += 1;
        assert!(pages < 100, "the scan does not end");
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    let by_key = |(t, r): &(Tenant, SeriesRecord)| (t.clone(), r.name.clone());
    seen.sort_by_key(by_key);
    expected.sort_by_key(by_key);
    assert_eq!(seen, expected);
    assert_eq!(s.series.all_series().await.unwrap(), expected);
    let forged = s.series.scan_series(Some("not a cursor"), 2).await;
    assert!(matches!(forged, Err(StoreError::Invalid(_))), "{forged:?}");
}

/// A contract case (its name says the rule): a restored record is written whatever its
/// sequence where its tenant has no series of its name, and appends go on from that sequence;
/// over an existing series (or the same name in its own tenant again) it writes nothing.
pub async fn when_a_series_is_restored_should_write_it_only_where_none_is(b: &dyn Backend) {
    let series = b.stores().series;
    let restored = series_record("cpu", 7, 70);
    assert!(series.restore_series(&tenant(), &restored).await.unwrap());
    assert_eq!(
        series.series(&tenant(), "cpu").await.unwrap(),
        Some(restored.clone())
    );
    // Over an existing series, whatever the sequence: nothing.
    for sequence in [1, 7, 8, 9] {
        assert!(
            !series
                .restore_series(&tenant(), &series_record("cpu", sequence, 99))
                .await
                .unwrap(),
            "sequence {sequence} was written over the series"
        );
    }
    assert_eq!(
        series.series(&tenant(), "cpu").await.unwrap(),
        Some(restored)
    );
    // Appends go on from the restored sequence.
    assert!(!series
        .put_series(&tenant(), &series_record("cpu", 7, 1))
        .await
        .unwrap());
    assert!(series
        .put_series(&tenant(), &series_record("cpu", 8, 80))
        .await
        .unwrap());
    // The same name in another tenant is another series.
    assert!(series
        .restore_series(&other_tenant(), &series_record("cpu", 3, 3))
        .await
        .unwrap());
    assert_eq!(
        series.series(&tenant(), "cpu").await.unwrap(),
        Some(series_record("cpu", 8, 80))
    );
}

/// Labelled row `n` (values `n` and `-n`, features `amount` and `hour`) with `verdict`, its id
/// the row's own.
fn row_label(n: u32, verdict: Verdict) -> RowLabel {
    let features = vec!["amount".to_string(), "hour".to_string()];
    let values = vec![f64::from(n), -f64::from(n) / 3.0];
    RowLabel {
        id: row_id(&features, &values),
        features,
        values,
        label: verdict,
        job: n.is_multiple_of(2).then(|| format!("job-{n}")),
        row: n.is_multiple_of(2).then_some(u64::from(n)),
        created_at: 1_700_000_000_000 + u64::from(n),
    }
}

/// Labelled rows `range`, anomalies and normal rows alternating.
fn row_labels(range: std::ops::Range<u32>) -> Vec<RowLabel> {
    range
        .map(|n| {
            let verdict = if n.is_multiple_of(2) {
                Verdict::Anomaly
            } else {
                Verdict::Normal
            };
            row_label(n, verdict)
        })
        .collect()
}

/// `labels` by id, as the store lists them.
fn by_id(mut labels: Vec<RowLabel>) -> Vec<RowLabel> {
    labels.sort_by(|a, b| a.id.cmp(&b.id));
    labels
}

/// A contract case (its name says the rule): a model's labels are read back whole, by id, in
/// their own tenant and model only: never by another tenant (even for a model of the same name)
/// nor by another model of the same tenant.
pub async fn when_labels_are_written_should_be_invisible_to_other_tenants_and_models(
    b: &dyn Backend,
) {
    let labels = b.stores().labels;
    let mine = row_labels(0..5);
    labels
        .put_labels(&tenant(), "payments", &mine)
        .await
        .unwrap();
    let theirs = row_labels(3..6);
    labels
        .put_labels(&other_tenant(), "payments", &theirs)
        .await
        .unwrap();
    let other_model = row_labels(0..2);
    labels
        .put_labels(&tenant(), "fraud", &other_model)
        .await
        .unwrap();
    assert_eq!(
        labels
            .model_labels(&tenant(), "payments", 100)
            .await
            .unwrap(),
        by_id(mine)
    );
    assert_eq!(
        labels
            .model_labels(&other_tenant(), "payments", 100)
            .await
            .unwrap(),
        by_id(theirs)
    );
    assert_eq!(
        labels.model_labels(&tenant(), "fraud", 100).await.unwrap(),
        by_id(other_model)
    );
    // A model without labels, and a tenant without any, list nothing.
    for (tenant, model) in [(tenant(), "pay"), (Tenant::system(), "payments")] {
        let page = labels.list_labels(&tenant, model, 10, None).await.unwrap();
        assert!(
            page.labels.is_empty() && page.next_cursor.is_none(),
            "{page:?}"
        );
    }
}

/// A contract case (its name says the rule): labelling a row again (same id) replaces its label:
/// one label is left, with the newest verdict, whether written in a later call or twice in one.
pub async fn when_a_label_is_written_again_should_replace_it_with_the_newest_verdict(
    b: &dyn Backend,
) {
    let labels = b.stores().labels;
    let first = row_label(7, Verdict::Anomaly);
    labels
        .put_labels(&tenant(), "payments", std::slice::from_ref(&first))
        .await
        .unwrap();
    let newer = RowLabel {
        label: Verdict::Normal,
        job: None,
        row: None,
        created_at: first.created_at + 1,
        ..first.clone()
    };
    labels
        .put_labels(&tenant(), "payments", std::slice::from_ref(&newer))
        .await
        .unwrap();
    assert_eq!(
        labels
            .model_labels(&tenant(), "payments", 100)
            .await
            .unwrap(),
        vec![newer.clone()]
    );
    // Twice in one write: the last one wins, as in two writes.
    let newest = RowLabel {
        label: Verdict::Anomaly,
        created_at: newer.created_at + 1,
        ..newer.clone()
    };
    labels
        .put_labels(&tenant(), "payments", &[newer, newest.clone()])
        .await
        .unwrap();
    assert_eq!(
        labels
            .model_labels(&tenant(), "payments", 100)
            .await
            .unwrap(),
        vec![newest]
    );
}

/// A contract case (its name says the rule): a model's labels, written in several full writes,
/// page by id with the cursor handing over exactly where the last page stopped: every label once,
/// in id order, the last page without a cursor; `model_labels` stops at its `max`.
pub async fn when_labels_are_paged_should_give_each_once_in_id_order(b: &dyn Backend) {
    let labels = b.stores().labels;
    let all = row_labels(0..(MAX_LABELS_PER_WRITE as u32 + 37));
    for chunk in all.chunks(MAX_LABELS_PER_WRITE) {
        labels
            .put_labels(&tenant(), "payments", chunk)
            .await
            .unwrap();
    }
    let expected = by_id(all);
    for limit in [1, 7, 50, 1000] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = labels
                .list_labels(&tenant(), "payments", limit, cursor.as_deref())
                .await
                .unwrap();
            assert!(page.labels.len() <= limit);
            seen.extend(page.labels);
            pages += 1;
            assert!(pages <= expected.len() + 1, "the listing does not end");
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
    let first = labels
        .model_labels(&tenant(), "payments", 10)
        .await
        .unwrap();
    assert_eq!(first, expected[..10].to_vec());
}

/// A contract case (its name says the rule): a scan of every tenant's labels, page by page (a
/// backup), gives each label once, whole, with the tenant and model it belongs to, and nothing
/// else of the table; a forged cursor is refused.
pub async fn when_every_tenants_labels_are_scanned_should_give_each_once_with_its_tenant_and_model(
    b: &dyn Backend,
) {
    let s = b.stores();
    assert!(s.labels.all_labels().await.unwrap().is_empty());
    let mut expected = Vec::new();
    for (tenant, model, range) in [
        (tenant(), "payments", 0..3),
        (tenant(), "fraud", 2..4),
        (other_tenant(), "payments", 0..2),
        (Tenant::system(), "a-1_b", 5..6),
    ] {
        let labels = row_labels(range);
        s.labels.put_labels(&tenant, model, &labels).await.unwrap();
        expected.extend(labels.into_iter().map(|label| OwnedLabel {
            tenant: tenant.clone(),
            model: model.to_owned(),
            label,
        }));
    }
    // Other items of the same tenants are not labels.
    s.registry
        .register_version(&item("payments", 1), None)
        .await
        .unwrap();
    assert!(s
        .series
        .put_series(&tenant(), &series_record("payments", 1, 1))
        .await
        .unwrap());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s.labels.scan_labels(cursor.as_deref(), 2).await.unwrap();
        assert!(page.labels.len() <= 2, "{page:?}");
        seen.extend(page.labels);
        pages += 1;
        assert!(pages < 100, "the scan does not end");
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages >= 4, "{pages} pages");
    let order = |a: &OwnedLabel, b: &OwnedLabel| {
        (&a.tenant, &a.model, &a.label.id).cmp(&(&b.tenant, &b.model, &b.label.id))
    };
    seen.sort_by(order);
    expected.sort_by(order);
    assert_eq!(seen, expected);
    assert_eq!(s.labels.all_labels().await.unwrap(), expected);
    let forged = s.labels.scan_labels(Some("not a cursor"), 2).await;
    assert!(matches!(forged, Err(StoreError::Invalid(_))), "{forged:?}");
}

/// A contract case (its name says the rule): a write the store could not key or read back (more
/// than [`MAX_LABELS_PER_WRITE`] labels, an id that could not end a key, values that are not
/// finite or not one per feature, a model name that is not one) is refused whole: nothing of it
/// is written.
pub async fn when_a_label_cannot_be_kept_or_read_back_should_be_refused(b: &dyn Backend) {
    let labels = b.stores().labels;
    let good = row_label(1, Verdict::Anomaly);
    let mut not_finite = row_label(2, Verdict::Anomaly);
    not_finite.values[1] = f64::NAN;
    let mut unpaired = row_label(3, Verdict::Normal);
    unpaired.values.pop();
    let bad_ids = ["", "a#b", "a\nb"].map(|id| RowLabel {
        id: id.to_owned(),
        ..row_label(4, Verdict::Normal)
    });
    let long_id = RowLabel {
        id: "a".repeat(65),
        ..row_label(5, Verdict::Normal)
    };
    for bad in [not_finite, unpaired, long_id].into_iter().chain(bad_ids) {
        let e = labels
            .put_labels(&tenant(), "payments", &[good.clone(), bad.clone()])
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{bad:?}: {e:?}");
    }
    let too_many = row_labels(0..(MAX_LABELS_PER_WRITE as u32 + 1));
    let e = labels
        .put_labels(&tenant(), "payments", &too_many)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let e = labels
        .put_labels(&tenant(), "../x", std::slice::from_ref(&good))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    assert!(labels.all_labels().await.unwrap().is_empty());
}
