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
use tokio::sync::mpsc;

use crate::domain::incoming::ModelTarget;
use crate::domain::{Job, JobCounts, JobKind, JobPolicy, S3ObjectRef};
use crate::error::ServiceError;
use crate::ports::{BlobReader, BlobStreams, BlobUpload, JobStore, ReadFailure, StoreError};
use crate::workflows::csv_stream::{csv_chunks, StreamStop};
use crate::workflows::detect::{aligned, DetectWorkflow, JOB_ANOMALY_ROWS_CAP};
use crate::workflows::event_jobs::{claim, finish, new_job, open_named, JobOutcome};
use crate::workflows::severity::SeverityTally;

/// Size of each results part uploaded (S3 needs at least 5 MiB for all but the last).
pub const RESULTS_PART_BYTES: usize = 8 * 1024 * 1024;

/// MIME type of results objects.
pub const RESULTS_CONTENT_TYPE: &str = "text/csv";

/// The results key of a batch job: `results/{tenant}/{model}/{job}.csv`.
pub fn results_key(target: &ModelTarget, job_id: &str) -> String {
    format!("results/{}/{}/{job_id}.csv", target.tenant, target.model)
}

/// Totals of a scored stream.
#[derive(Debug, Default)]
struct BatchSummary {
    rows: usize,
    anomaly_rows: Vec<usize>,
    anomalies: usize,
    severities: SeverityTally,
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
    let chunks = csv_chunks(reader, limits)
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
    policy: JobPolicy,
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
        }
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
        let id = object.job_id("batch");
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
        finish(self.jobs.as_ref(), job, started, result).await
    }

    async fn score_into(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
        job: &mut Job,
    ) -> Result<(), ServiceError> {
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
        summary.severities.record(name, version, summary.rows);
        Ok(())
    }
}

async fn abort(upload: Box<dyn BlobUpload>, error: ServiceError) -> Result<(), ServiceError> {
    upload.abort().await;
    Err(error)
}
