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

/// A handler over `dir`'s local store with S3 events, upload URLs and the local job driver, as
/// `main` wires it on the local store.
fn async_deps(dir: &std::path::Path) -> HandlerDeps {
    let stores = edge::startup::local_stores(dir).unwrap();
    let config = config(&[("NOMALY_BATCH_RANGE_BYTES", "1024")]);
    HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        &config,
    )
    .with_blobs(stores.blobs.clone())
    .with_signer(stores.signer.clone(), &config)
    .with_jobs_engine(None, &config)
}

/// Writes `text` as the local store's object `key`.
fn put_object(dir: &std::path::Path, key: &str, text: &str) {
    let path = dir.join("objects").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Rows in the train fixture's columns, the 6th one far out.
fn payments_csv(rows: usize) -> String {
    let mut csv = String::from("amount,hour\n");
    for i in 0..rows {
        let amount = if i == 5 {
            9800.0
        } else {
            10.0 + (i % 7) as f64
        };
        csv.push_str(&format!("{amount},{}\n", 9 + i % 8));
    }
    csv
}

/// `GET /api/v1/jobs/{id}` until the job ends (the local driver runs it in the background).
async fn finished_job(deps: &HandlerDeps, id: &str) -> Value {
    let text = fixture("job-get.json")
        .to_string()
        .replace("0000000000000000000000000000", id);
    for _ in 0..300 {
        let response = handle(deps, lambda_http::request::from_str(&text).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", body(&response));
        let job = body(&response);
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job {id} did not end in 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_batch_job_is_started_on_an_own_object_should_answer_202_and_end_with_a_results_link(
) {
    let (dir, _) = trained(&[]).await;
    let deps = async_deps(dir.path());
    put_object(dir.path(), "data/acme/day.csv", &payments_csv(500));

    let response = handle(&deps, request(&fixture("batch-start.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", body(&response));
    let started = body(&response);
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["kind"], "batch");
    assert_eq!(started["source"], "s3://local/data/acme/day.csv");

    let job = finished_job(&deps, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["counts"]["rows"], 500);
    assert!(job["progress"]["ranges"].as_u64().unwrap() > 1, "{job}");
    assert_eq!(job["progress"]["rows_done"], 500);
    let url = job["results_url"]["url"].as_str().unwrap();
    let results = std::fs::read_to_string(url.strip_prefix("file://").unwrap()).unwrap();
    assert_eq!(results.lines().count(), 501);
    assert!(results.starts_with("amount,hour,score,label\n"));
    let labelled: Vec<u64> = (0u64..)
        .zip(results.lines().skip(1))
        .filter(|(_, line)| line.ends_with(",1"))
        .map(|(row, _)| row)
        .collect();
    assert_eq!(job["counts"]["anomalies"], labelled.len(), "{job}");
    let first: Vec<u64> = job["anomaly_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_u64().unwrap())
        .collect();
    assert_eq!(
        first,
        labelled[..first.len()],
        "global row numbers across ranges"
    );

    // Asked again for the same object: the same job, nothing started twice.
    let again = body(
        &handle(&deps, request(&fixture("batch-start.json")))
            .await
            .unwrap(),
    );
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "succeeded");

    // The model's jobs, newest first.
    let listed = handle(&deps, request(&fixture("model-jobs-list.json")))
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "{}", body(&listed));
    let page = body(&listed);
    assert_eq!(page["jobs"][0]["id"], id.as_str(), "{page}");
    let mut paged = fixture("model-jobs-list.json");
    paged["rawQueryString"] = json!("limit=0");
    paged["queryStringParameters"] = json!({"limit": "0"});
    let refused = handle(&deps, request(&paged)).await.unwrap();
    assert_eq!(refused.status(), 400, "{}", body(&refused));
}

#[tokio::test]
async fn when_the_s3_uri_is_not_the_callers_should_refuse_it_with_403_and_record_nothing() {
    let (dir, _) = trained(&[]).await;
    let deps = async_deps(dir.path());
    put_object(dir.path(), "data/beta/day.csv", &payments_csv(10));
    for uri in [
        "s3://local/data/beta/day.csv",
        "s3://another-bucket/data/acme/day.csv",
        "s3://local/models/acme/payments/v000001/model.nmly",
        "s3://local/data/acme/../beta/day.csv",
    ] {
        let event = with_body(
            "batch-start.json",
            &json!({"source": {"s3_uri": uri}}).to_string(),
            None,
        );
        let response = handle(&deps, event).await.unwrap();
        assert_eq!(response.status(), 403, "{uri}: {}", body(&response));
        assert_eq!(body(&response)["error"]["code"], "source_not_owned");
    }
    let listed = body(
        &handle(&deps, request(&fixture("model-jobs-list.json")))
            .await
            .unwrap(),
    );
    let kinds: Vec<&Value> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["kind"])
        .collect();
    assert_eq!(kinds, [&json!("train")], "no batch job was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_an_upload_is_granted_should_record_its_pending_job_which_the_upload_runs() {
    let (dir, _) = trained(&[]).await;
    let deps = async_deps(dir.path());
    let response = handle(&deps, request(&fixture("uploads-create.json")))
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", body(&response));
    let grant = body(&response);
    let id = grant["job_id"].as_str().unwrap().to_owned();
    let key = format!("incoming/detect/acme/payments/{id}.csv");
    assert_eq!(grant["s3_uri"], format!("s3://local/{key}"));
    assert_eq!(grant["upload"]["method"], "PUT");
    assert!(grant["upload"]["url"].as_str().unwrap().ends_with(&key));
    let text = fixture("job-get.json")
        .to_string()
        .replace("0000000000000000000000000000", &id);
    let pending = body(
        &handle(&deps, lambda_http::request::from_str(&text).unwrap())
            .await
            .unwrap(),
    );
    assert_eq!(pending["status"], "pending", "{pending}");

    // The upload lands; its S3 event runs that very job.
    put_object(dir.path(), &key, &payments_csv(50));
    let mut event = fixture("s3-detect-object-created.json");
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    event["Records"][0]["s3"]["bucket"]["name"] = json!("local");
    let summary = edge::dispatch::invoke(
        &deps,
        lambda_http::lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(summary["jobs"][0]["id"], id.as_str(), "{summary}");
    let job = finished_job(&deps, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["counts"]["rows"], 50);

    // A training upload needs the train scope.
    let mut event = fixture("uploads-create.json");
    event["body"] = json!(json!({"purpose": "train", "model": "payments"}).to_string());
    event["requestContext"]["authorizer"]["lambda"]["scopes"] = json!("read detect");
    let refused = handle(&deps, request(&event)).await.unwrap();
    assert_eq!(refused.status(), 403, "{}", body(&refused));
    assert_eq!(body(&refused)["error"]["code"], "insufficient_scope");
}

#[tokio::test]
async fn when_a_job_step_names_no_job_should_refuse_it_without_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let deps = async_deps(dir.path());
    for name in ["batch-range.json", "batch-join.json", "job-fail.json"] {
        let refused = edge::dispatch::invoke(
            &deps,
            lambda_http::lambda_runtime::LambdaEvent::new(fixture(name), Default::default()),
        )
        .await;
        assert!(refused.is_err(), "{name}: {refused:?}");
    }
    let unknown = edge::dispatch::invoke(
        &deps,
        lambda_http::lambda_runtime::LambdaEvent::new(
            json!({"action": "batch_dance", "job": fixture("batch-join.json")["job"]}),
            Default::default(),
        ),
    )
    .await;
    assert!(unknown.is_err());
}

#[tokio::test]
async fn when_the_state_machine_invokes_this_function_should_know_every_action_it_sends() {
    let path = format!(
        "{}/../../infra/statemachine/jobs.asl.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let definition: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = definition.to_string();
    let mut actions: Vec<String> = Vec::new();
    // Every payload sent to the detect-events function, in states and in the Map's item selector.
    fn collect(v: &Value, out: &mut Vec<String>, to_detect: bool) {
        match v {
            Value::Object(map) => {
                let here = map
                    .get("FunctionName")
                    .map(|f| f.as_str().unwrap_or("").contains("DetectEvents"));
                let to_detect = here.unwrap_or(to_detect);
                if let (true, Some(Value::String(action))) = (to_detect, map.get("action")) {
                    out.push(action.clone());
                }
                for value in map.values() {
                    collect(value, out, to_detect);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect(i, out, to_detect)),
            _ => {}
        }
    }
    collect(&definition["States"]["JoinResults"], &mut actions, false);
    collect(&definition["States"]["FailBatch"], &mut actions, false);
    collect(
        &definition["States"]["ScoreRanges"]["ItemSelector"],
        &mut actions,
        true,
    );
    actions.sort();
    assert_eq!(actions, ["batch_join", "batch_range", "job_fail"], "{text}");
    let dir = tempfile::tempdir().unwrap();
    let deps = async_deps(dir.path());
    for action in actions {
        let mut payload = fixture("batch-range.json");
        payload["action"] = json!(action);
        let outcome = edge::dispatch::invoke(
            &deps,
            lambda_http::lambda_runtime::LambdaEvent::new(payload, Default::default()),
        )
        .await;
        let message = format!("{outcome:?}");
        assert!(!message.contains("is not an action"), "{action}: {message}");
        assert!(message.contains("JobNotFound"), "{action}: {message}");
    }
}

/// A handler over `dir`'s local store serving the series routes, with `Idempotency-Key` records,
/// as `main` wires it.
fn series_deps(dir: &std::path::Path) -> HandlerDeps {
    let stores = edge::startup::local_stores(dir).unwrap();
    let config = config(&[]);
    HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        &config,
    )
    .with_series(
        stores.objects.clone(),
        stores.admin.clone(),
        stores.series.clone(),
        &config,
    )
    .with_idempotency(stores.idempotency.clone())
}

#[tokio::test]
async fn when_the_series_fixtures_are_sent_should_append_once_judge_list_and_describe() {
    let dir = tempfile::tempdir().unwrap();
    let deps = series_deps(dir.path());
    let appended = handle(&deps, request(&fixture("series-append.json")))
        .await
        .unwrap();
    assert_eq!(appended.status(), 200, "{}", body(&appended));
    let first = body(&appended);
    assert_eq!(first["created"], true, "{first}");
    assert_eq!(first["series"]["points_seen"], 6);
    assert_eq!(first["series"]["values"], json!(["value"]));
    assert_eq!(first["results"].as_array().unwrap().len(), 6);
    assert_eq!(first["results"][0]["entity"], "web-1");

    // The same request with the same Idempotency-Key: the first answer, nothing learned twice.
    let replayed = handle(&deps, request(&fixture("series-append.json")))
        .await
        .unwrap();
    assert_eq!(
        replayed.headers()["idempotent-replayed"],
        "true",
        "{}",
        body(&replayed)
    );
    assert_eq!(body(&replayed), first);

    let described = handle(&deps, request(&fixture("series-get.json")))
        .await
        .unwrap();
    assert_eq!(described.status(), 200);
    let series = body(&described);
    assert_eq!(
        (series["points_seen"].clone(), series["sequence"].clone()),
        (json!(6), json!(1))
    );
    assert_eq!(series["config"]["detector"], "ensemble");

    let listed = body(
        &handle(&deps, request(&fixture("series-list.json")))
            .await
            .unwrap(),
    );
    assert_eq!(listed["series"][0]["name"], "cpu", "{listed}");
    assert!(listed.get("next_cursor").is_none());

    let judged = handle(&deps, request(&fixture("series-detect.json")))
        .await
        .unwrap();
    assert_eq!(judged.status(), 200, "{}", body(&judged));
    let judged = body(&judged);
    assert_eq!(judged["values"], json!(["cpu", "memory"]));
    assert_eq!(judged["results"].as_array().unwrap().len(), 8);
    assert_eq!(
        judged["results"][7]["attribution"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let listed = body(
        &handle(&deps, request(&fixture("series-list.json")))
            .await
            .unwrap(),
    );
    assert_eq!(
        listed["series"].as_array().unwrap().len(),
        1,
        "detect stores nothing"
    );
}

#[tokio::test]
async fn when_series_requests_are_bad_should_answer_the_right_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let deps = series_deps(dir.path());
    let point = |t: i64| json!({"timestamp": t, "value": 1.0});
    let cases = [
        (
            "/api/v1/series/cpu/points",
            json!({"points": []}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/series/cpu/points",
            json!({"points": [{"timestamp": 1, "value": 1.0, "values": {"a": 1.0}}]}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/series/cpu/points",
            json!({"points": [{"timestamp": 1, "value": 1e31}]}),
            422,
            "invalid_input",
        ),
        (
            "/api/v1/series/cpu/points",
            json!({"config": {"shingle_size": 0}, "points": [point(1)]}),
            422,
            "invalid_parameter",
        ),
        (
            "/api/v1/series/cpu/points",
            json!({"points": [point(5), point(4)]}),
            409,
            "out_of_order",
        ),
        (
            "/api/v1/series/detect/points",
            json!({"points": [point(1)]}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/series/detect",
            json!({"points": [point(1)], "extra": true}),
            400,
            "bad_request",
        ),
    ];
    for (path, payload, status, code) in cases {
        let mut event = fixture("series-append.json");
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        event["headers"]
            .as_object_mut()
            .unwrap()
            .remove("idempotency-key");
        event["body"] = json!(payload.to_string());
        let response = handle(&deps, request(&event)).await.unwrap();
        let answer = body(&response);
        assert_eq!(
            (response.status().as_u16(), answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {payload}: {answer}"
        );
    }
    let missing = handle(&deps, request(&fixture("series-get.json")))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(body(&missing)["error"]["code"], "series_not_found");
}

#[tokio::test]
async fn when_the_labels_fixtures_are_sent_should_keep_the_labels_and_list_them() {
    let (dir, deps) = trained(&[]).await;
    let stores = edge::startup::local_stores(dir.path()).unwrap();
    let deps = deps.with_labels(
        stores.registry.clone(),
        stores.labels.clone(),
        stores.blobs.clone(),
        &config(&[]),
    );
    let written = handle(&deps, request(&fixture("labels-post.json")))
        .await
        .unwrap();
    assert_eq!(written.status(), 200, "{}", body(&written));
    let written = body(&written);
    assert_eq!(written["model"], "payments");
    assert_eq!(
        (
            written["ids"].as_array().unwrap().len(),
            written["total"].clone()
        ),
        (2, json!(2))
    );
    // Sent again: the same rows keep their ids, nothing is added.
    let again = body(
        &handle(&deps, request(&fixture("labels-post.json")))
            .await
            .unwrap(),
    );
    assert_eq!(again, written);
    let listed = handle(&deps, request(&fixture("labels-list.json")))
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed = body(&listed);
    let labels = listed["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 2, "{listed}");
    assert!(labels
        .iter()
        .any(|l| l["label"] == "anomaly" && l["values"] == json!([9800.0, 3.0])));
    assert_eq!(labels[0]["features"], json!(["amount", "hour"]));
    assert!(listed.get("next_cursor").is_none());

    // Another model, a body that is no label, a limit out of range: the right 4xx.
    let mut unknown = fixture("labels-post.json");
    unknown["rawPath"] = json!("/api/v1/models/refunds/labels");
    unknown["requestContext"]["http"]["path"] = json!("/api/v1/models/refunds/labels");
    let refused = handle(&deps, request(&unknown)).await.unwrap();
    assert_eq!(
        (
            refused.status().as_u16(),
            body(&refused)["error"]["code"].clone()
        ),
        (404, json!("model_not_found"))
    );
    let mut malformed = fixture("labels-post.json");
    malformed["body"] =
        json!(r#"{"labels": [{"label": "maybe", "values": {"amount": 1, "hour": 1}}]}"#);
    assert_eq!(
        handle(&deps, request(&malformed)).await.unwrap().status(),
        400
    );
    let mut missing = fixture("labels-post.json");
    missing["body"] = json!(r#"{"labels": [{"label": "normal", "values": {"amount": 1}}]}"#);
    let refused = handle(&deps, request(&missing)).await.unwrap();
    assert_eq!(refused.status(), 422, "{}", body(&refused));
    let mut too_many = fixture("labels-list.json");
    too_many["rawQueryString"] = json!("limit=101");
    too_many["queryStringParameters"] = json!({"limit": "101"});
    assert_eq!(
        handle(&deps, request(&too_many)).await.unwrap().status(),
        400
    );
}
