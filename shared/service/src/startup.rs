//! Cold-start wiring every function's `main` shares: JSON logs, configuration that exits naming
//! the bad variable, and the stores opened once.

use std::sync::Arc;

use crate::aws::{load_sdk_config, AwsStores, AwsTuning, SdkTarget};
use crate::config::{AwsNames, Config, StoreKind};
use crate::local::LocalStores;
use crate::ports::{BlobStreams, JobStore, ModelRegistry, ObjectStore};

/// Exit status of a function that cannot start (bad configuration or unreachable store).
pub const STARTUP_FAILURE: i32 = 2;

/// Installs JSON logs (one object per line, CloudWatch-friendly), filtered by `RUST_LOG`
/// (default `info`); a second call is a no-op.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}

/// The configuration from the environment; on error, logs the message (which names the
/// variable) and exits.
pub fn config_or_exit() -> Config {
    match Config::from_env() {
        Ok(config) => config,
        Err(e) => fail(&format!("invalid configuration: {e}")),
    }
}

/// The stores a function uses, whichever adapter backs them.
#[derive(Clone)]
pub struct Stores {
    /// Model artifacts.
    pub objects: Arc<dyn ObjectStore>,
    /// Model versions and `LATEST` pointers.
    pub registry: Arc<dyn ModelRegistry>,
    /// Recorded jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Streamed data objects (uploads to score or train on, batch results).
    pub blobs: Arc<dyn BlobStreams>,
}

impl From<LocalStores> for Stores {
    fn from(stores: LocalStores) -> Self {
        Self {
            objects: stores.objects.clone(),
            registry: stores.items.clone(),
            jobs: stores.items,
            blobs: stores.objects,
        }
    }
}

impl From<AwsStores> for Stores {
    fn from(stores: AwsStores) -> Self {
        Self {
            objects: stores.objects.clone(),
            registry: stores.items.clone(),
            jobs: stores.items,
            blobs: stores.objects,
        }
    }
}

/// The stores `config` selects, opened once per cold start; on error, logs and exits. The AWS
/// clients connect lazily, so an unreachable AWS store shows in the first request (503) and in
/// the readiness check, not here.
pub async fn stores_or_exit(config: &Config) -> Stores {
    match (config.store, &config.aws) {
        (StoreKind::Local, _) => match LocalStores::open(&config.data_dir) {
            Ok(stores) => {
                tracing::info!(store = "local", data_dir = %config.data_dir.display(), "stores opened");
                stores.into()
            }
            Err(e) => fail(&format!(
                "cannot open the local store in {}: {e}",
                config.data_dir.display()
            )),
        },
        (StoreKind::Aws, Some(AwsNames { bucket, table })) => {
            let sdk = load_sdk_config(&SdkTarget::Environment, &AwsTuning::default()).await;
            tracing::info!(
                store = "aws",
                bucket = %bucket,
                table = %table,
                region = sdk.region().map(|r| r.as_ref()).unwrap_or("(none)"),
                endpoint = sdk.endpoint_url().unwrap_or("(default AWS endpoints)"),
                "stores opened"
            );
            AwsStores::new(&sdk, bucket, table).into()
        }
        (StoreKind::Aws, None) => {
            fail("NOMALY_BUCKET and NOMALY_TABLE are required when NOMALY_STORE is 'aws'")
        }
    }
}

fn fail(message: &str) -> ! {
    tracing::error!(message);
    eprintln!("{message}");
    std::process::exit(STARTUP_FAILURE)
}
