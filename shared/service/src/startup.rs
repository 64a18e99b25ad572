//! Cold-start wiring every function's `main` shares: JSON logs, configuration that exits naming
//! the bad variable, and the stores opened once.

use std::sync::Arc;

use crate::aws::S3ObjectStore;
use crate::aws::{load_sdk_config, AwsStores, AwsTuning, SdkTarget};
use crate::config::{AwsNames, Config, StoreKind};
use crate::local::LocalObjectStore;
use crate::local::LocalStores;
use crate::ports::{
    BlobStreams, JobScan, JobStore, ModelRegistry, ObjectAdmin, ObjectStore, RegistryRestore,
};

/// The local vault's directory under the data directory.
pub const LOCAL_VAULT_DIR: &str = "backup-vault";

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
    /// The model artifacts again, with listing, replacing and deleting (backup and restore).
    pub admin: Arc<dyn ObjectAdmin>,
    /// Registry writes of a restore.
    pub restore: Arc<dyn RegistryRestore>,
    /// The whole job table (backup).
    pub scan: Arc<dyn JobScan>,
    /// The backup vault: the backup bucket (`NOMALY_BACKUP_BUCKET`), or locally
    /// `{NOMALY_DATA_DIR}/backup-vault`; `None` on AWS without a backup bucket.
    pub vault: Option<Arc<dyn ObjectAdmin>>,
}

impl Stores {
    /// The local adapters, with the vault `vault`.
    pub fn local(stores: LocalStores, vault: Arc<LocalObjectStore>) -> Self {
        Self::over(stores.objects, stores.items, Some(vault))
    }

    /// The AWS adapters, with the vault `vault` when there is a backup bucket.
    pub fn aws(stores: AwsStores, vault: Option<Arc<S3ObjectStore>>) -> Self {
        Self::over(
            stores.objects,
            stores.items,
            vault.map(|v| v as Arc<dyn ObjectAdmin>),
        )
    }

    /// Every port from one object adapter and one item adapter.
    fn over<O, I>(objects: Arc<O>, items: Arc<I>, vault: Option<Arc<dyn ObjectAdmin>>) -> Self
    where
        O: ObjectAdmin + BlobStreams + 'static,
        I: ModelRegistry + JobStore + RegistryRestore + JobScan + 'static,
    {
        Self {
            objects: objects.clone(),
            registry: items.clone(),
            jobs: items.clone(),
            blobs: objects.clone(),
            admin: objects,
            restore: items.clone(),
            scan: items,
            vault,
        }
    }
}

/// The stores `config` selects, opened once per cold start; on error, logs and exits. The AWS
/// clients connect lazily, so an unreachable AWS store shows in the first request (503) and in
/// the readiness check, not here.
pub async fn stores_or_exit(config: &Config) -> Stores {
    match (config.store, &config.aws) {
        (StoreKind::Local, _) => {
            let vault_dir = config.data_dir.join(LOCAL_VAULT_DIR);
            let opened = LocalStores::open(&config.data_dir).and_then(|stores| {
                Ok(Stores::local(
                    stores,
                    Arc::new(LocalObjectStore::open(&vault_dir)?),
                ))
            });
            match opened {
                Ok(stores) => {
                    tracing::info!(store = "local", data_dir = %config.data_dir.display(), "stores opened");
                    stores
                }
                Err(e) => fail(&format!(
                    "cannot open the local store in {}: {e}",
                    config.data_dir.display()
                )),
            }
        }
        (StoreKind::Aws, Some(AwsNames { bucket, table })) => {
            let sdk = load_sdk_config(&SdkTarget::Environment, &AwsTuning::default()).await;
            tracing::info!(
                store = "aws",
                bucket = %bucket,
                table = %table,
                backup_bucket = config.backup_bucket.as_deref().unwrap_or("(none)"),
                region = sdk.region().map(|r| r.as_ref()).unwrap_or("(none)"),
                endpoint = sdk.endpoint_url().unwrap_or("(default AWS endpoints)"),
                "stores opened"
            );
            let stores = AwsStores::new(&sdk, bucket, table);
            let vault = config
                .backup_bucket
                .as_deref()
                .map(|b| Arc::new(S3ObjectStore::new(stores.objects.client().clone(), b)));
            Stores::aws(stores, vault)
        }
        (StoreKind::Aws, None) => {
            fail("NOMALY_BUCKET and NOMALY_TABLE are required when NOMALY_STORE is 'aws'")
        }
    }
}

/// The backup vault of `stores`; exits naming `NOMALY_BACKUP_BUCKET` when there is none.
pub fn vault_or_exit(stores: &Stores) -> Arc<dyn ObjectAdmin> {
    match &stores.vault {
        Some(vault) => vault.clone(),
        None => fail(
            "NOMALY_BACKUP_BUCKET is required by the backup function when NOMALY_STORE is 'aws'",
        ),
    }
}

fn fail(message: &str) -> ! {
    tracing::error!(message);
    eprintln!("{message}");
    std::process::exit(STARTUP_FAILURE)
}
