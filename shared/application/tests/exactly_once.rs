//! Nothing done twice, nothing left half-done, on the local adapter: `Idempotency-Key` records,
//! job leases (a live one is not taken over, an expired one is, the sweep fails what nobody
//! took), a training upload redelivered after its version was registered, and the artifact a
//! failed registration leaves behind.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use application::domain::ids::now_millis;
use application::domain::{JobStatus, ModelVersion, S3ObjectRef, Tenant};
use application::ports::{ModelRegistry, StoreError, Stores};
use application::workflows::idempotency::{Admission, IdempotencyGuard};
use application::workflows::object_train::ObjectTrainWorkflow;
use application::workflows::sweep::{SweepWorkflow, SWEEP_GRACE_MS};
use application::workflows::train::{TrainRequest, TrainWorkflow};
use async_trait::async_trait;
use detection::Limits;
use fixtures::local_env::{local_stores, LocalEnv};
use fixtures::{target, tenant};
use serde_json::json;
use store_contract::small_data;
use store_local::{LocalObjectStore, LocalStores};

fn stores(env: &LocalEnv) -> Stores {
    let vault = Arc::new(LocalObjectStore::open(env.data_dir().join("vault")).unwrap());
    let reopened = LocalStores::open(env.data_dir()).unwrap();
    local_stores(reopened, vault)
}

fn request(name: &str) -> TrainRequest {
    serde_json::from_value(json!({"name": name, "algorithm": "ecod", "data": small_data(40)}))
        .unwrap()
}

#[tokio::test]
async fn when_a_key_is_repeated_should_replay_refuse_or_wait_as_powertools_does() {
    let env = LocalEnv::new();
    let guard = IdempotencyGuard::new(stores(&env).idempotency);
    let route = "POST /api/v1/models";
    let Admission::Fresh(first) = guard.begin(&tenant(), route, "k-1", b"body").await.unwrap()
    else {
        panic!("the first request was not fresh");
    };
    let busy = guard
        .begin(&tenant(), route, "k-1", b"body")
        .await
        .unwrap_err();
    assert_eq!(
        (busy.status(), busy.code()),
        (409, "idempotency_in_progress")
    );
    guard.complete(first, 201, "{\"version\":1}".into()).await;
    match guard.begin(&tenant(), route, "k-1", b"body").await.unwrap() {
        Admission::Replay(answer) => {
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (201, "{\"version\":1}")
            );
        }
        other => panic!("not replayed: {other:?}"),
    }
    let reused = guard
        .begin(&tenant(), route, "k-1", b"other")
        .await
        .unwrap_err();
    assert_eq!(
        (reused.status(), reused.code()),
        (422, "idempotency_key_reused")
    );
    // Another route, or another tenant, with the same key is another request.
    assert!(matches!(
        guard
            .begin(&tenant(), "POST /api/v1/keys", "k-1", b"x")
            .await
            .unwrap(),
        Admission::Fresh(_)
    ));
    let beta = Tenant::parse("beta").unwrap();
    assert!(matches!(
        guard.begin(&beta, route, "k-1", b"other").await.unwrap(),
        Admission::Fresh(_)
    ));
    // A failed request keeps nothing: its retry runs again.
    let Admission::Fresh(failed) = guard.begin(&tenant(), route, "k-2", b"b").await.unwrap() else {
        panic!("not fresh");
    };
    guard.release(&failed).await;
    assert!(matches!(
        guard.begin(&tenant(), route, "k-2", b"b").await.unwrap(),
        Admission::Fresh(_)
    ));
    let bad = guard.begin(&tenant(), route, "", b"b").await.unwrap_err();
    assert_eq!(bad.status(), 400);
    let long = "k".repeat(256);
    assert_eq!(
        guard
            .begin(&tenant(), route, &long, b"b")
            .await
            .unwrap_err()
            .status(),
        400
    );
}

/// An upload of a small training CSV under the tenant's prefix, and the event naming it.
async fn upload(stores: &Stores, model: &str) -> S3ObjectRef {
    let key = format!("incoming/train/{}/{model}/data.csv", tenant());
    let mut csv = String::from("a,b\n");
    for i in 0..60 {
        csv.push_str(&format!("{},{}\n", i % 10, (i * 7) % 13));
    }
    let mut upload = stores
        .blobs
        .create_upload("nomaly-models", &key, "text/csv")
        .await
        .unwrap();
    upload.write_part(csv.into_bytes()).await.unwrap();
    upload.complete().await.unwrap();
    S3ObjectRef {
        event_name: "ObjectCreated:Put".into(),
        bucket: "nomaly-models".into(),
        key,
        version_id: Some("v1".into()),
        etag: None,
        sequencer: None,
    }
}

#[tokio::test]
async fn when_a_training_upload_is_redelivered_after_registering_should_make_no_second_version() {
    let env = LocalEnv::new();
    let stores = stores(&env);
    let object = upload(&stores, "m").await;
    let workflow = ObjectTrainWorkflow::new(env.train(), stores.blobs.clone());
    let first = workflow.train_object(&object, &target("m")).await.unwrap();
    assert_eq!(first.job.status, JobStatus::Succeeded);
    assert_eq!(first.job.version, Some(1));
    // The invocation "died" after registering the version, before finishing the job.
    let mut job = first.job.clone();
    job.status = JobStatus::Running;
    job.lease_expires_at = Some(now_millis() + 60_000);
    stores.jobs.put_job(&job).await.unwrap();
    let held = workflow.train_object(&object, &target("m")).await.unwrap();
    assert!(held.duplicate, "a live lease was taken over");
    assert_eq!(held.job.status, JobStatus::Running);
    // Once the lease has ended, the redelivery takes the job over and finds its version.
    job.lease_expires_at = Some(1);
    stores.jobs.put_job(&job).await.unwrap();
    let again = workflow.train_object(&object, &target("m")).await.unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.job.status, JobStatus::Succeeded);
    assert_eq!(again.job.version, Some(1));
    assert_eq!(
        stores.registry.latest(&tenant(), "m").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        stores
            .registry
            .versions(&tenant(), "m")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn when_a_job_is_left_running_should_be_failed_by_the_sweep_once_its_lease_ends() {
    let env = LocalEnv::new();
    let stores = stores(&env);
    let object = upload(&stores, "m").await;
    let workflow = ObjectTrainWorkflow::new(env.train(), stores.blobs.clone());
    let done = workflow.train_object(&object, &target("m")).await.unwrap();
    let mut live = done.job.clone();
    live.id = "s3-live".into();
    live.status = JobStatus::Running;
    live.lease_expires_at = Some(now_millis() + 60_000);
    let mut dead = live.clone();
    dead.id = "s3-dead".into();
    dead.lease_expires_at = Some(now_millis() - SWEEP_GRACE_MS - 1_000);
    // Released a moment ago by an attempt that failed transiently: Lambda's retry is due.
    let mut released = live.clone();
    released.id = "s3-released".into();
    released.lease_expires_at = Some(now_millis() - 1);
    stores.jobs.put_job(&live).await.unwrap();
    stores.jobs.put_job(&dead).await.unwrap();
    stores.jobs.put_job(&released).await.unwrap();
    let sweep = SweepWorkflow::new(&stores);
    let report = sweep.expire_jobs().await.unwrap();
    assert_eq!(report.jobs_expired, 1);
    let failed = stores
        .jobs
        .get_job(&tenant(), "s3-dead")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(
        failed.error.unwrap().contains("lease"),
        "the reason is given"
    );
    assert_eq!(failed.lease_expires_at, None);
    for id in ["s3-live", "s3-released"] {
        let untouched = stores.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
        assert_eq!(untouched.status, JobStatus::Running, "{id}");
    }
    assert_eq!(
        sweep.expire_jobs().await.unwrap().jobs_expired,
        0,
        "failed twice"
    );
}

/// A registry whose next registration fails once (after the artifact was written).
struct FlakyRegistry {
    inner: Arc<dyn ModelRegistry>,
    fail_next: AtomicBool,
}

#[async_trait]
impl ModelRegistry for FlakyRegistry {
    async fn register_version(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("table throttled".into()));
        }
        self.inner.register_version(item, expected_latest).await
    }
    async fn latest(&self, tenant: &Tenant, name: &str) -> Result<Option<u32>, StoreError> {
        self.inner.latest(tenant, name).await
    }
    async fn version(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, StoreError> {
        self.inner.version(tenant, name, version).await
    }
    async fn list_models(
        &self,
        tenant: &Tenant,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        self.inner.list_models(tenant, after, limit).await
    }
    async fn list_all_models(&self) -> Result<Vec<ModelVersion>, StoreError> {
        self.inner.list_all_models().await
    }
    async fn versions(&self, tenant: &Tenant, name: &str) -> Result<Vec<ModelVersion>, StoreError> {
        self.inner.versions(tenant, name).await
    }
}

#[tokio::test]
async fn when_registration_fails_after_the_artifact_is_written_should_train_on_and_sweep_the_orphan(
) {
    let env = LocalEnv::new();
    let stores = stores(&env);
    let flaky = Arc::new(FlakyRegistry {
        inner: stores.registry.clone(),
        fail_next: AtomicBool::new(false),
    });
    let train = TrainWorkflow::new(
        stores.objects.clone(),
        flaky.clone(),
        stores.jobs.clone(),
        Limits::default(),
    );
    train.train(&tenant(), request("m")).await.unwrap();
    flaky.fail_next.store(true, Ordering::SeqCst);
    let failed = train.train(&tenant(), request("m")).await.unwrap_err();
    assert_eq!(failed.status(), 503);
    let orphan = "models/acme/m/v000002/model.nmly";
    assert!(stores
        .admin
        .list_keys("models/acme/m/")
        .await
        .unwrap()
        .contains(&orphan.to_owned()));
    // The orphan never blocks training: its version number is skipped.
    let next = train.train(&tenant(), request("m")).await.unwrap();
    assert_eq!(next.version, 3);
    let report = SweepWorkflow::new(&stores).delete_orphans().await.unwrap();
    assert_eq!(report.artifacts_deleted, 1);
    let left = stores.admin.list_keys("models/acme/m/").await.unwrap();
    assert_eq!(
        left,
        [
            "models/acme/m/v000001/model.nmly",
            "models/acme/m/v000003/model.nmly"
        ]
    );
    assert_eq!(
        SweepWorkflow::new(&stores)
            .delete_orphans()
            .await
            .unwrap()
            .artifacts_deleted,
        0
    );
}
