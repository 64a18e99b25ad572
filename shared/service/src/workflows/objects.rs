//! Work started by events rather than requests: scoring an uploaded CSV into a results CSV
//! (batch), training a version on uploaded CSVs, and the scheduled retraining of models trained
//! from S3. All of it streams: memory stays bounded whatever the size of the files.
//!
//! Delivery is at least once, so every piece of work has a deterministic job id (from the object
//! version, or from the schedule's event id and the model) and is claimed with a conditional put:
//! - no job yet: claim it (`running`) and do the work;
//! - a `succeeded` or `failed` job: a redelivery, nothing to do;
//! - a `running` job: an earlier attempt died or is still going; do the work again. The results
//!   object is completed with `If-None-Match: *`, so at most one results file ever exists; the
//!   loser of a race finds it there and records the same outcome. Duplicate work, in the rare
//!   concurrent redelivery, is the price of never stranding a job whose invocation died.
//!
//! Errors: bad data (malformed CSV, unknown model or columns, NaN, too many columns, an object
//! that is gone) records a `failed` job with the reason and is not an error (no retry); a store
//! that is down or a read that breaks returns `Err`, so Lambda retries the event and, in the end,
//! sends it to the failure destination. The job then stays `running` (the error is logged, not
//! written: the store is what failed); the retry takes it over.

use std::sync::Arc;
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::model::{Model, ModelSpec};
use detection::sampling::Reservoir;
use detection::tabular::{CsvChunks, RowsText};
use detection::threshold::Severity;
use detection::{InputError, Limits, Table};
use ndarray::Array2;
use tokio::sync::mpsc;

use crate::error::ServiceError;
use crate::events::{deterministic_id, S3ObjectRef};
use crate::metrics::{self, Counter};
use crate::ports::{
    BlobReader, BlobStreams, BlobUpload, Job, JobCounts, JobKind, JobStatus, JobStore, ReadFailure,
    StoreError,
};
use crate::workflows::detect::{aligned, DetectWorkflow, JOB_ANOMALY_ROWS_CAP};
use crate::workflows::ids::now_millis;
use crate::workflows::jobs::running_job;
use crate::workflows::names::validate_model_name;
use crate::workflows::train::TrainWorkflow;

/// Rows parsed and scored at a time.
pub const BATCH_CHUNK_ROWS: usize = 16_384;

/// Size of each results part uploaded (S3 needs at least 5 MiB for all but the last).
pub const RESULTS_PART_BYTES: usize = 8 * 1024 * 1024;

/// MIME type of results objects.
pub const RESULTS_CONTENT_TYPE: &str = "text/csv";

/// Most rows kept to train on from uploaded files (a seeded uniform sample).
pub const TRAIN_SAMPLE_ROWS: usize = 100_000;

/// Most values the training sample holds, whatever the width (64 MiB of f64).
pub const TRAIN_SAMPLE_VALUES: usize = 8 * 1024 * 1024;

/// Most CSV objects read by one scheduled retraining of a model.
pub const MAX_RETRAIN_OBJECTS: usize = 1_000;

/// The results key of a batch job: `results/{model}/{job}.csv`.
pub fn results_key(model: &str, job_id: &str) -> String {
    format!("results/{model}/{job_id}.csv")
}

/// What became of one event's work.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// The job as recorded (`succeeded` or `failed`).
    pub job: Job,
    /// Whether the work had been done by an earlier delivery (nothing was done now).
    pub duplicate: bool,
}

/// Whether an error is worth a retry (the store, not the data).
pub fn is_transient(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Unavailable(_) | ServiceError::Conflict(_)
    )
}

fn new_job(id: &str, kind: JobKind, model: &str, source: String) -> Job {
    Job {
        model: Some(model.to_owned()),
        source: Some(source),
        ..running_job(id, kind, now_millis())
    }
}

/// Claims `job`'s id: `Some(existing)` when an earlier delivery finished it.
async fn claim(jobs: &dyn JobStore, job: &Job) -> Result<Option<Job>, ServiceError> {
    match jobs.put_job_if_absent(job).await {
        Ok(()) => Ok(None),
        Err(StoreError::Conflict(_)) => match jobs.get_job(&job.id).await? {
            Some(existing)
                if matches!(existing.status, JobStatus::Succeeded | JobStatus::Failed) =>
            {
                Ok(Some(existing))
            }
            _ => {
                tracing::info!(job_id = %job.id, "job is running or was left running by an earlier attempt; doing it again");
                jobs.put_job(job).await?;
                Ok(None)
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// Records the end of `job`: `failed` with `error`'s message when it is a data error, or
/// `Err` when the error is transient (the job stays `running`, the event is retried).
async fn finish(
    jobs: &dyn JobStore,
    mut job: Job,
    started: Instant,
    result: Result<(), ServiceError>,
) -> Result<JobOutcome, ServiceError> {
    job.timings.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => job.status = JobStatus::Succeeded,
        Err(e) if is_transient(&e) => {
            tracing::warn!(job_id = %job.id, error = %e, "job failed transiently; the event will be retried");
            return Err(e);
        }
        Err(e) => {
            tracing::info!(job_id = %job.id, error = %e, "job failed on its data; not retried");
            job.status = JobStatus::Failed;
            job.error = Some(e.to_string());
        }
    }
    jobs.put_job(&job).await?;
    Ok(JobOutcome {
        job,
        duplicate: false,
    })
}

/// Totals of a scored stream.
#[derive(Debug, Default)]
struct BatchSummary {
    rows: usize,
    anomaly_rows: Vec<usize>,
    anomalies: usize,
    severities: [u64; 3],
}

/// How a scored stream stopped early.
enum StreamStop {
    /// The data is bad.
    Data(ServiceError),
    /// The transport broke (retry).
    Transport(StoreError),
    /// The upload side went away (its error is reported there).
    Stopped,
}

impl StreamStop {
    fn from_input(error: impl Into<ServiceError>, reader: &ReadFailure) -> Self {
        match reader.get() {
            Some(transport) => Self::Transport(transport),
            None => Self::Data(error.into()),
        }
    }
}

/// Appends a CSV field, quoted when it has to be.
fn push_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// Parses, scores and writes the results CSV of one stream, in chunks, handing parts of at least
/// `part_bytes` to `parts` as they fill (blocking: run it in `spawn_blocking`).
fn score_stream(
    reader: BlobReader,
    model: &Model,
    name: &str,
    limits: &Limits,
    part_bytes: usize,
    parts: &mpsc::Sender<Vec<u8>>,
) -> Result<BatchSummary, StreamStop> {
    let failure = reader.failure();
    let chunks = CsvChunks::new(reader, BATCH_CHUNK_ROWS, limits)
        .map_err(|e| StreamStop::from_input(e, &failure))?
        .with_text();
    let mut out = Vec::with_capacity(part_bytes + 64 * 1024);
    for (i, column) in chunks.columns().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_field(&mut out, column);
    }
    out.extend_from_slice(b",score,label\n");
    // Parsing runs on its own thread, a chunk ahead of scoring and formatting, so the two
    // halves of the work overlap on a 2-vCPU function (1,769 MB and up). The receiver moves into
    // `score_chunks`, so an early stop there drops it and ends the parser's next send.
    let (tables, parsed) = std::sync::mpsc::sync_channel(PARSED_CHUNKS_AHEAD);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for chunk in chunks {
                let stop = chunk.is_err();
                if tables.send(chunk).is_err() || stop {
                    break;
                }
            }
        });
        score_chunks(
            parsed.into_iter(),
            &failure,
            model,
            name,
            part_bytes,
            parts,
            out,
        )
    })
}

/// Chunks parsed ahead of scoring (each is `BATCH_CHUNK_ROWS` rows).
const PARSED_CHUNKS_AHEAD: usize = 2;

/// Scores parsed chunks and writes their results rows (each input row as it was written, then
/// its score and label), handing full parts to `parts`.
fn score_chunks(
    chunks: impl Iterator<Item = Result<(Table, RowsText), InputError>>,
    failure: &ReadFailure,
    model: &Model,
    name: &str,
    part_bytes: usize,
    parts: &mpsc::Sender<Vec<u8>>,
    mut out: Vec<u8>,
) -> Result<BatchSummary, StreamStop> {
    let mut summary = BatchSummary::default();
    let mut number = ryu::Buffer::new();
    for chunk in chunks {
        let (table, text) = chunk.map_err(|e| StreamStop::from_input(e, failure))?;
        let x = aligned(model, name, &table).map_err(StreamStop::Data)?;
        let scores = model
            .score(x.view())
            .map_err(|e| StreamStop::Data(e.into()))?;
        for (row, &score) in scores.iter().enumerate() {
            // The input row as written: no number is formatted again.
            out.extend_from_slice(text.row(row));
            out.push(b',');
            out.extend_from_slice(number.format(score).as_bytes());
            let (label, _, severity) = model.assess(score);
            out.extend_from_slice(if label == 1 { b",1\n" } else { b",0\n" });
            if label == 1 {
                let global = summary.rows + row;
                summary.anomalies += 1;
                if summary.anomaly_rows.len() < JOB_ANOMALY_ROWS_CAP {
                    summary.anomaly_rows.push(global);
                }
                let slot = match severity.unwrap_or(Severity::Low) {
                    Severity::Low => 0,
                    Severity::Medium => 1,
                    Severity::High => 2,
                };
                if let Some(s) = summary.severities.get_mut(slot) {
                    *s += 1;
                }
            }
            if out.len() >= part_bytes {
                let full = std::mem::replace(&mut out, Vec::with_capacity(part_bytes + 64 * 1024));
                parts.blocking_send(full).map_err(|_| StreamStop::Stopped)?;
            }
        }
        summary.rows += table.n_rows();
    }
    if !out.is_empty() {
        parts.blocking_send(out).map_err(|_| StreamStop::Stopped)?;
    }
    Ok(summary)
}

/// Scores uploaded CSVs into results CSVs.
#[derive(Clone)]
pub struct BatchWorkflow {
    detect: DetectWorkflow,
    blobs: Arc<dyn BlobStreams>,
    jobs: Arc<dyn JobStore>,
    part_bytes: usize,
}

impl BatchWorkflow {
    /// A workflow loading models through `detect` (and its warm cache), reading and writing
    /// objects through `blobs` and recording jobs in `jobs`.
    pub fn new(
        detect: DetectWorkflow,
        blobs: Arc<dyn BlobStreams>,
        jobs: Arc<dyn JobStore>,
    ) -> Self {
        Self {
            detect,
            blobs,
            jobs,
            part_bytes: RESULTS_PART_BYTES,
        }
    }

    /// Scores `object` against the latest version of `model` into
    /// `results/{model}/{job}.csv` (input columns, then `score` and `label`, in input order) in
    /// the object's bucket, and records the `batch` job.
    pub async fn score_object(
        &self,
        object: &S3ObjectRef,
        model: &str,
    ) -> Result<JobOutcome, ServiceError> {
        let id = object.job_id("batch");
        let mut job = new_job(&id, JobKind::Batch, model, object.uri());
        job.results_key = Some(results_key(model, &id));
        if let Some(existing) = claim(self.jobs.as_ref(), &job).await? {
            return Ok(JobOutcome {
                job: existing,
                duplicate: true,
            });
        }
        let started = Instant::now();
        let result = self.score_into(object, model, &mut job).await;
        finish(self.jobs.as_ref(), job, started, result).await
    }

    async fn score_into(
        &self,
        object: &S3ObjectRef,
        name: &str,
        job: &mut Job,
    ) -> Result<(), ServiceError> {
        let (version, model) = self.detect.model(name, None).await?;
        job.version = Some(version);
        let reader = self
            .blobs
            .open(&object.bucket, &object.key)
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidInput(format!("object {} no longer exists", object.uri()))
            })?;
        let key = job.results_key.clone().unwrap_or_default();
        let mut upload = self
            .blobs
            .create_upload(&object.bucket, &key, RESULTS_CONTENT_TYPE)
            .await?;
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1);
        let limits = *self.detect.limits();
        let part_bytes = self.part_bytes;
        let model_name = name.to_owned();
        let producer = tokio::task::spawn_blocking(move || {
            score_stream(reader, &model, &model_name, &limits, part_bytes, &tx)
        });
        let mut upload_error = None;
        while let Some(part) = rx.recv().await {
            if let Err(e) = upload.write_part(part).await {
                upload_error = Some(e);
                break;
            }
        }
        drop(rx);
        let produced = producer.await;
        let summary = match (produced, upload_error) {
            (_, Some(e)) => return abort(upload, e.into()).await,
            (Err(join), None) => {
                return abort(
                    upload,
                    ServiceError::Internal(format!("batch scoring stopped: {join}")),
                )
                .await
            }
            (Ok(Err(StreamStop::Data(e))), None) => return abort(upload, e).await,
            (Ok(Err(StreamStop::Transport(e))), None) => return abort(upload, e.into()).await,
            (Ok(Err(StreamStop::Stopped)), None) => {
                return abort(
                    upload,
                    ServiceError::Unavailable("the results upload stopped".into()),
                )
                .await
            }
            (Ok(Ok(summary)), None) => summary,
        };
        match upload.complete().await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                tracing::info!(key = %key, "results already written by an earlier delivery");
            }
            Err(e) => return Err(e.into()),
        }
        job.counts = JobCounts {
            rows: summary.rows,
            anomalies: summary.anomalies,
        };
        job.anomaly_rows = summary.anomaly_rows;
        metrics::note_model(name, version);
        metrics::count(Counter::RowsScored, summary.rows as u64);
        for (counter, n) in [
            Counter::AnomaliesLow,
            Counter::AnomaliesMedium,
            Counter::AnomaliesHigh,
        ]
        .into_iter()
        .zip(summary.severities)
        {
            metrics::count(counter, n);
        }
        Ok(())
    }
}

async fn abort(upload: Box<dyn BlobUpload>, error: ServiceError) -> Result<(), ServiceError> {
    upload.abort().await;
    Err(error)
}

/// Reads `keys` (CSV objects with the same columns) into one seeded uniform sample.
fn sample_stream(
    reader: BlobReader,
    limits: &Limits,
    sample: &mut Option<(Vec<String>, Reservoir)>,
    seed: u64,
) -> Result<(), StreamStop> {
    let failure = reader.failure();
    let chunks = CsvChunks::new(reader, BATCH_CHUNK_ROWS, limits)
        .map_err(|e| StreamStop::from_input(e, &failure))?;
    let columns = chunks.columns().to_vec();
    let (expected, reservoir) = sample.get_or_insert_with(|| {
        let capacity = TRAIN_SAMPLE_ROWS.min(TRAIN_SAMPLE_VALUES / columns.len().max(1));
        (
            columns.clone(),
            Reservoir::new(capacity, columns.len(), seed),
        )
    });
    if *expected != columns {
        return Err(StreamStop::Data(ServiceError::InvalidInput(format!(
            "columns {columns:?} differ from the first file's {expected:?}"
        ))));
    }
    for chunk in chunks {
        let table = chunk.map_err(|e| StreamStop::from_input(e, &failure))?;
        reservoir.offer_rows(table.values().view());
    }
    Ok(())
}

/// What to train from uploaded objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectTraining {
    /// The deterministic job id.
    pub job_id: String,
    /// Model name.
    pub model: String,
    /// Bucket of the objects.
    pub bucket: String,
    /// CSV objects to read, in order (same columns).
    pub keys: Vec<String>,
    /// The job's `source`.
    pub job_source: String,
    /// The version item's `source`: the prefix the schedule retrains from.
    pub model_source: String,
}

/// Trains versions from uploaded CSVs.
#[derive(Clone)]
pub struct ObjectTrainWorkflow {
    train: TrainWorkflow,
    blobs: Arc<dyn BlobStreams>,
}

impl ObjectTrainWorkflow {
    /// A workflow registering versions through `train` and reading objects through `blobs`.
    pub fn new(train: TrainWorkflow, blobs: Arc<dyn BlobStreams>) -> Self {
        Self { train, blobs }
    }

    /// Trains a version of `object`'s model on it (an upload under `incoming/train/{model}/`);
    /// the version's source is the model's `incoming/train/{model}/` prefix in that bucket.
    pub async fn train_object(
        &self,
        object: &S3ObjectRef,
        model: &str,
    ) -> Result<JobOutcome, ServiceError> {
        self.train_objects(ObjectTraining {
            job_id: object.job_id("train"),
            model: model.to_owned(),
            bucket: object.bucket.clone(),
            keys: vec![object.key.clone()],
            job_source: object.uri(),
            model_source: format!(
                "s3://{}/{}{model}/",
                object.bucket,
                crate::events::TRAIN_PREFIX
            ),
        })
        .await
    }

    /// Trains one version from `request.keys`, reservoir-sampled, with the algorithm of the
    /// model's latest version (default parameters), or `isolation_forest` for a new model.
    pub async fn train_objects(&self, request: ObjectTraining) -> Result<JobOutcome, ServiceError> {
        let jobs = self.train.jobs().clone();
        let job = new_job(
            &request.job_id,
            JobKind::Train,
            &request.model,
            request.job_source.clone(),
        );
        if let Some(existing) = claim(jobs.as_ref(), &job).await? {
            return Ok(JobOutcome {
                job: existing,
                duplicate: true,
            });
        }
        let started = Instant::now();
        let mut job = job;
        let result = self.train_into(&request, &mut job, started).await;
        finish(jobs.as_ref(), job, started, result).await
    }

    async fn train_into(
        &self,
        request: &ObjectTraining,
        job: &mut Job,
        started: Instant,
    ) -> Result<(), ServiceError> {
        validate_model_name(&request.model)?;
        if request.keys.is_empty() {
            return Err(ServiceError::InvalidInput(format!(
                "no CSV objects to train on under {}",
                request.model_source
            )));
        }
        let algorithm = self.algorithm_of(&request.model).await?;
        let params = AlgorithmParams::default_for(algorithm);
        let seed = params.seed();
        let limits = *self.train.limits();
        let mut sample: Option<(Vec<String>, Reservoir)> = None;
        for key in &request.keys {
            let reader = self
                .blobs
                .open(&request.bucket, key)
                .await?
                .ok_or_else(|| {
                    ServiceError::InvalidInput(format!(
                        "object s3://{}/{key} no longer exists",
                        request.bucket
                    ))
                })?;
            let taken = sample.take();
            let (back, result) = tokio::task::spawn_blocking(move || {
                let mut sample = taken;
                let result = sample_stream(reader, &limits, &mut sample, seed);
                (sample, result)
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("sampling stopped: {e}")))?;
            sample = back;
            match result {
                Ok(()) => {}
                Err(StreamStop::Data(e)) => {
                    return Err(match e {
                        ServiceError::InvalidInput(m) => ServiceError::InvalidInput(format!(
                            "s3://{}/{key}: {m}",
                            request.bucket
                        )),
                        other => other,
                    })
                }
                Err(StreamStop::Transport(e)) => return Err(e.into()),
                Err(StreamStop::Stopped) => {
                    return Err(ServiceError::Internal("sampling stopped".into()))
                }
            }
        }
        let (columns, reservoir) = sample
            .ok_or_else(|| ServiceError::InvalidInput("no training rows were read".into()))?;
        let seen = reservoir.seen();
        let table = tokio::task::spawn_blocking(move || {
            let rows = reservoir.len();
            let width = columns.len();
            let values = Array2::from_shape_vec((rows, width), reservoir.into_row_major())
                .map_err(|e| ServiceError::Internal(format!("training sample: {e}")))?;
            let table = Table::new(columns, values)?;
            let model = Model::fit(&ModelSpec::new(params), &table)?;
            Ok::<_, ServiceError>(model)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("training stopped: {e}")))??;
        let created_at = job.created_at;
        let item = self
            .train
            .register_model(
                &request.model,
                &table,
                started,
                created_at,
                Some(request.model_source.clone()),
            )
            .await?;
        job.version = Some(item.version);
        job.counts.rows = usize::try_from(seen).unwrap_or(usize::MAX);
        metrics::note_model(&item.name, item.version);
        tracing::info!(model = %item.name, version = item.version, rows_read = seen, rows_fitted = item.training.rows, "trained from objects");
        Ok(())
    }

    /// The algorithm of the model's latest version, or the default for a new model.
    async fn algorithm_of(&self, name: &str) -> Result<Algorithm, ServiceError> {
        let registry = self.train.registry();
        let Some(latest) = registry.latest(name).await? else {
            return Ok(Algorithm::IsolationForest);
        };
        let item = registry.version(name, latest).await?;
        Ok(item
            .and_then(|v| v.algorithm.parse().ok())
            .unwrap_or(Algorithm::IsolationForest))
    }

    /// Retrains every model whose latest version has an `s3://bucket/prefix/` source, from every
    /// `.csv` object under the prefix, for the scheduled event `event_id` (each model's job id
    /// derives from both, so a redelivered schedule is a no-op). One model's failure does not
    /// stop the others; if any failed transiently, the last such error is returned after all
    /// were tried (the retry skips the ones that finished).
    pub async fn retrain_all(&self, event_id: &str) -> Result<Vec<JobOutcome>, ServiceError> {
        let models = self.train.registry().list_models().await?;
        let mut outcomes = Vec::new();
        let mut transient = None;
        for item in models {
            let Some((bucket, prefix)) = item.source.as_deref().and_then(parse_s3_uri) else {
                continue;
            };
            let job_id = deterministic_id(&["retrain", event_id, &item.name]);
            let keys = match self.blobs.list(&bucket, &prefix, MAX_RETRAIN_OBJECTS).await {
                Ok(keys) => keys
                    .into_iter()
                    .filter(|k| k.to_ascii_lowercase().ends_with(".csv"))
                    .collect(),
                Err(e) => {
                    tracing::warn!(model = %item.name, error = %e, "cannot list the training source");
                    transient = Some(ServiceError::from(e));
                    continue;
                }
            };
            let source = item.source.clone().unwrap_or_default();
            let result = self
                .train_objects(ObjectTraining {
                    job_id,
                    model: item.name.clone(),
                    bucket,
                    keys,
                    job_source: source.clone(),
                    model_source: source,
                })
                .await;
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    tracing::warn!(model = %item.name, error = %e, "retraining failed transiently");
                    transient = Some(e);
                }
            }
        }
        match transient {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }
}

/// `s3://bucket/prefix` as `(bucket, prefix)`.
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/')?;
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}
