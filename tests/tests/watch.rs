//! The functions end to end, as a developer runs them: `cargo lambda watch` on 127.0.0.1 and a
//! free port, the real `health`, `train`, `detect` and `backup` binaries, the local store in a
//! temp directory. Bootstraps a tenant's admin key by direct invocation and creates a working key
//! over HTTP, trains on the shipped sample, finds the planted anomalies, labels rows and retrains
//! with them, scores the Kinesis and SQS
//! fixtures into alerts and dead letters (JSON-lines files in the data directory), answers bad
//! input with the right 4xx, backs up (an operator key) and dry-runs a restore, writes one EMF document per
//! invocation, never logs a secret, and keeps the `openapi.yaml` contract with authentication on.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use e2e::http::{call_json, get, issue_key, Caller};
use e2e::watch::WatchServer;
use e2e::{contract, tools, workspace_root};
use serde_json::{json, Value};

const MODEL: &str = "e2e-payments";

fn sample(name: &str) -> String {
    let path = workspace_root().join("data/sample").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sample CSV as the JSON `data` shape.
fn csv_as_data(text: &str) -> Value {
    let mut lines = text.lines();
    let columns: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse().expect("a number")).collect())
        .collect();
    json!({"columns": columns, "rows": rows})
}

/// Every JSON line of the log that parses.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The tenant's first admin key (direct invocation), then a working key created with it over
/// HTTP, which the rest of the run uses.
fn working_key(server: &WatchServer) -> (Caller, Caller) {
    let admin = issue_key(server.port(), "e2e", &["admin"]);
    let created = admin.json(
        "POST",
        "/api/v1/keys",
        &json!({"name": "pipeline", "scopes": ["read", "detect", "train"]}),
    );
    assert_eq!(created.status, 201, "{}", created.json());
    let worker = Caller {
        port: server.port(),
        token: created.json()["key"].as_str().expect("a key").to_owned(),
    };
    (admin, worker)
}

fn train_and_detect(server: &WatchServer, caller: &Caller) {
    let port = server.port();
    let health = get(port, "/health");
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let ready = get(port, "/health/ready");
    assert_eq!(ready.status, 200, "{}", ready.json());

    let trained = caller.json(
        "POST",
        "/api/v1/models",
        &json!({"name": MODEL, "algorithm": "ensemble", "contamination": 0.01,
                "data": csv_as_data(&sample("train.csv"))}),
    );
    assert_eq!(trained.status, 201, "{}", trained.json());
    assert_eq!(trained.json()["version"], 1);

    let csv = sample("detect.csv");
    let scored = caller.call(
        "POST",
        &format!("/api/v1/detect?model={MODEL}&explain=true"),
        Some(("text/csv", csv.as_bytes())),
    );
    let v = scored.json();
    assert_eq!(scored.status, 200, "{v}");
    assert_eq!(v["scores"].as_array().map(Vec::len), Some(200));
    let found: Vec<u64> = v["anomalies"]
        .as_array()
        .expect("anomalies")
        .iter()
        .map(|a| a["row"].as_u64().expect("a row") + 1)
        .collect();
    for planted in sample("detect_anomalies.txt").split_whitespace() {
        let planted: u64 = planted.parse().expect("a row number");
        assert!(
            found.contains(&planted),
            "planted row {planted} not in {found:?}"
        );
    }
    assert!(
        v["anomalies"][0]["top_features"][0]["feature"].is_string(),
        "{v}"
    );

    let job = caller.get(&format!(
        "/api/v1/jobs/{}",
        v["job_id"].as_str().expect("job id")
    ));
    let job = job.json();
    assert_eq!(
        (job["kind"].as_str(), job["counts"]["rows"].as_u64()),
        (Some("detect"), Some(200))
    );
    let detail = caller.get(&format!("/api/v1/models/{MODEL}")).json();
    assert_eq!(detail["latest_version"], 1, "{detail}");
}

/// `GET /api/v1/jobs/{id}` until the job ends (the local driver runs it in the function's
/// process, in the background).
fn finished_job(caller: &Caller, id: &str) -> Value {
    for _ in 0..600 {
        let job = caller.get(&format!("/api/v1/jobs/{id}")).json();
        if job["status"] == "succeeded" || job["status"] == "failed" {
            return job;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("job {id} did not end in 60 s");
}

/// A file through an upload URL, scored by an asynchronous batch job (202, progress, a results
/// link), another trained on by an asynchronous training job, and a foreign `s3_uri` refused.
fn big_files_go_through_uploads_and_jobs(caller: &Caller) {
    let upload = |purpose: &str, text: &str| -> String {
        let granted = caller.json("POST", "/api/v1/uploads", &json!({"purpose": purpose}));
        assert_eq!(granted.status, 201, "{}", granted.json());
        let grant = granted.json();
        let path = grant["upload"]["url"].as_str().expect("a url").to_owned();
        let path = path.strip_prefix("file://").expect("a local file URL");
        std::fs::create_dir_all(std::path::Path::new(path).parent().expect("a dir")).unwrap();
        std::fs::write(path, text).unwrap();
        grant["s3_uri"].as_str().expect("an s3_uri").to_owned()
    };
    let detect_uri = upload("data", &sample("detect.csv"));
    let started = caller.json(
        "POST",
        &format!("/api/v1/models/{MODEL}/jobs"),
        &json!({"source": {"s3_uri": detect_uri}}),
    );
    assert_eq!(started.status, 202, "{}", started.json());
    let id = started.json()["id"].as_str().expect("a job id").to_owned();
    let job = finished_job(caller, &id);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["counts"]["rows"], 200, "{job}");
    assert_eq!(job["progress"]["rows_done"], 200, "{job}");
    let results = job["results_url"]["url"].as_str().expect("a results link");
    let results = std::fs::read_to_string(results.strip_prefix("file://").unwrap()).unwrap();
    assert_eq!(results.lines().count(), 201);
    let listed = caller
        .get(&format!("/api/v1/models/{MODEL}/jobs?limit=5"))
        .json();
    assert_eq!(listed["jobs"][0]["id"], id.as_str(), "{listed}");

    let train_uri = upload("data", &sample("train.csv"));
    let started = caller.json(
        "POST",
        "/api/v1/models",
        &json!({"name": "from-upload", "algorithm": "ecod", "source": {"s3_uri": train_uri}}),
    );
    assert_eq!(started.status, 202, "{}", started.json());
    let id = started.json()["id"].as_str().expect("a job id").to_owned();
    let job = finished_job(caller, &id);
    assert_eq!(
        (job["status"].as_str(), job["version"].as_u64()),
        (Some("succeeded"), Some(1)),
        "{job}"
    );

    let foreign = caller.json(
        "POST",
        &format!("/api/v1/models/{MODEL}/jobs"),
        &json!({"source": {"s3_uri": "s3://local/data/another-tenant/x.csv"}}),
    );
    assert_eq!(foreign.status, 403, "{}", foreign.json());
    assert_eq!(foreign.json()["error"]["code"], "source_not_owned");
}

fn bad_input_gets_the_right_4xx(caller: &Caller) {
    let columns = json!(["amount", "hour", "items", "distance_km"]);
    let detect = |data: Value| json!({"model": MODEL, "data": data});
    let oversize = vec![b' '; 7 * 1024 * 1024];
    let long_name = "n".repeat(300);
    let cases: Vec<(&str, String, &str, Vec<u8>, u16)> = vec![
        ("malformed JSON", "/api/v1/detect".into(), "application/json", b"{\"model\":".to_vec(), 400),
        ("wrong content type", "/api/v1/detect".into(), "text/plain", b"hello".to_vec(), 415),
        ("ragged rows", "/api/v1/detect".into(), "application/json",
         detect(json!({"columns": columns, "rows": [[1, 2, 3]]})).to_string().into_bytes(), 422),
        ("NaN in CSV", format!("/api/v1/detect?model={MODEL}"), "text/csv",
         b"amount,hour,items,distance_km\nNaN,1,1,1\n".to_vec(), 422),
        ("unknown model", "/api/v1/detect".into(), "application/json",
         json!({"model": "nobody", "data": {"columns": columns, "rows": [[1, 2, 3, 4]]}}).to_string().into_bytes(), 404),
        ("unknown version", "/api/v1/detect".into(), "application/json",
         json!({"model": MODEL, "version": 9, "data": {"columns": columns, "rows": [[1, 2, 3, 4]]}}).to_string().into_bytes(), 404),
        ("oversize body", "/api/v1/detect".into(), "application/json", oversize, 413),
        ("name ../x", "/api/v1/models".into(), "application/json",
         json!({"name": "../x", "data": {"columns": ["a"], "rows": [[1], [2]]}}).to_string().into_bytes(), 400),
        ("name a/b", "/api/v1/models".into(), "application/json",
         json!({"name": "a/b", "data": {"columns": ["a"], "rows": [[1], [2]]}}).to_string().into_bytes(), 400),
        ("empty name", "/api/v1/models".into(), "application/json",
         json!({"name": "", "data": {"columns": ["a"], "rows": [[1], [2]]}}).to_string().into_bytes(), 400),
        ("300-character name", "/api/v1/models".into(), "application/json",
         json!({"name": long_name, "data": {"columns": ["a"], "rows": [[1], [2]]}}).to_string().into_bytes(), 400),
    ];
    for (what, path, content_type, body, status) in cases {
        let reply = caller.call("POST", &path, Some((content_type, &body)));
        let v = reply.json();
        assert_eq!(reply.status, status, "{what}: {v}");
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{what}: {v}"
        );
    }
    let reply = caller.get(&format!("/api/v1/models/{long_name}"));
    assert_eq!(reply.status, 400, "{}", reply.json());
}

/// `POST /api/v1/backups` backs up what was trained and scored, `GET` lists it, and a direct
/// invocation (the Lambda invoke API `cargo lambda invoke` uses) dry-runs its restore.
fn back_up_and_restore(server: &WatchServer, operator: &Caller) {
    let port = server.port();
    let created = operator.call("POST", "/api/v1/backups", None);
    assert_eq!(created.status, 201, "{}", created.json());
    let backup = created.json()["backup"].clone();
    assert_eq!(backup["status"], "succeeded", "{backup}");
    assert!(
        backup["objects"].as_u64().is_some_and(|n| n >= 1),
        "{backup}"
    );
    assert!(
        backup["items"]["jobs"].as_u64().is_some_and(|n| n >= 2),
        "{backup}"
    );

    let listed = operator.get("/api/v1/backups");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["backups"][0], backup);

    let restore = call_json(
        port,
        "POST",
        "/2015-03-31/functions/backup/invocations",
        &json!({"action": "restore", "backup_id": backup["id"], "dry_run": true}),
    );
    assert_eq!(restore.status, 200, "{}", restore.json());
    let report = restore.json();
    assert_eq!(report["status"], "dry_run", "{report}");
    assert_eq!(report["versions"]["written"], 0, "{report}");
    assert!(
        report["versions"]["unchanged"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{report}"
    );
}

/// The stream sources of the `events/` fixtures, routed to the run's tenant and model.
fn stream_routes() -> String {
    json!({
        "arn:aws:kinesis:us-east-1:000000000000:stream/nomaly-records": {"tenant": "e2e", "model": MODEL},
        "arn:aws:sqs:us-east-1:000000000000:nomaly-records": {"tenant": "e2e", "model": MODEL},
    })
    .to_string()
}

/// The lines of a JSON-lines file the functions wrote in the data directory (none yet: empty).
fn jsonl(server: &WatchServer, name: &str) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir().join(name))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// The Kinesis and SQS fixtures, invoked as `cargo lambda invoke` does: the anomalous record
/// raises one alert in `alerts.jsonl` (not again when redelivered, nor when the queue delivers a
/// record of the same id), the malformed and the unknown-model records go to
/// `dead-letters.jsonl` with their reasons, and no record is sent back. The HTTP detection before
/// raised its job summary.
fn streams_score_records_and_alert(server: &WatchServer) {
    let port = server.port();
    let invoke = |fixture_name: &str| {
        let reply = call_json(
            port,
            "POST",
            "/2015-03-31/functions/detect/invocations",
            &fixtures::fixture(fixture_name),
        );
        assert_eq!(reply.status, 200, "{}", reply.json());
        reply.json()
    };
    let anomalies = |server: &WatchServer| -> Vec<Value> {
        jsonl(server, "alerts.jsonl")
            .into_iter()
            .filter(|e| e["detail-type"] == "Anomaly Detected")
            .collect()
    };
    let summaries: Vec<Value> = jsonl(server, "alerts.jsonl")
        .into_iter()
        .filter(|e| e["detail-type"] == "Job Anomalies Found")
        .collect();
    assert!(
        summaries.iter().any(|e| e["detail"]["kind"] == "detect"
            && e["detail"]["tenant"] == "e2e"
            && e["detail"]["top_rows"][0]["score"].is_number()),
        "{summaries:?}"
    );

    let answer = invoke("kinesis-records.json");
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let alerts = anomalies(server);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["source"], "nomaly");
    assert_eq!(
        (
            alert["detail"]["tenant"].as_str(),
            alert["detail"]["model"].as_str(),
            alert["detail"]["entity"].as_str(),
            alert["detail"]["record_id"].as_str(),
            alert["detail"]["source"].as_str(),
        ),
        (
            Some("e2e"),
            Some(MODEL),
            Some("card-2"),
            Some("txn-7731"),
            Some("kinesis")
        )
    );
    assert!(
        alert["detail"]["top_features"][0]["feature"].is_string(),
        "{alert}"
    );
    let letters = jsonl(server, "dead-letters.jsonl");
    let mut codes: Vec<&str> = letters.iter().filter_map(|l| l["code"].as_str()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        ["malformed_record", "model_not_found"],
        "{letters:?}"
    );

    assert_eq!(
        invoke("kinesis-records.json"),
        json!({"batchItemFailures": []})
    );
    assert_eq!(invoke("sqs-records.json"), json!({"batchItemFailures": []}));
    assert_eq!(
        anomalies(server).len(),
        1,
        "a redelivered record raised its alert again"
    );
    assert_eq!(jsonl(server, "dead-letters.jsonl").len(), 6);
}

/// Every invocation logged one summary line and wrote exactly one EMF document, and no function
/// ever answered 5xx.
fn one_emf_document_per_invocation(log: &str) {
    let lines = json_lines(log);
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            matches!(
                l["fields"]["message"].as_str(),
                Some("request" | "request failed" | "event")
            )
        })
        .collect();
    let documents: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert!(!requests.is_empty(), "no request log lines in:\n{log}");
    for function in ["health", "train", "detect", "backup", "keys"] {
        let logged = requests
            .iter()
            .filter(|r| r["fields"]["function"] == function)
            .count();
        let emitted = documents
            .iter()
            .filter(|d| d["Function"] == function)
            .count();
        assert_eq!(
            logged, emitted,
            "{function}: {logged} requests, {emitted} EMF documents"
        );
    }
    let server_errors: Vec<&&Value> = requests
        .iter()
        .filter(|r| r["fields"]["status"].as_u64().is_some_and(|s| s >= 500))
        .collect();
    assert!(
        server_errors.is_empty(),
        "functions answered 5xx: {server_errors:?}"
    );
    let scored: u64 = documents
        .iter()
        .filter_map(|d| d["RowsScored"].as_u64())
        .sum();
    assert!(scored >= 200, "RowsScored sums to {scored}");
    let cold: u64 = documents
        .iter()
        .filter_map(|d| d["ColdStart"].as_u64())
        .sum();
    assert!(
        cold >= 5,
        "each function started at least once cold: {cold}"
    );
}

/// No secret a test created appears anywhere in the functions' output (logs and EMF).
fn no_secret_in_the_log(log: &str, callers: &[&Caller]) {
    for caller in callers {
        let secret = caller.token.rsplit('.').next().expect("a secret");
        assert!(!log.contains(secret), "a key's secret is in the watch log");
    }
}

/// `POST /api/v1/models` sent three times with one `Idempotency-Key` (as a client retrying after
/// a gateway timeout would): one version is trained, the repeats answer the first answer, and the
/// same key with another body is refused.
fn retries_with_one_idempotency_key_train_once(caller: &Caller) {
    let header = format!("Bearer {}", caller.token);
    let body = json!({"name": "e2e-idempotent", "algorithm": "ecod",
                      "data": csv_as_data(&sample("train.csv"))})
    .to_string();
    let post = |body: &str| {
        e2e::http::call_with(
            caller.port,
            "POST",
            "/api/v1/models",
            &[
                ("Authorization", &header),
                ("Idempotency-Key", "e2e-train-1"),
            ],
            Some(("application/json", body.as_bytes())),
        )
        .expect("POST /api/v1/models")
    };
    let answers: Vec<_> = (0..3).map(|_| post(&body)).collect();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.json());
        assert_eq!(answer.json(), answers[0].json(), "a repeat trained again");
    }
    let listed = caller.get("/api/v1/models/e2e-idempotent");
    assert_eq!(listed.json()["latest_version"], 1, "{}", listed.json());
    let other = body.replace("\"ecod\"", "\"hbos\"");
    let refused = post(&other);
    assert_eq!(refused.status, 422, "{}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "idempotency_key_reused");
}

/// A series fed over HTTP through the running detect function: 300 points of a daily-like cycle in
/// six appends (the state is stored between them), a spike flagged, an append retried with its
/// `Idempotency-Key` learned once, an old point refused, the first points judged in one call
/// exactly as appended, and another tenant sees none of it. Every answer stays under 16 KB,
/// which `cargo lambda watch` answers reliably (see tests/contract/hooks.py).
fn series_learn_and_flag(caller: &Caller, stranger: &Caller) {
    let header = format!("Bearer {}", caller.token);
    let point = |i: usize| {
        let value = if i == 260 {
            400.0
        } else {
            50.0 + 10.0 * (i as f64 / 24.0 * std::f64::consts::TAU).sin()
        };
        json!({"timestamp": 1_764_756_000_000_i64 + i as i64 * 300_000, "value": value, "entity": "web-1"})
    };
    let append = |from: usize| {
        let body = json!({"points": (from..from + 50).map(point).collect::<Vec<_>>()}).to_string();
        let key = format!("e2e-series-{from}");
        let reply = e2e::http::call_with(
            caller.port,
            "POST",
            "/api/v1/series/e2e-cpu/points",
            &[("Authorization", &header), ("Idempotency-Key", &key)],
            Some(("application/json", body.as_bytes())),
        )
        .expect("POST /api/v1/series/e2e-cpu/points");
        assert_eq!(reply.status, 200, "{}", reply.json());
        reply.json()
    };
    let answers: Vec<Value> = (0..300).step_by(50).map(append).collect();
    assert_eq!(answers[0]["created"], true, "{}", answers[0]);
    assert_eq!(append(100), answers[2], "a retry learned twice");
    let last = &answers[5];
    assert_eq!(last["series"]["points_seen"], 300, "{}", last["series"]);
    assert_eq!(last["series"]["sequence"], 6);
    assert_eq!(
        last["results"][10]["is_anomaly"], true,
        "{}",
        last["results"][10]
    );

    let described = caller.get("/api/v1/series/e2e-cpu").json();
    assert!(
        described["recent_anomalies"]
            .as_array()
            .expect("anomalies")
            .iter()
            .any(|a| a["timestamp"] == point(260)["timestamp"]),
        "{described}"
    );
    let old = caller.json(
        "POST",
        "/api/v1/series/e2e-cpu/points",
        &json!({"points": [point(10)]}),
    );
    assert_eq!(old.status, 409, "{}", old.json());
    assert_eq!(old.json()["error"]["code"], "out_of_order");

    let whole = caller.json(
        "POST",
        "/api/v1/series/detect",
        &json!({"points": (0..50).map(point).collect::<Vec<_>>()}),
    );
    assert_eq!(whole.status, 200, "{}", whole.json());
    assert_eq!(
        whole.json()["results"],
        answers[0]["results"],
        "detect differs from the appends"
    );

    let listed = caller.get("/api/v1/series").json();
    assert_eq!(listed["series"][0]["name"], "e2e-cpu", "{listed}");
    let hidden = stranger.get("/api/v1/series/e2e-cpu");
    assert_eq!(hidden.status, 404, "{}", hidden.json());
    assert_eq!(stranger.get("/api/v1/series").json()["series"], json!([]));
}

/// Feedback through the running functions: two rows of the sample labelled by their values
/// (the first planted anomaly confirmed, a normal row rejected), listed back, invisible to another
/// tenant, and the next version trained learns from both (`training.labels`).
fn feedback_labels_teach_the_next_version(caller: &Caller, stranger: &Caller) {
    let data = csv_as_data(&sample("detect.csv"));
    let columns = data["columns"].as_array().expect("columns").clone();
    let row = |n: usize| -> Value {
        let values = data["rows"][n].as_array().expect("a row");
        columns
            .iter()
            .zip(values)
            .map(|(c, v)| (c.as_str().expect("a name").to_owned(), v.clone()))
            .collect::<serde_json::Map<String, Value>>()
            .into()
    };
    let planted: usize = sample("detect_anomalies.txt")
        .split_whitespace()
        .next()
        .expect("a planted row")
        .parse()
        .expect("a row number");
    let path = format!("/api/v1/models/{MODEL}/labels");
    let body = json!({"labels": [
        {"values": row(planted - 1), "label": "anomaly"},
        {"values": row(0), "label": "normal"}
    ]});
    let written = caller.json("POST", &path, &body);
    assert_eq!(written.status, 200, "{}", written.json());
    assert_eq!(written.json()["total"], 2);
    let again = caller.json("POST", &path, &body);
    assert_eq!(again.json()["total"], 2, "a retry adds nothing");
    let listed = caller.get(&path).json();
    assert_eq!(
        listed["labels"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert_eq!(
        stranger.get(&path).status,
        404,
        "another tenant has no such model"
    );
    let retrained = caller.json(
        "POST",
        "/api/v1/models",
        &json!({"name": MODEL, "algorithm": "ensemble", "contamination": 0.01,
                "data": csv_as_data(&sample("train.csv"))}),
    );
    assert_eq!(retrained.status, 201, "{}", retrained.json());
    assert_eq!(
        retrained.json()["training"]["labels"],
        2,
        "{}",
        retrained.json()
    );
}

#[test]
fn when_served_by_cargo_lambda_watch_should_train_detect_reject_bad_input_and_keep_the_contract() {
    let Some(cargo_lambda) = tools::require("cargo-lambda", "pip install cargo-lambda") else {
        return;
    };
    let routes = stream_routes();
    let server = WatchServer::start(&cargo_lambda, &[("NOMALY_STREAM_ROUTES", &routes)]);
    let (admin, worker) = working_key(&server);
    let operator = issue_key(
        server.port(),
        "nomaly-system",
        &["operator", "read", "detect", "train", "admin"],
    );
    train_and_detect(&server, &worker);
    feedback_labels_teach_the_next_version(&worker, &operator);
    streams_score_records_and_alert(&server);
    retries_with_one_idempotency_key_train_once(&worker);
    series_learn_and_flag(&worker, &operator);
    big_files_go_through_uploads_and_jobs(&worker);
    bad_input_gets_the_right_4xx(&worker);
    back_up_and_restore(&server, &operator);
    if let Some(st) = tools::require("st", "pip install schemathesis") {
        let run = contract::run(&st, &server.url(), &operator.token);
        assert!(run.passed, "openapi.yaml contract failed:\n{}", run.output);
        eprintln!(
            "contract: {}; {} answers were the emulator's own 500 (see tests/contract/hooks.py): {:?}",
            run.output.lines().rev().find(|l| l.contains("generated")).unwrap_or("").trim(),
            run.emulator_failures.len(),
            run.emulator_failures
        );
    }
    let log = server.log();
    one_emf_document_per_invocation(&log);
    no_secret_in_the_log(&log, &[&admin, &worker, &operator]);
}
