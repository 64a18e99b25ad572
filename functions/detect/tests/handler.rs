//! The detect handler driven by the `events/` fixtures: models are trained through the train
//! workflow (the body of the train fixture) on a temp-dir local store, then scored through the
//! detect handler.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use application::workflows::train::{TrainRequest, TrainWorkflow};
use detect::handler::HandlerDeps;
use edge::dispatch::handle;
use edge::Config;
use fixtures::tenant;
use fixtures::{body, fixture, request, with_body};
use lambda_http::Request;
use serde_json::{json, Value};
use store_local::LocalStores;

/// The CSV fixture with another query string and body.
fn csv(query: &str, body: &str) -> Request {
    let mut event = fixture("detect-csv.json");
    event["rawQueryString"] = json!(query);
    event["body"] = json!(body);
    request(&event)
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

/// A temp store with `payments` v1 trained through the train handler (default limits), and a
/// detect handler on it configured by `vars`.
async fn trained(vars: &[(&str, &str)]) -> (tempfile::TempDir, HandlerDeps) {
    let dir = tempfile::tempdir().unwrap();
    let stores = LocalStores::open(dir.path()).unwrap();
    let trainer = TrainWorkflow::new(
        stores.objects.clone(),
        stores.items.clone(),
        stores.items.clone(),
        config(&[]).limits(),
    );
    let train: TrainRequest =
        serde_json::from_str(fixture("train.json")["body"].as_str().unwrap()).unwrap();
    let trained = trainer.train(&tenant(), train).await.unwrap();
    assert_eq!(trained.version, 1);
    let deps = HandlerDeps::new(
        stores.objects,
        stores.items.clone(),
        stores.items,
        &config(vars),
    );
    (dir, deps)
}

fn detect_body() -> Value {
    serde_json::from_str(fixture("detect-json.json")["body"].as_str().unwrap()).unwrap()
}

fn assert_scored(v: &Value) {
    assert_eq!(v["model"], "payments", "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["scores"].as_array().unwrap().len(), 4);
    assert_eq!(v["labels"].as_array().unwrap().len(), 4);
    assert_eq!(
        v["labels"][2], 1,
        "the 9800.0 payment at 3am is an anomaly: {v}"
    );
    assert_eq!(v["summary"]["rows"], 4);
    assert!(v["job_id"].is_string());
}

#[tokio::test]
async fn when_trained_then_detected_as_v2_and_v1_json_should_score_every_row() {
    let (_dir, deps) = trained(&[]).await;
    for fixture_name in ["detect-json.json", "detect-json-rest.json"] {
        let response = handle(&deps, request(&fixture(fixture_name)))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{fixture_name}");
        let v = body(&response);
        assert_scored(&v);
        let anomaly = v["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["row"] == 2)
            .unwrap();
        assert!(!anomaly["top_features"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn when_csv_posted_with_model_in_query_should_score_every_row() {
    let (_dir, deps) = trained(&[]).await;
    let response = handle(&deps, request(&fixture("detect-csv.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", body(&response));
    assert_scored(&body(&response));
}

#[tokio::test]
async fn when_job_fetched_should_return_the_recorded_detect_job() {
    let (_dir, deps) = trained(&[]).await;
    let scored = body(
        &handle(&deps, request(&fixture("detect-json.json")))
            .await
            .unwrap(),
    );
    let id = scored["job_id"].as_str().unwrap();
    let text = fixture("job-get.json")
        .to_string()
        .replace("0000000000000000000000000000", id);
    let response = handle(&deps, lambda_http::request::from_str(&text).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", body(&response));
    let v = body(&response);
    assert_eq!(v["id"], id);
    assert_eq!(v["kind"], "detect");
    assert_eq!(v["model"], "payments");

    let response = handle(&deps, request(&fixture("job-get.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(body(&response)["error"]["code"], "job_not_found");
}

#[tokio::test]
async fn when_model_unknown_should_be_404_envelope() {
    let (_dir, deps) = trained(&[]).await;
    let response = handle(&deps, request(&fixture("detect-unknown-model.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let v = body(&response);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["request_id"], "v2-req-0001");
}

#[tokio::test]
async fn when_bad_detect_input_should_answer_the_right_4xx_never_5xx() {
    let (_dir, deps) = trained(&[]).await;
    let json_ct = Some("application/json");
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = detect_body();
        f(&mut b);
        b.to_string()
    };
    let ragged = edit(&|b| b["data"]["rows"][1] = json!([1.0, 2.0, 3.0]));
    let null_value = edit(&|b| b["data"]["rows"][0] = json!([null, 3]));
    let nan_string = edit(&|b| b["data"]["rows"][0] = json!(["NaN", 3]));
    let nan_literal = detect_body()
        .to_string()
        .replacen("\"rows\":[[", "\"rows\":[[NaN,1],[", 1);
    let unknown_version = edit(&|b| b["version"] = json!(99));
    let unknown_column = edit(&|b| b["data"]["columns"] = json!(["amount", "minute"]));
    let long = "a".repeat(300);
    let mut cases: Vec<(String, Request, u16)> = vec![
        (
            "malformed json".into(),
            with_body("detect-json.json", "{\"model\":", json_ct),
            400,
        ),
        (
            "empty body".into(),
            with_body("detect-json.json", " ", json_ct),
            400,
        ),
        (
            "wrong content type".into(),
            with_body(
                "detect-json.json",
                &detect_body().to_string(),
                Some("text/plain"),
            ),
            415,
        ),
        (
            "ragged rows".into(),
            with_body("detect-json.json", &ragged, json_ct),
            422,
        ),
        (
            "null value".into(),
            with_body("detect-json.json", &null_value, json_ct),
            422,
        ),
        (
            "NaN literal".into(),
            with_body("detect-json.json", &nan_literal, json_ct),
            400,
        ),
        (
            "unknown version".into(),
            with_body("detect-json.json", &unknown_version, json_ct),
            404,
        ),
        (
            "unknown column".into(),
            with_body("detect-json.json", &unknown_column, json_ct),
            422,
        ),
        (
            "csv without model".into(),
            csv("version=1", "amount,hour\n1,2\n"),
            400,
        ),
        (
            "csv bad version".into(),
            csv("model=payments&version=x", "amount,hour\n1,2\n"),
            400,
        ),
        (
            "csv ragged".into(),
            csv("model=payments", "amount,hour\n1,2\n3\n"),
            422,
        ),
        (
            "csv NaN".into(),
            csv("model=payments", "amount,hour\nNaN,2\n"),
            422,
        ),
        (
            "csv unknown model".into(),
            csv("model=nobody", "amount,hour\n1,2\n"),
            404,
        ),
        (
            "JSON body with CSV query parameters".into(),
            {
                let mut event = fixture("detect-json.json");
                event["rawQueryString"] = json!("version=2");
                request(&event)
            },
            400,
        ),
        (
            "body that is not UTF-8".into(),
            {
                let mut event = fixture("detect-json.json");
                event["body"] = json!("//4g/w=="); // base64 of ff fe 20 ff
                event["isBase64Encoded"] = json!(true);
                request(&event)
            },
            400,
        ),
    ];
    let nan_status = handle(&deps, with_body("detect-json.json", &nan_string, json_ct))
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(
        (400..500).contains(&nan_status),
        "\"NaN\" string: {nan_status}"
    );
    for name in ["../x", "a/b", "", long.as_str()] {
        let b = edit(&|b| b["model"] = json!(name));
        cases.push((
            format!("model name {name:?}"),
            with_body("detect-json.json", &b, None),
            400,
        ));
    }
    for (what, req, status) in cases {
        let response = handle(&deps, req).await.unwrap();
        let v = body(&response);
        assert_eq!(response.status(), status, "{what}: {v}");
        assert!(v["error"]["code"].is_string(), "{what}: {v}");
    }
}

#[tokio::test]
async fn when_body_over_limit_should_be_413_for_json_and_csv() {
    let (_dir, deps) = trained(&[("NOMALY_MAX_BODY_BYTES", "20")]).await;
    for fixture_name in ["detect-json.json", "detect-csv.json"] {
        let response = handle(&deps, request(&fixture(fixture_name)))
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{fixture_name}");
        assert_eq!(body(&response)["error"]["code"], "too_large");
    }
}

#[tokio::test]
async fn when_route_unknown_or_method_wrong_should_be_404_or_405() {
    let (_dir, deps) = trained(&[]).await;
    let mut event = fixture("detect-json.json");
    event["requestContext"]["http"]["method"] = json!("GET");
    let response = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(response.status(), 405);
    event["rawPath"] = json!("/api/v2/detect");
    let response = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(body(&response)["error"]["code"], "not_found");
}
