//! Stores for the event tests: a temp-dir local store, a fresh bucket and table on the shared
//! moto server, or AWS stores on a closed port; with helpers to upload and read objects and to
//! build invocations from the `events/` fixtures.

#![allow(dead_code)]

use std::io::Read;
use std::sync::Arc;

use fixtures::fixture;
use fixtures::moto::{free_port, unique_name, MotoServer};
use lambda_http::{Context, LambdaEvent};
use serde_json::{json, Value};
use service::aws::schema::{create_bucket, create_table};
use service::aws::{AwsStores, AwsTuning, SdkTarget};
use service::local::LocalStores;
use service::ports::{BlobStreams, JobStore, ModelRegistry, ObjectStore};
use service::Config;

pub struct Env {
    pub name: &'static str,
    pub bucket: String,
    pub objects: Arc<dyn ObjectStore>,
    pub registry: Arc<dyn ModelRegistry>,
    pub jobs: Arc<dyn JobStore>,
    pub blobs: Arc<dyn BlobStreams>,
    _dir: Option<tempfile::TempDir>,
    _server: Option<Arc<MotoServer>>,
    pub aws: Option<AwsStores>,
}

pub fn config() -> Config {
    Config::from_lookup(|_| None).unwrap()
}

impl Env {
    pub fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stores = LocalStores::open(dir.path()).unwrap();
        Self {
            name: "local",
            bucket: "nomaly-models".into(),
            objects: stores.objects.clone(),
            registry: stores.items.clone(),
            jobs: stores.items.clone(),
            blobs: stores.objects,
            _dir: Some(dir),
            _server: None,
            aws: None,
        }
    }

    fn on_aws(stores: AwsStores, bucket: String, server: Option<Arc<MotoServer>>) -> Self {
        Self {
            name: "moto",
            bucket,
            objects: stores.objects.clone(),
            registry: stores.items.clone(),
            jobs: stores.items.clone(),
            blobs: stores.objects.clone(),
            _dir: None,
            _server: server,
            aws: Some(stores),
        }
    }

    /// A fresh bucket and table on moto (`None`: moto is not installed and not required).
    pub async fn moto() -> Option<Self> {
        Self::moto_with(true).await
    }

    /// A fresh bucket on moto, with the table only when `with_table`.
    pub async fn moto_with(with_table: bool) -> Option<Self> {
        let server = MotoServer::shared()?;
        let bucket = unique_name("models");
        let table = unique_name("nomaly");
        let stores = AwsStores::connect(
            &SdkTarget::Local {
                endpoint_url: server.endpoint_url(),
            },
            &AwsTuning::default(),
            &bucket,
            &table,
        )
        .await;
        create_bucket(stores.objects.client(), &bucket)
            .await
            .unwrap();
        if with_table {
            create_table(stores.items.client(), &table).await.unwrap();
        }
        Some(Self::on_aws(stores, bucket, Some(server)))
    }

    /// AWS stores on a 127.0.0.1 port nothing listens on.
    pub async fn unreachable() -> Self {
        let stores = AwsStores::connect(
            &SdkTarget::Local {
                endpoint_url: format!("http://127.0.0.1:{}", free_port()),
            },
            &AwsTuning::default(),
            "models",
            "nomaly",
        )
        .await;
        Self::on_aws(stores, "models".into(), None)
    }

    /// Both adapters: local always, moto when available.
    pub async fn all() -> Vec<Self> {
        let mut envs = vec![Self::local()];
        envs.extend(Self::moto().await);
        envs
    }

    pub fn detect(&self) -> detect::handler::HandlerDeps {
        detect::handler::HandlerDeps::new(
            self.objects.clone(),
            self.registry.clone(),
            self.jobs.clone(),
            &config(),
        )
        .with_blobs(self.blobs.clone())
    }

    pub fn train(&self) -> train::handler::HandlerDeps {
        train::handler::HandlerDeps::new(
            self.objects.clone(),
            self.registry.clone(),
            self.jobs.clone(),
            &config(),
        )
        .with_blobs(self.blobs.clone())
    }

    pub async fn put(&self, key: &str, bytes: &[u8]) {
        let mut upload = self
            .blobs
            .create_upload(&self.bucket, key, "text/csv")
            .await
            .unwrap();
        upload.write_part(bytes.to_vec()).await.unwrap();
        upload.complete().await.unwrap();
    }

    pub async fn read(&self, key: &str) -> Option<String> {
        let mut reader = self.blobs.open(&self.bucket, key).await.unwrap()?;
        Some(
            tokio::task::spawn_blocking(move || {
                let mut text = String::new();
                reader.read_to_string(&mut text).unwrap();
                text
            })
            .await
            .unwrap(),
        )
    }

    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        self.blobs.list(&self.bucket, prefix, 1000).await.unwrap()
    }

    /// The S3 fixture with this env's bucket and `raw_key` (URL-encoded as S3 sends it).
    pub fn s3_event(&self, fixture_name: &str, raw_key: &str, version: &str) -> Value {
        let mut event = fixture(fixture_name);
        let record = &mut event["Records"][0]["s3"];
        record["bucket"]["name"] = json!(self.bucket);
        record["bucket"]["arn"] = json!(format!("arn:aws:s3:::{}", self.bucket));
        record["object"]["key"] = json!(raw_key);
        record["object"]["versionId"] = json!(version);
        event
    }
}

pub fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// A deterministic CSV of `rows` rows of columns a, b, c near 0, with rows `planted` far out.
pub fn csv_with_anomalies(rows: usize, planted: &[usize], seed: u64) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let mut out = String::from("a,b,c\n");
    for i in 0..rows {
        let (a, b, c) = (next(), next(), next());
        if planted.contains(&i) {
            out.push_str(&format!("{},{},{}\n", 40.0 + a, -35.0 + b, 50.0 + c));
        } else {
            out.push_str(&format!("{a:.6},{b:.6},{c:.6}\n"));
        }
    }
    out
}
