//! Stream scoring and alerts on the local store, with sinks that fail on demand: a publication
//! that fails sends its records back and the redelivery publishes each alert exactly once; a
//! dead letter that cannot be kept sends back only its record; poison of every kind is set aside
//! with its reason while the rest is scored; one entity's alerts are suppressed within the window
//! and the next one carries the count; a batch job, in one invocation or split into ranges,
//! announces one summary when it finds anomalies and none when it finds none.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::domain::alert::{AlertEvent, ANOMALY_DETECTED, JOB_ANOMALIES_FOUND};
use application::domain::stream_record::{DeliveredRecord, StreamSource};
use application::domain::stream_route::StreamRoutes;
use application::domain::{JobStatus, S3ObjectRef};
use application::ports::{
    AlertSink, BlobStreams, DeadLetter, DeadLetterSink, JobRunner, JobStore, StoreError,
};
use application::workflows::alerts::{AlertPolicy, AlertWorkflow};
use application::workflows::batch::{BatchWorkflow, SplitPolicy};
use application::workflows::local_runner::LocalJobRunner;
use application::workflows::stream::StreamWorkflow;
use application::workflows::train::TrainRequest;
use async_trait::async_trait;
use detection::threshold::Severity;
use detection::WorkBudget;
use fixtures::local_env::LocalEnv;
use fixtures::{target, tenant};
use serde_json::json;
use store_contract::small_data;

const SOURCE: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/payments";

/// Keeps what it is given after failing the first `failures` calls.
#[derive(Default)]
struct FlakySink {
    failures: AtomicUsize,
    events: Mutex<Vec<AlertEvent>>,
    letters: Mutex<Vec<DeadLetter>>,
}

impl FlakySink {
    fn failing(failures: usize) -> Arc<Self> {
        Arc::new(Self {
            failures: AtomicUsize::new(failures),
            ..Self::default()
        })
    }

    fn fail_now(&self) -> bool {
        self.failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn events(&self) -> Vec<AlertEvent> {
        self.events.lock().unwrap().clone()
    }

    fn letters(&self) -> Vec<DeadLetter> {
        self.letters.lock().unwrap().clone()
    }
}

#[async_trait]
impl AlertSink for FlakySink {
    async fn publish(&self, events: &[AlertEvent]) -> Result<(), StoreError> {
        if self.fail_now() {
            return Err(StoreError::Unavailable("the bus is down".into()));
        }
        self.events.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

#[async_trait]
impl DeadLetterSink for FlakySink {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        if self.fail_now() {
            return Err(StoreError::Unavailable("the queue is down".into()));
        }
        self.letters.lock().unwrap().extend_from_slice(letters);
        Ok(())
    }
}

/// A local store with model `payments` trained on two features, `a` and `b`.
async fn trained_env() -> LocalEnv {
    let env = LocalEnv::new();
    let request: TrainRequest = serde_json::from_value(
        json!({"name": "payments", "algorithm": "ecod", "data": small_data(200)}),
    )
    .unwrap();
    env.train().train(&tenant(), request).await.unwrap();
    env
}

fn workflow(
    env: &LocalEnv,
    alerts: Arc<FlakySink>,
    letters: Arc<FlakySink>,
    window_ms: u64,
) -> StreamWorkflow {
    let routes = StreamRoutes::parse(
        &json!({SOURCE: {"tenant": tenant().to_string(), "model": "payments"}}).to_string(),
    )
    .unwrap();
    let policy = AlertPolicy {
        min_severity: Severity::Low,
        window_ms,
    };
    StreamWorkflow::new(
        env.detect(),
        routes,
        letters,
        AlertWorkflow::new(env.stores.items.clone(), alerts, policy),
        WorkBudget {
            seconds: 10.0,
            memory_bytes: 256 << 20,
        },
    )
}

/// A delivery of `data` from `source` with sequence number `sequence`.
fn delivered(source: &str, sequence: u64, data: serde_json::Value) -> DeliveredRecord {
    DeliveredRecord {
        item_id: format!("{sequence:056}"),
        delivery_id: format!("shardId-000000000000:{sequence:056}"),
        source_arn: source.into(),
        data: data.to_string().into_bytes(),
    }
}

fn normal(sequence: u64) -> DeliveredRecord {
    delivered(
        SOURCE,
        sequence,
        json!({"features": {"a": 3.0, "b": 5.0}, "entity": "card-1", "id": format!("n{sequence}")}),
    )
}

fn anomalous(sequence: u64, entity: &str) -> DeliveredRecord {
    delivered(
        SOURCE,
        sequence,
        json!({"features": {"a": 250.0, "b": -300.0}, "entity": entity, "id": format!("x{sequence}")}),
    )
}

#[tokio::test]
async fn when_publishing_fails_should_send_the_records_back_and_publish_each_alert_once() {
    let env = trained_env().await;
    let sink = FlakySink::failing(1);
    let stream = workflow(&env, sink.clone(), FlakySink::failing(0), 300_000);
    let batch = vec![normal(1), anomalous(2, "card-2"), normal(3)];

    let first = stream.score(StreamSource::Kinesis, &batch).await.unwrap();
    assert_eq!(first.scored, 3);
    assert_eq!(first.failed_items, vec![batch[1].item_id.clone()]);
    assert_eq!(first.alerts.published, 0);
    assert!(sink.events().is_empty());

    // The source delivers the batch again (Kinesis from the failed record on).
    let second = stream.score(StreamSource::Kinesis, &batch).await.unwrap();
    assert!(second.failed_items.is_empty(), "{second:?}");
    assert_eq!(second.alerts.published, 1);
    let third = stream.score(StreamSource::Kinesis, &batch).await.unwrap();
    assert_eq!((third.alerts.published, third.alerts.duplicates), (0, 1));

    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].detail_type, ANOMALY_DETECTED);
    assert_eq!(events[0].detail["entity"], "card-2");
    assert_eq!(events[0].detail["record_id"], "x2");
    assert_eq!(events[0].detail["suppressed"], 0);
}

#[tokio::test]
async fn when_records_are_poison_should_set_each_aside_with_its_reason_and_score_the_rest() {
    let env = trained_env().await;
    let letters = FlakySink::failing(0);
    let stream = workflow(&env, FlakySink::failing(0), letters.clone(), 300_000);
    let batch = vec![
        normal(1),
        delivered(SOURCE, 2, json!("not an object")),
        delivered(
            SOURCE,
            3,
            json!({"model": "no-such-model", "features": {"a": 1.0, "b": 2.0}}),
        ),
        delivered(SOURCE, 4, json!({"features": {"a": 1.0, "c": 2.0}})),
        delivered(
            "arn:aws:sqs:us-east-1:000000000000:elsewhere",
            5,
            json!({"features": {"a": 1.0, "b": 2.0}}),
        ),
        normal(6),
    ];

    let outcome = stream.score(StreamSource::Kinesis, &batch).await.unwrap();

    assert!(outcome.failed_items.is_empty(), "{outcome:?}");
    assert_eq!((outcome.scored, outcome.dead_lettered), (2, 4));
    let mut kept: Vec<(String, String)> = letters
        .letters()
        .into_iter()
        .map(|l| (l.delivery_id, l.code))
        .collect();
    kept.sort();
    let expected: Vec<(String, String)> = [
        (2, "malformed_record"),
        (3, "model_not_found"),
        (4, "invalid_input"),
        (5, "unmapped_source"),
    ]
    .into_iter()
    .map(|(i, code)| (batch[i - 1].delivery_id.clone(), code.to_owned()))
    .collect();
    assert_eq!(kept, expected);
    let mismatch = letters
        .letters()
        .into_iter()
        .find(|l| l.code == "invalid_input")
        .unwrap();
    assert!(
        mismatch.reason.contains("missing [\"b\"]") && mismatch.reason.contains("unknown [\"c\"]"),
        "{}",
        mismatch.reason
    );
}

#[tokio::test]
async fn when_dead_letters_cannot_be_kept_should_send_back_only_those_records() {
    let env = trained_env().await;
    let stream = workflow(&env, FlakySink::failing(0), FlakySink::failing(1), 300_000);
    let batch = vec![normal(1), delivered(SOURCE, 2, json!([1, 2])), normal(3)];

    let outcome = stream.score(StreamSource::Sqs, &batch).await.unwrap();

    assert_eq!(outcome.failed_items, vec![batch[1].item_id.clone()]);
    assert_eq!((outcome.scored, outcome.dead_lettered), (2, 0));
}

#[tokio::test]
async fn when_one_entity_stays_anomalous_should_alert_once_per_window_carrying_the_count() {
    let env = trained_env().await;
    let sink = FlakySink::failing(0);
    let stream = workflow(&env, sink.clone(), FlakySink::failing(0), 400);
    let burst: Vec<DeliveredRecord> = (1..=4).map(|i| anomalous(i, "card-9")).collect();

    let first = stream.score(StreamSource::Kinesis, &burst).await.unwrap();
    assert_eq!((first.alerts.published, first.alerts.suppressed), (1, 3));
    // Another entity is not held back by card-9's window.
    let other = stream
        .score(StreamSource::Kinesis, &[anomalous(5, "card-8")])
        .await
        .unwrap();
    assert_eq!(other.alerts.published, 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = stream
        .score(StreamSource::Kinesis, &[anomalous(6, "card-9")])
        .await
        .unwrap();
    assert_eq!(later.alerts.published, 1);

    let card_9: Vec<AlertEvent> = sink
        .events()
        .into_iter()
        .filter(|e| e.detail["entity"] == "card-9")
        .collect();
    assert_eq!(card_9.len(), 2);
    assert_eq!(card_9[0].detail["suppressed"], 0);
    assert_eq!(card_9[1].detail["suppressed"], 3);
}

/// Puts `rows` (each `a,b`) as an upload for model `payments` under `name`.
async fn upload(env: &LocalEnv, name: &str, rows: &[(f64, f64)]) -> S3ObjectRef {
    let mut csv = String::from("a,b\n");
    for (a, b) in rows {
        csv.push_str(&format!("{a},{b}\n"));
    }
    let key = format!("incoming/detect/{}/payments/{name}.csv", tenant());
    let blobs = env.stores.objects.clone();
    let mut upload = blobs
        .create_upload("local", &key, "text/csv")
        .await
        .unwrap();
    upload.write_part(csv.into_bytes()).await.unwrap();
    upload.complete().await.unwrap();
    let info = blobs.head("local", &key).await.unwrap().unwrap();
    S3ObjectRef {
        event_name: "ObjectCreated:Put".into(),
        bucket: "local".into(),
        key,
        version_id: info.version_id,
        etag: info.etag,
        sequencer: None,
    }
}

/// 400 typical rows (the same as the stream tests' normal record), with rows 50 and 300 far out
/// when `anomalous`.
fn job_rows(anomalous: bool) -> Vec<(f64, f64)> {
    (0..400)
        .map(|i| match i {
            50 | 300 if anomalous => (250.0, -300.0),
            _ => (3.0, 5.0),
        })
        .collect()
}

/// The batch workflow on `env`, announcing its jobs to `sink`.
fn announcing_batch(env: &LocalEnv, sink: Arc<FlakySink>) -> BatchWorkflow {
    let alerts = AlertWorkflow::new(env.stores.items.clone(), sink, AlertPolicy::default());
    BatchWorkflow::new(
        env.detect(),
        env.stores.objects.clone(),
        env.stores.items.clone(),
    )
    .with_alerts(alerts)
}

/// Checks `sink` holds exactly one summary, of job `job_id` with its anomalies at 50 and 300.
fn assert_one_summary(sink: &FlakySink, job_id: &str, results: &str) {
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let summary = &events[0];
    assert_eq!(summary.detail_type, JOB_ANOMALIES_FOUND);
    assert_eq!(summary.detail["job_id"], job_id);
    assert_eq!(summary.detail["model"], "payments");
    assert_eq!(summary.detail["rows"], 400);
    let counts = &summary.detail["anomalies"];
    let total: u64 = ["low", "medium", "high"]
        .iter()
        .map(|s| counts[*s].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2, "{counts}");
    assert_eq!(summary.detail["first_anomaly_rows"], json!([50, 300]));
    assert_eq!(summary.detail["results"], results);
}

#[tokio::test]
async fn when_a_batch_job_finds_anomalies_should_announce_one_summary_and_none_on_redelivery() {
    let env = trained_env().await;
    let sink = FlakySink::failing(0);
    let batch = announcing_batch(&env, sink.clone());

    let quiet = upload(&env, "quiet", &job_rows(false)).await;
    let outcome = batch
        .score_object(&quiet, &target("payments"))
        .await
        .unwrap();
    assert_eq!(outcome.job.status, JobStatus::Succeeded);
    assert!(
        sink.events().is_empty(),
        "a job without anomalies announces nothing"
    );

    let object = upload(&env, "odd", &job_rows(true)).await;
    let outcome = batch
        .score_object(&object, &target("payments"))
        .await
        .unwrap();
    assert_eq!(outcome.job.status, JobStatus::Succeeded);
    let results = format!("s3://local/{}", outcome.job.results_key.as_deref().unwrap());
    assert_one_summary(&sink, &outcome.job.id, &results);
    let again = batch
        .score_object(&object, &target("payments"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(sink.events().len(), 1, "a redelivery announces nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_split_job_finds_anomalies_should_announce_one_summary_from_the_join() {
    let env = trained_env().await;
    let sink = FlakySink::failing(0);
    let batch = announcing_batch(&env, sink.clone());
    let runner: Arc<dyn JobRunner> = Arc::new(
        LocalJobRunner::new(batch.split_steps(), 3).with_backoff(Duration::from_millis(10)),
    );
    let batch = batch.with_split(SplitPolicy {
        split_bytes: 256,
        range_bytes: 512,
        runner,
    });

    let object = upload(&env, "big", &job_rows(true)).await;
    batch
        .score_object(&object, &target("payments"))
        .await
        .unwrap();

    let id = object.job_id("batch");
    let job = env
        .stores
        .items
        .get_job(&tenant(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
    assert!(job.progress.unwrap().ranges > 1, "the file was split");
    let results = format!("s3://local/{}", job.results_key.as_deref().unwrap());
    assert_one_summary(&sink, &id, &results);
}
