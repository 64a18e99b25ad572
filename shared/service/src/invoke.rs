//! One entry point per function for every trigger: API Gateway requests go to the function's HTTP
//! handler exactly as `lambda_http::run` would hand them over (same request conversion, same
//! response JSON), and events (S3, EventBridge) run as jobs with one summary log line and one EMF
//! document per invocation.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, Context, LambdaEvent, Request, Response, Service};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::ServiceError;
use crate::events::{route_key, IncomingRoute, S3ObjectRef};
use crate::metrics::{self, Invocation};
use crate::workflows::objects::{is_transient, JobOutcome};

/// What a function returns to the Lambda runtime on error (it retries async invocations).
pub type EventError = lambda_http::Error;

/// Answers an API Gateway request with `handler`, through `lambda_http`'s own adapter, so the
/// request and the response JSON are exactly those of `lambda_http::run`.
pub async fn serve_http<F, Fut>(
    request: LambdaRequest,
    context: Context,
    handler: F,
) -> Result<Value, EventError>
where
    F: FnMut(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Infallible>> + Send,
{
    let mut adapter = Adapter::from(lambda_http::service_fn(handler));
    let response = match adapter.call(LambdaEvent::new(request, context)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(serde_json::to_value(response)?)
}

/// Runs `work` on every created object whose key `pick` routes to a model, in order. A data
/// error is recorded by `work` as a failed job; a transient error does not stop the others, and
/// the last one is returned after all were tried so the event is retried (finished objects are
/// then no-ops); any other error stops at once.
pub async fn for_each_created_object<F, Fut>(
    objects: &[S3ObjectRef],
    pick: fn(IncomingRoute) -> Option<String>,
    mut work: F,
) -> Result<EventSummary, ServiceError>
where
    F: FnMut(S3ObjectRef, String) -> Fut,
    Fut: Future<Output = Result<JobOutcome, ServiceError>>,
{
    let mut outcomes = Vec::new();
    let mut transient = None;
    for object in objects.iter().filter(|o| o.is_created()) {
        let Some(model) = pick(route_key(&object.key)) else {
            tracing::info!(key = %object.key, "S3 record ignored: not under this function's incoming/ prefix");
            continue;
        };
        match work(object.clone(), model).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) if is_transient(&e) => transient = Some(e),
            Err(e) => return Err(e),
        }
    }
    match transient {
        Some(e) => Err(e),
        None => Ok(EventSummary::of(&outcomes)),
    }
}

/// The summary an event invocation returns (visible to direct invokers and in destinations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    /// `ok`, `failed` (some job recorded as failed on its data), `duplicate` (nothing new done),
    /// or `ignored` (records this function does not handle).
    pub status: &'static str,
    /// The jobs the invocation touched.
    pub jobs: Vec<Value>,
}

impl EventSummary {
    /// The summary of these outcomes: `failed` if any job failed, `duplicate` if every one was a
    /// redelivery, `ignored` when there were none, `ok` otherwise.
    pub fn of(outcomes: &[JobOutcome]) -> Self {
        let status = if outcomes.is_empty() {
            "ignored"
        } else if outcomes
            .iter()
            .any(|o| o.job.status == crate::ports::JobStatus::Failed)
        {
            "failed"
        } else if outcomes.iter().all(|o| o.duplicate) {
            "duplicate"
        } else {
            "ok"
        };
        Self {
            status,
            jobs: outcomes
                .iter()
                .map(|o| {
                    json!({
                        "id": o.job.id,
                        "kind": o.job.kind,
                        "status": o.job.status,
                        "duplicate": o.duplicate,
                        "model": o.job.model,
                        "version": o.job.version,
                        "rows": o.job.counts.rows,
                        "results_key": o.job.results_key,
                        "error": o.job.error,
                    })
                })
                .collect(),
        }
    }
}

/// What an event invocation returns to its invoker: JSON with a status for the metrics.
pub trait EventOutcome: Serialize {
    /// The `Status` dimension and log field (`ok`, `failed`, `duplicate`, `ignored`, ...).
    fn status(&self) -> &'static str;
}

impl EventOutcome for EventSummary {
    fn status(&self) -> &'static str {
        self.status
    }
}

/// Runs one event's `work` for `function`: a panic becomes an error, the outcome is logged once
/// and written as one EMF document (`Status` = the outcome's status, or `error`), and an error
/// is returned to the runtime so the event is retried.
pub async fn run_event<T, Fut>(
    function: &'static str,
    trigger: &'static str,
    work: Fut,
) -> Result<Value, EventError>
where
    T: EventOutcome,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let started = Instant::now();
    let cold_start = metrics::take_cold_start();
    let (outcome, counts) = metrics::measure(AssertUnwindSafe(work).catch_unwind()).await;
    let outcome = outcome
        .unwrap_or_else(|_| Err(ServiceError::Internal("the event handler panicked".into())));
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rows = counts.get(metrics::Counter::RowsScored);
    let (model, version) = counts.model().unzip();
    let status = match &outcome {
        Ok(summary) => summary.status(),
        Err(_) => "error",
    };
    match &outcome {
        Ok(_) => {
            tracing::info!(
                function,
                trigger,
                status,
                model,
                version,
                rows,
                duration_ms,
                cold_start,
                "event"
            )
        }
        Err(e) => {
            tracing::error!(function, trigger, status, error = %e, model, version, rows, duration_ms, cold_start, "event failed; returning an error so it is retried")
        }
    }
    metrics::emit(
        &Invocation {
            function,
            status,
            duration_ms,
            cold_start,
        },
        &counts,
    );
    match outcome {
        Ok(summary) => Ok(serde_json::to_value(summary)?),
        Err(e) => Err(Box::new(e)),
    }
}
