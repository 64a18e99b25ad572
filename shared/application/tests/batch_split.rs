//! A large upload split into byte ranges, scored by the local driver's workers and joined: the
//! results equal the single invocation's byte for byte, a range retried after a transient failure
//! adds no row twice, and a range that fails on its data fails the job as a whole. On the local
//! store and on moto (S3 ranged GETs, multipart uploads with part copies, DynamoDB progress).

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;
use std::time::Duration;

use application::domain::{JobStatus, JobTicket, S3ObjectRef};
use application::ports::{BlobStreams, JobRunner, JobStore};
use application::workflows::batch::{results_key, BatchWorkflow, SplitPolicy};
use application::workflows::detect::DetectWorkflow;
use application::workflows::local_runner::LocalJobRunner;
use application::workflows::train::{TrainRequest, TrainWorkflow};
use fixtures::aws_env::{detect_over, train_over, AwsEnv};
use fixtures::faulty_streams::FaultyStreams;
use fixtures::local_env::LocalEnv;
use fixtures::{target, tenant};
use serde_json::json;
use store_contract::small_data;

/// A CSV of `rows` rows of two columns; row `bad` (if any) holds text.
fn csv(rows: usize, bad: Option<usize>) -> Vec<u8> {
    let mut out = String::from("a,b\n");
    for i in 0..rows {
        if Some(i) == bad {
            out.push_str("oops,1\n");
        } else {
            out.push_str(&format!("{},{}\n", i % 10, (i * 7) % 13));
        }
    }
    out.into_bytes()
}

/// The stores one test runs on.
struct Env {
    blobs: Arc<dyn BlobStreams>,
    jobs: Arc<dyn JobStore>,
    train: TrainWorkflow,
    detect: DetectWorkflow,
    bucket: String,
    _keep: Option<LocalEnv>,
    _moto: Option<AwsEnv>,
}

impl Env {
    fn local() -> Self {
        let env = LocalEnv::new();
        Self {
            blobs: env.stores.objects.clone(),
            jobs: env.stores.items.clone(),
            train: env.train(),
            detect: env.detect(),
            bucket: "local".into(),
            _keep: Some(env),
            _moto: None,
        }
    }

    async fn moto() -> Option<Self> {
        let env = AwsEnv::on_moto().await?;
        let objects = env.stores.objects.clone();
        let items = env.stores.items.clone();
        Some(Self {
            blobs: objects.clone(),
            jobs: items.clone(),
            train: train_over(objects.clone(), items.clone(), items.clone()),
            detect: detect_over(objects.clone(), items.clone(), items),
            bucket: objects.bucket().to_owned(),
            _keep: None,
            _moto: Some(env),
        })
    }

    async fn upload(&self, key: &str, bytes: &[u8]) -> S3ObjectRef {
        let mut upload = self
            .blobs
            .create_upload(&self.bucket, key, "text/csv")
            .await
            .unwrap();
        for part in bytes.chunks(6 * 1024 * 1024) {
            upload.write_part(part.to_vec()).await.unwrap();
        }
        upload.complete().await.unwrap();
        let info = self.blobs.head(&self.bucket, key).await.unwrap().unwrap();
        S3ObjectRef {
            event_name: "ObjectCreated:Put".into(),
            bucket: self.bucket.clone(),
            key: key.into(),
            version_id: info.version_id,
            etag: info.etag,
            sequencer: None,
        }
    }

    async fn read(&self, key: &str) -> Vec<u8> {
        use std::io::Read;
        let reader = self.blobs.open(&self.bucket, key).await.unwrap().unwrap();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut reader = reader;
            reader.read_to_end(&mut out).unwrap();
            out
        })
        .await
        .unwrap()
    }

    async fn train_model(&self) {
        let request: TrainRequest = serde_json::from_value(
            json!({"name": "m", "algorithm": "ecod", "data": small_data(200)}),
        )
        .unwrap();
        self.train.train(&tenant(), request).await.unwrap();
    }

    /// The batch workflow splitting files above `split` bytes into `range` byte ranges, scored
    /// by 4 local workers reading through `blobs`.
    fn split_batch(&self, blobs: Arc<dyn BlobStreams>, split: u64, range: u64) -> BatchWorkflow {
        let batch = BatchWorkflow::new(self.detect.clone(), blobs, self.jobs.clone());
        let runner: Arc<dyn JobRunner> = Arc::new(
            LocalJobRunner::new(batch.split_steps(), 4).with_backoff(Duration::from_millis(10)),
        );
        batch.with_split(SplitPolicy {
            split_bytes: split,
            range_bytes: range,
            runner,
        })
    }

    /// Scores `object` in one invocation and returns its results.
    async fn single(&self, object: &S3ObjectRef) -> Vec<u8> {
        let single = BatchWorkflow::new(self.detect.clone(), self.blobs.clone(), self.jobs.clone());
        let outcome = single.score_object(object, &target("m")).await.unwrap();
        assert_eq!(outcome.job.status, JobStatus::Succeeded);
        self.read(outcome.job.results_key.as_deref().unwrap()).await
    }
}

async fn split_equals_single(env: Env, rows: usize, range: u64) {
    env.train_model().await;
    let data = csv(rows, None);
    let whole = env.upload("incoming/detect/acme/m/whole.csv", &data).await;
    let expected = env.single(&whole).await;

    let object = env.upload("incoming/detect/acme/m/split.csv", &data).await;
    let batch = env.split_batch(env.blobs.clone(), 1024, range);
    let outcome = batch.score_object(&object, &target("m")).await.unwrap();
    assert!(!outcome.duplicate);
    let id = object.job_id("batch");
    let job = env.jobs.get_job(&tenant(), &id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
    assert_eq!(job.counts.rows, rows);
    let progress = job.progress.clone().expect("a split job's progress");
    assert!(progress.ranges > 1, "{progress:?}");
    assert_eq!(progress.ranges_done, progress.ranges);
    assert_eq!(progress.rows_done, rows as u64);
    let joined = env.read(&results_key(&target("m"), &id)).await;
    assert_eq!(joined.len(), expected.len());
    assert!(
        joined == expected,
        "the joined results differ from one invocation's"
    );
    assert!(
        env.blobs
            .list(&env.bucket, "batch/", 10)
            .await
            .unwrap()
            .is_empty(),
        "the intermediate objects are deleted"
    );
    // A redelivery of the event changes nothing.
    let again = batch.score_object(&object, &target("m")).await.unwrap();
    assert!(again.duplicate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_file_is_split_should_join_the_same_results_as_one_invocation() {
    split_equals_single(Env::local(), 20_000, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_file_is_split_on_moto_should_join_the_same_results_as_one_invocation() {
    let Some(env) = Env::moto().await else {
        eprintln!("SKIP: moto_server is not installed");
        return;
    };
    // Ranges of 2 MiB of input: their results parts pass S3's 5 MiB minimum and are copied
    // server-side (UploadPartCopy).
    split_equals_single(env, 1_300_000, 2 * 1024 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_range_fails_transiently_should_retry_it_without_duplicating_rows() {
    let env = Env::local();
    env.train_model().await;
    let data = csv(20_000, None);
    let whole = env.upload("incoming/detect/acme/m/whole.csv", &data).await;
    let expected = env.single(&whole).await;
    let object = env.upload("incoming/detect/acme/m/flaky.csv", &data).await;
    // Ranges 1 and 3 (starting at 10,000 and 30,000; each reads from one byte before) drop
    // their first connection.
    let flaky = Arc::new(FaultyStreams::failing_once_at(
        env.blobs.clone(),
        &[9_999, 29_999],
    ));
    let batch = env.split_batch(flaky.clone(), 1024, 10_000);
    batch.score_object(&object, &target("m")).await.unwrap();
    assert_eq!(flaky.unmet_faults(), 0, "both faults were met");
    let id = object.job_id("batch");
    let job = env.jobs.get_job(&tenant(), &id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
    assert_eq!(job.counts.rows, 20_000);
    assert_eq!(job.progress.unwrap().rows_done, 20_000);
    let joined = env.read(&results_key(&target("m"), &id)).await;
    assert!(joined == expected, "no row lost or doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_range_fails_on_its_data_should_fail_the_job_as_a_whole() {
    let env = Env::local();
    env.train_model().await;
    let object = env
        .upload("incoming/detect/acme/m/bad.csv", &csv(20_000, Some(12_345)))
        .await;
    let batch = env.split_batch(env.blobs.clone(), 1024, 10_000);
    let outcome = batch.score_object(&object, &target("m")).await.unwrap();
    assert!(!outcome.duplicate);
    let id = object.job_id("batch");
    let job = env.jobs.get_job(&tenant(), &id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert!(
        error.contains("bytes ") && error.contains("bad.csv"),
        "{error}"
    );
    assert!(env
        .blobs
        .head(&env.bucket, &results_key(&target("m"), &id))
        .await
        .unwrap()
        .is_none());
    // A step the engine runs late (a retried range of the failed job) does nothing.
    let steps = batch.split_steps();
    let ticket = JobTicket {
        ranges: job.progress.map(|p| p.ranges),
        ..JobTicket::new(
            application::domain::JobKind::Batch,
            &id,
            &target("m"),
            &object,
        )
    };
    let range = application::domain::batch_plan::ByteRange {
        index: 0,
        start: 0,
        end: 10_000,
    };
    assert!(steps.score_range(&ticket, range).await.unwrap().failed);
}
