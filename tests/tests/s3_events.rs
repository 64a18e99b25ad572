//! The detect function's S3 path end to end, on the local store and on moto: an upload under
//! `incoming/detect/{tenant}/{model}/` (trained first through the train function's own S3 event), the
//! handler invoked with the `events/` fixture, then the results object and the job item checked.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

mod common;

use application::domain::{JobKind, JobStatus};
use common::{train_payments, FunctionDeps};
use edge::dispatch::invoke;
use fixtures::events_env::{csv_with_anomalies, invocation, EventEnv};
use fixtures::fixture;
use fixtures::tenant;
use serde_json::Value;

const DETECT_KEY: &str = "incoming/detect/acme/payments/2026/11/batch 1.csv";
const DETECT_RAW_KEY: &str = "incoming/detect/acme/payments/2026%2F11%2Fbatch+1.csv";
const PLANTED: [usize; 3] = [17, 640, 1999];

async fn detect_event(env: &EventEnv, event: Value) -> Result<Value, String> {
    invoke(&env.detect(), invocation(event))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn when_csv_is_uploaded_under_incoming_detect_should_write_results_and_record_the_job() {
    for env in EventEnv::all().await {
        train_payments(&env).await;
        let input = csv_with_anomalies(2000, &PLANTED, 2);
        env.put(DETECT_KEY, input.as_bytes()).await;
        let event = env
            .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
            .await;
        let out = detect_event(&env, event).await.unwrap();
        assert_eq!(out["status"], "ok", "{}: {out}", env.name);
        let job_id = out["jobs"][0]["id"].as_str().unwrap().to_owned();

        let job = env.jobs.get_job(&tenant(), &job_id).await.unwrap().unwrap();
        assert_eq!(job.kind, JobKind::Batch);
        assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
        assert_eq!(job.model.as_deref(), Some("payments"));
        assert_eq!(job.version, Some(1));
        assert_eq!(job.counts.rows, 2000);
        assert_eq!(
            job.source.as_deref(),
            Some(format!("s3://{}/{DETECT_KEY}", env.bucket).as_str()),
            "the key is URL-decoded"
        );
        let results_key = format!("results/acme/payments/{job_id}.csv");
        assert_eq!(job.results_key.as_deref(), Some(results_key.as_str()));
        for row in PLANTED {
            assert!(job.anomaly_rows.contains(&row), "{}: {job:?}", env.name);
        }

        let results = env.read(&results_key).await.expect("results object");
        let mut lines = results.lines();
        assert_eq!(lines.next(), Some("a,b,c,score,label"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 2000);
        let inputs: Vec<&str> = input.lines().skip(1).collect();
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), 5);
            let input_values: Vec<f64> = inputs[i].split(',').map(|v| v.parse().unwrap()).collect();
            let output_values: Vec<f64> = row[..3].iter().map(|v| v.parse().unwrap()).collect();
            assert_eq!(input_values, output_values, "row {i} in input order");
            assert!(row[3].parse::<f64>().unwrap().is_finite());
            let label = if PLANTED.contains(&i) { "1" } else { row[4] };
            assert_eq!(row[4], label, "{}: planted row {i} labelled", env.name);
        }
        let labelled = rows.iter().filter(|r| r[4] == "1").count();
        assert_eq!(labelled, job.counts.anomalies);
    }
}

#[tokio::test]
async fn when_same_event_is_delivered_twice_should_give_one_job_and_one_results_object() {
    for env in EventEnv::all().await {
        train_payments(&env).await;
        env.put(DETECT_KEY, csv_with_anomalies(500, &[3], 3).as_bytes())
            .await;
        let event = env
            .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
            .await;
        let first = detect_event(&env, event.clone()).await.unwrap();
        let second = detect_event(&env, event).await.unwrap();
        assert_eq!(first["status"], "ok");
        assert_eq!(second["status"], "duplicate", "{}: {second}", env.name);
        assert_eq!(first["jobs"][0]["id"], second["jobs"][0]["id"]);
        assert_eq!(env.keys("results/acme/payments/").await.len(), 1);
        let page = env
            .jobs
            .jobs_for_model(&tenant(), "payments", 100, None)
            .await
            .unwrap();
        let batch_jobs = page
            .jobs
            .iter()
            .filter(|j| j.kind == JobKind::Batch)
            .count();
        assert_eq!(batch_jobs, 1, "{}", env.name);

        // Another version of the same key is new work.
        env.overwrite(DETECT_KEY, csv_with_anomalies(500, &[3], 5).as_bytes())
            .await;
        let event = env
            .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v2")
            .await;
        let third = detect_event(&env, event).await.unwrap();
        assert_eq!(third["status"], "ok");
        assert_ne!(third["jobs"][0]["id"], first["jobs"][0]["id"]);
        assert_eq!(env.keys("results/acme/payments/").await.len(), 2);
    }
}

#[tokio::test]
async fn when_a_running_job_is_redelivered_should_finish_it_once() {
    // An earlier attempt died after claiming the job: the redelivery takes it over.
    for env in EventEnv::all().await {
        train_payments(&env).await;
        env.put(DETECT_KEY, csv_with_anomalies(100, &[], 4).as_bytes())
            .await;
        let event = env
            .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
            .await;
        let out = detect_event(&env, event.clone()).await.unwrap();
        let id = out["jobs"][0]["id"].as_str().unwrap().to_owned();
        let mut job = env.jobs.get_job(&tenant(), &id).await.unwrap().unwrap();
        job.status = JobStatus::Running;
        env.jobs.put_job(&job).await.unwrap();
        let again = detect_event(&env, event).await.unwrap();
        assert_eq!(again["status"], "ok", "{}: {again}", env.name);
        let job = env.jobs.get_job(&tenant(), &id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!(job.counts.rows, 100);
        assert_eq!(env.keys("results/acme/payments/").await.len(), 1);
    }
}

#[tokio::test]
async fn when_file_is_bad_should_record_a_failed_job_with_the_reason_and_return_ok() {
    let cases: [(&str, &str, &str); 5] = [
        ("payments", "a,b,c\n1,2,3\n4,x,6\n", "not a number"),
        ("payments", "a,b,c\n1,2,NaN\n", "not a finite number"),
        ("payments", "a,b,z\n1,2,3\n", "'z'"),
        ("payments", "a,b,c\n1,2\n", "row 1"),
        ("ghost", "a,b,c\n1,2,3\n", "model 'ghost' not found"),
    ];
    for env in EventEnv::all().await {
        train_payments(&env).await;
        for (i, (model, body, reason)) in cases.iter().enumerate() {
            let key = format!("incoming/detect/acme/{model}/bad-{i}.csv");
            env.put(&key, body.as_bytes()).await;
            let event = env
                .s3_event("s3-detect-object-created.json", &key, "v1")
                .await;
            let out = detect_event(&env, event).await.unwrap();
            assert_eq!(out["status"], "failed", "{}: {out}", env.name);
            let id = out["jobs"][0]["id"].as_str().unwrap();
            let job = env.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
            assert_eq!(job.status, JobStatus::Failed);
            let error = job.error.unwrap_or_default();
            assert!(
                error.to_lowercase().contains(&reason.to_lowercase()),
                "{}: case {i}: {error}",
                env.name
            );
            assert!(env.keys(&format!("results/acme/{model}/")).await.is_empty());
        }
    }
}

#[tokio::test]
async fn when_store_is_down_should_return_an_error_and_write_nothing() {
    let env = EventEnv::unreachable().await;
    let event = env
        .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
        .await;
    let err = detect_event(&env, event).await.unwrap_err();
    assert!(err.contains("unavailable"), "{err}");

    // The bucket answers but the table does not exist: still a retryable error, and no results
    // object, complete or partial.
    let Some(env) = EventEnv::moto_with(false).await else {
        return;
    };
    env.put(DETECT_KEY, csv_with_anomalies(100, &[], 5).as_bytes())
        .await;
    let event = env
        .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
        .await;
    let err = detect_event(&env, event).await.unwrap_err();
    assert!(err.contains("unavailable"), "{err}");
    assert!(env.keys("results/").await.is_empty());
}

#[tokio::test]
async fn when_api_gateway_request_is_invoked_should_answer_as_lambda_http_does() {
    let env = EventEnv::local();
    let out = invoke(
        &env.detect(),
        invocation(fixture("detect-unknown-model.json")),
    )
    .await
    .unwrap();
    assert_eq!(out["statusCode"], 404, "{out}");
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    let rest = invoke(&env.detect(), invocation(fixture("detect-json-rest.json")))
        .await
        .unwrap();
    assert_eq!(rest["statusCode"], 404, "{rest}");
    assert!(
        rest.get("multiValueHeaders").is_some(),
        "REST v1 response shape"
    );
}

#[tokio::test]
async fn when_event_is_unknown_should_return_an_error() {
    let env = EventEnv::local();
    assert!(
        invoke(&env.detect(), invocation(serde_json::json!({"x": 1})))
            .await
            .is_err()
    );
    let out = invoke(&env.detect(), invocation(fixture("schedule-retrain.json")))
        .await
        .unwrap();
    assert_eq!(out["status"], "ignored");
}

/// The event paths of two tenants, on the local store and on moto: an upload under another
/// tenant's prefix never scores with or trains `acme`'s `payments`, its job is that tenant's, and
/// a scheduled retrain retrains each tenant's model from its own prefix only.
#[tokio::test]
async fn when_another_tenant_uploads_under_its_prefix_should_never_reach_the_first_tenants_model() {
    let beta = application::domain::Tenant::parse("beta").unwrap();
    for env in EventEnv::all().await {
        train_payments(&env).await;
        let acme_jobs = |env: &EventEnv| {
            let jobs = env.jobs.clone();
            async move {
                jobs.jobs_for_model(&tenant(), "payments", 100, None)
                    .await
                    .unwrap()
                    .jobs
                    .len()
            }
        };
        assert_eq!(acme_jobs(&env).await, 1);

        // beta scores with "payments": beta has no such model.
        let key = "incoming/detect/beta/payments/x.csv";
        env.put(key, csv_with_anomalies(50, &[], 3).as_bytes())
            .await;
        let out = detect_event(
            &env,
            env.s3_event("s3-detect-object-created.json", key, "v1")
                .await,
        )
        .await
        .unwrap();
        assert_eq!(out["status"], "failed", "{}: {out}", env.name);
        let id = out["jobs"][0]["id"].as_str().unwrap();
        let job = env
            .jobs
            .get_job(&beta, id)
            .await
            .unwrap()
            .expect("beta's job");
        assert!(job
            .error
            .unwrap_or_default()
            .contains("model 'payments' not found"));
        assert!(env.jobs.get_job(&tenant(), id).await.unwrap().is_none());
        assert!(env.keys("results/").await.is_empty(), "{}", env.name);
        assert_eq!(
            acme_jobs(&env).await,
            1,
            "{}: acme's jobs changed",
            env.name
        );

        // beta trains its own "payments" from its prefix: acme's LATEST does not move.
        let train_key = "incoming/train/beta/payments/h.csv";
        env.put(train_key, csv_with_anomalies(500, &[], 4).as_bytes())
            .await;
        let event = env
            .s3_event("s3-train-object-created.json", train_key, "t9")
            .await;
        let out = invoke(&env.train(), invocation(event)).await.unwrap();
        assert_eq!(out["status"], "ok", "{}: {out}", env.name);
        assert_eq!(
            env.registry.latest(&tenant(), "payments").await.unwrap(),
            Some(1)
        );
        assert_eq!(
            env.registry.latest(&beta, "payments").await.unwrap(),
            Some(1)
        );
        let beta_version = env
            .registry
            .version(&beta, "payments", 1)
            .await
            .unwrap()
            .unwrap();
        assert!(
            beta_version.s3_key.starts_with("models/beta/payments/"),
            "{beta_version:?}"
        );

        // The schedule retrains both, each from its own prefix: two versions 2, never crossed.
        let schedule = fixture("schedule-retrain.json");
        let out = invoke(&env.train(), invocation(schedule)).await.unwrap();
        assert_eq!(
            out["jobs"].as_array().map(Vec::len),
            Some(2),
            "{}: {out}",
            env.name
        );
        for tenant in [tenant(), beta.clone()] {
            let v2 = env
                .registry
                .version(&tenant, "payments", 2)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                v2.source.as_deref(),
                Some(format!("s3://{}/incoming/train/{tenant}/payments/", env.bucket).as_str()),
                "{}",
                env.name
            );
        }
    }
}

#[tokio::test]
async fn when_the_object_is_overwritten_before_it_is_read_should_process_exactly_what_the_event_named(
) {
    // S3 semantics (versions, ETags): moto only; the local directory keeps no versions.
    let Some(env) = EventEnv::moto().await else {
        return;
    };
    train_payments(&env).await;
    env.put(DETECT_KEY, csv_with_anomalies(100, &[], 4).as_bytes())
        .await;
    let named = env
        .s3_event("s3-detect-object-created.json", DETECT_RAW_KEY, "v1")
        .await;
    let client = env.aws.as_ref().unwrap().objects.client().clone();
    let head = client
        .head_object()
        .bucket(&env.bucket)
        .key(DETECT_KEY)
        .send()
        .await
        .unwrap();
    let first_etag = head.e_tag().unwrap().trim_matches('"').to_owned();
    env.overwrite(DETECT_KEY, csv_with_anomalies(50, &[], 5).as_bytes())
        .await;

    // A versioned bucket: the event's version is read, not the newer object.
    let out = detect_event(&env, named.clone()).await.unwrap();
    assert_eq!(out["status"], "ok", "{out}");
    let id = out["jobs"][0]["id"].as_str().unwrap();
    let job = env.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
    assert_eq!(job.counts.rows, 100, "the overwrite was read");

    // Without a version id (an unversioned bucket) the ETag must still match: the overwrite is
    // a failed job that says so, and nothing is scored.
    let mut unversioned = named;
    let object = &mut unversioned["Records"][0]["s3"]["object"];
    object["versionId"] = serde_json::Value::Null;
    object["eTag"] = serde_json::json!(first_etag);
    object["sequencer"] = serde_json::json!("00AA");
    let out = detect_event(&env, unversioned).await.unwrap();
    assert_eq!(out["status"], "failed", "{out}");
    let id = out["jobs"][0]["id"].as_str().unwrap();
    let job = env.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
    assert!(
        job.error.unwrap_or_default().contains("overwritten"),
        "the reason is given"
    );
    assert_eq!(job.counts.rows, 0);
}

#[tokio::test]
async fn when_an_upload_has_a_50_mb_line_should_fail_its_job_after_reading_about_the_record_limit()
{
    for env in EventEnv::all().await {
        train_payments(&env).await;
        let key = "incoming/detect/acme/payments/one-line.csv";
        let mut body = String::from("a,b,c\n");
        body.push_str(&"1".repeat(50 * 1024 * 1024));
        body.push('\n');
        env.put(key, body.as_bytes()).await;
        let event = env
            .s3_event("s3-detect-object-created.json", key, "v1")
            .await;
        let out = detect_event(&env, event).await.unwrap();
        assert_eq!(out["status"], "failed", "{}: {out}", env.name);
        let id = out["jobs"][0]["id"].as_str().unwrap();
        let job = env.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
        let error = job.error.unwrap_or_default();
        assert!(error.contains("longer than"), "{}: {error}", env.name);
        assert!(
            error.len() < 500,
            "the line was echoed: {} bytes",
            error.len()
        );
        assert!(env.keys("results/acme/payments/").await.is_empty());
    }
}
