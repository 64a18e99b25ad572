//! The alert and dead-letter sinks on a moto server: alerts published through EventBridge reach
//! the targets of the rules matching them (a rule on `source` and `detail-type`, an SQS queue as
//! its target) with their detail intact, and dead letters arrive in their queue whole. Skipped
//! when `moto_server` is not on PATH, unless `NOMALY_REQUIRE_TOOLS=1`.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::collections::BTreeMap;

use application::domain::alert::{AlertEvent, ANOMALY_DETECTED, JOB_ANOMALIES_FOUND};
use application::ports::{AlertSink, DeadLetter, DeadLetterSink};
use aws_config::SdkConfig;
use fixtures::alert_bus::{bus_into_queue, queue};
use fixtures::aws_env::sdk_for;
use fixtures::moto::MotoServer;
use serde_json::{json, Value};
use store_aws::{EventBridgeAlerts, SqsDeadLetters};

/// Every message in the queue at `url`, as JSON, read until a receive comes back empty.
async fn drain(sdk: &SdkConfig, url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut bodies = Vec::new();
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(serde_json::from_str(message.body().unwrap()).unwrap());
        }
    }
}

fn alert(i: usize) -> AlertEvent {
    let detail_type = if i % 4 == 3 {
        JOB_ANOMALIES_FOUND
    } else {
        ANOMALY_DETECTED
    };
    AlertEvent {
        id: format!("alert-{i:02}"),
        detail_type: detail_type.into(),
        detail: json!({
            "alert_id": format!("alert-{i:02}"),
            "tenant": "acme",
            "model": "payments",
            "score": 0.5 + i as f64,
            "entity": if i.is_multiple_of(2) { Value::Null } else { json!(format!("card-{i}")) },
            "top_features": [{"feature": "amount", "contribution": 0.75}],
            "note": "ünïcode \"quoted\"\nline",
        }),
        time_ms: 1_767_323_045_000 + i as u64,
    }
}

#[tokio::test]
async fn when_alerts_are_published_should_reach_only_the_matching_rule_target_with_their_detail() {
    let Some(server) = MotoServer::shared() else {
        return;
    };
    let sdk = sdk_for(server.endpoint_url()).await;
    let (url, arn) = queue(&sdk, "nomaly-q").await;
    let bus = bus_into_queue(&sdk, &arn).await;

    let alerts: Vec<AlertEvent> = (0..25).map(alert).collect();
    EventBridgeAlerts::from_sdk(&sdk, &bus)
        .publish(&alerts)
        .await
        .unwrap();

    let received = drain(&sdk, &url).await;
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for event in received {
        assert_eq!(event["source"], "nomaly", "{event}");
        assert_eq!(event["detail-type"], ANOMALY_DETECTED, "{event}");
        let id = event["detail"]["alert_id"].as_str().unwrap().to_owned();
        assert!(
            by_id.insert(id.clone(), event["detail"].clone()).is_none(),
            "{id} arrived twice"
        );
    }
    let expected: BTreeMap<String, Value> = alerts
        .iter()
        .filter(|a| a.detail_type == ANOMALY_DETECTED)
        .map(|a| (a.id.clone(), a.detail.clone()))
        .collect();
    assert_eq!(expected.len(), 19);
    assert_eq!(by_id, expected);
}

#[tokio::test]
async fn when_dead_letters_are_sent_should_all_arrive_whole_with_their_reason() {
    let Some(server) = MotoServer::shared() else {
        return;
    };
    let sdk = sdk_for(server.endpoint_url()).await;
    let (url, _) = queue(&sdk, "nomaly-dlq").await;
    let letters: Vec<DeadLetter> = (0..12)
        .map(|i| {
            DeadLetter::new(
                "kinesis",
                "arn:aws:kinesis:us-east-1:123456789012:stream/payments",
                &format!("shard-0:{i:03}"),
                "malformed_record",
                &format!("reason {i}: not JSON"),
                format!("not json {i} \u{1}\u{FFFF}").as_bytes(),
                1_767_323_045_000 + i,
            )
        })
        .collect();
    SqsDeadLetters::from_sdk(&sdk, &url)
        .send(&letters)
        .await
        .unwrap();

    let mut received = drain(&sdk, &url).await;
    received.sort_by_key(|letter| letter["delivery_id"].as_str().unwrap().to_owned());
    let expected: Vec<Value> = letters
        .iter()
        .map(|letter| serde_json::to_value(letter).unwrap())
        .collect();
    assert_eq!(received, expected);
    assert_eq!(received[7]["reason"], "reason 7: not JSON");
}
