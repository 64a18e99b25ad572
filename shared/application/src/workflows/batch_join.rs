//! The end of a split batch job: the ranges' parts joined into one results object in input order
//! (server-side part copies; parts under S3's 5 MiB minimum streamed through a bounded buffer),
//! their summaries added up into the job, the intermediate objects deleted. Or, when a range or
//! the engine gave up, the job failed as a whole.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::domain::batch_plan::{part_key, plan_key, summary_key};
use crate::domain::ids::now_millis;
use crate::domain::{JobCounts, JobStatus, JobTicket};
use crate::error::ServiceError;
use crate::ports::{BlobUpload, StoreError, MIN_PART_BYTES};
use crate::workflows::alerts::job_alert;
use crate::workflows::batch::{BatchSummary, RESULTS_CONTENT_TYPE};
use crate::workflows::batch_range::SplitBatch;
use crate::workflows::detect::JOB_ANOMALY_ROWS_CAP;
use crate::workflows::severity::SeverityTally;

/// Summaries read, and intermediate objects deleted, at once.
const JOIN_CONCURRENCY: usize = 16;

impl SplitBatch {
    /// Joins every range of `ticket`'s job into its results object and records the job
    /// `succeeded`; a job already finished is left as it is.
    pub async fn join(&self, ticket: &JobTicket) -> Result<JobStatus, ServiceError> {
        let mut job = self.job(ticket).await?;
        if matches!(job.status, JobStatus::Succeeded | JobStatus::Failed) {
            return Ok(job.status);
        }
        let ranges = ticket.ranges.unwrap_or(0);
        let summaries: Vec<BatchSummary> = stream::iter(0..ranges)
            .map(|index| async move {
                self.summary(ticket, index).await?.ok_or_else(|| {
                    ServiceError::Unavailable(format!("range {index} has not been scored yet"))
                })
            })
            .buffered(JOIN_CONCURRENCY)
            .try_collect()
            .await?;
        let results = job.results_key.clone().ok_or_else(|| {
            ServiceError::Internal(format!("job '{}' has no results key", job.id))
        })?;
        let mut upload = self
            .blobs
            .create_upload(&ticket.bucket, &results, RESULTS_CONTENT_TYPE)
            .await?;
        if let Err(e) = self.append_parts(ticket, &summaries, upload.as_mut()).await {
            upload.abort().await;
            return Err(e);
        }
        match upload.complete().await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut rows = 0usize;
        let mut anomalies = 0usize;
        let mut anomaly_rows = Vec::new();
        let mut severities = SeverityTally::default();
        for summary in &summaries {
            for local in &summary.anomaly_rows {
                if anomaly_rows.len() < JOB_ANOMALY_ROWS_CAP {
                    anomaly_rows.push(rows + local);
                }
            }
            rows += summary.rows;
            anomalies += summary.anomalies;
            severities.merge(&summary.severities);
        }
        job.status = JobStatus::Succeeded;
        job.counts = JobCounts { rows, anomalies };
        job.anomaly_rows = anomaly_rows;
        job.lease_expires_at = None;
        job.timings.duration_ms = now_millis().saturating_sub(job.created_at) as f64;
        if let Some(progress) = job.progress.as_mut() {
            progress.ranges_done = ranges;
            progress.rows_done = rows as u64;
        }
        self.jobs.put_job(&job).await?;
        severities.record(&ticket.model, job.version.unwrap_or(0), rows);
        if let Some(alerts) = &self.alerts {
            let location = format!("s3://{}/{results}", ticket.bucket);
            alerts
                .announce(job_alert(&job, severities.into(), Some(location)))
                .await;
        }
        self.clean_up(ticket, ranges).await;
        Ok(JobStatus::Succeeded)
    }

    /// Records `ticket`'s job failed because the engine stopped it (`error` is its
    /// `{"Error", "Cause"}`); a job a range already failed keeps that range's reason.
    pub async fn fail(&self, ticket: &JobTicket, error: &Value) -> Result<(), ServiceError> {
        let job = self.job(ticket).await?;
        let name = error
            .get("Error")
            .and_then(Value::as_str)
            .unwrap_or("an unknown error");
        tracing::warn!(job_id = %ticket.id, error = %error, "the job's engine gave up");
        self.fail_job(
            job,
            &format!(
                "the job stopped after its retries ran out ({name}); send the input again to retry"
            ),
        )
        .await?;
        self.clean_up(ticket, ticket.ranges.unwrap_or(0)).await;
        Ok(())
    }

    /// Appends the parts in order: copied when a part can stand alone (at least 5 MiB and no
    /// bytes waiting before it), otherwise streamed through a buffer flushed every
    /// `part_bytes`.
    async fn append_parts(
        &self,
        ticket: &JobTicket,
        summaries: &[BatchSummary],
        upload: &mut dyn BlobUpload,
    ) -> Result<(), ServiceError> {
        let mut buffer: Vec<u8> = Vec::new();
        for (index, summary) in (0u32..).zip(summaries) {
            if summary.bytes == 0 {
                continue;
            }
            let key = part_key(&ticket.tenant, &ticket.id, index);
            if buffer.is_empty() && summary.bytes >= MIN_PART_BYTES as u64 {
                upload.copy_part(&ticket.bucket, &key).await?;
                continue;
            }
            let reader = self
                .blobs
                .open(&ticket.bucket, &key)
                .await?
                .ok_or_else(|| {
                    ServiceError::Unavailable(format!("range {index}'s results are missing"))
                })?;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
            let chunk = self.part_bytes;
            let reading = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let failure = reader.failure();
                let mut reader = reader;
                loop {
                    let mut block = vec![0u8; chunk.min(1 << 20)];
                    let n = reader.read(&mut block).map_err(|e| {
                        failure
                            .get()
                            .unwrap_or_else(|| StoreError::Unavailable(e.to_string()))
                    })?;
                    if n == 0 {
                        return Ok::<_, StoreError>(());
                    }
                    block.truncate(n);
                    if tx.blocking_send(block).is_err() {
                        return Ok(());
                    }
                }
            });
            while let Some(block) = rx.recv().await {
                buffer.extend_from_slice(&block);
                if buffer.len() >= self.part_bytes {
                    upload.write_part(std::mem::take(&mut buffer)).await?;
                }
            }
            reading
                .await
                .map_err(|e| ServiceError::Internal(format!("part read stopped: {e}")))??;
        }
        if !buffer.is_empty() {
            upload.write_part(buffer).await?;
        }
        Ok(())
    }

    /// Deletes the plan, parts and summaries (best effort: a lifecycle rule expires `batch/`).
    async fn clean_up(&self, ticket: &JobTicket, ranges: u32) {
        let mut keys = vec![plan_key(&ticket.tenant, &ticket.id)];
        for index in 0..ranges {
            keys.push(part_key(&ticket.tenant, &ticket.id, index));
            keys.push(summary_key(&ticket.tenant, &ticket.id, index));
        }
        let failures = stream::iter(keys)
            .map(|key| async move { self.blobs.delete(&ticket.bucket, &key).await })
            .buffer_unordered(JOIN_CONCURRENCY)
            .filter(|r| std::future::ready(r.is_err()))
            .count()
            .await;
        if failures > 0 {
            tracing::warn!(job_id = %ticket.id, failures, "some intermediate objects were not deleted; the lifecycle rule expires them");
        }
    }
}
