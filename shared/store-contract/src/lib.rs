//! The store contract every adapter passes: each case is one async function over the ports of a
//! [`Backend`], and [`contract_suite!`] turns the whole list into one `#[tokio::test]` per case in
//! the adapter's own test crate (`store-local`: directory + SQLite; `store-aws`: S3 + DynamoDB on
//! a moto server). Cases: conditional puts write nothing on conflict, `LATEST` never goes
//! backwards, concurrent trainers get distinct versions, job paging newest first with cursors,
//! batch job writes, corrupted objects detected by SHA-256.
//!
//! Test code: a broken contract fails with a panic naming what differed.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::collections::BTreeSet;
use std::sync::Arc;

use application::checksum::sha256_hex;
use application::domain::{
    Job, JobCounts, JobKind, JobStatus, JobTimings, ModelVersion, TrainingStats,
};
use application::ports::{JobStore, ModelRegistry, ObjectMeta, ObjectStore, StoreError};
use application::workflows::train::{TrainRequest, TrainWorkflow};
use async_trait::async_trait;
use detection::Limits;
use serde_json::{json, Value};

/// An adapter under test: its ports, and a way to damage a stored object behind its back.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The object store.
    fn objects(&self) -> Arc<dyn ObjectStore>;

    /// The model registry.
    fn registry(&self) -> Arc<dyn ModelRegistry>;

    /// The job table.
    fn jobs(&self) -> Arc<dyn JobStore>;

    /// Replaces the bytes stored at `key` behind the adapter's back, keeping the metadata (and
    /// so the SHA-256) written with the original.
    async fn corrupt(&self, key: &str, bytes: &[u8], sha256: &str);

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
        $crate::contract_suite!(@cases $backend; when_object_exists_should_conflict_and_keep_original, when_object_absent_should_get_none, when_key_unsafe_should_be_refused, when_meta_does_not_describe_bytes_should_refuse_and_write_nothing, when_object_corrupted_should_be_detected_by_sha256, when_version_exists_should_conflict, when_latest_moved_should_conflict_and_write_nothing, when_older_version_registered_should_never_move_latest_backwards, when_models_listed_should_show_latest_of_each, when_jobs_listed_should_page_newest_first, when_cursor_forged_should_be_invalid, when_many_jobs_put_in_one_batch_should_store_all_and_last_of_an_id_wins, when_n_trains_of_one_model_run_concurrently_should_get_distinct_versions);
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

/// A version item of model `name` (its artifact is not stored).
pub fn item(name: &str, version: u32) -> ModelVersion {
    ModelVersion {
        name: name.into(),
        version,
        algorithm: "ecod".into(),
        features: vec!["b".into(), "a".into()],
        threshold: 1.5 + f64::from(version) / 3.0,
        s3_key: format!("models/{name}/v{version:06}/model.nmly"),
        sha256: "00".into(),
        size: 1,
        training: TrainingStats {
            rows: 10,
            calibration_rows: 10,
            duration_ms: 1,
        },
        created_at: 1_700_000_000_000 + u64::from(version),
        source: None,
    }
}

fn job(id: &str, model: &str, created_at: u64) -> Job {
    Job {
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
    assert_eq!(reg.version("m", 1).await.unwrap(), Some(item("m", 1)));
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
    assert_eq!(reg.version("m", 2).await.unwrap(), Some(item("m", 2)));
    assert_eq!(reg.latest("m").await.unwrap(), Some(2));
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
        reg.version("m", 3).await.unwrap().is_none(),
        "version written without LATEST"
    );
    assert_eq!(reg.latest("m").await.unwrap(), Some(2));
    // A trainer that believes the model is new.
    let err = reg.register_version(&item("m", 5), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(reg.version("m", 5).await.unwrap().is_none());
    assert_eq!(reg.latest("m").await.unwrap(), Some(2));
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
    assert_eq!(reg.latest("m").await.unwrap(), Some(5));
    let versions: Vec<u32> = reg
        .versions("m")
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
    assert!(reg.list_models().await.unwrap().is_empty());
    reg.register_version(&item("b", 1), None).await.unwrap();
    reg.register_version(&item("a", 1), None).await.unwrap();
    reg.register_version(&item("a", 2), Some(1)).await.unwrap();
    assert_eq!(
        reg.list_models().await.unwrap(),
        vec![item("a", 2), item("b", 1)]
    );
    assert_eq!(
        reg.versions("a").await.unwrap(),
        vec![item("a", 1), item("a", 2)]
    );
    assert_eq!(reg.latest("zzz").await.unwrap(), None);
    assert!(reg.versions("zzz").await.unwrap().is_empty());
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
    let first = jobs.jobs_for_model("m", 2, None).await.unwrap();
    assert_eq!(ids(&first.jobs), ["j4", "j3"]);
    let second = jobs
        .jobs_for_model("m", 2, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(ids(&second.jobs), ["j2", "j1"]);
    let last = jobs
        .jobs_for_model("m", 2, second.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(ids(&last.jobs), ["j0"]);
    assert!(last.next_cursor.is_none());
    // A page that ends exactly at the last job has no cursor either.
    let all = jobs.jobs_for_model("m", 5, None).await.unwrap();
    assert_eq!(all.jobs.len(), 5);
    assert!(all.next_cursor.is_none());
    assert_eq!(
        jobs.get_job("j3").await.unwrap().unwrap(),
        job("j3", "m", 1003)
    );
    assert!(jobs.get_job("nope").await.unwrap().is_none());
    assert!(jobs
        .jobs_for_model("unknown", 10, None)
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
        let err = jobs.jobs_for_model("m", 2, Some(bad)).await.unwrap_err();
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
            .jobs_for_model("bulk", 25, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);
    assert_eq!(jobs.get_job("b07").await.unwrap(), Some(replaced));
    assert_eq!(
        jobs.get_job("b59").await.unwrap(),
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
                train.train(request).await.unwrap().version
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
        registry.latest("shared").await.unwrap(),
        versions.last().copied()
    );
    let registered = registry.versions("shared").await.unwrap();
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
