//! One range of a split batch job, scored by one invocation (a Distributed Map item in AWS, a
//! thread of the local driver): the lines the range owns are scored with the job's pinned model
//! version into `batch/{tenant}/{job}/part-NNNNNN.csv`, then its summary is written and its rows
//! counted in the job's progress. A retried range finds its summary and does nothing again; one
//! cut off before its summary writes the same part again (completed only if absent) and counts
//! its rows once ([`JobStore::record_range`]).

use std::io::Read;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::batch_plan::{part_key, summary_key, ByteRange};
use crate::domain::{Job, JobStatus, JobTicket};
use crate::error::ServiceError;
use crate::ports::{BlobReader, BlobStreams, JobStore, StoreError};
use crate::workflows::alerts::AlertWorkflow;
use crate::workflows::batch::{BatchSummary, ScoredWrite, RESULTS_PART_BYTES};
use crate::workflows::detect::DetectWorkflow;
use crate::workflows::event_jobs::open_named;
use crate::workflows::range_lines::RangeLines;

/// MIME type of a range's summary.
const SUMMARY_CONTENT_TYPE: &str = "application/json";

/// What became of a range: the state machine fails the job as a whole when `failed` (the job
/// already records why); transient errors are `Err` instead, which the engine retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RangeOutcome {
    /// The range's data could not be scored; the job is failed.
    pub failed: bool,
}

/// The steps of a split batch job after its plan: ranges, the join, the failure.
#[derive(Clone)]
pub struct SplitBatch {
    pub(crate) detect: DetectWorkflow,
    pub(crate) blobs: Arc<dyn BlobStreams>,
    pub(crate) jobs: Arc<dyn JobStore>,
    pub(crate) part_bytes: usize,
    pub(crate) alerts: Option<AlertWorkflow>,
}

impl SplitBatch {
    /// Steps loading models through `detect`, reading and writing objects through `blobs` and
    /// updating jobs in `jobs`.
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
            alerts: None,
        }
    }

    /// The same steps announcing a joined job that found anomalies through `alerts`.
    pub fn with_alerts(mut self, alerts: AlertWorkflow) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Scores `range` of `ticket`'s file (see the module doc).
    pub async fn score_range(
        &self,
        ticket: &JobTicket,
        range: ByteRange,
    ) -> Result<RangeOutcome, ServiceError> {
        let job = self.job(ticket).await?;
        if job.status == JobStatus::Failed {
            return Ok(RangeOutcome { failed: true });
        }
        if job.status == JobStatus::Succeeded || self.summary(ticket, range.index).await?.is_some()
        {
            return Ok(RangeOutcome { failed: false });
        }
        match self.score_into_part(ticket, range).await {
            Ok(summary) => {
                self.write_summary(ticket, range.index, &summary).await?;
                self.jobs
                    .record_range(&ticket.tenant, &ticket.id, range.index, summary.rows as u64)
                    .await?;
                Ok(RangeOutcome { failed: false })
            }
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                let reason = format!(
                    "bytes {}..{} of s3://{}/{}: {}",
                    range.start,
                    range.end,
                    ticket.bucket,
                    ticket.key,
                    e.public_message()
                );
                tracing::info!(job_id = %ticket.id, range = range.index, error = %e, "range failed on its data; failing the job");
                self.fail_job(job, &reason).await?;
                Ok(RangeOutcome { failed: true })
            }
        }
    }

    /// The job the ticket names (a ticket for a missing job is refused, not retried).
    pub(crate) async fn job(&self, ticket: &JobTicket) -> Result<Job, ServiceError> {
        self.jobs
            .get_job(&ticket.tenant, &ticket.id)
            .await?
            .ok_or_else(|| ServiceError::JobNotFound(ticket.id.clone()))
    }

    /// Records `job` failed with `reason`, unless it already ended.
    pub(crate) async fn fail_job(&self, mut job: Job, reason: &str) -> Result<(), ServiceError> {
        if matches!(job.status, JobStatus::Succeeded | JobStatus::Failed) {
            return Ok(());
        }
        job.status = JobStatus::Failed;
        job.error = Some(reason.to_owned());
        job.lease_expires_at = None;
        self.jobs.put_job(&job).await?;
        Ok(())
    }

    /// The summary of range `index`, if it was written.
    pub(crate) async fn summary(
        &self,
        ticket: &JobTicket,
        index: u32,
    ) -> Result<Option<BatchSummary>, ServiceError> {
        let key = summary_key(&ticket.tenant, &ticket.id, index);
        let Some(reader) = self.blobs.open(&ticket.bucket, &key).await? else {
            return Ok(None);
        };
        let bytes = read_small(reader, &key).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ServiceError::Internal(format!("summary {key}: {e}")))
    }

    async fn write_summary(
        &self,
        ticket: &JobTicket,
        index: u32,
        summary: &BatchSummary,
    ) -> Result<(), ServiceError> {
        let key = summary_key(&ticket.tenant, &ticket.id, index);
        let bytes = serde_json::to_vec(summary)
            .map_err(|e| ServiceError::Internal(format!("summary {key}: {e}")))?;
        let mut upload = self
            .blobs
            .create_upload(&ticket.bucket, &key, SUMMARY_CONTENT_TYPE)
            .await?;
        upload.write_part(bytes).await?;
        match upload.complete().await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn score_into_part(
        &self,
        ticket: &JobTicket,
        range: ByteRange,
    ) -> Result<BatchSummary, ServiceError> {
        let (_, model) = self
            .detect
            .model(&ticket.tenant, &ticket.model, ticket.model_version)
            .await?;
        let object = ticket.object();
        let body = self
            .blobs
            .open_from(
                &ticket.bucket,
                &ticket.key,
                object.version_id.as_deref(),
                object.etag.as_deref(),
                range.start.saturating_sub(1),
            )
            .await?
            .ok_or_else(|| {
                ServiceError::InvalidInput(format!(
                    "object {} no longer exists in the version the job started on",
                    object.uri()
                ))
            })?;
        let failure = body.failure();
        let lines = RangeLines::new(body, range.start, range.end);
        let reader = if range.start == 0 {
            BlobReader::new(Box::new(lines), failure)
        } else {
            let header = self.header_line(ticket).await?;
            BlobReader::new(Box::new(std::io::Cursor::new(header).chain(lines)), failure)
        };
        let key = part_key(&ticket.tenant, &ticket.id, range.index);
        ScoredWrite {
            model,
            name: &ticket.model,
            limits: *self.detect.limits(),
            header: range.start == 0,
            part_bytes: self.part_bytes,
        }
        .run(self.blobs.as_ref(), reader, &ticket.bucket, &key)
        .await
    }

    /// The file's header line (with its newline), read from the pinned version's first bytes.
    async fn header_line(&self, ticket: &JobTicket) -> Result<Vec<u8>, ServiceError> {
        let object = ticket.object();
        let reader = open_named(
            self.blobs.as_ref(),
            &ticket.bucket,
            &ticket.key,
            Some(&object),
        )
        .await?;
        let most = self.detect.limits().max_header_bytes;
        tokio::task::spawn_blocking(move || {
            let failure = reader.failure();
            let mut line = Vec::new();
            let read = std::io::BufRead::read_until(
                &mut std::io::BufReader::new(reader.take(most as u64 + 1)),
                b'\n',
                &mut line,
            );
            match (read, failure.get()) {
                (_, Some(transport)) => Err(transport.into()),
                (Err(e), None) => Err(ServiceError::InvalidInput(format!("header: {e}"))),
                (Ok(_), None) if line.len() > most || !line.ends_with(b"\n") => {
                    Err(ServiceError::InvalidInput(format!(
                        "the header line is longer than {most} bytes or has no end"
                    )))
                }
                (Ok(_), None) => Ok(line),
            }
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("header read stopped: {e}")))?
    }
}

/// Reads a small object whole (a summary or a plan: a few hundred KiB at most).
pub(crate) async fn read_small(reader: BlobReader, key: &str) -> Result<Vec<u8>, ServiceError> {
    const MOST: u64 = 4 * 1024 * 1024;
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        let failure = reader.failure();
        let mut bytes = Vec::new();
        let read = reader.take(MOST + 1).read_to_end(&mut bytes);
        match (read, failure.get()) {
            (_, Some(transport)) => Err(transport.into()),
            (Err(e), None) => Err(ServiceError::Internal(format!("{key}: {e}"))),
            (Ok(n), None) if n as u64 > MOST => Err(ServiceError::Internal(format!(
                "{key} is larger than {MOST} bytes"
            ))),
            (Ok(_), None) => Ok(bytes),
        }
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("read stopped: {e}")))?
}
