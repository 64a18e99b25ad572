//! Feedback over real stores (SQLite + directory, and S3 + DynamoDB on moto): labels are kept
//! per tenant and model, rows of a batch job are read from its input, unknown jobs and rows are
//! refused with nothing written, and a version trained with labels records how many it used and
//! is reproducible with a seed.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::sync::Arc;

use application::domain::job::running_job;
use application::domain::{JobKind, JobStatus, Tenant, Verdict};
use application::ports::Stores;
use application::workflows::labels::{LabelWorkflow, LabelsRequest};
use application::workflows::train::{TrainRequest, TrainWorkflow};
use application::ServiceError;
use detection::Limits;
use fixtures::aws_env::{aws_stores, AwsEnv};
use fixtures::local_env::{local_stores, LocalEnv};
use fixtures::tenant;
use serde_json::{json, Value};
use store_local::{LocalObjectStore, LocalStores};

/// A store under test, kept alive with whatever it runs on.
struct Env {
    stores: Stores,
    bucket: String,
    _local: Option<LocalEnv>,
    _moto: Option<AwsEnv>,
}

impl Env {
    fn local() -> Self {
        let env = LocalEnv::new();
        let vault = Arc::new(LocalObjectStore::open(env.data_dir().join("vault")).unwrap());
        Self {
            stores: local_stores(LocalStores::open(env.data_dir()).unwrap(), vault),
            bucket: "local".into(),
            _local: Some(env),
            _moto: None,
        }
    }

    async fn moto() -> Option<Self> {
        let env = AwsEnv::on_moto().await?;
        Some(Self {
            stores: aws_stores(env.stores.clone(), None),
            bucket: env.stores.objects.bucket().to_owned(),
            _local: None,
            _moto: Some(env),
        })
    }

    fn labels(&self) -> LabelWorkflow {
        LabelWorkflow::new(
            self.stores.registry.clone(),
            self.stores.labels.clone(),
            self.stores.jobs.clone(),
            self.stores.blobs.clone(),
            Limits::default(),
        )
    }

    fn train(&self) -> TrainWorkflow {
        TrainWorkflow::new(
            self.stores.objects.clone(),
            self.stores.registry.clone(),
            self.stores.jobs.clone(),
            Limits::default(),
        )
        .with_labels(self.stores.labels.clone())
    }

    /// Trains `tenant`'s model `name` on 300 rows in a square with two outliers (rows 7 and 8).
    async fn train_model(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> application::workflows::train::TrainResponse {
        let request: TrainRequest = serde_json::from_value(json!({
            "name": name,
            "algorithm": "ensemble",
            "params": {"seed": 3},
            "data": {"columns": ["a", "b"], "rows": rows()},
        }))
        .unwrap();
        self.train().train(tenant, request).await.unwrap()
    }

    /// A finished batch job of `tenant`'s model whose input (the training rows as CSV) is stored.
    async fn batch_job(&self, tenant: &Tenant, model: &str, id: &str) {
        let key = format!("incoming/detect/{tenant}/{model}/{id}.csv");
        let mut csv = String::from("a,b,extra\n");
        for row in rows() {
            csv.push_str(&format!("{},{},1\n", row[0], row[1]));
        }
        let mut upload = self
            .stores
            .blobs
            .create_upload(&self.bucket, &key, "text/csv")
            .await
            .unwrap();
        upload.write_part(csv.into_bytes()).await.unwrap();
        upload.complete().await.unwrap();
        let mut job = running_job(tenant, id, JobKind::Batch, 1);
        job.status = JobStatus::Succeeded;
        job.model = Some(model.into());
        job.counts.rows = rows().len();
        job.source = Some(format!("s3://{}/{key}", self.bucket));
        self.stores.jobs.put_job(&job).await.unwrap();
    }
}

/// 300 rows in [0, 1]^2 and two far outliers at rows 7 and 8.
fn rows() -> Vec<[f64; 2]> {
    (0..300)
        .map(|i| match i {
            7 => [9.0, 9.0],
            8 => [-8.0, 9.5],
            _ => [
                ((i * 37) % 100) as f64 / 100.0,
                ((i * 61) % 100) as f64 / 100.0,
            ],
        })
        .collect()
}

fn request(labels: Value) -> LabelsRequest {
    serde_json::from_value(json!({ "labels": labels })).unwrap()
}

fn other_tenant() -> Tenant {
    Tenant::parse("other").unwrap()
}

async fn envs() -> Vec<Env> {
    let mut envs = vec![Env::local()];
    envs.extend(Env::moto().await);
    envs
}

#[tokio::test]
async fn when_rows_are_labelled_should_be_seen_only_by_their_tenant_and_model() {
    for env in envs().await {
        let (me, other) = (tenant(), other_tenant());
        env.train_model(&me, "payments").await;
        env.train_model(&me, "refunds").await;
        env.train_model(&other, "payments").await;
        let labels = env.labels();
        let written = labels
            .label(
                &me,
                "payments",
                request(json!([
                    {"values": {"a": 9.0, "b": 9.0}, "label": "anomaly"},
                    {"values": {"a": 0.5, "b": 0.5, "ignored": 1}, "label": "normal"}
                ])),
            )
            .await
            .unwrap();
        assert_eq!(written.ids.len(), 2);
        assert_eq!(written.total, 2);
        let mine = labels.list(&me, "payments", 50, None).await.unwrap();
        assert_eq!(mine.labels.len(), 2);
        assert!(mine
            .labels
            .iter()
            .any(|l| l.label == Verdict::Anomaly && l.values == [9.0, 9.0]));
        assert!(labels
            .list(&me, "refunds", 50, None)
            .await
            .unwrap()
            .labels
            .is_empty());
        assert!(labels
            .list(&other, "payments", 50, None)
            .await
            .unwrap()
            .labels
            .is_empty());
        let stranger = labels
            .label(
                &other,
                "refunds",
                request(json!([{"values": {"a": 1, "b": 1}, "label": "normal"}])),
            )
            .await;
        assert!(
            matches!(stranger, Err(ServiceError::ModelNotFound(_))),
            "{stranger:?}"
        );
        // A retried request changes nothing twice.
        let again = labels
            .label(
                &me,
                "payments",
                request(json!([{"values": {"a": 9.0, "b": 9.0}, "label": "anomaly"}])),
            )
            .await
            .unwrap();
        assert_eq!(again.total, 2);
        assert_eq!(again.ids[0], written.ids[0]);
    }
}

#[tokio::test]
async fn when_a_job_row_is_labelled_should_read_its_values_from_the_jobs_input() {
    for env in envs().await {
        let me = tenant();
        env.train_model(&me, "payments").await;
        env.batch_job(&me, "payments", "job-1").await;
        let written = env
            .labels()
            .label(
                &me,
                "payments",
                request(json!([
                    {"job": "job-1", "row": 8, "label": "anomaly"},
                    {"job": "job-1", "row": 299, "label": "normal"}
                ])),
            )
            .await
            .unwrap();
        assert_eq!(written.total, 2);
        let page = env.labels().list(&me, "payments", 50, None).await.unwrap();
        let row8 = page.labels.iter().find(|l| l.row == Some(8)).unwrap();
        assert_eq!(row8.values, [-8.0, 9.5]);
        assert_eq!(row8.features, ["a", "b"]);
        assert_eq!(row8.job.as_deref(), Some("job-1"));
        let last = page.labels.iter().find(|l| l.row == Some(299)).unwrap();
        assert_eq!(last.values, rows()[299]);
    }
}

#[tokio::test]
async fn when_a_label_names_an_unknown_job_or_row_should_refuse_it_and_write_nothing() {
    for env in envs().await {
        let (me, other) = (tenant(), other_tenant());
        env.train_model(&me, "payments").await;
        env.train_model(&me, "refunds").await;
        env.train_model(&other, "payments").await;
        env.batch_job(&me, "payments", "job-1").await;
        env.batch_job(&other, "payments", "theirs").await;
        let mut inline = running_job(&me, "inline", JobKind::Detect, 1);
        inline.model = Some("payments".into());
        env.stores.jobs.put_job(&inline).await.unwrap();
        let labels = env.labels();
        let good = json!({"values": {"a": 9.0, "b": 9.0}, "label": "anomaly"});
        let cases = [
            (
                json!({"job": "job-9", "row": 1, "label": "anomaly"}),
                "job_not_found",
            ),
            (
                json!({"job": "theirs", "row": 1, "label": "anomaly"}),
                "job_not_found",
            ),
            (
                json!({"job": "job-1", "row": 300, "label": "anomaly"}),
                "invalid_input",
            ),
            (
                json!({"job": "inline", "row": 0, "label": "anomaly"}),
                "invalid_input",
            ),
            (
                json!({"values": {"a": 1.0}, "label": "normal"}),
                "invalid_input",
            ),
            (
                json!({"values": {"a": 1.0, "b": "x"}, "label": "normal"}),
                "invalid_input",
            ),
            (json!({"job": "job-1", "label": "normal"}), "bad_request"),
        ];
        for (bad, code) in cases {
            let refused = labels
                .label(&me, "payments", request(json!([good.clone(), bad.clone()])))
                .await
                .unwrap_err();
            assert_eq!(refused.code(), code, "{bad}: {refused}");
        }
        let refused = labels
            .label(
                &me,
                "refunds",
                request(json!([{"job": "job-1", "row": 1, "label": "normal"}])),
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            "invalid_input",
            "a job of another model: {refused}"
        );
        assert!(labels
            .list(&me, "payments", 50, None)
            .await
            .unwrap()
            .labels
            .is_empty());
        assert!(labels
            .list(&me, "refunds", 50, None)
            .await
            .unwrap()
            .labels
            .is_empty());
    }
}

#[tokio::test]
async fn when_a_model_has_labels_should_train_versions_that_use_them_reproducibly() {
    for env in envs().await {
        let me = tenant();
        let first = env.train_model(&me, "payments").await;
        assert_eq!(first.training.labels, 0);
        env.labels()
            .label(
                &me,
                "payments",
                request(json!([
                    {"values": {"a": -8.0, "b": 9.5}, "label": "anomaly"},
                    {"values": {"a": 9.0, "b": 9.0}, "label": "normal"},
                    {"values": {"a": 0.5, "b": 0.5, "c": 1.0}, "label": "normal"}
                ])),
            )
            .await
            .unwrap();
        let second = env.train_model(&me, "payments").await;
        let third = env.train_model(&me, "payments").await;
        assert_eq!((second.training.labels, third.training.labels), (3, 3));
        let version = |v: u32| {
            let registry = env.stores.registry.clone();
            let me = me.clone();
            async move { registry.version(&me, "payments", v).await.unwrap().unwrap() }
        };
        let (v1, v2, v3) = (version(1).await, version(2).await, version(3).await);
        assert_eq!(v2.training.labels, 3);
        assert_eq!(
            v2.sha256, v3.sha256,
            "same data, labels and seed: the same artifact"
        );
        assert_ne!(v1.sha256, v2.sha256, "labels change the model");
    }
}
