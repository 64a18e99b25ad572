//! The steps of a split batch job as the jobs state machine invokes them (direct invocations,
//! never reachable over HTTP): `batch_range`, `batch_join` and `job_fail`, each answering
//! `{"status", "failed"}` for the state machine's choices.

use application::domain::batch_plan::ByteRange;
use application::domain::{JobStatus, JobTicket};
use application::workflows::batch_range::SplitBatch;
use application::ServiceError;
use edge::dispatch::{EventOutcome, EventSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One step's invocation payload (what the state machine's tasks send).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStep {
    /// `batch_range`, `batch_join` or `job_fail`.
    pub action: String,
    /// The job.
    pub job: JobTicket,
    /// `batch_range`: the range to score.
    #[serde(default)]
    pub range: Option<ByteRange>,
    /// `job_fail`: the engine's `{"Error", "Cause"}`.
    #[serde(default)]
    pub error: Option<Value>,
}

/// What a step answers the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Whether the job is failed (the state machine then fails the execution).
    pub failed: bool,
}

impl StepOutcome {
    fn of(failed: bool) -> Self {
        Self {
            status: if failed { "failed" } else { "ok" },
            failed,
        }
    }
}

/// What the detect function answers an event: a summary of the jobs an S3 event touched, or a
/// job step's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DetectOutcome {
    /// S3 events and schedules.
    Summary(EventSummary),
    /// Job steps.
    Step(StepOutcome),
}

impl EventOutcome for DetectOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Summary(summary) => summary.status(),
            Self::Step(step) => step.status,
        }
    }
}

/// Runs the step `payload` names on `split`; a malformed payload is a 400-class error, which the
/// state machine does not retry.
pub async fn run_step(split: &SplitBatch, payload: Value) -> Result<DetectOutcome, ServiceError> {
    let step: JobStep = serde_json::from_value(payload)
        .map_err(|e| ServiceError::BadRequest(format!("job step: {e}")))?;
    let failed = match step.action.as_str() {
        "batch_range" => {
            let range = step.range.ok_or_else(|| {
                ServiceError::BadRequest("a batch_range step needs a range".into())
            })?;
            split.score_range(&step.job, range).await?.failed
        }
        "batch_join" => split.join(&step.job).await? == JobStatus::Failed,
        "job_fail" => {
            split
                .fail(&step.job, &step.error.unwrap_or(Value::Null))
                .await?;
            true
        }
        other => {
            return Err(ServiceError::BadRequest(format!(
                "'{other}' is not an action of this function; expected batch_range, batch_join or job_fail"
            )))
        }
    };
    Ok(DetectOutcome::Step(StepOutcome::of(failed)))
}
