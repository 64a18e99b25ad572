//! The capabilities workflows need from the outside world, one small trait each, so a workflow
//! asks only for what it uses and every adapter (local directory + SQLite, later S3 + DynamoDB)
//! is held to the same contract.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a storage operation failed, in terms every adapter can report and every workflow can act on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A conditional write lost: the object or item exists, or the expected state moved.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing store cannot be reached or failed; retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data is unreadable (bad metadata, undecodable item).
    #[error("stored data is corrupted: {0}")]
    Corrupted(String),
    /// The caller passed a key or value the store refuses (a bug, not a user error).
    #[error("invalid storage request: {0}")]
    Invalid(String),
}

/// Metadata kept beside every stored object, so readers can verify what they load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Lowercase hex SHA-256 of the object's bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, for tools that browse the store.
    pub content_type: String,
}

/// An object read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes, exactly as written.
    pub bytes: Vec<u8>,
    /// The metadata written with them.
    pub meta: ObjectMeta,
}

/// Immutable blob storage for model artifacts (S3 in AWS, a directory locally).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Writes `bytes` at `key` only if nothing is there; [`StoreError::Conflict`] otherwise.
    /// Readers never see a half-written object.
    async fn put_if_absent(
        &self,
        key: &str,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError>;

    /// The object at `key`, or `None` when there is none; [`StoreError::Corrupted`] when its
    /// bytes do not match the SHA-256 stored with them.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError>;
}

/// What backups and restores need of an object store beyond [`ObjectStore`]: listing keys,
/// replacing an object (a restore asked to overwrite) and deleting one (pruning old backups).
/// Implemented by both object adapters, for the models store and the backup vault alike.
#[async_trait]
pub trait ObjectAdmin: ObjectStore {
    /// Every key under `prefix`, in key order.
    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Writes `bytes` at `key`, replacing whatever is there; readers never see a half-written
    /// object.
    async fn put(&self, key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError>;

    /// Deletes the object at `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Longest object key accepted (S3's limit).
pub const MAX_OBJECT_KEY_BYTES: usize = 1024;

/// Refuses object keys no adapter should accept: empty, too long, absolute, ending in `/`, with
/// empty, `.` or `..` segments, or with control characters.
pub fn check_object_key(key: &str) -> Result<(), StoreError> {
    let safe = !key.is_empty()
        && key.len() <= MAX_OBJECT_KEY_BYTES
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."));
    if safe {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "object key '{}' is not allowed",
            key.escape_debug()
        )))
    }
}

/// Refuses metadata that does not describe `bytes` (wrong SHA-256 or size), which would make the
/// object read back as corrupted.
pub fn check_object_meta(key: &str, bytes: &[u8], meta: &ObjectMeta) -> Result<(), StoreError> {
    let actual = crate::cache::sha256_hex(bytes);
    if meta.sha256 != actual || meta.size != bytes.len() as u64 {
        return Err(StoreError::Invalid(format!(
            "metadata of object '{key}' (sha256 {}, {} bytes) does not describe its {} bytes (sha256 {actual})",
            meta.sha256,
            meta.size,
            bytes.len()
        )));
    }
    Ok(())
}

/// Checks bytes read back against the SHA-256 stored with them.
pub fn verify_object(key: &str, object: StoredObject) -> Result<StoredObject, StoreError> {
    let actual = crate::cache::sha256_hex(&object.bytes);
    if actual != object.meta.sha256 {
        return Err(StoreError::Corrupted(format!(
            "checksum mismatch: object '{key}' has sha256 {actual}, but {} was stored with it",
            object.meta.sha256
        )));
    }
    Ok(object)
}

/// Partition key of a model's items: `MODEL#{name}`.
pub fn model_pk(name: &str) -> String {
    format!("MODEL#{name}")
}

/// Sort key of one model version: `VERSION#{000001}`.
pub fn version_sk(version: u32) -> String {
    format!("VERSION#{version:06}")
}

/// Sort key of the item pointing at a model's current version.
pub const LATEST_SK: &str = "LATEST";

/// Partition key of a job: `JOB#{id}`.
pub fn job_pk(id: &str) -> String {
    format!("JOB#{id}")
}

/// Sort key of a job item.
pub const JOB_SK: &str = "JOB";

/// Facts about the training run stored with a version, for listings without loading the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Rows the detector was fitted on.
    pub rows: usize,
    /// Rows scored to calibrate the threshold.
    pub calibration_rows: usize,
    /// Wall time of fitting and encoding, in milliseconds.
    pub duration_ms: u64,
}

/// One registered, immutable model version: the `MODEL#{name}` / `VERSION#{000001}` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Model name (validated, safe in keys and paths).
    pub name: String,
    /// Version number, from 1.
    pub version: u32,
    /// Algorithm API name.
    pub algorithm: String,
    /// Feature names in detector order.
    pub features: Vec<String>,
    /// Raw-score anomaly threshold.
    pub threshold: f64,
    /// Object-store key of the artifact.
    pub s3_key: String,
    /// Lowercase hex SHA-256 of the artifact bytes.
    pub sha256: String,
    /// Artifact size in bytes.
    pub size: u64,
    /// Training facts.
    pub training: TrainingStats,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Where the training data came from when it was not inline: the `s3://bucket/prefix/` the
    /// scheduled retraining reads (every CSV object under it). Absent for inline data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl ModelVersion {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        model_pk(&self.name)
    }

    /// The item's sort key.
    pub fn sk(&self) -> String {
        version_sk(self.version)
    }
}

/// Registry of model versions and each model's `LATEST` pointer (DynamoDB or SQLite).
#[async_trait]
pub trait ModelRegistry: Send + Sync {
    /// Atomically writes `item` only if its version does not exist and moves `LATEST` to it only
    /// if `LATEST` is still `expected_latest` (`None`: the model has no version yet) and the new
    /// version is above it. Either condition failing is a [`StoreError::Conflict`] and writes
    /// nothing, so `LATEST` never goes backwards and no version is overwritten.
    async fn register_version(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError>;

    /// The model's current version number, or `None` for an unknown model.
    async fn latest(&self, name: &str) -> Result<Option<u32>, StoreError>;

    /// One version's item, or `None`.
    async fn version(&self, name: &str, version: u32) -> Result<Option<ModelVersion>, StoreError>;

    /// The latest version item of every model, by name.
    async fn list_models(&self) -> Result<Vec<ModelVersion>, StoreError>;

    /// Every version of one model, oldest first (empty for an unknown model).
    async fn versions(&self, name: &str) -> Result<Vec<ModelVersion>, StoreError>;
}

/// Writing registry items back from a backup, outside the train workflow's conditional
/// registration: a version item as it was, and a `LATEST` pointer that only moves forward.
#[async_trait]
pub trait RegistryRestore: Send + Sync {
    /// Writes a version item if its version does not exist; [`StoreError::Conflict`] otherwise,
    /// unless `replace`.
    async fn restore_version(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError>;

    /// Points the model's `LATEST` at `item` if the model has no `LATEST` or one naming a lower
    /// version; [`StoreError::Conflict`] otherwise (newer data is kept), unless `replace`.
    async fn restore_latest(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError>;
}

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Trained a model version.
    Train,
    /// Scored rows synchronously.
    Detect,
    /// Scored an uploaded file.
    Batch,
    /// Backed up models and the table.
    Backup,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted, not started.
    Pending,
    /// Started.
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error (see `error`).
    Failed,
}

/// Counts a job reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Rows read.
    pub rows: usize,
    /// Rows labelled anomalous.
    pub anomalies: usize,
}

/// Timings a job reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTimings {
    /// Wall time of the work, in milliseconds.
    pub duration_ms: f64,
}

/// A recorded job: the `JOB#{id}` / `JOB` item, expiring at `expires_at` (DynamoDB TTL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique, time-ordered id.
    pub id: String,
    /// What the job did.
    pub kind: JobKind,
    /// Where it is.
    pub status: JobStatus,
    /// The model it concerns.
    pub model: Option<String>,
    /// The model version it used or produced.
    pub version: Option<u32>,
    /// Counts.
    pub counts: JobCounts,
    /// Timings.
    pub timings: JobTimings,
    /// Row indexes (0-based) of the first anomalies found, capped.
    #[serde(default)]
    pub anomaly_rows: Vec<usize>,
    /// The error, when it failed.
    pub error: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The input of a job started by an event: `s3://bucket/key` of the uploaded object, or the
    /// `s3://bucket/prefix/` of a scheduled retraining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Object key of a batch job's results CSV (in the source's bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_key: Option<String>,
}

impl Job {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        job_pk(&self.id)
    }

    /// The item's sort key.
    pub fn sk(&self) -> &'static str {
        JOB_SK
    }
}

/// One page of a model's jobs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs on this page.
    pub jobs: Vec<Job>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// The job table: every recorded train, detect, batch and backup job.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes or replaces a job.
    async fn put_job(&self, job: &Job) -> Result<(), StoreError>;

    /// Writes or replaces many jobs (backup and restore); when an id repeats, the last one wins.
    /// Adapters batch the writes; this default writes one job at a time.
    async fn put_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        for job in jobs {
            self.put_job(job).await?;
        }
        Ok(())
    }

    /// Writes a job only if no job of its id exists: [`StoreError::Conflict`] otherwise. This is
    /// how at-least-once events claim their deterministic job id. Adapters make it atomic; this
    /// default (read, then write) is not, and is only for stores used by one writer.
    async fn put_job_if_absent(&self, job: &Job) -> Result<(), StoreError> {
        if self.get_job(&job.id).await?.is_some() {
            return Err(StoreError::Conflict(format!("job '{}' exists", job.id)));
        }
        self.put_job(job).await
    }

    /// One job, or `None`.
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError>;

    /// A model's jobs, newest first, at most `limit` (clamped to 1..=1000), after `cursor` when
    /// given; a cursor this store did not hand out is [`StoreError::Invalid`].
    async fn jobs_for_model(
        &self,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage, StoreError>;
}

/// Reading the whole job table, for backups.
#[async_trait]
pub trait JobScan: Send + Sync {
    /// Every job item, in id order.
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError>;
}

/// Smallest part of a multipart upload except the last (S3's limit).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// A streamed object being read: a blocking [`Read`](std::io::Read) to use off the async runtime
/// (in `spawn_blocking`), which remembers whether the transport failed, so a caller can tell a
/// network fault (retry) from bad bytes (the data's fault) after the parser gives up.
pub struct BlobReader {
    inner: Box<dyn std::io::Read + Send>,
    failure: ReadFailure,
}

/// Shared with a [`BlobReader`]: the transport error that ended it, if one did.
#[derive(Debug, Clone, Default)]
pub struct ReadFailure(std::sync::Arc<std::sync::Mutex<Option<StoreError>>>);

impl ReadFailure {
    /// Records the transport error (the first one wins).
    pub fn set(&self, error: StoreError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(error);
        }
    }

    /// The transport error, if the reader met one.
    pub fn get(&self) -> Option<StoreError> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

impl BlobReader {
    /// A reader over `inner`, whose transport errors are recorded in `failure`.
    pub fn new(inner: Box<dyn std::io::Read + Send>, failure: ReadFailure) -> Self {
        Self { inner, failure }
    }

    /// The handle to check after reading stops.
    pub fn failure(&self) -> ReadFailure {
        self.failure.clone()
    }
}

impl std::io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader").finish_non_exhaustive()
    }
}

/// An object being written in parts, visible only once [`complete`](BlobUpload::complete)
/// succeeds, and never over an existing object.
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends one part; every part but the last must hold at least [`MIN_PART_BYTES`].
    async fn write_part(&mut self, part: Vec<u8>) -> Result<(), StoreError>;

    /// Publishes the object only if nothing is at its key ([`StoreError::Conflict`] otherwise,
    /// and the upload is discarded). On any error nothing is published.
    async fn complete(self: Box<Self>) -> Result<(), StoreError>;

    /// Discards the upload and its parts; best effort (an S3 lifecycle rule on incomplete
    /// multipart uploads sweeps what an abort could not).
    async fn abort(self: Box<Self>);
}

/// Streaming access to data objects of any size (uploaded inputs, batch results), beside the
/// small-object [`ObjectStore`]: S3 GetObject bodies and multipart uploads, or local files.
/// `bucket` names the S3 bucket; the local adapter has one directory and ignores it.
#[async_trait]
pub trait BlobStreams: Send + Sync {
    /// Opens an object for reading, or `None` when there is none.
    async fn open(&self, bucket: &str, key: &str) -> Result<Option<BlobReader>, StoreError>;

    /// Keys under `prefix`, in key order, at most `limit`.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Starts writing an object at `key` (see [`BlobUpload`]).
    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Box<dyn BlobUpload>, StoreError>;
}
