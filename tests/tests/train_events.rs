//! The train function's events end to end, on the local store and on moto: an upload under
//! `incoming/train/{tenant}/{model}/` trains a version that records its source prefix, and the
//! EventBridge schedule (`events/schedule-retrain.json`) retrains every such model from every CSV
//! under its prefix. (Here rather than in `functions/train/tests` because the harness also
//! builds the detect function, which depends on train, not the other way round.)

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

mod common;

use application::domain::{JobKind, JobStatus};
use common::FunctionDeps;
use edge::dispatch::invoke;
use fixtures::events_env::{csv_with_anomalies, invocation, EventEnv};
use fixtures::fixture;
use fixtures::tenant;
use serde_json::json;

async fn upload_and_train(
    env: &EventEnv,
    key: &str,
    raw_key: &str,
    rows: usize,
) -> serde_json::Value {
    env.put(key, csv_with_anomalies(rows, &[], rows as u64).as_bytes())
        .await;
    let event = env
        .s3_event("s3-train-object-created.json", raw_key, "v1")
        .await;
    invoke(&env.train(), invocation(event)).await.unwrap()
}

fn schedule(id: &str) -> serde_json::Value {
    let mut event = fixture("schedule-retrain.json");
    event["id"] = json!(id);
    event
}

#[tokio::test]
async fn when_csv_is_uploaded_under_incoming_train_should_register_a_version_with_its_source() {
    for env in EventEnv::all().await {
        let out = upload_and_train(
            &env,
            "incoming/train/acme/payments/2026/11/history 1.csv",
            "incoming/train/acme/payments/2026%2F11%2Fhistory+1.csv",
            1500,
        )
        .await;
        assert_eq!(out["status"], "ok", "{}: {out}", env.name);
        let item = env
            .registry
            .version(&tenant(), "payments", 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.algorithm, "isolation_forest");
        assert_eq!(item.features, ["a", "b", "c"]);
        assert_eq!(item.training.rows, 1500);
        let prefix = format!("s3://{}/incoming/train/acme/payments/", env.bucket);
        assert_eq!(item.source.as_deref(), Some(prefix.as_str()));
        let job = env
            .jobs
            .get_job(&tenant(), out["jobs"][0]["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (job.kind, job.status),
            (JobKind::Train, JobStatus::Succeeded)
        );
        assert_eq!(job.version, Some(1));
        assert_eq!(
            job.source.as_deref(),
            Some(
                format!(
                    "s3://{}/incoming/train/acme/payments/2026/11/history 1.csv",
                    env.bucket
                )
                .as_str()
            )
        );

        // The same upload delivered again trains nothing.
        let event = env
            .s3_event(
                "s3-train-object-created.json",
                "incoming/train/acme/payments/2026%2F11%2Fhistory+1.csv",
                "v1",
            )
            .await;
        let again = invoke(&env.train(), invocation(event)).await.unwrap();
        assert_eq!(again["status"], "duplicate");
        assert_eq!(
            env.registry.latest(&tenant(), "payments").await.unwrap(),
            Some(1)
        );
    }
}

#[tokio::test]
async fn when_schedule_fires_should_retrain_models_with_an_s3_source_from_their_prefix() {
    for env in EventEnv::all().await {
        upload_and_train(
            &env,
            "incoming/train/acme/payments/a.csv",
            "incoming/train/acme/payments/a.csv",
            800,
        )
        .await;
        // A second file under the prefix, not yet trained on.
        env.put(
            "incoming/train/acme/payments/b.csv",
            csv_with_anomalies(700, &[], 9).as_bytes(),
        )
        .await;
        env.put("incoming/train/acme/payments/notes.txt", b"not a csv")
            .await;
        // `fraud` has a bad file under its prefix; `inline` was trained over HTTP (no source).
        upload_and_train(
            &env,
            "incoming/train/acme/fraud/a.csv",
            "incoming/train/acme/fraud/a.csv",
            300,
        )
        .await;
        env.put("incoming/train/acme/fraud/b.csv", b"a,b,c\n1,oops,3\n")
            .await;
        let response = edge::dispatch::handle(
            &env.train(),
            fixtures::request(&{
                let mut e = fixture("train.json");
                let mut body: serde_json::Value =
                    serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
                body["name"] = json!("inline");
                e["body"] = json!(body.to_string());
                e
            }),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 201);

        let out = invoke(&env.train(), invocation(schedule("evt-1")))
            .await
            .unwrap();
        assert_eq!(out["status"], "failed", "{}: {out}", env.name);
        let jobs = out["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 2, "{out}");

        let v2 = env
            .registry
            .version(&tenant(), "payments", 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v2.training.rows, 1500, "a.csv and b.csv, not notes.txt");
        assert_eq!(
            v2.source,
            env.registry
                .version(&tenant(), "payments", 1)
                .await
                .unwrap()
                .unwrap()
                .source
        );
        assert_eq!(
            env.registry.latest(&tenant(), "fraud").await.unwrap(),
            Some(1)
        );
        assert_eq!(
            env.registry.latest(&tenant(), "inline").await.unwrap(),
            Some(1)
        );
        let fraud_job = jobs.iter().find(|j| j["model"] == "fraud").unwrap();
        assert_eq!(fraud_job["status"], "failed");
        assert!(
            fraud_job["error"].as_str().unwrap().contains("b.csv"),
            "{fraud_job}"
        );

        // The same schedule delivered again is a no-op; the next one retrains again.
        let again = invoke(&env.train(), invocation(schedule("evt-1")))
            .await
            .unwrap();
        assert!(again["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["duplicate"] == true));
        assert_eq!(
            env.registry.latest(&tenant(), "payments").await.unwrap(),
            Some(2)
        );
        invoke(&env.train(), invocation(schedule("evt-2")))
            .await
            .unwrap();
        assert_eq!(
            env.registry.latest(&tenant(), "payments").await.unwrap(),
            Some(3)
        );
    }
}

#[tokio::test]
async fn when_training_file_is_bad_should_record_a_failed_job_and_return_ok() {
    for env in EventEnv::all().await {
        env.put("incoming/train/acme/m/bad.csv", b"a,b\n1,2\n3,inf\n")
            .await;
        let event = env
            .s3_event(
                "s3-train-object-created.json",
                "incoming/train/acme/m/bad.csv",
                "v1",
            )
            .await;
        let out = invoke(&env.train(), invocation(event)).await.unwrap();
        assert_eq!(out["status"], "failed", "{}: {out}", env.name);
        assert!(
            out["jobs"][0]["error"].as_str().unwrap().contains("row 2"),
            "{out}"
        );
        assert_eq!(env.registry.latest(&tenant(), "m").await.unwrap(), None);
    }
}

#[tokio::test]
async fn when_store_is_down_should_return_an_error() {
    let env = EventEnv::unreachable().await;
    let event = env
        .s3_event(
            "s3-train-object-created.json",
            "incoming/train/acme/m/x.csv",
            "v1",
        )
        .await;
    assert!(invoke(&env.train(), invocation(event)).await.is_err());
    assert!(invoke(&env.train(), invocation(schedule("evt-1")))
        .await
        .is_err());
}

#[tokio::test]
async fn when_api_gateway_request_is_invoked_should_answer_as_lambda_http_does() {
    let env = EventEnv::local();
    let out = invoke(&env.train(), invocation(fixture("train.json")))
        .await
        .unwrap();
    assert_eq!(out["statusCode"], 201, "{out}");
    let out = invoke(&env.train(), invocation(fixture("models-list.json")))
        .await
        .unwrap();
    assert_eq!(out["statusCode"], 200, "{out}");
}
