//! What a series costs per call: one point per append and batches of 1,000, with the detector
//! warm in the container and with a cold cache (each append a full load-score-save cycle: read
//! the record and the state object, decode, score, encode, write the state and the record), on
//! the local store and on S3 + DynamoDB served by moto; and the stored state's size. Medians.
//!
//! `make bench-series` (`cargo run --release -p application --example series_bench`).

#![allow(clippy::restriction)] // a benchmark: it may unwrap and index

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use application::cache::SeriesCache;
use application::ports::Stores;
use application::workflows::series::{NamedPoint, SeriesWorkflow};
use detection::series::SeriesParams;
use fixtures::aws_env::{aws_stores, AwsEnv};
use fixtures::local_env::{local_stores, LocalEnv};
use fixtures::tenant;
use store_local::{LocalObjectStore, LocalStores};

const STEP_MS: i64 = 300_000;

fn point(i: usize) -> NamedPoint {
    let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
    NamedPoint {
        timestamp: i as i64 * STEP_MS,
        values: BTreeMap::from([(
            "value".to_string(),
            50.0 + 20.0 * phase.sin() + (i % 7) as f64,
        )]),
        entity: None,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn workflow(stores: &Stores, cache_bytes: usize) -> SeriesWorkflow {
    SeriesWorkflow::new(
        stores.objects.clone(),
        stores.admin.clone(),
        stores.series.clone(),
        Arc::new(SeriesCache::new(cache_bytes)),
    )
}

/// Milliseconds of each of `calls` appends of `batch` points to `name`, from point `from` on.
async fn time_appends(
    workflow: &SeriesWorkflow,
    name: &str,
    from: &mut usize,
    calls: usize,
    batch: usize,
) -> Vec<f64> {
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let points: Vec<NamedPoint> = (*from..*from + batch).map(point).collect();
        *from += batch;
        let started = Instant::now();
        workflow
            .append(&tenant(), name, Some(SeriesParams::default()), &points)
            .await
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times
}

async fn run(label: &str, stores: &Stores, calls: (usize, usize, usize)) {
    let (single, cold, batches) = calls;
    let warm = workflow(stores, 256 << 20);
    let mut next = 0;
    // A series that has learned 2,000 points: its state is at its working size.
    time_appends(&warm, "cpu", &mut next, 2, 1_000).await;
    let warm_single = median(time_appends(&warm, "cpu", &mut next, single, 1).await);
    let cold_single = median(time_appends(&workflow(stores, 0), "cpu", &mut next, cold, 1).await);
    let warm_batch = median(time_appends(&warm, "cpu", &mut next, batches, 1_000).await);
    let record = warm.describe(&tenant(), "cpu").await.unwrap();
    let state = stores
        .objects
        .get(&record.state_key)
        .await
        .unwrap()
        .unwrap();
    println!(
        "{label:<12} one point per call: warm {warm_single:.2} ms ({:.0} points/s), cold (load-score-save) {cold_single:.2} ms ({:.0} points/s); \
         1,000 per call: {warm_batch:.1} ms ({:.0} points/s); state {:.0} KiB after {} points",
        1e3 / warm_single,
        1e3 / cold_single,
        1e6 / warm_batch,
        state.bytes.len() as f64 / 1024.0,
        record.points_seen
    );
}

#[tokio::main]
async fn main() {
    let local = LocalEnv::new();
    let vault = Arc::new(LocalObjectStore::open(local.data_dir().join("vault")).unwrap());
    let stores = local_stores(LocalStores::open(local.data_dir()).unwrap(), vault);
    run("local store", &stores, (200, 50, 10)).await;
    match AwsEnv::on_moto().await {
        Some(env) => run("moto", &aws_stores(env.stores.clone(), None), (100, 30, 5)).await,
        None => println!(
            "moto: skipped (moto_server is not installed; see scripts/requirements-test.txt)"
        ),
    }
}
