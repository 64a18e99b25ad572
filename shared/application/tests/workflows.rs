//! Train and detect end to end on the local adapter: the sample data with planted anomalies,
//! not-found and bad-request errors, unusable data, corrupted artifacts, jobs and model queries.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::time::Duration;

use application::cache::ModelCache;
use application::domain::Tenant;
use application::ports::ModelRegistry;
use application::workflows::detect::{DetectOptions, DetectRequest, DetectResponse};
use application::workflows::jobs::JobQueries;
use application::workflows::models::{ModelQueries, VersionPage};
use application::workflows::train::{TrainRequest, TrainResponse};
use application::ServiceError;
use detection::tabular::parse_csv;
use detection::Limits;
use fixtures::local_env::{sample_table, table_json, LocalEnv};
use fixtures::tenant;
use serde_json::{json, Value};
use store_contract::small_data;

fn train_request(value: Value) -> TrainRequest {
    serde_json::from_value(value).expect("train request")
}

fn detect_request(value: Value) -> DetectRequest {
    serde_json::from_value(value).expect("detect request")
}

async fn train_small(env: &LocalEnv, name: &str) -> TrainResponse {
    env.train()
        .train(
            &tenant(),
            train_request(json!({"name": name, "algorithm": "ecod", "data": small_data(60)})),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn when_trained_on_sample_then_detect_should_flag_planted_anomalies() {
    let env = LocalEnv::new();
    let train = sample_table("train.csv");
    let trained = env
        .train()
        .train(
            &tenant(),
            train_request(json!({
                "name": "payments", "algorithm": "ensemble", "contamination": 0.01,
                "data": table_json(&train)
            })),
        )
        .await
        .unwrap();
    assert_eq!(trained.version, 1);
    assert_eq!(trained.algorithm, "ensemble");
    assert_eq!(trained.features, ["amount", "hour", "items", "distance_km"]);
    assert_eq!(trained.training.rows, 2000);

    let detect = sample_table("detect.csv");
    let response = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({
                "model": "payments", "data": table_json(&detect), "explain": true, "top_k": 2
            })),
        )
        .await
        .unwrap();
    assert_eq!(response.version, 1);
    assert_eq!(response.scores.len(), 200);
    assert_eq!(response.labels.len(), 200);
    let flagged: Vec<usize> = response.anomalies.iter().map(|a| a.row).collect();
    // detect_anomalies.txt counts data rows from 1; the API counts rows from 0.
    for planted in [17, 58, 103, 177] {
        let row = planted - 1;
        assert!(flagged.contains(&row), "row {row} not in {flagged:?}");
    }
    assert!(flagged.len() <= 12, "too many anomalies: {flagged:?}");
    for a in &response.anomalies {
        assert_eq!(response.labels[a.row], 1);
        assert_eq!(a.score, response.scores[a.row]);
        assert!(a.score > response.threshold);
        assert_eq!(a.top_features.len(), 2);
        assert!(a.top_features[0].contribution >= a.top_features[1].contribution);
    }
    assert_eq!(response.summary.rows, 200);
    assert_eq!(response.summary.anomalies, flagged.len());

    // The response has exactly the contract's fields.
    let body = serde_json::to_value(&response).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "job_id",
            "model",
            "version",
            "threshold",
            "scores",
            "labels",
            "anomalies",
            "summary"
        ]
    );
    let anomaly = &body["anomalies"][0];
    assert!(anomaly["severity"].is_string());
    assert!(anomaly["top_features"][0]["feature"].is_string());

    // The detect job is recorded.
    let job = JobQueries::new(env.stores.items.clone())
        .get_job(&tenant(), &response.job_id)
        .await
        .unwrap()
        .job;
    assert_eq!(job.counts.rows, 200);
    assert_eq!(job.counts.anomalies, flagged.len());
    assert_eq!(job.version, Some(1));
}

#[tokio::test]
async fn when_csv_table_detected_should_match_json_path() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    let csv = "b,a\n3,1\n-100,100\n";
    let table = parse_csv(csv.as_bytes(), &Limits::default()).unwrap();
    let detect = env.detect();
    let from_csv = detect
        .detect_table(&tenant(), "m", Some(1), &table, DetectOptions::default())
        .await
        .unwrap();
    let from_json = detect
        .detect(
            &tenant(),
            detect_request(json!({
                "model": "m", "data": [{"a": 1, "b": 3}, {"a": 100, "b": -100}]
            })),
        )
        .await
        .unwrap();
    assert_eq!(from_csv.scores, from_json.scores);
    assert_eq!(from_csv.labels, [0, 1]);
    assert!(from_csv.anomalies[0].top_features.is_empty());
}

#[tokio::test]
async fn when_trained_twice_should_return_the_contract_and_bump_version() {
    let env = LocalEnv::new();
    let first = train_small(&env, "m").await;
    let second = train_small(&env, "m").await;
    assert_eq!((first.version, second.version), (1, 2));
    let body = serde_json::to_value(&second).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "version",
            "algorithm",
            "features",
            "threshold",
            "training"
        ]
    );
    assert!(body["training"]["rows"].is_u64() && body["training"]["duration_ms"].is_u64());
    // Detect without a version uses the latest.
    let r = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({"model": "m", "data": [{"a": 1, "b": 2}]})),
        )
        .await
        .unwrap();
    assert_eq!(r.version, 2);
}

#[tokio::test]
async fn when_model_unknown_should_404() {
    let env = LocalEnv::new();
    let detect = env.detect();
    let err = detect
        .detect(
            &tenant(),
            detect_request(json!({"model": "ghost", "data": [{"a": 1}]})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (404, "model_not_found"),
        "{err}"
    );
    let err = detect
        .detect(
            &tenant(),
            detect_request(json!({"model": "ghost", "version": 1, "data": [{"a": 1}]})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404, "{err}");
    assert!(err.to_string().contains("'ghost'"), "{err}");
    let err = ModelQueries::new(env.stores.items.clone())
        .get_model(&tenant(), "ghost", VersionPage::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
}

#[tokio::test]
async fn when_version_unknown_should_404() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    let err = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({"model": "m", "version": 7, "data": [{"a": 1, "b": 2}]})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (404, "version_not_found"),
        "{err}"
    );
    assert!(err.to_string().contains("no version 7"), "{err}");
}

#[tokio::test]
async fn when_job_unknown_should_404() {
    let env = LocalEnv::new();
    let jobs = JobQueries::new(env.stores.items.clone());
    for id in ["missing", "../../etc", ""] {
        let err = jobs.get_job(&tenant(), id).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (404, "job_not_found"), "{id}");
    }
}

#[tokio::test]
async fn when_name_bad_should_400() {
    let env = LocalEnv::new();
    let long = "x".repeat(300);
    for name in ["../x", "a/b", "", long.as_str()] {
        let err = env
            .train()
            .train(
                &tenant(),
                train_request(json!({"name": name, "data": small_data(20)})),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "{name}: {err}");
        assert!(err.to_string().contains("model name"), "{err}");
        let err = env
            .detect()
            .detect(
                &tenant(),
                detect_request(json!({"model": name, "data": [{"a": 1}]})),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "{name}: {err}");
    }
}

#[tokio::test]
async fn when_contamination_and_threshold_both_given_should_400() {
    let err = LocalEnv::new()
        .train()
        .train(
            &tenant(),
            train_request(json!({
                "name": "m", "contamination": 0.1, "threshold": 2.0, "data": small_data(20)
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400, "{err}");
}

#[tokio::test]
async fn when_data_unusable_should_be_4xx_with_message() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    let detect = env.detect();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"columns": ["a", "b"], "rows": [[1, 2], [3]]}),
            422,
            "row 2 has 1 values",
        ),
        (json!([{"a": 1, "b": 2, "c": 3, "d": 4}]), 422, "'c', 'd'"),
        (json!([{"a": 1}]), 422, "missing column 'b'"),
        (
            json!({"columns": ["a", "b"], "rows": [[1, "x"]]}),
            422,
            "not a number",
        ),
        (json!("rows"), 400, "malformed"),
    ];
    for (data, status, needle) in cases {
        let err = detect
            .detect(
                &tenant(),
                detect_request(json!({"model": "m", "data": data})),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), status, "{err}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
    let nan = parse_csv("a,b\n1,NaN\n".as_bytes(), &Limits::default());
    let err: ServiceError = nan.unwrap_err().into();
    assert_eq!(err.status(), 422, "{err}");
    let err = env
        .train()
        .train(
            &tenant(),
            train_request(json!({"name": "m2", "data": {"columns": ["a"], "rows": [[1]]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422, "{err}");
    let err = env
        .train()
        .train(
            &tenant(),
            train_request(json!({
                "name": "m2", "contamination": 0.9, "data": small_data(20)
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(err.to_string().contains("contamination"), "{err}");
}

#[tokio::test]
async fn when_too_many_rows_should_413() {
    let env = LocalEnv::new();
    let workflow = application::workflows::train::TrainWorkflow::new(
        env.stores.objects.clone(),
        env.stores.items.clone(),
        env.stores.items.clone(),
        Limits {
            max_rows: 10,
            ..Limits::default()
        },
    );
    let err = workflow
        .train(
            &tenant(),
            train_request(json!({"name": "m", "data": small_data(20)})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 413, "{err}");
}

#[tokio::test]
async fn when_artifact_corrupted_on_disk_should_report_clearly() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    let path = env
        .data_dir()
        .join("objects/models/acme/m/v000001/model.nmly");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({"model": "m", "data": [{"a": 1, "b": 2}]})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (422, "corrupted_model"),
        "{err}"
    );
    assert!(err.to_string().contains("checksum mismatch"), "{err}");

    std::fs::write(&path, b"garbage").unwrap();
    let err = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({"model": "m", "data": [{"a": 1, "b": 2}]})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "corrupted_model", "{err}");

    std::fs::remove_file(&path).unwrap();
    let err = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({"model": "m", "data": [{"a": 1, "b": 2}]})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn when_model_cached_should_not_reread_storage() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    let detect = env.detect_with(1 << 20, Duration::from_secs(60));
    let request = || detect_request(json!({"model": "m", "data": [{"a": 1, "b": 2}]}));
    let first: DetectResponse = detect.detect(&tenant(), request()).await.unwrap();
    // With the artifact gone, a warm container still answers from memory.
    std::fs::remove_file(
        env.data_dir()
            .join("objects/models/acme/m/v000001/model.nmly"),
    )
    .unwrap();
    let second = detect.detect(&tenant(), request()).await.unwrap();
    assert_eq!(first.scores, second.scores);
    // A new version is not seen until the LATEST TTL expires.
    train_small(&env, "m").await;
    assert_eq!(
        detect.detect(&tenant(), request()).await.unwrap().version,
        1
    );
    assert_eq!(
        env.detect()
            .detect(&tenant(), request())
            .await
            .unwrap()
            .version,
        2
    );
}

#[tokio::test]
async fn when_cache_full_should_evict_least_recently_used() {
    let env = LocalEnv::new();
    train_small(&env, "a").await;
    train_small(&env, "b").await;
    train_small(&env, "c").await;
    let size = env.stores.items.clone();
    let one = application::ports::ModelRegistry::version(size.as_ref(), &tenant(), "a", 1)
        .await
        .unwrap()
        .unwrap()
        .size as usize;
    let cache = ModelCache::new(one * 2 + one / 2);
    let (reg, obj) = (env.stores.items.as_ref(), env.stores.objects.as_ref());
    cache
        .get_or_load(&tenant(), "a", 1, reg, obj)
        .await
        .unwrap();
    cache
        .get_or_load(&tenant(), "b", 1, reg, obj)
        .await
        .unwrap();
    cache
        .get_or_load(&tenant(), "a", 1, reg, obj)
        .await
        .unwrap(); // a is now more recent than b
    cache
        .get_or_load(&tenant(), "c", 1, reg, obj)
        .await
        .unwrap(); // evicts b
    assert!(cache.get(&tenant(), "a", 1).is_some());
    assert!(cache.get(&tenant(), "c", 1).is_some());
    assert!(cache.get(&tenant(), "b", 1).is_none());
    let stats = cache.stats();
    assert_eq!(stats.entries, 2);
    assert!(stats.bytes <= one * 2 + one / 2);
    let none = ModelCache::new(0);
    none.get_or_load(&tenant(), "a", 1, reg, obj).await.unwrap();
    assert_eq!(none.stats().entries, 0);
}

#[tokio::test]
async fn when_a_model_expands_when_decoded_should_be_charged_its_decoded_size() {
    let env = LocalEnv::new();
    env.train()
        .train(
            &tenant(),
            train_request(json!({
                "name": "forest", "algorithm": "isolation_forest",
                "params": {"n_estimators": 1000, "max_samples": 256},
                "data": small_data(300)
            })),
        )
        .await
        .unwrap();
    let registry = env.stores.items.clone();
    let artifact =
        application::ports::ModelRegistry::version(registry.as_ref(), &tenant(), "forest", 1)
            .await
            .unwrap()
            .unwrap()
            .size as usize;
    let (reg, obj) = (env.stores.items.as_ref(), env.stores.objects.as_ref());
    let roomy = ModelCache::new(1 << 30);
    let model = roomy
        .get_or_load(&tenant(), "forest", 1, reg, obj)
        .await
        .unwrap();
    assert_eq!(roomy.stats().bytes, model.heap_bytes());
    assert!(
        model.heap_bytes() > 2 * artifact,
        "decoded {} bytes from a {artifact}-byte artifact",
        model.heap_bytes()
    );
    // A cache with room for two artifacts of it has no room for the decoded model.
    let tight = ModelCache::new(2 * artifact);
    tight
        .get_or_load(&tenant(), "forest", 1, reg, obj)
        .await
        .unwrap();
    assert_eq!(tight.stats().entries, 0, "{:?}", tight.stats());
}

#[tokio::test]
async fn when_models_queried_should_list_versions_newest_first_in_pages() {
    let env = LocalEnv::new();
    train_small(&env, "m").await;
    train_small(&env, "m").await;
    train_small(&env, "k").await;
    let queries = ModelQueries::new(env.stores.items.clone());
    let list = queries.list_models(&tenant(), None, 50).await.unwrap();
    let names: Vec<(&str, u32)> = list
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.version))
        .collect();
    assert_eq!(names, [("k", 1), ("m", 2)]);
    train_small(&env, "m").await;
    let detail = queries
        .get_model(&tenant(), "m", VersionPage::default())
        .await
        .unwrap();
    assert_eq!(detail.latest_version, 3);
    let versions: Vec<u32> = detail.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, [3, 2, 1], "newest first");
    assert_eq!(
        detail.versions[2].s3_key,
        "models/acme/m/v000001/model.nmly"
    );
    assert_eq!(detail.versions[0].sha256.len(), 64);
    assert_eq!(detail.next_before, None);
    // Pages of two: [3, 2] then [1].
    let page = |before| VersionPage { before, limit: 2 };
    let first = queries.get_model(&tenant(), "m", page(None)).await.unwrap();
    assert_eq!(first.versions.len(), 2);
    assert_eq!(first.next_before, Some(2));
    let second = queries
        .get_model(&tenant(), "m", page(first.next_before))
        .await
        .unwrap();
    let versions: Vec<u32> = second.versions.iter().map(|v| v.version).collect();
    assert_eq!((versions, second.next_before), (vec![1], None));
    for limit in [0, 101] {
        let err = queries
            .get_model(
                &tenant(),
                "m",
                VersionPage {
                    before: None,
                    limit,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), 400, "limit {limit}");
    }
    let err = queries
        .get_model(&tenant(), "../m", VersionPage::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
}

/// One model name in two tenants: each scores with, trains and reads only its own, through one
/// warm model cache; a job of one is unknown to the other.
#[tokio::test]
async fn when_two_tenants_share_a_model_name_should_only_ever_reach_their_own() {
    let env = LocalEnv::new();
    let (acme, beta) = (tenant(), Tenant::parse("beta").unwrap());
    train_small(&env, "m").await;
    train_small(&env, "m").await;
    let detect = env.detect();
    // beta has no model `m`: the same 404 as a name nobody uses.
    let request = || detect_request(json!({"model": "m", "data": [{"a": 1.0, "b": 2.0}]}));
    let err = detect.detect(&beta, request()).await.unwrap_err();
    assert_eq!(err.code(), "model_not_found");
    let scored = detect.detect(&acme, request()).await.unwrap();
    assert_eq!(scored.version, 2);
    // beta trains its own `m`, on other columns: acme's LATEST does not move, and the warm cache
    // of acme's version 1 is never served to beta.
    let beta_model = env
        .train()
        .train(
            &beta,
            train_request(json!({"name": "m", "algorithm": "hbos",
                "data": {"columns": ["x"], "rows": (0..40).map(|i| vec![f64::from(i)]).collect::<Vec<_>>()}})),
        )
        .await
        .unwrap();
    assert_eq!(beta_model.version, 1);
    let registry: std::sync::Arc<dyn ModelRegistry> = env.stores.items.clone();
    assert_eq!(registry.latest(&acme, "m").await.unwrap(), Some(2));
    let err = detect.detect(&beta, request()).await.unwrap_err();
    assert_eq!(
        err.code(),
        "invalid_input",
        "beta scored with acme's model: {err}"
    );
    let mut pinned = request();
    pinned.version = Some(2);
    assert_eq!(
        detect.detect(&beta, pinned).await.unwrap_err().code(),
        "version_not_found"
    );
    let queries = ModelQueries::new(registry);
    let listed = queries.list_models(&beta, None, 50).await.unwrap();
    assert_eq!(listed.models.len(), 1);
    assert_eq!(listed.models[0].algorithm, "hbos");
    // Jobs: acme's detect job is not beta's.
    let jobs = JobQueries::new(env.stores.items.clone());
    assert!(jobs.get_job(&acme, &scored.job_id).await.is_ok());
    let err = jobs.get_job(&beta, &scored.job_id).await.unwrap_err();
    assert_eq!(err.code(), "job_not_found");
}

#[tokio::test]
async fn when_a_fit_would_pass_the_budget_should_be_refused_at_once_naming_the_parameter() {
    let env = LocalEnv::new();
    // 50,000 one-column rows (a 0.6 MB body) asking for the largest mixture EM may run.
    let rows: Vec<Vec<f64>> = (0..50_000).map(|i| vec![(i % 977) as f64]).collect();
    let data = json!({"columns": ["x"], "rows": rows});
    let started = std::time::Instant::now();
    let err = env
        .train()
        .train(
            &tenant(),
            train_request(json!({
                "name": "bomb", "algorithm": "gmm",
                "params": {"n_components": 64, "max_samples": 100_000, "max_iter": 10_000},
                "data": data
            })),
        )
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (422, "over_budget"), "{err}");
    let envelope = err.envelope("r");
    let parameter = envelope["error"]["parameter"].as_str().unwrap();
    assert!(
        ["n_components", "max_samples", "max_iter", "rows"].contains(&parameter),
        "{envelope}"
    );
    assert!(envelope["error"]["limit"].is_string(), "{envelope}");
    // Refused before EM ran: a fit of this size takes hours.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(env
        .stores
        .items
        .latest(&tenant(), "bomb")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn when_the_answer_would_pass_the_response_limit_should_413_before_explaining() {
    let env = LocalEnv::new();
    train_small(&env, "small").await;
    // 100,000 rows far from the training data: every one is an anomaly with its features.
    let rows: Vec<Vec<f64>> = (0..100_000).map(|i| vec![1e6 + i as f64, -1e6]).collect();
    let err = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({
                "model": "small", "data": {"columns": ["a", "b"], "rows": rows},
                "explain": true, "top_k": 2
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (413, "answer_too_large"),
        "{err}"
    );
    for advice in ["fewer rows", "explain=false", "top_k", "incoming/detect/"] {
        assert!(err.to_string().contains(advice), "{err}");
    }
    let too_many = env
        .detect()
        .detect(
            &tenant(),
            detect_request(json!({
                "model": "small", "data": small_data(3), "top_k": 101
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(too_many.status(), 400, "{too_many}");
}

#[tokio::test]
async fn when_column_names_would_overflow_a_table_item_should_refuse_before_writing_anything() {
    let env = LocalEnv::new();
    // 2,000 columns with 250-byte names: within the parser's limits (a 256-byte name, a 1 MiB
    // header with `..Limits::default()` raised), but a 500 KB version item.
    let names: Vec<String> = (0..2000).map(|i| format!("{i:0>250}")).collect();
    let rows: Vec<Vec<f64>> = (0..30)
        .map(|r| (0..2000).map(|c| ((r * c) % 7) as f64).collect())
        .collect();
    let train = application::workflows::train::TrainWorkflow::new(
        env.stores.objects.clone(),
        env.stores.items.clone(),
        env.stores.items.clone(),
        Limits {
            max_header_bytes: 1 << 20,
            ..Limits::default()
        },
    );
    let err = train
        .train(
            &tenant(),
            train_request(json!({
                "name": "wide", "algorithm": "hbos",
                "data": {"columns": names, "rows": rows}
            })),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422, "{err}");
    assert!(err.to_string().contains("table item"), "{err}");
    assert!(
        !env.data_dir().join("objects/models/acme/wide").exists(),
        "an artifact was written"
    );
}
