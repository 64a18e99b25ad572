//! Batch scoring of an uploaded CSV (an S3 upload under `incoming/detect/{model}/`) into a results
//! CSV, streamed: parsed and scored in chunks, uploaded in parts, so memory stays bounded whatever
//! the size of the file. The job is claimed and finished as every event job is
//! ([`event_jobs`](super::event_jobs)).

use std::sync::Arc;
use std::time::Instant;

use detection::model::Model;
use detection::tabular::RowsText;
use detection::threshold::Severity;
use detection::{InputError, Limits, Table};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::domain::batch_plan::{plan_key, plan_ranges};
use crate::domain::ids::now_millis;
use crate::domain::incoming::ModelTarget;
use crate::domain::owned_source::{owned_key, SourceRef};
use crate::domain::{
    Job, JobCounts, JobKind, JobPolicy, JobProgress, JobTicket, S3ObjectRef, Tenant,
};
use crate::error::ServiceError;
use crate::ports::{
    BlobReader, BlobStreams, BlobUpload, JobRunner, JobStore, ReadFailure, StoreError,
};
use crate::workflows::alerts::{job_alert, AlertWorkflow};
use crate::workflows::batch_range::SplitBatch;
use crate::workflows::csv_stream::{csv_chunks, StreamStop};
use crate::workflows::detect::{aligned, DetectWorkflow, JOB_ANOMALY_ROWS_CAP};
use crate::workflows::event_jobs::{claim, event_job_id, finish, new_job, open_named, JobOutcome};
use crate::workflows::severity::SeverityTally;

/// Size of each results part uploaded (S3 needs at least 5 MiB for all but the last).
pub const RESULTS_PART_BYTES: usize = 8 * 1024 * 1024;

/// MIME type of results objects.
pub const RESULTS_CONTENT_TYPE: &str = "text/csv";

/// The results key of a batch job: `results/{tenant}/{model}/{job}.csv`.
pub fn results_key(target: &ModelTarget, job_id: &str) -> String {
    format!("results/{}/{}/{job_id}.csv", target.tenant, target.model)
}

/// Totals of a scored stream (a whole file, or one range of a split one).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Rows scored.
    pub rows: usize,
    /// Row indexes (0-based, within the stream) of the first anomalies, capped.
    pub anomaly_rows: Vec<usize>,
    /// Rows labelled anomalous.
    pub anomalies: usize,
    /// Anomalies by severity.
    pub severities: SeverityTally,
    /// Bytes of results written.
    #[serde(default)]
    pub bytes: u64,
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
    header: bool,
    part_bytes: usize,
    parts: &mpsc::Sender<Vec<u8>>,
) -> Result<BatchSummary, StreamStop> {
    let failure = reader.failure();
    let chunks = csv_chunks(reader, limits)
        .map_err(|e| StreamStop::from_input(e, &failure))?
        .with_text();
    let mut out = Vec::with_capacity(part_bytes + 64 * 1024);
    if header {
        for (i, column) in chunks.columns().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_field(&mut out, column);
        }
        out.extend_from_slice(b",score,label\n");
    }
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

/// Chunks parsed ahead of scoring (each bounded by [`csv_chunks`]: 8 MiB of values at most).
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
                summary.severities.add(severity.unwrap_or(Severity::Low));
            }
            if out.len() >= part_bytes {
                let full = std::mem::replace(&mut out, Vec::with_capacity(part_bytes + 64 * 1024));
                summary.bytes += full.len() as u64;
                parts.blocking_send(full).map_err(|_| StreamStop::Stopped)?;
            }
        }
        summary.rows += table.n_rows();
    }
    if !out.is_empty() {
        summary.bytes += out.len() as u64;
        parts.blocking_send(out).map_err(|_| StreamStop::Stopped)?;
    }
    Ok(summary)
}

/// How long a split job is held: its ranges run on the engine, long past any one invocation, and
/// the engine's own limit (the state machine's 24 h timeout) ends it first.
pub const SPLIT_LEASE_MS: u64 = 25 * 3600 * 1000;

/// When a file is split into byte ranges scored in parallel, and what runs them.
#[derive(Clone)]
pub struct SplitPolicy {
    /// Files larger than this many bytes are split (`NOMALY_BATCH_SPLIT_BYTES`).
    pub split_bytes: u64,
    /// Bytes per range (`NOMALY_BATCH_RANGE_BYTES`).
    pub range_bytes: u64,
    /// Starts the job's ranges and join (Step Functions, or the local driver).
    pub runner: Arc<dyn JobRunner>,
}

/// The body of `POST /api/v1/models/{name}/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchJobRequest {
    /// The object to score.
    pub source: SourceRef,
}

/// Scores uploaded CSVs into results CSVs.
#[derive(Clone)]
pub struct BatchWorkflow {
    detect: DetectWorkflow,
    blobs: Arc<dyn BlobStreams>,
    jobs: Arc<dyn JobStore>,
    part_bytes: usize,
    policy: JobPolicy,
    split: Option<SplitPolicy>,
    alerts: Option<AlertWorkflow>,
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
            policy: JobPolicy::default(),
            split: None,
            alerts: None,
        }
    }

    /// The same workflow splitting files larger than `split.split_bytes` into ranges that
    /// `split.runner` scores in parallel; smaller files keep the single-invocation path.
    pub fn with_split(mut self, split: SplitPolicy) -> Self {
        self.split = Some(split);
        self
    }

    /// The steps of split jobs (ranges, join, failure) over the same stores.
    pub fn split_steps(&self) -> SplitBatch {
        let steps = SplitBatch::new(self.detect.clone(), self.blobs.clone(), self.jobs.clone());
        match &self.alerts {
            Some(alerts) => steps.with_alerts(alerts.clone()),
            None => steps,
        }
    }

    /// The same workflow announcing each job that found anomalies through `alerts` (call before
    /// [`split_steps`](Self::split_steps), which carries it on).
    pub fn with_alerts(mut self, alerts: AlertWorkflow) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// The same workflow keeping and leasing its jobs by `policy`.
    pub fn with_jobs(mut self, policy: JobPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Scores `object` against the latest version of the target tenant's model into
    /// `results/{tenant}/{model}/{job}.csv` (input columns, then `score` and `label`, in input
    /// order) in the object's bucket, and records the tenant's `batch` job.
    pub async fn score_object(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
    ) -> Result<JobOutcome, ServiceError> {
        let id = event_job_id(
            self.jobs.as_ref(),
            &target.tenant,
            object,
            JobKind::Batch,
            "batch",
        )
        .await?;
        if let Some(split) = &self.split {
            let info = self.blobs.head(&object.bucket, &object.key).await?;
            if let Some(info) = info.filter(|i| i.size > split.split_bytes) {
                return self
                    .start_split(object, target, &id, info.size, split)
                    .await;
            }
        }
        let mut job = new_job(
            &self.policy,
            &target.tenant,
            &id,
            JobKind::Batch,
            &target.model,
            object.uri(),
        );
        job.results_key = Some(results_key(target, &id));
        if let Some(existing) = claim(self.jobs.as_ref(), &job).await? {
            return Ok(JobOutcome {
                job: existing,
                duplicate: true,
            });
        }
        let started = Instant::now();
        let result = self.score_into(object, target, &mut job).await;
        let severities = result.as_ref().ok().copied();
        let outcome = finish(self.jobs.as_ref(), job, started, result.map(|_| ())).await?;
        if let (Some(alerts), Some(severities)) = (&self.alerts, severities) {
            let results = outcome
                .job
                .results_key
                .as_ref()
                .map(|key| format!("s3://{}/{key}", object.bucket));
            alerts
                .announce(job_alert(&outcome.job, severities.into(), results))
                .await;
        }
        Ok(outcome)
    }

    /// `POST /api/v1/models/{name}/jobs`: starts a batch job scoring one of `tenant`'s objects
    /// (named by `uri`, in `bucket`, the data bucket) with the latest version of `model`, on the
    /// job engine, whatever its size (a small file is one range). The job id derives from the
    /// object's version, so asking twice for the same object starts one job.
    pub async fn start_requested(
        &self,
        tenant: &Tenant,
        model: &str,
        uri: &str,
        bucket: &str,
    ) -> Result<Job, ServiceError> {
        let key = owned_key(tenant, bucket, uri, false).map_err(ServiceError::SourceNotOwned)?;
        self.detect.model(tenant, model, None).await?;
        let split = self
            .split
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("this function has no job engine".into()))?;
        let info = self.blobs.head(bucket, &key).await?.ok_or_else(|| {
            ServiceError::InvalidInput(format!("there is no object at s3://{bucket}/{key}"))
        })?;
        let object = S3ObjectRef {
            event_name: "ObjectCreated:Request".into(),
            bucket: bucket.to_owned(),
            key,
            version_id: info.version_id,
            etag: info.etag,
            sequencer: None,
        };
        let target = ModelTarget {
            tenant: tenant.clone(),
            model: model.to_owned(),
        };
        let id = object.job_id("batch-request");
        let outcome = self
            .start_split(&object, &target, &id, info.size, split)
            .await?;
        Ok(outcome.job)
    }

    /// Claims `id` and starts it as a split job: the plan of byte ranges written beside its
    /// parts, the model version pinned, the runner started. The job stays `running` until the
    /// join (or a failure) ends it; a start that failed transiently is retried like any event.
    pub async fn start_split(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
        id: &str,
        size: u64,
        split: &SplitPolicy,
    ) -> Result<JobOutcome, ServiceError> {
        let mut job = new_job(
            &self.policy,
            &target.tenant,
            id,
            JobKind::Batch,
            &target.model,
            object.uri(),
        );
        job.lease_expires_at = Some(now_millis().saturating_add(SPLIT_LEASE_MS));
        job.results_key = Some(results_key(target, id));
        if let Some(existing) = claim(self.jobs.as_ref(), &job).await? {
            return Ok(JobOutcome {
                job: existing,
                duplicate: true,
            });
        }
        let started = Instant::now();
        match self.plan(object, target, &mut job, size, split).await {
            Ok(()) => Ok(JobOutcome {
                job,
                duplicate: false,
            }),
            Err(e) => finish(self.jobs.as_ref(), job, started, Err(e)).await,
        }
    }

    async fn plan(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
        job: &mut Job,
        size: u64,
        split: &SplitPolicy,
    ) -> Result<(), ServiceError> {
        let (version, _) = self
            .detect
            .model(&target.tenant, &target.model, None)
            .await?;
        let ranges = plan_ranges(size, split.range_bytes);
        let count = u32::try_from(ranges.len()).unwrap_or(u32::MAX);
        let mut ticket = JobTicket::new(JobKind::Batch, &job.id, target, object);
        ticket.model_version = Some(version);
        ticket.size = Some(size);
        ticket.ranges = Some(count);
        let key = plan_key(&target.tenant, &job.id);
        ticket.plan_key = Some(key.clone());
        let plan = serde_json::to_vec(&ranges)
            .map_err(|e| ServiceError::Internal(format!("plan: {e}")))?;
        let mut upload = self
            .blobs
            .create_upload(&object.bucket, &key, "application/json")
            .await?;
        upload.write_part(plan).await?;
        match upload.complete().await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        job.version = Some(version);
        job.progress = Some(JobProgress {
            ranges: count,
            ..JobProgress::default()
        });
        self.jobs.put_job(job).await?;
        split.runner.start(&ticket).await?;
        tracing::info!(job_id = %job.id, size, ranges = count, "split the file into ranges");
        Ok(())
    }

    async fn score_into(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
        job: &mut Job,
    ) -> Result<SeverityTally, ServiceError> {
        let name = target.model.as_str();
        let (version, model) = self.detect.model(&target.tenant, name, None).await?;
        job.version = Some(version);
        let reader = open_named(
            self.blobs.as_ref(),
            &object.bucket,
            &object.key,
            Some(object),
        )
        .await?;
        let key = job.results_key.clone().unwrap_or_default();
        let written = ScoredWrite {
            model,
            name,
            limits: *self.detect.limits(),
            header: true,
            part_bytes: self.part_bytes,
        };
        let summary = written
            .run(self.blobs.as_ref(), reader, &object.bucket, &key)
            .await?;
        job.counts = JobCounts {
            rows: summary.rows,
            anomalies: summary.anomalies,
        };
        job.anomaly_rows = summary.anomaly_rows;
        summary.severities.record(name, version, summary.rows);
        Ok(summary.severities)
    }
}

/// Scoring one stream into one object: the model, and how the results are written.
pub struct ScoredWrite<'a> {
    /// The model to score with.
    pub model: Arc<Model>,
    /// Its name (in errors).
    pub name: &'a str,
    /// Parsing limits.
    pub limits: Limits,
    /// Whether the results start with the header line.
    pub header: bool,
    /// Size of each uploaded part.
    pub part_bytes: usize,
}

impl ScoredWrite<'_> {
    /// Parses and scores `reader` on a blocking thread while the results are uploaded to `key`
    /// in `bucket` part by part; the object appears whole or not at all. A results object an
    /// earlier attempt completed is kept (the same input gives the same rows).
    pub async fn run(
        self,
        blobs: &dyn BlobStreams,
        reader: BlobReader,
        bucket: &str,
        key: &str,
    ) -> Result<BatchSummary, ServiceError> {
        let mut upload = blobs
            .create_upload(bucket, key, RESULTS_CONTENT_TYPE)
            .await?;
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1);
        let Self {
            model,
            name,
            limits,
            header,
            part_bytes,
        } = self;
        let model_name = name.to_owned();
        let producer = tokio::task::spawn_blocking(move || {
            score_stream(
                reader,
                &model,
                &model_name,
                &limits,
                header,
                part_bytes,
                &tx,
            )
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
                tracing::info!(key = %key, "results already written by an earlier attempt");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(summary)
    }
}

async fn abort<T>(upload: Box<dyn BlobUpload>, error: ServiceError) -> Result<T, ServiceError> {
    upload.abort().await;
    Err(error)
}
