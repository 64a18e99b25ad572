//! The health handler driven by the `events/` fixtures.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use fixtures::{body, event};
use std::sync::Arc;

use application::ports::{ObjectMeta, ObjectStore, StoreError, StoredObject};
use async_trait::async_trait;
use edge::dispatch::handle;
use health::handler::HandlerDeps;
use store_local::LocalStores;

fn local() -> (tempfile::TempDir, HandlerDeps) {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    (dir, HandlerDeps::new(stores.objects, stores.items))
}

struct DownStore;

#[async_trait]
impl ObjectStore for DownStore {
    async fn put_if_absent(&self, _: &str, _: &[u8], _: &ObjectMeta) -> Result<(), StoreError> {
        Err(StoreError::Unavailable(
            "GetObject: AccessDenied for arn:aws:iam::123456789012:role/x on nomaly-models-1"
                .into(),
        ))
    }
    async fn get(&self, _: &str) -> Result<Option<StoredObject>, StoreError> {
        Err(StoreError::Unavailable(
            "GetObject: AccessDenied for arn:aws:iam::123456789012:role/x on nomaly-models-1"
                .into(),
        ))
    }
}

#[tokio::test]
async fn when_liveness_asked_should_answer_ok_with_version() {
    let (_dir, deps) = local();
    for fixture in ["health.json", "health-rest.json"] {
        let response = handle(&deps, event(fixture)).await.unwrap();
        assert_eq!(response.status(), 200, "{fixture}");
        let v = body(&response);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn when_stores_up_should_be_ready_with_latencies() {
    let (_dir, deps) = local();
    let response = handle(&deps, event("health-ready.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    let v = body(&response);
    assert_eq!(v["status"], "ok");
    for check in ["object_store", "table"] {
        assert_eq!(v["checks"][check]["status"], "ok", "{v}");
        assert!(v["checks"][check]["latency_ms"].as_f64().unwrap() >= 0.0);
    }
}

#[tokio::test]
async fn when_object_store_down_should_be_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let deps = HandlerDeps::new(Arc::new(DownStore), stores.items);
    let response = handle(&deps, event("health-ready.json")).await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let v = body(&response);
    assert_eq!(v["status"], "unavailable");
    assert_eq!(v["checks"]["object_store"]["status"], "error");
    assert_eq!(v["checks"]["table"]["status"], "ok");
    assert_eq!(v["checks"]["object_store"]["error"], "unavailable");
    let text = v.to_string();
    assert!(
        !text.contains("123456789012") && !text.contains("nomaly-models"),
        "{text}"
    );
}

#[tokio::test]
async fn when_route_unknown_or_method_wrong_should_be_json_404_or_405() {
    let (_dir, deps) = local();
    let text = std::fs::read_to_string(format!(
        "{}/../../events/health.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let unknown = text.replace("\"/health\"", "\"/healthz\"");
    let response = handle(&deps, lambda_http::request::from_str(&unknown).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(body(&response)["error"]["code"], "not_found");
    assert_eq!(body(&response)["error"]["request_id"], "v2-req-0001");
    let post = text.replace("\"GET\"", "\"POST\"");
    let response = handle(&deps, lambda_http::request::from_str(&post).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(body(&response)["error"]["code"], "method_not_allowed");
}
