//! Warm latency of the detect handler in-process: API Gateway v2 events through `handle`, on the
//! local store, after the model is cached. Prints one JSON line per batch size with the median
//! and p95 in microseconds (read by `bench/functions.py`).
//!
//! ```text
//! cargo run --release -p e2e --example latency [-- ALGORITHM]   (default isolation_forest)
//! ```

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::time::Instant;

use detect::handler::HandlerDeps;
use edge::dispatch::handle;
use edge::Config;
use fixtures::{fixture, request};
use serde_json::{json, Value};
use store_local::LocalStores;

fn sample(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let path = e2e::workspace_root().join("data/sample").join(name);
    let text = std::fs::read_to_string(&path).expect("the sample data");
    let mut lines = text.lines();
    let columns = lines
        .next()
        .expect("a header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse().expect("a number")).collect())
        .collect();
    (columns, rows)
}

fn event(fixture_name: &str, body: &Value) -> Value {
    let mut event = fixture(fixture_name);
    event["body"] = json!(body.to_string());
    event
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let algorithm = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "isolation_forest".into());
    let dir = tempfile::tempdir().expect("a temp dir");
    let stores = LocalStores::open(dir.path()).expect("the local store");
    let config = Config::from_lookup(|_| None).expect("default config");
    let (columns, train_rows) = sample("train.csv");
    let trainer = train::handler::HandlerDeps::new(
        stores.objects.clone(),
        stores.items.clone(),
        stores.items.clone(),
        &config,
    );
    let body = json!({"name": "payments", "algorithm": algorithm,
                      "data": {"columns": columns, "rows": train_rows}});
    let trained = edge::dispatch::handle(&trainer, request(&event("train.json", &body)))
        .await
        .expect("infallible");
    assert_eq!(trained.status(), 201, "training failed");
    let deps = HandlerDeps::new(stores.objects, stores.items.clone(), stores.items, &config);

    let (_, detect_rows) = sample("detect.csv");
    for (rows, iterations) in [(1usize, 2000usize), (1000, 300)] {
        let batch: Vec<&Vec<f64>> = detect_rows.iter().cycle().take(rows).collect();
        let body = json!({"model": "payments", "data": {"columns": columns, "rows": batch}});
        let event = event("detect-json.json", &body);
        let mut times = Vec::with_capacity(iterations);
        for i in 0..iterations + 50 {
            // Each call builds its request from the event, as the runtime does per invocation.
            let started = Instant::now();
            let response = handle(&deps, request(&event)).await.expect("infallible");
            let micros = started.elapsed().as_secs_f64() * 1e6;
            assert_eq!(response.status(), 200);
            if i >= 50 {
                times.push(micros);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{}",
            json!({"algorithm": algorithm, "rows": rows, "iterations": iterations,
                   "median_us": percentile(&times, 0.5), "p95_us": percentile(&times, 0.95)})
        );
    }
}
