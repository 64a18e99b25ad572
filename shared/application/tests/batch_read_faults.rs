//! A batch whose input stream breaks part way, as an S3 GetObject body does when the connection
//! drops: a transport fault, so the event must be retried (a transient `Err`, the job left
//! `running`, no results object published), never blamed on the data; the redelivery then scores
//! the whole file once. The break is injected by a reader that fails after N bytes over the local
//! adapter's stream (an in-process fault for this one module; the S3 reader records its
//! transport errors the same way, through `ReadFailure`).

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::domain::JobStatus;
use application::domain::S3ObjectRef;
use application::ports::{BlobStreams, JobStore};
use application::workflows::batch::{results_key, BatchWorkflow};
use application::workflows::train::TrainRequest;
use fixtures::faulty_streams::FaultyStreams;
use fixtures::local_env::LocalEnv;
use fixtures::{target, tenant};
use serde_json::json;
use store_contract::small_data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_input_stream_breaks_midway_should_be_retried_then_scored_once() {
    let env = LocalEnv::new();
    let request: TrainRequest =
        serde_json::from_value(json!({"name": "m", "algorithm": "ecod", "data": small_data(60)}))
            .unwrap();
    env.train().train(&tenant(), request).await.unwrap();
    let key = "incoming/detect/m/day.csv";
    let mut csv = String::from("a,b\n");
    for i in 0..50_000 {
        csv.push_str(&format!("{},{}\n", i % 10, (i * 7) % 13));
    }
    let path = env.data_dir().join("objects").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &csv).unwrap();
    let object = S3ObjectRef {
        event_name: "ObjectCreated:Put".into(),
        bucket: "local".into(),
        key: key.into(),
        version_id: Some("v1".into()),
        etag: None,
        sequencer: None,
    };
    let objects = env.stores.objects.clone();
    let jobs: Arc<dyn JobStore> = env.stores.items.clone();

    // Cut in the middle of the file: a transient error, nothing published, the job running.
    let cut = BatchWorkflow::new(
        env.detect(),
        Arc::new(FaultyStreams::cutting(objects.clone(), csv.len() / 2)),
        jobs.clone(),
    );
    let e = cut.score_object(&object, &target("m")).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert!(e.to_string().contains("connection reset"), "{e}");
    let id = object.job_id("batch");
    assert!(objects
        .list("local", "results/", 10)
        .await
        .unwrap()
        .is_empty());
    let job = jobs
        .get_job(&tenant(), &id)
        .await
        .unwrap()
        .expect("the claimed job");
    assert_eq!(job.status, JobStatus::Running);

    // The redelivery reads the whole file and writes one results object.
    let whole = BatchWorkflow::new(env.detect(), objects.clone(), jobs.clone());
    let outcome = whole.score_object(&object, &target("m")).await.unwrap();
    assert_eq!(outcome.job.status, JobStatus::Succeeded);
    assert_eq!(outcome.job.counts.rows, 50_000);
    let results = objects.list("local", "results/", 10).await.unwrap();
    assert_eq!(results, vec![results_key(&target("m"), &id)]);
    let written =
        std::fs::read_to_string(env.data_dir().join("objects").join(&results[0])).unwrap();
    assert_eq!(written.lines().count(), 50_001);
}
