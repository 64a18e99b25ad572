//! What checking a caller costs, in-process on the local store (SQLite): the authorizer's warm
//! check of an API key (one item read, the hash compared), and the functions' admission of a
//! request in both modes: reading the authorizer's context (`authorizer`, as in AWS) and checking
//! the credential itself (`inline`, as under `cargo lambda watch`); then the detect handler's warm
//! latency for one row with each. Prints one JSON line per measure, median and p95 in
//! microseconds (read by `bench/authorizer.py`).
//!
//! ```text
//! cargo run --release -p e2e --example auth_latency
//! ```

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::future::Future;
use std::time::Instant;

use application::domain::principal::parse_scopes;
use application::domain::{NewKey, Scope};
use application::ports::KeyStore;
use application::workflows::authenticate::Authenticator;
use authorizer::handler::Authorizer;
use edge::access::{Access, RouteAccess};
use edge::dispatch::handle;
use edge::Config;
use fixtures::{fixture, request, tenant};
use serde_json::json;
use store_local::LocalStores;

const ITERATIONS: usize = 2000;
const WARMUP: usize = 100;

/// Median and p95 of `run` over [`ITERATIONS`] calls after [`WARMUP`], in microseconds.
async fn measure<F, Fut>(what: &str, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS + WARMUP {
        let started = Instant::now();
        run().await;
        if i >= WARMUP {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        json!({"measure": what, "iterations": ITERATIONS, "median_us": at(0.5), "p95_us": at(0.95)})
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let key = NewKey::generate(&tenant(), "bench", parse_scopes("read detect train"), 1);
    stores.items.put_key_if_absent(&key.key).await.unwrap();
    let authenticator = Authenticator::new(stores.items.clone(), None);
    let header = format!("Bearer {}", key.token);

    let authorizer = Authorizer::new(authenticator.clone());
    let mut event = fixture("authorizer-request.json");
    event["headers"]["Authorization"] = json!(header);
    measure("authorizer warm check (API key)", || async {
        authorizer.authorize(&event).await.unwrap();
    })
    .await;

    let mut routed = fixture("detect-json-rest.json");
    routed["headers"]["Authorization"] = json!(header);
    let inline = Access::Inline(authenticator);
    let detect_route = RouteAccess::Requires(Scope::Detect);
    let built = request(&routed);
    for (name, access) in [("authorizer", &Access::Authorizer), ("inline", &inline)] {
        measure(&format!("admission, {name} mode"), || async {
            access.admit(detect_route, &built).await.unwrap();
        })
        .await;
    }

    // The detect handler, one row, warm, in each mode.
    let config = Config::from_lookup(|_| None).unwrap();
    let trainer = train::handler::HandlerDeps::new(
        stores.objects.clone(),
        stores.items.clone(),
        stores.items.clone(),
        &config,
    );
    let rows: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![f64::from(i % 17), f64::from(i % 5)])
        .collect();
    let mut train = fixture("train.json");
    train["body"] = json!(json!({"name": "payments", "algorithm": "isolation_forest",
        "data": {"columns": ["a", "b"], "rows": rows}})
    .to_string());
    assert_eq!(
        handle(&trainer, request(&train)).await.unwrap().status(),
        201
    );
    let mut one_row = routed.clone();
    one_row["body"] = json!(
        json!({"model": "payments", "data": {"columns": ["a", "b"], "rows": [[1.0, 2.0]]}})
            .to_string()
    );
    for (name, access) in [
        ("authorizer", Access::Authorizer),
        ("inline", inline.clone()),
    ] {
        let deps = detect::handler::HandlerDeps::new(
            stores.objects.clone(),
            stores.items.clone(),
            stores.items.clone(),
            &config,
        )
        .with_access(access);
        measure(&format!("detect, 1 row, {name} mode"), || async {
            let response = handle(&deps, request(&one_row)).await.unwrap();
            assert_eq!(response.status(), 200);
        })
        .await;
    }
}
