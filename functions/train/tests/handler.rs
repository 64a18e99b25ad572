//! The train handler driven by the `events/` fixtures against a temp-dir local store.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use edge::dispatch::handle;
use edge::Config;
use fixtures::{body, fixture, request, with_body};
use lambda_http::Request;
use serde_json::{json, Value};
use store_local::LocalStores;
use train::handler::HandlerDeps;

fn with_path(name: &str, path: &str) -> Request {
    let mut event = fixture(name);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    request(&event)
}

fn deps(vars: &[(&str, &str)]) -> (tempfile::TempDir, HandlerDeps) {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let config = Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let deps = HandlerDeps::new(
        stores.objects,
        stores.items.clone(),
        stores.items.clone(),
        &config,
    )
    .with_idempotency(stores.items);
    (dir, deps)
}

fn train_body() -> Value {
    serde_json::from_str(fixture("train.json")["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn when_train_posted_as_v2_and_v1_should_create_consecutive_versions() {
    let (_dir, deps) = deps(&[]);
    let response = handle(&deps, request(&fixture("train.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(&response));
    let v = body(&response);
    assert_eq!(v["name"], "payments");
    assert_eq!(v["version"], 1);
    assert_eq!(v["algorithm"], "isolation_forest");
    assert_eq!(v["features"], json!(["amount", "hour"]));
    assert_eq!(v["training"]["rows"], 64);

    let response = handle(&deps, request(&fixture("train-rest.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(&response));
    assert_eq!(body(&response)["version"], 2);
}

#[tokio::test]
async fn when_models_listed_and_got_should_show_versions() {
    let (_dir, deps) = deps(&[]);
    handle(&deps, request(&fixture("train.json")))
        .await
        .unwrap();
    let response = handle(&deps, request(&fixture("models-list.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let v = body(&response);
    assert_eq!(v["models"][0]["name"], "payments");
    assert_eq!(v["models"][0]["version"], 1);

    let response = handle(&deps, request(&fixture("model-get.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let v = body(&response);
    assert_eq!(v["latest_version"], 1);
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn when_model_unknown_should_be_404_envelope() {
    let (_dir, deps) = deps(&[]);
    let response = handle(&deps, request(&fixture("model-get.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let v = body(&response);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["request_id"], "v2-req-0001");
}

#[tokio::test]
async fn when_bad_train_input_should_answer_the_right_4xx() {
    let (_dir, deps) = deps(&[]);
    let mut ragged = train_body();
    ragged["data"]["rows"][3] = json!([1.0, 2.0, 3.0]);
    let mut unknown_field = train_body();
    unknown_field["bogus"] = json!(1);
    let nan = train_body()
        .to_string()
        .replacen("\"rows\":[[", "\"rows\":[[NaN,1],[", 1);
    let mut null_value = train_body();
    null_value["data"]["rows"][0] = json!([null, 3]);
    let json_ct = Some("application/json");
    let cases: Vec<(&str, Request, u16)> = vec![
        (
            "malformed json",
            with_body("train.json", "{\"name\":", json_ct),
            400,
        ),
        ("empty body", with_body("train.json", "", json_ct), 400),
        (
            "wrong content type",
            with_body("train.json", &train_body().to_string(), Some("text/plain")),
            415,
        ),
        (
            "ragged rows",
            with_body("train.json", &ragged.to_string(), json_ct),
            422,
        ),
        ("NaN literal", with_body("train.json", &nan, json_ct), 400),
        (
            "null value",
            with_body("train.json", &null_value.to_string(), json_ct),
            422,
        ),
        (
            "unknown field",
            with_body("train.json", &unknown_field.to_string(), json_ct),
            400,
        ),
        (
            "unknown model path",
            with_path("model-get.json", "/api/v1/models/nobody"),
            404,
        ),
        (
            "unknown route",
            with_path("models-list.json", "/api/v1/modelz"),
            404,
        ),
    ];
    for (what, req, status) in cases {
        let response = handle(&deps, req).await.unwrap();
        let v = body(&response);
        assert_eq!(response.status(), status, "{what}: {v}");
        assert!(v["error"]["code"].is_string(), "{what}: {v}");
    }
}

#[tokio::test]
async fn when_model_name_unsafe_should_be_400_in_body_and_path() {
    let (_dir, deps) = deps(&[]);
    let long = "a".repeat(300);
    for name in ["../x", "a/b", "", long.as_str()] {
        let mut b = train_body();
        b["name"] = json!(name);
        let response = handle(&deps, with_body("train.json", &b.to_string(), None))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{name:?}: {}", body(&response));
    }
    for path in [
        "/api/v1/models/..%2Fx",
        "/api/v1/models/a%2Fb",
        &format!("/api/v1/models/{long}"),
    ] {
        let response = handle(&deps, with_path("model-get.json", path))
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}: {}", body(&response));
    }
    // `a/b` unencoded is another path, not a model name.
    let response = handle(&deps, with_path("model-get.json", "/api/v1/models/a/b"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn when_body_over_limit_should_be_413() {
    let (_dir, deps) = deps(&[("NOMALY_MAX_BODY_BYTES", "100")]);
    let response = handle(&deps, request(&fixture("train.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(body(&response)["error"]["code"], "too_large");
}

#[tokio::test]
async fn when_method_wrong_should_be_405() {
    let (_dir, deps) = deps(&[]);
    let mut event = fixture("models-list.json");
    event["requestContext"]["http"]["method"] = json!("DELETE");
    let response = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(body(&response)["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn when_one_idempotency_key_is_posted_twice_should_train_once_and_replay_the_answer() {
    let (_dir, deps) = deps(&[]);
    let first = handle(&deps, request(&fixture("train-idempotent.json")))
        .await
        .unwrap();
    assert_eq!(first.status(), 201, "{}", body(&first));
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let again = handle(&deps, request(&fixture("train-idempotent.json")))
        .await
        .unwrap();
    assert_eq!(again.status(), 201, "{}", body(&again));
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(body(&again), body(&first), "the first answer, replayed");
    // Only one version was trained.
    let list = handle(&deps, request(&fixture("models-list.json")))
        .await
        .unwrap();
    assert_eq!(body(&list)["models"][0]["version"], 1, "{}", body(&list));

    // The same key with another body is refused; without a key, a new version is trained.
    let mut other = fixture("train-idempotent.json");
    let mut changed = train_body();
    changed["algorithm"] = json!("ecod");
    other["body"] = json!(changed.to_string());
    let refused = handle(&deps, request(&other)).await.unwrap();
    assert_eq!(refused.status(), 422, "{}", body(&refused));
    assert_eq!(body(&refused)["error"]["code"], "idempotency_key_reused");
    let fresh = handle(&deps, request(&fixture("train.json")))
        .await
        .unwrap();
    assert_eq!(body(&fresh)["version"], 2);
}

#[tokio::test]
async fn when_models_are_many_should_list_them_in_pages() {
    let (_dir, deps) = deps(&[]);
    for name in ["a", "b", "c"] {
        let mut event = fixture("train.json");
        let mut body_value = train_body();
        body_value["name"] = json!(name);
        event["body"] = json!(body_value.to_string());
        let response = handle(&deps, request(&event)).await.unwrap();
        assert_eq!(response.status(), 201, "{}", body(&response));
    }
    let mut page = fixture("models-list.json");
    page["rawQueryString"] = json!("limit=2");
    page["queryStringParameters"] = json!({"limit": "2"});
    let first = body(&handle(&deps, request(&page)).await.unwrap());
    let names: Vec<&str> = first["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"], "{first}");
    assert_eq!(first["next_after"], "b");
    page["rawQueryString"] = json!("limit=2&after=b");
    page["queryStringParameters"] = json!({"limit": "2", "after": "b"});
    let second = body(&handle(&deps, request(&page)).await.unwrap());
    assert_eq!(second["models"][0]["name"], "c", "{second}");
    assert!(second.get("next_after").is_none(), "{second}");
    page["rawQueryString"] = json!("limit=1000");
    page["queryStringParameters"] = json!({"limit": "1000"});
    let refused = handle(&deps, request(&page)).await.unwrap();
    assert_eq!(refused.status(), 400);
}

/// A handler over `dir`'s local store with S3 events and the local job driver, as `main` wires
/// it on the local store.
fn async_deps(dir: &std::path::Path) -> HandlerDeps {
    let stores = edge::startup::local_stores(dir).unwrap();
    let config = Config::from_lookup(|_| None).unwrap();
    HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        &config,
    )
    .with_blobs(stores.blobs.clone())
    .with_jobs_engine(None, &config)
    .with_idempotency(stores.idempotency.clone())
}

/// `GET /api/v1/models/payments` until a version trained by job `id` is listed.
async fn version_of_job(deps: &HandlerDeps, id: &str) -> Value {
    for _ in 0..300 {
        let response = handle(deps, with_path("model-get.json", "/api/v1/models/payments"))
            .await
            .unwrap();
        if response.status() == 200 {
            let model = body(&response);
            if let Some(version) = model["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["job"] == id)
            {
                return version.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no version of job {id} in 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_trained_from_an_own_source_should_answer_202_then_register_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let deps = async_deps(dir.path());
    let path = dir.path().join("objects/data/acme/history.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut csv = String::from("amount,hour\n");
    for i in 0..300 {
        csv.push_str(&format!("{},{}\n", 10 + i % 9, 8 + i % 10));
    }
    std::fs::write(&path, csv).unwrap();

    let response = handle(&deps, request(&fixture("train-from-source.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", body(&response));
    let job = body(&response);
    assert_eq!(job["kind"], "train");
    assert_eq!(job["source"], "s3://local/data/acme/history.csv");
    let id = job["id"].as_str().unwrap();
    let version = version_of_job(&deps, id).await;
    assert_eq!(version["algorithm"], "isolation_forest");
    assert_eq!(version["training"]["rows"], 300);

    // Another tenant's data, or a missing object, is refused before any job is recorded.
    for (uri, status) in [
        ("s3://local/data/beta/history.csv", 403),
        ("s3://local/data/acme/missing.csv", 422),
    ] {
        let mut event = fixture("train-from-source.json");
        let mut request_body: Value =
            serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        request_body["source"]["s3_uri"] = json!(uri);
        event["body"] = json!(request_body.to_string());
        let response = handle(&deps, request(&event)).await.unwrap();
        assert_eq!(response.status(), status, "{uri}: {}", body(&response));
    }
    // `data` and `source` together are refused.
    let mut both = train_body();
    both["source"] = json!({"s3_uri": "s3://local/data/acme/history.csv"});
    let response = handle(&deps, with_body("train.json", &both.to_string(), None))
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "{}", body(&response));
}

#[tokio::test]
async fn when_a_train_job_step_reads_a_missing_object_should_fail_its_job_and_train_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let deps = async_deps(dir.path());
    // The fixture's source does not exist: the job fails on its data (recorded, not retried).
    let summary = edge::dispatch::invoke(
        &deps,
        lambda_http::lambda_runtime::LambdaEvent::new(
            fixture("train-job.json"),
            Default::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(summary["status"], "failed", "{summary}");
    let models = body(
        &handle(&deps, request(&fixture("models-list.json")))
            .await
            .unwrap(),
    );
    assert_eq!(models["models"], json!([]));
}
