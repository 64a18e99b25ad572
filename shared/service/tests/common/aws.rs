//! The AWS adapter in tests: a fresh bucket and table in a (shared) moto server, or stores pointed
//! at a port nothing listens on.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use detection::Limits;
use fixtures::moto::{free_port, unique_name, MotoServer};
use service::aws::schema::{create_bucket, create_table};
use service::aws::{load_sdk_config, AwsStores, AwsTuning, SdkTarget};
use service::cache::ModelCache;
use service::ports::{JobStore, ModelRegistry, ObjectStore};
use service::workflows::detect::DetectWorkflow;
use service::workflows::latest::LatestCache;
use service::workflows::train::TrainWorkflow;

/// AWS stores on their own bucket and table.
pub struct AwsEnv {
    /// Keeps the moto server up while the test runs (`None` for an unreachable endpoint).
    pub server: Option<Arc<MotoServer>>,
    /// The SDK configuration the stores were built from.
    pub sdk: SdkConfig,
    /// The adapters.
    pub stores: AwsStores,
}

/// The SDK configuration of a local endpoint with the default timeouts and retries.
pub async fn sdk_for(endpoint_url: String) -> SdkConfig {
    load_sdk_config(&SdkTarget::Local { endpoint_url }, &AwsTuning::default()).await
}

impl AwsEnv {
    /// A fresh bucket (versioned) and table (with TTL) in the shared moto server; `None` when
    /// `moto_server` is not installed (the caller skips).
    pub async fn on_moto() -> Option<Self> {
        let server = MotoServer::shared()?;
        let sdk = sdk_for(server.endpoint_url()).await;
        let bucket = unique_name("models");
        let table = unique_name("nomaly");
        let stores = AwsStores::new(&sdk, &bucket, &table);
        create_bucket(stores.objects.client(), &bucket)
            .await
            .expect("create bucket");
        create_table(stores.items.client(), &table)
            .await
            .expect("create table");
        Some(Self {
            server: Some(server),
            sdk,
            stores,
        })
    }

    /// Stores whose endpoint is a 127.0.0.1 port nothing listens on.
    pub async fn unreachable() -> Self {
        let sdk = sdk_for(format!("http://127.0.0.1:{}", free_port())).await;
        let stores = AwsStores::new(&sdk, "models", "nomaly");
        Self {
            server: None,
            sdk,
            stores,
        }
    }

    pub fn objects(&self) -> Arc<dyn ObjectStore> {
        self.stores.objects.clone()
    }

    pub fn registry(&self) -> Arc<dyn ModelRegistry> {
        self.stores.items.clone()
    }

    pub fn jobs(&self) -> Arc<dyn JobStore> {
        self.stores.items.clone()
    }
}

/// A train workflow over these ports.
pub fn train_over(
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
) -> TrainWorkflow {
    TrainWorkflow::new(objects, registry, jobs, Limits::default())
}

/// A detect workflow over these ports, with no cached `LATEST`.
pub fn detect_over(
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
) -> DetectWorkflow {
    DetectWorkflow::new(
        objects,
        registry,
        jobs,
        Arc::new(ModelCache::new(64 * 1024 * 1024)),
        Arc::new(LatestCache::new(Duration::ZERO)),
        Limits::default(),
    )
}
