//! Stream scoring beside HTTP scoring, in-process on the local store (release build): the same
//! records of 16 features delivered as one Kinesis batch to the detect handler and posted as one
//! `POST /api/v1/detect` body, for batches of 100 and 1,000 records (1 % far out, each on an
//! entity of its own in every run, so each raises an alert and none is suppressed), and the time from a record's delivery to its alert event
//! (the line in `alerts.jsonl`, written and synced) beside the time to a detect answer. Prints a
//! table of medians and the ratios.
//!
//! ```text
//! cargo run --release -p e2e --example stream_bench [-- ITERATIONS]   (default 30)
//! ```

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::sync::Arc;
use std::time::Instant;

use application::domain::alert::{ANOMALY_DETECTED, JOB_ANOMALIES_FOUND};
use base64::Engine;
use detect::handler::HandlerDeps;
use edge::dispatch::{handle, invoke};
use edge::Config;
use fixtures::events_env::invocation;
use fixtures::{fixture, request};
use serde_json::{json, Value};
use store_local::{JsonLinesAlerts, JsonLinesDeadLetters, LocalStores};

const FEATURES: usize = 16;
const SOURCE: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/bench";

/// A deterministic value in [-1, 1) from a counter.
fn noise(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn columns() -> Vec<String> {
    (0..FEATURES).map(|i| format!("f{i:02}")).collect()
}

/// `n` rows near 0, every hundredth far out.
fn rows(n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let far = if i % 100 == 99 { 25.0 } else { 0.0 };
            (0..FEATURES).map(|_| noise(&mut state) + far).collect()
        })
        .collect()
}

/// One Kinesis delivery of `rows`, record ids and entities unique to `run` (so no alert is a
/// redelivery or suppressed).
fn kinesis_event(rows: &[Vec<f64>], run: usize) -> Value {
    let names = columns();
    let engine = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let features: serde_json::Map<String, Value> = names
                .iter()
                .zip(row)
                .map(|(name, v)| (name.clone(), json!(v)))
                .collect();
            let data = json!({"features": features, "entity": format!("r{run}-e{i}"), "id": format!("r{run}-{i}")});
            let sequence = format!("{:056}", run * 100_000 + i);
            json!({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": format!("e{i}"),
                    "sequenceNumber": sequence, "data": engine.encode(data.to_string()),
                    "approximateArrivalTimestamp": 0.0},
                   "eventSource": "aws:kinesis", "eventVersion": "1.0",
                   "eventID": format!("shardId-000000000000:{sequence}"),
                   "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                   "eventSourceARN": SOURCE})
        })
        .collect();
    json!({ "Records": records })
}

fn http_event(rows: &[Vec<f64>]) -> Value {
    let mut event = fixture("detect-json.json");
    event["body"] =
        json!(json!({"model": "bench", "data": {"columns": columns(), "rows": rows}}).to_string());
    event
}

/// The alert lines of `detail_type` in the local alert file.
fn alert_lines(file: &std::path::Path, detail_type: &str) -> usize {
    std::fs::read_to_string(file).map_or(0, |text| {
        text.lines()
            .filter(|line| {
                serde_json::from_str::<Value>(line).expect("an alert line")["detail-type"]
                    == detail_type
            })
            .count()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map_or(30, |n| n.parse().expect("a count"));
    let dir = tempfile::tempdir().expect("a temp dir");
    let stores = LocalStores::open(dir.path()).expect("the local store");
    let routes = json!({SOURCE: {"tenant": "acme", "model": "bench"}}).to_string();
    // The routes are the benchmark's; the alert settings may come from the environment
    // (NOMALY_ALERT_MIN_SEVERITY, NOMALY_ALERT_WINDOW_SECS).
    let config = Config::from_lookup(|name| match name {
        "NOMALY_STREAM_ROUTES" => Some(routes.clone()),
        "NOMALY_ALERT_MIN_SEVERITY" | "NOMALY_ALERT_WINDOW_SECS" => std::env::var(name).ok(),
        _ => None,
    })
    .expect("config");
    let trainer = train::handler::HandlerDeps::new(
        stores.objects.clone(),
        stores.items.clone(),
        stores.items.clone(),
        &config,
    );
    let mut train = fixture("train.json");
    let training: Vec<Vec<f64>> = rows(2_000, 7)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 100 != 99)
        .map(|(_, r)| r)
        .collect();
    train["body"] = json!(json!({"name": "bench", "algorithm": "isolation_forest",
        "data": {"columns": columns(), "rows": training}})
    .to_string());
    let trained = handle(&trainer, request(&train)).await.expect("infallible");
    assert_eq!(trained.status(), 201, "training failed");
    let alerts_file = dir.path().join("alerts.jsonl");
    let deps = HandlerDeps::new(
        stores.objects.clone(),
        stores.items.clone(),
        stores.items.clone(),
        &config,
    )
    .with_streams(
        stores.items.clone(),
        Arc::new(JsonLinesAlerts::new(dir.path())),
        Arc::new(JsonLinesDeadLetters::new(dir.path())),
        &config,
    );

    println!(
        "{:>6} {:>16} {:>16} {:>7} {:>18} {:>18}",
        "batch", "stream rec/s", "http rec/s", "ratio", "stream alerts/run", "http summaries/run"
    );
    let mut run = 0;
    for batch in [100usize, 1_000] {
        let data = rows(batch, 11 + batch as u64);
        let (mut stream_s, mut http_s) = (Vec::new(), Vec::new());
        let alerts_before = alert_lines(&alerts_file, ANOMALY_DETECTED);
        let summaries_before = alert_lines(&alerts_file, JOB_ANOMALIES_FOUND);
        for i in 0..iterations + 3 {
            run += 1;
            let event = kinesis_event(&data, run);
            let started = Instant::now();
            let answer = invoke(&deps, invocation(event))
                .await
                .expect("a batch answer");
            let stream = started.elapsed().as_secs_f64();
            assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
            let event = http_event(&data);
            let started = Instant::now();
            let response = handle(&deps, request(&event)).await.expect("infallible");
            let http = started.elapsed().as_secs_f64();
            assert_eq!(response.status(), 200);
            if i >= 3 {
                stream_s.push(stream);
                http_s.push(http);
            }
        }
        let alerts = alert_lines(&alerts_file, ANOMALY_DETECTED) - alerts_before;
        let summaries = alert_lines(&alerts_file, JOB_ANOMALIES_FOUND) - summaries_before;
        let (stream, http) = (median(stream_s), median(http_s));
        let runs = (iterations + 3) as f64;
        println!(
            "{batch:>6} {:>16.0} {:>16.0} {:>7.2} {:>18.1} {:>18.1}",
            batch as f64 / stream,
            batch as f64 / http,
            http / stream,
            alerts as f64 / runs,
            summaries as f64 / runs
        );
    }

    // Record to alert: one anomalous record per delivery, timed until its alert line is synced
    // (the sink returns after sync_data); beside it, one row posted for a detect answer.
    let far = rows(100, 5)[99].clone();
    let (mut to_alert, mut to_answer) = (Vec::new(), Vec::new());
    for i in 0..iterations + 3 {
        run += 1;
        let before = alert_lines(&alerts_file, ANOMALY_DETECTED);
        let event = kinesis_event(std::slice::from_ref(&far), run);
        let started = Instant::now();
        invoke(&deps, invocation(event))
            .await
            .expect("a batch answer");
        let elapsed = started.elapsed().as_secs_f64();
        let after = alert_lines(&alerts_file, ANOMALY_DETECTED);
        assert_eq!(after, before + 1, "one alert per anomalous record");
        let event = http_event(std::slice::from_ref(&far));
        let started = Instant::now();
        handle(&deps, request(&event)).await.expect("infallible");
        let answered = started.elapsed().as_secs_f64();
        if i >= 3 {
            to_alert.push(elapsed * 1e3);
            to_answer.push(answered * 1e3);
        }
    }
    println!(
        "record to alert event: {:.2} ms median; the same row to a detect answer (and its summary event): {:.2} ms; ratio {:.2}",
        median(to_alert.clone()),
        median(to_answer.clone()),
        median(to_alert) / median(to_answer)
    );
}
