//! The functions under `cargo lambda watch` on the AWS store, as a new user runs them against a
//! moto server: `--env-var NOMALY_STORE=aws --env-var NOMALY_BUCKET=... --env-var
//! NOMALY_TABLE=... --env-var AWS_ENDPOINT_URL=...` must give the AWS store (nothing in
//! `Cargo.toml` may override the flags). Trains, detects and scores one S3 upload through the
//! real binaries, appends to a series twice, then reads the bucket and the table directly: the
//! artifact, the results object, the batch job and the series' record and one state landed there.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use application::ports::{BlobStreams, ObjectAdmin, SeriesStore};
use e2e::http::{call, get, issue_key};
use e2e::tools;
use e2e::watch::WatchServer;
use fixtures::aws_env::AwsEnv;
use fixtures::events_env::csv_with_anomalies;
use fixtures::{fixture, tenant, TENANT};
use serde_json::json;

const MODEL: &str = "moto-payments";

#[test]
fn when_watch_is_given_the_aws_store_should_keep_models_results_and_jobs_in_the_bucket_and_table() {
    let Some(cargo_lambda) = tools::require("cargo-lambda", "pip install cargo-lambda") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(env) = runtime.block_on(AwsEnv::on_moto()) else {
        return;
    };
    let endpoint = env.sdk.endpoint_url().expect("moto's endpoint").to_owned();
    let bucket = env.stores.objects.bucket().to_owned();
    let table = env.stores.items.table().to_owned();
    let server = WatchServer::start(
        &cargo_lambda,
        &[
            ("NOMALY_STORE", "aws"),
            ("NOMALY_BUCKET", &bucket),
            ("NOMALY_TABLE", &table),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "nomaly-local"),
            ("AWS_SECRET_ACCESS_KEY", "nomaly-local"),
        ],
    );
    let port = server.port();

    let ready = get(port, "/health/ready");
    assert_eq!(ready.status, 200, "{}", ready.json());

    let rows: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![f64::from(i % 10), f64::from((i * 7) % 13), f64::from(i % 3)])
        .collect();
    let caller = issue_key(port, TENANT, &["read", "detect", "train"]);
    let trained = caller.json(
        "POST",
        "/api/v1/models",
        &json!({"name": MODEL, "algorithm": "ecod",
                "data": {"columns": ["a", "b", "c"], "rows": rows}}),
    );
    assert_eq!(trained.status, 201, "{}", trained.json());
    let detected = caller.json(
        "POST",
        "/api/v1/detect",
        &json!({"model": MODEL, "data": {"columns": ["a", "b", "c"], "rows": [[1, 2, 0], [90, -80, 50]]}}),
    );
    assert_eq!(detected.status, 200, "{}", detected.json());
    assert_eq!(detected.json()["labels"], json!([0, 1]));

    // A series appended twice: its record in the table, exactly one state (the superseded one
    // deleted) in the bucket.
    for from in [0_i64, 30] {
        let points: Vec<_> = (from..from + 30)
            .map(|i| json!({"timestamp": 1_764_756_000_000 + i * 60_000, "value": (i % 7) as f64}))
            .collect();
        let appended = caller.json(
            "POST",
            "/api/v1/series/cpu/points",
            &json!({"points": points}),
        );
        assert_eq!(appended.status, 200, "{}", appended.json());
    }
    runtime.block_on(async {
        let record = env
            .stores
            .items
            .series(&tenant(), "cpu")
            .await
            .unwrap()
            .expect("the series record");
        assert_eq!((record.points_seen, record.sequence), (60, 2));
        let states = env
            .stores
            .objects
            .list_keys(&format!("series/{TENANT}/cpu/"))
            .await
            .unwrap();
        assert_eq!(states, vec![record.state_key.clone()]);
    });

    // An upload to score, then the S3 event that names it, through the Lambda invoke API.
    let key = format!("incoming/detect/{TENANT}/{MODEL}/upload.csv");
    let csv = csv_with_anomalies(500, &[7], 1);
    // The event names the upload's version, as S3's would: the function reads exactly it.
    let version = runtime.block_on(async {
        let mut upload = env
            .stores
            .objects
            .create_upload(&bucket, &key, "text/csv")
            .await
            .unwrap();
        upload.write_part(csv.into_bytes()).await.unwrap();
        upload.complete().await.unwrap();
        let head = env
            .stores
            .objects
            .client()
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        head.version_id().expect("a versioned bucket").to_owned()
    });
    let mut event = fixture("s3-detect-object-created.json");
    let record = &mut event["Records"][0]["s3"];
    record["bucket"]["name"] = json!(bucket);
    record["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    record["object"]["key"] = json!(key);
    record["object"]["versionId"] = json!(version);
    let invoked = call(
        port,
        "POST",
        "/2015-03-31/functions/detect/invocations",
        Some(("application/json", event.to_string().as_bytes())),
    )
    .expect("the invoke API answers");
    let summary = invoked.json();
    assert_eq!(invoked.status, 200, "{summary}");
    assert_eq!(summary["status"], "ok", "{summary}");
    let job_id = summary["jobs"][0]["id"]
        .as_str()
        .expect("a job id")
        .to_owned();
    let results_key = summary["jobs"][0]["results_key"]
        .as_str()
        .expect("a results key")
        .to_owned();

    // What the functions wrote is in moto's bucket and table, read without the functions.
    runtime.block_on(async {
        let objects = env.stores.objects.clone();
        let models = objects
            .list_keys(&format!("models/{TENANT}/{MODEL}/"))
            .await
            .unwrap();
        assert_eq!(
            models,
            vec![format!("models/{TENANT}/{MODEL}/v000001/model.nmly")]
        );
        let results = objects.list_keys("results/").await.unwrap();
        assert_eq!(results, vec![results_key.clone()]);
        let jobs = env.jobs();
        let job = jobs
            .get_job(&tenant(), &job_id)
            .await
            .unwrap()
            .expect("the batch job");
        assert_eq!(job.counts.rows, 500);
        assert_eq!(job.results_key.as_deref(), Some(results_key.as_str()));
        let registry = env.registry();
        assert_eq!(registry.latest(&tenant(), MODEL).await.unwrap(), Some(1));
    });
    let log = server.log();
    assert!(
        log.contains(r#""store":"aws""#),
        "the functions did not open the AWS store:\n{log}"
    );
}
