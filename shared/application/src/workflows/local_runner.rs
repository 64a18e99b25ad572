//! The local driver of asynchronous jobs: what Step Functions does in AWS, done by the function's
//! own process on the embedded store (and on moto in tests). The same steps run: every range of a
//! split batch job on a pool of workers, each retried on transient errors, then the join, or the
//! job failed as a whole.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use crate::domain::batch_plan::ByteRange;
use crate::domain::{JobKind, JobStatus, JobTicket};
use crate::error::ServiceError;
use crate::ports::{JobRunner, StoreError};
use crate::workflows::batch_range::{read_small, RangeOutcome, SplitBatch};
use crate::workflows::job_failure::fail_job;
use crate::workflows::object_train::ObjectTrainWorkflow;

/// Attempts of each step, as the state machine's `Retry` (`MaxAttempts` 3 after the first).
pub const STEP_ATTEMPTS: u32 = 4;

/// Runs jobs in this process: batch ranges on `workers` concurrent workers, or trainings.
#[derive(Clone)]
pub struct LocalJobRunner {
    split: Option<SplitBatch>,
    train: Option<ObjectTrainWorkflow>,
    workers: usize,
    backoff: Duration,
    detached: bool,
}

impl LocalJobRunner {
    /// A driver over the split steps `split`, scoring `workers` ranges at once.
    pub fn new(split: SplitBatch, workers: usize) -> Self {
        Self {
            split: Some(split),
            train: None,
            workers: workers.max(1),
            backoff: Duration::from_millis(200),
            detached: false,
        }
    }

    /// A driver of training jobs through `train`.
    pub fn training(train: ObjectTrainWorkflow) -> Self {
        Self {
            split: None,
            train: Some(train),
            workers: 1,
            backoff: Duration::from_millis(200),
            detached: false,
        }
    }

    /// The same driver returning from [`JobRunner::start`] at once, the job going on in a task
    /// of this process (a long-lived process such as `cargo lambda watch`'s; never in Lambda,
    /// which freezes a process between invocations). By default `start` runs the job to its end.
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }

    /// The same driver waiting `backoff`, doubling, between attempts of a step.
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Runs `ticket`'s job to its end and returns how it ended.
    pub async fn run(&self, ticket: &JobTicket) -> Result<JobStatus, ServiceError> {
        match (ticket.kind, &self.split, &self.train) {
            (JobKind::Batch, Some(split), _) => self.run_batch(split, ticket).await,
            (JobKind::Train, _, Some(train)) => {
                match self.retried(|| train.run_ticket(ticket)).await {
                    Ok(outcome) => Ok(outcome.job.status),
                    Err(e) => {
                        tracing::warn!(job_id = %ticket.id, error = %e, "the training kept failing");
                        fail_job(train.jobs(), ticket).await?;
                        Ok(JobStatus::Failed)
                    }
                }
            }
            (kind, _, _) => Err(ServiceError::BadRequest(format!(
                "this function's local driver does not run {kind:?} jobs"
            ))),
        }
    }

    async fn run_batch(
        &self,
        split: &SplitBatch,
        ticket: &JobTicket,
    ) -> Result<JobStatus, ServiceError> {
        let plan = self.plan(split, ticket).await?;
        let outcomes: Vec<Result<RangeOutcome, ServiceError>> = stream::iter(plan)
            .map(|range| self.retried(move || split.score_range(ticket, range)))
            .buffer_unordered(self.workers)
            .collect()
            .await;
        let gave_up = if let Some(error) = outcomes.iter().find_map(|o| o.as_ref().err()) {
            tracing::warn!(job_id = %ticket.id, error = %error, "a range kept failing");
            Some("States.TaskFailed")
        } else if outcomes
            .iter()
            .any(|o| matches!(o, Ok(RangeOutcome { failed: true })))
        {
            Some("RangeFailed")
        } else {
            None
        };
        if let Some(error) = gave_up {
            split.fail(ticket, &json!({ "Error": error })).await?;
            return Ok(JobStatus::Failed);
        }
        match self.retried(|| split.join(ticket)).await {
            Ok(status) => Ok(status),
            Err(e) => {
                tracing::warn!(job_id = %ticket.id, error = %e, "the join kept failing");
                split
                    .fail(ticket, &json!({"Error": "States.TaskFailed"}))
                    .await?;
                Ok(JobStatus::Failed)
            }
        }
    }

    async fn plan(
        &self,
        split: &SplitBatch,
        ticket: &JobTicket,
    ) -> Result<Vec<ByteRange>, ServiceError> {
        let key = ticket
            .plan_key
            .as_deref()
            .ok_or_else(|| ServiceError::BadRequest("a batch ticket needs a plan_key".into()))?;
        let reader = split
            .blobs
            .open(&ticket.bucket, key)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("the plan {key} is missing")))?;
        let bytes = read_small(reader, key).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ServiceError::Internal(format!("the plan {key}: {e}")))
    }

    /// `step`, retried with doubling waits while it fails transiently.
    async fn retried<T, F, Fut>(&self, step: F) -> Result<T, ServiceError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ServiceError>>,
    {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match step().await {
                Err(e) if e.is_transient() && attempt < STEP_ATTEMPTS => {
                    tracing::info!(attempt, error = %e, "step failed transiently; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Runs the job to its end, or, [detached](LocalJobRunner::detached), starts it on a task of this
/// process and returns at once (the function answers, the job goes on, as an execution would).
#[async_trait]
impl JobRunner for LocalJobRunner {
    async fn start(&self, ticket: &JobTicket) -> Result<(), StoreError> {
        if !self.detached {
            return match self.run(ticket).await {
                Ok(status) => {
                    tracing::info!(job_id = %ticket.id, ?status, "local job ended");
                    Ok(())
                }
                Err(e) => Err(StoreError::Unavailable(format!(
                    "the local driver stopped: {e}"
                ))),
            };
        }
        let runner = Arc::new(self.clone());
        let ticket = ticket.clone();
        tokio::spawn(async move {
            match runner.run(&ticket).await {
                Ok(status) => tracing::info!(job_id = %ticket.id, ?status, "local job ended"),
                Err(e) => tracing::warn!(job_id = %ticket.id, error = %e, "local job stopped"),
            }
        });
        Ok(())
    }
}
