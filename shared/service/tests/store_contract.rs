//! The local adapter's contract: conditional object puts, registry conflicts, `LATEST` never going
//! backwards, concurrent trainers getting distinct versions, job paging, persistence.

mod common;

use std::sync::Arc;

use common::{small_data, Env};
use service::local::{LocalObjectStore, LocalStores};
use service::ports::{
    Job, JobCounts, JobKind, JobStatus, JobStore, JobTimings, ModelRegistry, ModelVersion,
    ObjectMeta, ObjectStore, StoreError, TrainingStats,
};
use service::workflows::train::TrainRequest;

fn meta(sha: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        sha256: sha.into(),
        size,
        content_type: "application/octet-stream".into(),
    }
}

fn item(name: &str, version: u32) -> ModelVersion {
    ModelVersion {
        name: name.into(),
        version,
        algorithm: "ecod".into(),
        features: vec!["a".into()],
        threshold: 1.5,
        s3_key: format!("models/{name}/v{version:06}/model.nmly"),
        sha256: "00".into(),
        size: 1,
        training: TrainingStats {
            rows: 10,
            calibration_rows: 10,
            duration_ms: 1,
        },
        created_at: 1,
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
    }
}

#[tokio::test]
async fn when_object_exists_should_conflict_and_keep_original() {
    let env = Env::new();
    let objects = &env.stores.objects;
    objects
        .put_if_absent("models/m/v000001/model.nmly", b"first", &meta("a", 5))
        .await
        .unwrap();
    let err = objects
        .put_if_absent("models/m/v000001/model.nmly", b"second", &meta("b", 6))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let got = objects
        .get("models/m/v000001/model.nmly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.bytes, b"first");
    assert_eq!(got.meta, meta("a", 5));
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(env.data_dir().join("objects/models/m/v000001"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn when_object_absent_should_get_none() {
    let env = Env::new();
    assert!(env
        .stores
        .objects
        .get("models/x/v1")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn when_key_escapes_root_should_be_refused() {
    let env = Env::new();
    let store = LocalObjectStore::open(env.data_dir().join("o")).unwrap();
    for key in ["../x", "/etc/passwd", "a/../../b", "", "a/"] {
        let err = store
            .put_if_absent(key, b"x", &meta("a", 1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{key}: {err:?}");
    }
}

#[tokio::test]
async fn when_version_exists_should_conflict() {
    let env = Env::new();
    let reg = &env.stores.items;
    reg.register_version(&item("m", 1), None).await.unwrap();
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
    assert!(matches!(err, StoreError::Conflict(_)));
    assert_eq!(reg.version("m", 2).await.unwrap().unwrap().threshold, 1.5);
    assert_eq!(reg.latest("m").await.unwrap(), Some(2));
}

#[tokio::test]
async fn when_latest_moved_should_conflict_and_write_nothing() {
    let env = Env::new();
    let reg = &env.stores.items;
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
    assert!(matches!(err, StoreError::Conflict(_)));
    assert!(reg.version("m", 5).await.unwrap().is_none());
}

#[tokio::test]
async fn when_older_version_registered_should_never_move_latest_backwards() {
    let env = Env::new();
    let reg = &env.stores.items;
    reg.register_version(&item("m", 1), None).await.unwrap();
    reg.register_version(&item("m", 5), Some(1)).await.unwrap();
    let err = reg
        .register_version(&item("m", 3), Some(5))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
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

#[tokio::test]
async fn when_models_listed_should_show_latest_of_each() {
    let env = Env::new();
    let reg = &env.stores.items;
    assert!(reg.list_models().await.unwrap().is_empty());
    reg.register_version(&item("b", 1), None).await.unwrap();
    reg.register_version(&item("a", 1), None).await.unwrap();
    reg.register_version(&item("a", 2), Some(1)).await.unwrap();
    let listed: Vec<(String, u32)> = reg
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.version))
        .collect();
    assert_eq!(listed, vec![("a".into(), 2), ("b".into(), 1)]);
    assert_eq!(reg.latest("zzz").await.unwrap(), None);
    assert!(reg.versions("zzz").await.unwrap().is_empty());
}

#[tokio::test]
async fn when_jobs_listed_should_page_newest_first() {
    let env = Env::new();
    let jobs = &env.stores.items;
    for i in 0..5u64 {
        jobs.put_job(&job(&format!("j{i}"), "m", 1000 + i))
            .await
            .unwrap();
    }
    jobs.put_job(&job("other", "n", 5000)).await.unwrap();
    let first = jobs.jobs_for_model("m", 2, None).await.unwrap();
    let ids: Vec<&str> = first.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["j4", "j3"]);
    let second = jobs
        .jobs_for_model("m", 2, first.next_cursor.as_deref())
        .await
        .unwrap();
    let ids: Vec<&str> = second.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["j2", "j1"]);
    let last = jobs
        .jobs_for_model("m", 2, second.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(last.jobs.len(), 1);
    assert!(last.next_cursor.is_none());
    assert_eq!(
        jobs.get_job("j3").await.unwrap().unwrap(),
        job("j3", "m", 1003)
    );
    assert!(jobs.get_job("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn when_reopened_should_keep_items_and_objects() {
    let env = Env::new();
    env.stores
        .items
        .register_version(&item("m", 1), None)
        .await
        .unwrap();
    env.stores
        .objects
        .put_if_absent("k/x", b"abc", &meta("s", 3))
        .await
        .unwrap();
    let reopened = LocalStores::open(env.data_dir()).unwrap();
    assert_eq!(reopened.items.latest("m").await.unwrap(), Some(1));
    assert_eq!(
        reopened.objects.get("k/x").await.unwrap().unwrap().bytes,
        b"abc"
    );
}

#[test]
fn when_n_threads_train_one_model_concurrently_should_get_distinct_versions() {
    const N: usize = 6;
    let env = Arc::new(Env::new());
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let env = Arc::clone(&env);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let request: TrainRequest = serde_json::from_value(serde_json::json!({
                    "name": "shared", "algorithm": "hbos", "data": small_data(40)
                }))
                .unwrap();
                rt.block_on(env.train().train(request)).unwrap().version
            })
        })
        .collect();
    let mut versions: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), N, "versions repeated: {versions:?}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let latest = rt.block_on(env.stores.items.latest("shared")).unwrap();
    assert_eq!(latest, versions.last().copied());
    let registered = rt.block_on(env.stores.items.versions("shared")).unwrap();
    assert_eq!(registered.len(), N);
}
