//! Every port a function may use, bundled: what the composition root builds once per cold start
//! from one object adapter and one item adapter, and what the backup and restore workflows take.

use std::sync::Arc;

use super::{
    AlertLedger, AlertSink, BlobStreams, DeadLetterSink, IdempotencyStore, JobRunner, JobScan,
    JobStore, KeyStore, LabelStore, LegacyItems, ModelRegistry, NoAlerts, NoDeadLetters,
    NoUsagePlan, ObjectAdmin, ObjectStore, RegistryRestore, SeriesStore, UrlSigner, UsagePlan,
};

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
    /// Links to upload and download data objects.
    pub signer: Arc<dyn UrlSigner>,
    /// The model artifacts again, with listing, replacing and deleting (backup and restore).
    pub admin: Arc<dyn ObjectAdmin>,
    /// Registry writes of a restore.
    pub restore: Arc<dyn RegistryRestore>,
    /// The whole job table (backup).
    pub scan: Arc<dyn JobScan>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// The records of `Idempotency-Key`s.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Items from before tenancy (the upgrade).
    pub legacy: Arc<dyn LegacyItems>,
    /// The usage plan metering each API key (API Gateway in AWS; nothing locally).
    pub usage: Arc<dyn UsagePlan>,
    /// The engine of asynchronous jobs (Step Functions in AWS); `None` where the function's own
    /// process drives them (the local driver).
    pub engine: Option<Arc<dyn JobRunner>>,
    /// Where alert events go (EventBridge in AWS, a JSON-lines file locally); nowhere unless
    /// the composition root sets one.
    pub alerts: Arc<dyn AlertSink>,
    /// Where unscorable stream records go (an SQS queue in AWS, a JSON-lines file locally); unset,
    /// such records are refused and retried, never dropped.
    pub dead_letters: Arc<dyn DeadLetterSink>,
    /// Alert suppression states.
    pub ledger: Arc<dyn AlertLedger>,
    /// Series records.
    pub series: Arc<dyn SeriesStore>,
    /// Labelled rows of models (feedback).
    pub labels: Arc<dyn LabelStore>,
    /// The backup vault: the backup bucket, or locally a directory beside the store; `None`
    /// where no vault is configured.
    pub vault: Option<Arc<dyn ObjectAdmin>>,
}

impl Stores {
    /// Every port from one object adapter and one item adapter, with the backup vault `vault`
    /// and no usage plan (the AWS composition sets one when configured).
    pub fn over<O, I>(objects: Arc<O>, items: Arc<I>, vault: Option<Arc<dyn ObjectAdmin>>) -> Self
    where
        O: ObjectAdmin + BlobStreams + UrlSigner + 'static,
        I: ModelRegistry
            + JobStore
            + RegistryRestore
            + JobScan
            + KeyStore
            + LegacyItems
            + IdempotencyStore
            + AlertLedger
            + SeriesStore
            + LabelStore
            + 'static,
    {
        Self {
            objects: objects.clone(),
            registry: items.clone(),
            jobs: items.clone(),
            blobs: objects.clone(),
            signer: objects.clone(),
            admin: objects,
            restore: items.clone(),
            scan: items.clone(),
            keys: items.clone(),
            idempotency: items.clone(),
            ledger: items.clone(),
            series: items.clone(),
            labels: items.clone(),
            alerts: Arc::new(NoAlerts),
            dead_letters: Arc::new(NoDeadLetters),
            legacy: items,
            usage: Arc::new(NoUsagePlan),
            engine: None,
            vault,
        }
    }
}
