//! The capabilities workflows need from the outside world, one small trait per file, so a workflow
//! asks only for what it uses and every adapter (local directory + SQLite, S3 + DynamoDB) is held
//! to the same contract.

mod alert_ledger;
mod alert_sink;
mod blob_reader;
mod blob_streams;
mod dead_letter_sink;
mod idempotency_store;
mod job_runner;
mod job_scan;
mod job_store;
mod key_store;
mod label_store;
mod legacy_items;
mod model_registry;
mod object_admin;
mod object_checks;
mod object_store;
mod registry_restore;
mod series_store;
mod store_error;
mod stores;
mod token_verifier;
mod url_signer;
mod usage_plan;

pub use alert_ledger::AlertLedger;
pub use alert_sink::{AlertSink, NoAlerts};
pub use blob_reader::{BlobReader, ReadFailure};
pub use blob_streams::{
    newest_keys, BlobStreams, BlobUpload, ObjectInfo, MAX_LISTED_OBJECTS, MIN_PART_BYTES,
};
pub use dead_letter_sink::{DeadLetter, DeadLetterSink, NoDeadLetters, DEAD_LETTER_DATA_BYTES};
pub use idempotency_store::IdempotencyStore;
pub use job_runner::JobRunner;
pub use job_scan::JobScan;
pub use job_store::{JobPage, JobStore};
pub use key_store::KeyStore;
pub use label_store::{
    check_label_write, LabelPage, LabelScanPage, LabelStore, OwnedLabel, MAX_LABELS_PER_WRITE,
    MAX_LABEL_BYTES,
};
pub use legacy_items::LegacyItems;
pub use model_registry::ModelRegistry;
pub use object_admin::{CopySource, ObjectAdmin};
pub use object_checks::{check_object_key, check_object_meta, verify_object, MAX_OBJECT_KEY_BYTES};
pub use object_store::{ObjectMeta, ObjectStore, StoredObject};
pub use registry_restore::RegistryRestore;
pub use series_store::{SeriesPage, SeriesScanPage, SeriesStore};
pub use store_error::StoreError;
pub use stores::Stores;
pub use token_verifier::{TokenRejected, TokenVerifier};
pub use url_signer::{SignedUrl, UrlSigner};
pub use usage_plan::{NoUsagePlan, UsagePlan};
