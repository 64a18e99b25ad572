//! The detect function's stream triggers against moto, as Lambda delivers them: records put on a
//! moto Kinesis stream and an SQS queue, read back with GetRecords and ReceiveMessage and turned
//! into the event an event-source mapping would invoke with; alerts published to a moto
//! EventBridge bus and read from the SQS queue a rule targets; unscorable records read from the
//! dead-letter queue. Covers the poison records, redelivery without a second alert, suppression
//! per model and entity, and a store outage returning the whole batch.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::Client as EventsClient;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::Client as KinesisClient;
use aws_sdk_sqs::Client as SqsClient;
use base64::Engine;
use common::train_payments;
use edge::dispatch::invoke;
use edge::Config;
use fixtures::alert_bus::{bus_into_queue, queue};
use fixtures::aws_env::sdk_for;
use fixtures::events_env::{invocation, EventEnv};
use fixtures::moto::unique_name;
use serde_json::{json, Value};
use store_aws::{EventBridgeAlerts, SqsDeadLetters};

const NORMAL: [f64; 3] = [0.1, -0.2, 0.3];
const FAR_OUT: [f64; 3] = [40.0, -35.0, 50.0];

/// A moto rig: the trained `payments` model of tenant `acme`, a stream and an input queue routed
/// to it, a dead-letter queue, and an alert bus whose rule sends "Anomaly Detected" to a queue.
struct Rig {
    env: EventEnv,
    kinesis: KinesisClient,
    sqs: SqsClient,
    stream: String,
    stream_arn: String,
    input_url: String,
    input_arn: String,
    dead_letters_url: String,
    alerts_url: String,
    bus: String,
    events: EventsClient,
}

async fn rig() -> Option<Rig> {
    let env = EventEnv::moto().await?;
    train_payments(&env).await;
    let sdk = sdk_for(env.endpoint_url().unwrap()).await;
    let kinesis = KinesisClient::new(&sdk);
    let sqs = SqsClient::new(&sdk);
    let events = EventsClient::new(&sdk);
    let stream = unique_name("records");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(&stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
        .stream_arn;
    let (input_url, input_arn) = queue(&sdk, "input").await;
    let (dead_letters_url, _) = queue(&sdk, "dead-letters").await;
    let (alerts_url, alerts_arn) = queue(&sdk, "alerts").await;
    let bus = bus_into_queue(&sdk, &alerts_arn).await;
    Some(Rig {
        env,
        kinesis,
        sqs,
        stream,
        stream_arn,
        input_url,
        input_arn,
        dead_letters_url,
        alerts_url,
        bus,
        events,
    })
}

impl Rig {
    /// The detect function as its `main` builds it, with the stream and queue routed to `acme`'s
    /// `payments` and this suppression window.
    fn detect(&self, window_secs: u64) -> detect::handler::HandlerDeps {
        let routes = json!({
            self.stream_arn.clone(): {"tenant": "acme", "model": "payments"},
            self.input_arn.clone(): {"tenant": "acme", "model": "payments"},
        })
        .to_string();
        let window = window_secs.to_string();
        let config = Config::from_lookup(|name| match name {
            "NOMALY_STREAM_ROUTES" => Some(routes.clone()),
            "NOMALY_ALERT_WINDOW_SECS" => Some(window.clone()),
            _ => None,
        })
        .unwrap();
        let deps = detect::handler::HandlerDeps::new(
            self.env.objects.clone(),
            self.env.registry.clone(),
            self.env.jobs.clone(),
            &config,
        );
        deps.with_series(
            self.env.objects.clone(),
            self.env.admin.clone(),
            self.env.series.clone(),
            &config,
        )
        .with_streams(
            self.env.ledger.clone(),
            Arc::new(EventBridgeAlerts::new(self.events.clone(), &self.bus)),
            Arc::new(SqsDeadLetters::new(
                self.sqs.clone(),
                &self.dead_letters_url,
            )),
            &config,
        )
        .with_blobs(self.env.blobs.clone())
    }

    /// Puts `records` on the stream (in order, up to 500 per call) and returns the Lambda event
    /// of everything the shard holds (GetRecords from its start), as the event-source mapping
    /// would deliver it.
    async fn kinesis_delivery(&self, records: &[Value]) -> Value {
        for chunk in records.chunks(500) {
            let entries = chunk.iter().map(|record| {
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key(record["entity"].as_str().unwrap_or("none"))
                    .data(Blob::new(record.to_string()))
                    .build()
                    .unwrap()
            });
            let put = self
                .kinesis
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(entries.collect()))
                .send()
                .await
                .unwrap();
            assert_eq!(put.failed_record_count(), Some(0));
        }
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.stream)
            .send()
            .await
            .unwrap();
        let shard = shards.shards()[0].shard_id().to_owned();
        let iterator = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(&shard)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let got = self
            .kinesis
            .get_records()
            .shard_iterator(iterator)
            .send()
            .await
            .unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        let records: Vec<Value> = got
            .records()
            .iter()
            .map(|r| {
                json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key(),
                        "sequenceNumber": r.sequence_number(),
                        "data": engine.encode(r.data().as_ref()),
                        "approximateArrivalTimestamp": r
                            .approximate_arrival_timestamp()
                            .map_or(0.0, |t| t.as_secs_f64()),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("{shard}:{}", r.sequence_number()),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/nomaly-detect",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": self.stream_arn,
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Sends `records` to the input queue and returns the Lambda event of one ReceiveMessage.
    async fn sqs_delivery(&self, records: &[Value]) -> Value {
        for record in records {
            self.sqs
                .send_message()
                .queue_url(&self.input_url)
                .message_body(record.to_string())
                .send()
                .await
                .unwrap();
        }
        let messages = self.receive(&self.input_url, records.len()).await;
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.input_arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Up to `at_least` messages of `queue` (waiting up to a few seconds for them), deleted.
    async fn receive(&self, queue: &str, at_least: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        for _ in 0..10 {
            let got = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for message in got.messages() {
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                all.push(message.clone());
            }
            if all.len() >= at_least && got.messages().is_empty() {
                break;
            }
        }
        all
    }

    /// The details of the alerts that reached the rule's queue.
    async fn alerts(&self) -> Vec<Value> {
        self.receive(&self.alerts_url, 0)
            .await
            .iter()
            .map(|m| {
                let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                assert_eq!(event["source"], "nomaly", "{event}");
                assert_eq!(event["detail-type"], "Anomaly Detected", "{event}");
                event["detail"].clone()
            })
            .collect()
    }

    /// The dead letters that reached the dead-letter queue.
    async fn dead_letters(&self, at_least: usize) -> Vec<Value> {
        self.receive(&self.dead_letters_url, at_least)
            .await
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect()
    }
}

fn record(entity: &str, values: [f64; 3]) -> Value {
    json!({"features": {"a": values[0], "b": values[1], "c": values[2]}, "entity": entity})
}

fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch answer: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn when_kinesis_delivers_records_should_score_them_set_aside_the_poison_and_alert_once() {
    let Some(rig) = rig().await else { return };
    let detect = rig.detect(300);
    let delivery = rig
        .kinesis_delivery(&[
            record("card-1", NORMAL),
            record("card-2", FAR_OUT),
            json!({"features": {"a": "x"}}),
            json!({"model": "no-such-model", "features": {"a": 1.0, "b": 2.0, "c": 3.0}}),
            record("card-3", NORMAL),
        ])
        .await;
    let answer = invoke(&detect, invocation(delivery.clone())).await.unwrap();
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");

    let alerts = rig.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(
        (
            alert["tenant"].as_str(),
            alert["model"].as_str(),
            alert["entity"].as_str()
        ),
        (Some("acme"), Some("payments"), Some("card-2"))
    );
    assert_eq!(alert["version"], 1);
    assert_eq!(alert["source"], "kinesis");
    assert!(
        alert["normalized_score"].as_f64().unwrap() > 0.99,
        "{alert}"
    );
    assert!(
        matches!(alert["severity"].as_str(), Some("medium" | "high")),
        "{alert}"
    );
    assert_eq!(
        alert["top_features"].as_array().unwrap().len(),
        3,
        "{alert}"
    );
    assert_eq!(alert["suppressed"], 0);

    let letters = rig.dead_letters(2).await;
    let mut codes: Vec<&str> = letters
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        ["malformed_record", "model_not_found"],
        "{letters:?}"
    );
    assert!(letters
        .iter()
        .all(|l| l["source_arn"] == rig.stream_arn.as_str()));
    assert!(letters
        .iter()
        .any(|l| l["data"].as_str().unwrap().contains("no-such-model")));

    // The same batch again (Lambda retrying it): scored again, no second alert.
    let again = invoke(&detect, invocation(delivery)).await.unwrap();
    assert_eq!(failures(&again), Vec::<String>::new());
    assert_eq!(
        rig.alerts().await,
        Vec::<Value>::new(),
        "a redelivery raised an alert again"
    );
}

#[tokio::test]
async fn when_one_entity_keeps_being_anomalous_should_alert_once_per_window_and_carry_the_count() {
    let Some(rig) = rig().await else { return };
    let detect = rig.detect(2);
    let burst = rig
        .sqs_delivery(&[
            record("card-9", FAR_OUT),
            record("card-9", FAR_OUT),
            record("card-9", FAR_OUT),
            record("card-8", FAR_OUT),
        ])
        .await;
    let answer = invoke(&detect, invocation(burst)).await.unwrap();
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");
    let mut first: Vec<(String, u64)> = rig
        .alerts()
        .await
        .iter()
        .map(|a| {
            (
                a["entity"].as_str().unwrap().to_owned(),
                a["suppressed"].as_u64().unwrap(),
            )
        })
        .collect();
    first.sort();
    assert_eq!(first, [("card-8".to_owned(), 0), ("card-9".to_owned(), 0)]);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let later = rig.sqs_delivery(&[record("card-9", FAR_OUT)]).await;
    invoke(&detect, invocation(later)).await.unwrap();
    let next = rig.alerts().await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(
        (next[0]["entity"].as_str(), next[0]["suppressed"].as_u64()),
        (Some("card-9"), Some(2))
    );
    assert_eq!(next[0]["source"], "sqs");
}

#[tokio::test]
async fn when_the_store_is_down_should_send_the_whole_batch_back() {
    let Some(rig) = rig().await else { return };
    let delivery = rig
        .sqs_delivery(&[record("card-1", NORMAL), record("card-2", FAR_OUT)])
        .await;
    let down = EventEnv::unreachable().await;
    let routes =
        json!({rig.input_arn.clone(): {"tenant": "acme", "model": "payments"}}).to_string();
    let config =
        Config::from_lookup(|name| (name == "NOMALY_STREAM_ROUTES").then(|| routes.clone()))
            .unwrap();
    let detect = detect::handler::HandlerDeps::new(
        down.objects.clone(),
        down.registry.clone(),
        down.jobs.clone(),
        &config,
    )
    .with_streams(
        down.ledger.clone(),
        Arc::new(EventBridgeAlerts::new(rig.events.clone(), &rig.bus)),
        Arc::new(SqsDeadLetters::new(rig.sqs.clone(), &rig.dead_letters_url)),
        &config,
    );
    let error = invoke(&detect, invocation(delivery)).await.unwrap_err();
    assert!(error.to_string().contains("unavailable"), "{error}");
    assert_eq!(rig.alerts().await, Vec::<Value>::new());
    assert_eq!(rig.dead_letters(0).await, Vec::<Value>::new());
}

#[tokio::test]
async fn when_a_dead_letter_cannot_be_kept_should_send_back_only_that_record() {
    let Some(rig) = rig().await else { return };
    let routes =
        json!({rig.stream_arn.clone(): {"tenant": "acme", "model": "payments"}}).to_string();
    let config =
        Config::from_lookup(|name| (name == "NOMALY_STREAM_ROUTES").then(|| routes.clone()))
            .unwrap();
    let missing_queue = format!("{}-gone", rig.dead_letters_url);
    let detect = detect::handler::HandlerDeps::new(
        rig.env.objects.clone(),
        rig.env.registry.clone(),
        rig.env.jobs.clone(),
        &config,
    )
    .with_streams(
        rig.env.ledger.clone(),
        Arc::new(EventBridgeAlerts::new(rig.events.clone(), &rig.bus)),
        Arc::new(SqsDeadLetters::new(rig.sqs.clone(), &missing_queue)),
        &config,
    );
    let delivery = rig
        .kinesis_delivery(&[
            record("card-1", NORMAL),
            json!({"features": {}}),
            record("card-3", NORMAL),
        ])
        .await;
    let poison = delivery["Records"][1]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = invoke(&detect, invocation(delivery)).await.unwrap();
    assert_eq!(failures(&answer), [poison], "{answer}");
}

/// A point of the series `cpu` of host `host-1`, five minutes after the one before.
fn cpu_point(i: usize, value: f64) -> Value {
    json!({
        "series": "cpu",
        "features": {"value": value},
        "timestamp": 1_764_700_000_000_i64 + i as i64 * 300_000,
        "entity": "host-1",
    })
}

/// `acme`'s series `cpu` as stored.
async fn stored_cpu(rig: &Rig) -> application::domain::SeriesRecord {
    let tenant = application::domain::Tenant::parse("acme").unwrap();
    rig.env
        .series
        .series(&tenant, "cpu")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn when_kinesis_delivers_points_of_a_series_should_learn_them_once_and_alert_on_the_spike() {
    let Some(rig) = rig().await else { return };
    let detect = rig.detect(300);
    let mut records: Vec<Value> = (0..360)
        .map(|i| {
            cpu_point(
                i,
                50.0 + 10.0 * ((i % 24) as f64 / 24.0 * std::f64::consts::TAU).sin(),
            )
        })
        .collect();
    records[340] = cpu_point(340, 400.0);
    records[200] = json!({
        "series": "cpu",
        "features": {"memory": 1.0},
        "timestamp": 1_764_700_000_000_i64 + 200 * 300_000,
    });
    let delivery = rig.kinesis_delivery(&records).await;
    let answer = invoke(&detect, invocation(delivery.clone())).await.unwrap();
    assert_eq!(failures(&answer), Vec::<String>::new(), "{answer}");

    let stored = stored_cpu(&rig).await;
    assert_eq!(stored.points_seen, 359, "every point but the misfit");
    assert!(
        stored
            .recent_anomalies
            .iter()
            .any(|a| a.timestamp == 1_764_700_000_000 + 340 * 300_000
                && a.entity.as_deref() == Some("host-1")),
        "{:?}",
        stored.recent_anomalies
    );
    let alerts = rig.alerts().await;
    let spike: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["timestamp"] == 1_764_700_000_000_i64 + 340 * 300_000)
        .collect();
    assert_eq!(spike.len(), 1, "{alerts:?}");
    assert_eq!(
        (
            spike[0]["series"].as_str(),
            spike[0]["model"].as_str(),
            spike[0]["entity"].as_str(),
            spike[0]["source"].as_str(),
            spike[0]["severity"].as_str(),
        ),
        (
            Some("cpu"),
            Some("series/cpu"),
            Some("host-1"),
            Some("kinesis"),
            Some("high")
        ),
        "{alerts:?}"
    );
    let letters = rig.dead_letters(1).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["code"], "invalid_input", "{letters:?}");

    // The same delivery again (Lambda retrying it): nothing learned twice, no alert again.
    let again = invoke(&detect, invocation(delivery)).await.unwrap();
    assert_eq!(failures(&again), Vec::<String>::new(), "{again}");
    let after = stored_cpu(&rig).await;
    assert_eq!(
        (after.points_seen, after.sequence),
        (stored.points_seen, stored.sequence)
    );
    assert_eq!(rig.alerts().await, Vec::<Value>::new());
    assert_eq!(rig.dead_letters(0).await, Vec::<Value>::new());
}
