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
        lease_expires_at: None,
        progress: None,
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
    unavailable_fast("list_models", registry.list_models(&tenant(), None, 50)).await;
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
            labels: 0,
        },
        created_at: 1,
        source: None,
        job: None,
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
        .list_models(&tenant(), None, 50)
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

/// An S3 stand-in on 127.0.0.1 that answers one GetObject with its headers and the first bytes of
/// a longer body, then sends nothing more (a stalled, not broken, stream) until `hold` has passed.
fn stalling_s3(hold: Duration) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n";
        socket.write_all(head.as_bytes()).unwrap();
        socket.write_all(b"a,b,c\n1,2,3\n").unwrap();
        socket.flush().unwrap();
        std::thread::sleep(hold);
    });
    (url, server)
}

#[tokio::test]
async fn when_a_body_stalls_should_fail_the_read_as_unavailable_once_no_bytes_come() {
    use application::ports::BlobStreams;
    use std::io::Read;
    let (url, server) = stalling_s3(Duration::from_secs(4));
    let stores = store_aws::AwsStores::connect(
        &store_aws::SdkTarget::Local { endpoint_url: url },
        &store_aws::AwsTuning::default(),
        "models",
        "nomaly",
    )
    .await;
    let objects = (*stores.objects)
        .clone()
        .with_stall_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let mut reader = objects
        .open("models", "incoming/detect/acme/m/x.csv")
        .await
        .unwrap()
        .expect("the object");
    let failure = reader.failure();
    let read = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        reader.read_to_string(&mut text).map(|_| text)
    })
    .await
    .unwrap();
    assert!(read.is_err(), "a stalled body read to its end: {read:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the stall was not cut short: {:?}",
        started.elapsed()
    );
    let cause = failure.get().expect("the transport failure is recorded");
    assert!(matches!(cause, StoreError::Unavailable(_)), "{cause:?}");
    assert!(cause.to_string().contains("no body bytes"), "{cause}");
    server.join().unwrap();
}
