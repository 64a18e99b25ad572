//! The AWS adapter when S3 or DynamoDB cannot be reached: every call fails fast with
//! `StoreError::Unavailable` (bounded by the SDK timeouts and retries), the workflows answer 503,
//! and a train never leaves a registered version without its artifact, nor an artifact when the
//! table is down before it starts.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::time::{Duration, Instant};

use application::domain::{Job, JobCounts, JobKind, JobStatus, JobTimings};
use application::ports::{ObjectMeta, StoreError};
use application::workflows::detect::DetectRequest;
use application::workflows::train::TrainRequest;
use application::ServiceError;
use fixtures::aws_env::{detect_over, train_over, AwsEnv};
use fixtures::tenant;
use store_contract::small_data;

/// Most time one call may take against a closed port (connection refused, three attempts with
/// jittered backoff of at most 100 ms then 200 ms).
const FAST: Duration = Duration::from_secs(3);

fn train_request(name: &str) -> TrainRequest {
    serde_json::from_value(serde_json::json!({
        "name": name, "algorithm": "hbos", "data": small_data(40)
    }))
    .unwrap()
}

fn detect_request(name: &str) -> DetectRequest {
    serde_json::from_value(serde_json::json!({
        "model": name, "data": {"columns": ["a", "b"], "rows": [[1.0, 2.0]]}
    }))
    .unwrap()
}

fn a_job() -> Job {
    Job {
        tenant: tenant(),
        id: "j".into(),
        kind: JobKind::Detect,
        status: JobStatus::Succeeded,
        model: Some("m".into()),
        version: Some(1),
        counts: JobCounts::default(),
        timings: JobTimings::default(),
        anomaly_rows: vec![],
        error: None,
        created_at: 1,
        expires_at: 2,
        source: None,
        results_key: None,
    }
}

/// Runs `call`, asserting it fails `Unavailable` within [`FAST`]; returns how long it took.
async fn unavailable_fast<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Duration {
    let started = Instant::now();
    let outcome = call.await;
    let took = started.elapsed();
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "{what}: {outcome:?}"
    );
    assert!(took < FAST, "{what} took {took:?}");
    println!("{what}: Unavailable after {took:?}");
    took
}

#[tokio::test]
async fn when_store_unreachable_every_call_should_fail_unavailable_quickly() {
    let env = AwsEnv::unreachable().await;
    let (objects, registry, jobs) = (env.objects(), env.registry(), env.jobs());
    let meta = ObjectMeta {
        sha256: application::checksum::sha256_hex(b"x"),
        size: 1,
        content_type: "a/b".into(),
    };
    let started = Instant::now();
    unavailable_fast("GetObject", objects.get("k")).await;
    unavailable_fast("PutObject", objects.put_if_absent("k", b"x", &meta)).await;
    unavailable_fast("latest", registry.latest(&tenant(), "m")).await;
    unavailable_fast("version", registry.version(&tenant(), "m", 1)).await;
    unavailable_fast("list_models", registry.list_models(&tenant())).await;
    unavailable_fast("versions", registry.versions(&tenant(), "m")).await;
    let item = application::domain::ModelVersion {
        tenant: tenant(),
        name: "m".into(),
        version: 1,
        algorithm: "hbos".into(),
        features: vec![],
        threshold: 1.0,
        s3_key: "k".into(),
        sha256: "x".into(),
        size: 1,
        training: application::domain::TrainingStats {
            rows: 1,
            calibration_rows: 1,
            duration_ms: 1,
        },
        created_at: 1,
        source: None,
    };
    unavailable_fast("register_version", registry.register_version(&item, None)).await;
    unavailable_fast("put_job", jobs.put_job(&a_job())).await;
    unavailable_fast("put_jobs", jobs.put_jobs(&[a_job()])).await;
    unavailable_fast("get_job", jobs.get_job(&tenant(), "j")).await;
    unavailable_fast(
        "jobs_for_model",
        jobs.jobs_for_model(&tenant(), "m", 10, None),
    )
    .await;
    println!("11 calls failed in {:?}", started.elapsed());
}

#[tokio::test]
async fn when_store_unreachable_train_and_detect_should_answer_503() {
    let env = AwsEnv::unreachable().await;
    let started = Instant::now();
    let err = train_over(env.objects(), env.registry(), env.jobs())
        .train(&tenant(), train_request("m"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert_eq!(err.status(), 503);
    let err = detect_over(env.objects(), env.registry(), env.jobs())
        .detect(&tenant(), detect_request("m"))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable(_)), "{err:?}");
    assert_eq!(err.status(), 503);
    assert!(started.elapsed() < 2 * FAST, "{:?}", started.elapsed());
    println!("train and detect answered 503 in {:?}", started.elapsed());
}

#[tokio::test]
async fn when_table_down_during_train_should_answer_503_and_store_no_artifact() {
    let Some(up) = AwsEnv::on_moto().await else {
        return;
    };
    let down = AwsEnv::unreachable().await;
    let err = train_over(up.objects(), down.registry(), down.jobs())
        .train(&tenant(), train_request("m"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503, "{err:?}");
    let listed = up
        .stores
        .objects
        .client()
        .list_objects_v2()
        .bucket(up.stores.objects.bucket())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0), "{listed:?}");
}

#[tokio::test]
async fn when_bucket_down_during_train_should_answer_503_and_register_no_version() {
    let Some(up) = AwsEnv::on_moto().await else {
        return;
    };
    let down = AwsEnv::unreachable().await;
    let err = train_over(down.objects(), up.registry(), up.jobs())
        .train(&tenant(), train_request("m"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503, "{err:?}");
    assert_eq!(up.registry().latest(&tenant(), "m").await.unwrap(), None);
    assert!(up
        .registry()
        .versions(&tenant(), "m")
        .await
        .unwrap()
        .is_empty());
    assert!(up
        .registry()
        .list_models(&tenant())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn when_bucket_down_during_detect_should_answer_503() {
    let Some(up) = AwsEnv::on_moto().await else {
        return;
    };
    let trained = train_over(up.objects(), up.registry(), up.jobs())
        .train(&tenant(), train_request("m"))
        .await
        .unwrap();
    assert_eq!(trained.version, 1);
    let down = AwsEnv::unreachable().await;
    let err = detect_over(down.objects(), up.registry(), up.jobs())
        .detect(&tenant(), detect_request("m"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503, "{err:?}");
    // With the bucket back, the same request scores.
    let scored = detect_over(up.objects(), up.registry(), up.jobs())
        .detect(&tenant(), detect_request("m"))
        .await
        .unwrap();
    assert_eq!(scored.scores.len(), 1);
}
