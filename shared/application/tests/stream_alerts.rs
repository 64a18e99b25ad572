//! Stream scoring and alerts on the local store, with sinks that fail on demand: a publication
//! that fails sends its records back and the redelivery publishes each alert exactly once; a
//! dead letter that cannot be kept sends back only its record; poison of every kind is set aside
//! with its reason while the rest is scored; one entity's alerts are suppressed within the window
//! and the next one carries the count.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use application::domain::alert::{AlertEvent, ANOMALY_DETECTED};
use application::domain::stream_record::{DeliveredRecord, StreamSource};
use application::domain::stream_route::StreamRoutes;
use application::ports::{AlertSink, DeadLetter, DeadLetterSink, StoreError};
use application::workflows::alerts::{AlertPolicy, AlertWorkflow};
use application::workflows::stream::StreamWorkflow;
use application::workflows::train::TrainRequest;
use async_trait::async_trait;
use detection::threshold::Severity;
use detection::WorkBudget;
use fixtures::local_env::LocalEnv;
use fixtures::tenant;
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
