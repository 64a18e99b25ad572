//! The one place a trigger reaches a function. Each function declares, by implementing
//! [`Function`], its HTTP routes and the events it takes (S3, schedules, direct invocations);
//! [`invoke`] classifies every invocation once and hands it to the declared handler, and a trigger
//! the function did not declare is refused the same way everywhere. API Gateway requests are
//! answered through `lambda_http`'s own adapter (same request conversion, same response JSON as
//! `lambda_http::run`); events run as jobs with one summary log line and one EMF document per
//! invocation.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Instant;

use application::domain::incoming::{route_key, IncomingRoute, ModelTarget};
use application::domain::stream_record::{DeliveredRecord, StreamSource};
use application::domain::{JobStatus, S3ObjectRef};
use application::metrics::{self, Counter};
use application::workflows::event_jobs::JobOutcome;
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::stream::StreamOutcome;
use application::ServiceError;
use futures_util::FutureExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, Context, LambdaEvent, Request, Response, Service};
use serde::Serialize;
use serde_json::{json, Value};

use crate::access::Access;
use crate::batch_response::BatchResponse;
use crate::emf::{self, Invocation};
use crate::http::{
    idempotency_key, match_route, route_path, serve, serve_once, Matched, RouteSpec,
};
use crate::trigger::{classify, ScheduledEvent, Trigger};

/// What a function returns to the Lambda runtime on error (it retries async invocations).
pub type EventError = lambda_http::Error;

/// The work a handler does for one trigger, boxed so a function can declare it in a trait.
pub type Work<'a, T> = Pin<Box<dyn Future<Output = Result<T, ServiceError>> + Send + 'a>>;

/// A Lambda function as the dispatcher sees it: a name, HTTP routes, and a handler for each
/// event it takes. An event handler returns `None` for an event the function does not take;
/// the dispatcher then refuses it through [`Function::refuse`].
pub trait Function: Sync {
    /// The function's short name (`detect`, `train`, ...), in logs and metrics.
    const NAME: &'static str;

    /// What the function's routes dispatch on.
    type Route: Copy + Send + Sync;

    /// What the function's event handlers answer their invoker.
    type Outcome: EventOutcome + Send;

    /// The HTTP routes the function serves.
    fn routes(&self) -> Vec<RouteSpec<Self::Route>>;

    /// How the function learns who calls a tenant route.
    fn access(&self) -> &Access;

    /// Where the function keeps `Idempotency-Key` records, when any of its routes honours
    /// them.
    fn idempotency(&self) -> Option<&IdempotencyGuard> {
        None
    }

    /// Answers a request on a matched route; an error becomes the JSON error envelope.
    fn http(&self, matched: Matched<Self::Route>, request: Request) -> Work<'_, Response<Body>>;

    /// Handles S3 notification records.
    fn s3(&self, _objects: Vec<S3ObjectRef>) -> Option<Work<'_, Self::Outcome>> {
        None
    }

    /// Handles an EventBridge (scheduled) event of invocation `request_id`.
    fn schedule(
        &self,
        _event: ScheduledEvent,
        _request_id: String,
    ) -> Option<Work<'_, Self::Outcome>> {
        None
    }

    /// Handles the records of a Kinesis stream or SQS queue; the outcome names the records to
    /// deliver again, and an error sends the whole batch back.
    fn stream(
        &self,
        _source: StreamSource,
        _records: Vec<DeliveredRecord>,
    ) -> Option<Work<'_, StreamOutcome>> {
        None
    }

    /// Handles a direct invocation `{"action": ..., ...}` (never reachable over HTTP).
    fn direct(&self, _payload: Value, _request_id: String) -> Option<Work<'_, Self::Outcome>> {
        None
    }

    /// What an event the function does not take becomes: by default an error (Lambda retries it,
    /// then hands it to the failure destination).
    fn refuse(
        &self,
        error: ServiceError,
        _request_id: &str,
    ) -> Result<Self::Outcome, ServiceError> {
        Err(error)
    }
}

/// Answers one API Gateway request (REST v1 or HTTP v2) on `function`'s routes, after admitting
/// its caller (401/403 before any work); every failure is a JSON response.
pub async fn handle<F: Function>(
    function: &F,
    request: Request,
) -> Result<Response<Body>, Infallible> {
    Ok(serve(F::NAME, request, |request| async move {
        let mut matched = match_route(&function.routes(), request.method(), &route_path(&request))?;
        matched.caller = function.access().admit(matched.access, &request).await?;
        let keyed = match (matched.idempotent, function.idempotency()) {
            (Some(rule), Some(guard)) => idempotency_key(&request)?.map(|key| (rule, guard, key)),
            _ => None,
        };
        match keyed {
            Some((rule, guard, key)) => {
                let tenant = matched.tenant()?.clone();
                serve_once(guard, rule, &tenant, &key, request, |request| {
                    function.http(matched, request)
                })
                .await
            }
            None => function.http(matched, request).await,
        }
    })
    .await)
}

/// Answers one invocation of `function`, whatever triggered it: a direct invocation, an API
/// Gateway request, S3, Kinesis or SQS records, a schedule, or something else (refused).
pub async fn invoke<F: Function>(
    function: &F,
    event: LambdaEvent<Value>,
) -> Result<Value, EventError> {
    let (payload, context) = event.into_parts();
    let request_id = context.request_id.clone();
    let payload = if payload.get("action").is_some() {
        match function.direct(payload.clone(), request_id.clone()) {
            Some(work) => return run_event(F::NAME, "direct", work).await,
            None => payload,
        }
    } else {
        payload
    };
    let unsupported = match classify(payload) {
        Trigger::Http(request) => {
            return serve_http(*request, context, |r| handle(function, r)).await
        }
        Trigger::S3(objects) => match function.s3(objects) {
            Some(work) => return run_event(F::NAME, "s3", work).await,
            None => "S3 events".to_owned(),
        },
        Trigger::Stream(source, records) => match function.stream(source, records) {
            Some(work) => {
                let answer = async { work.await.map(BatchResponse::from) };
                return run_event(F::NAME, source.name(), answer).await;
            }
            None => format!("{} records", source.name()),
        },
        Trigger::Schedule(event) => match function.schedule(event, request_id.clone()) {
            Some(work) => return run_event(F::NAME, "schedule", work).await,
            None => "scheduled events".to_owned(),
        },
        Trigger::Unknown(what) => what,
    };
    let refused = function.refuse(
        ServiceError::BadRequest(format!("unsupported event: {unsupported}")),
        &request_id,
    );
    run_event(F::NAME, "unknown", async { refused }).await
}

/// Answers an API Gateway request with `handler`, through `lambda_http`'s own adapter, so the
/// request and the response JSON are exactly those of `lambda_http::run`.
async fn serve_http<F, Fut>(
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
    pick: fn(IncomingRoute) -> Option<ModelTarget>,
    mut work: F,
) -> Result<EventSummary, ServiceError>
where
    F: FnMut(S3ObjectRef, ModelTarget) -> Fut,
    Fut: Future<Output = Result<JobOutcome, ServiceError>>,
{
    let mut outcomes = Vec::new();
    let mut transient = None;
    for object in objects.iter().filter(|o| o.is_created()) {
        let Some(target) = pick(route_key(&object.key)) else {
            tracing::info!(key = %object.key, "S3 record ignored: not under this function's incoming/ prefix");
            continue;
        };
        match work(object.clone(), target).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) if e.is_transient() => transient = Some(e),
            Err(e) => return Err(e),
        }
    }
    match transient {
        Some(e) => Err(e),
        None => Ok(EventSummary::of(&outcomes)),
    }
}

/// A direct invocation refused on its payload (an unknown backup, a bad field): nothing was
/// written, and retrying the same payload cannot help, so it is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// Always `refused`.
    pub status: &'static str,
    /// The error envelope's `error` object.
    pub error: Value,
}

/// Turns a request error (4xx) into a [`Refusal`] answer through `wrap`, logged; other errors
/// (5xx: the store failed) stay errors, so Lambda retries the invocation.
pub fn settle<T>(
    result: Result<T, ServiceError>,
    request_id: &str,
    wrap: impl FnOnce(Refusal) -> T,
) -> Result<T, ServiceError> {
    match result {
        Err(e) if e.status() < 500 => {
            tracing::warn!(code = e.code(), error = %e, "request refused");
            let envelope = e.envelope(request_id);
            Ok(wrap(Refusal {
                status: "refused",
                error: envelope.get("error").cloned().unwrap_or(Value::Null),
            }))
        }
        other => other,
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
        } else if outcomes.iter().any(|o| o.job.status == JobStatus::Failed) {
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
async fn run_event<T, Fut>(
    function: &'static str,
    trigger: &'static str,
    work: Fut,
) -> Result<Value, EventError>
where
    T: EventOutcome,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let started = Instant::now();
    let cold_start = emf::take_cold_start();
    let (outcome, counts) = metrics::measure(AssertUnwindSafe(work).catch_unwind()).await;
    let outcome = outcome
        .unwrap_or_else(|_| Err(ServiceError::Internal("the event handler panicked".into())));
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rows = counts.get(Counter::RowsScored);
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
    emf::emit(
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

#[cfg(test)]
mod tests {
    use super::*;
    use application::domain::Scope;
    use lambda_http::http::Method;

    /// A function with a public route, a tenant route and no events; `lenient` answers refusals
    /// instead of failing.
    struct HttpOnly {
        lenient: bool,
        access: Access,
    }

    fn http_only(lenient: bool) -> HttpOnly {
        HttpOnly {
            lenient,
            access: Access::Authorizer,
        }
    }

    impl Function for HttpOnly {
        const NAME: &'static str = "http-only";
        type Route = ();
        type Outcome = EventSummary;

        fn routes(&self) -> Vec<RouteSpec<()>> {
            vec![
                RouteSpec::public(Method::GET, "/health", ()),
                RouteSpec::new(Method::POST, "/private", Scope::Train, ()),
            ]
        }

        fn access(&self) -> &Access {
            &self.access
        }

        fn http(&self, _matched: Matched<()>, _request: Request) -> Work<'_, Response<Body>> {
            Box::pin(async { Ok(crate::http::json_response(200, &json!({"ok": true}))) })
        }

        fn refuse(&self, error: ServiceError, _id: &str) -> Result<EventSummary, ServiceError> {
            if self.lenient {
                Ok(EventSummary::of(&[]))
            } else {
                Err(error)
            }
        }
    }

    /// A REST API request to `path`, with the authorizer context `authorizer` (if any).
    fn rest_request(method: &str, path: &str, authorizer: Option<Value>) -> Value {
        let mut context = json!({"accountId": "1", "apiId": "a", "stage": "prod",
            "requestId": "r", "httpMethod": method, "resourcePath": path, "path": path,
            "identity": {"sourceIp": "192.0.2.1"}});
        if let Some(authorizer) = authorizer {
            context["authorizer"] = authorizer;
        }
        json!({"resource": path, "path": path, "httpMethod": method, "headers": {},
            "multiValueHeaders": {}, "queryStringParameters": null,
            "multiValueQueryStringParameters": null, "pathParameters": null,
            "stageVariables": null, "requestContext": context, "body": null,
            "isBase64Encoded": false})
    }

    #[tokio::test]
    async fn when_a_tenant_route_has_no_authorizer_context_should_be_401_and_without_scope_403() {
        let function = http_only(false);
        let call = |event: Value| {
            let function = &function;
            async move {
                let answer = invoke(function, LambdaEvent::new(event, Context::default()))
                    .await
                    .unwrap();
                (
                    answer["statusCode"].as_u64().unwrap(),
                    answer["body"].as_str().unwrap_or("").to_owned(),
                )
            }
        };
        let (status, body) = call(rest_request("POST", "/private", None)).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
        let reader = json!({"tenant": "acme", "scopes": "read detect", "credential_id": "k"});
        let (status, body) = call(rest_request("POST", "/private", Some(reader))).await;
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("insufficient_scope") && body.contains("'train'"),
            "{body}"
        );
        let trainer = json!({"tenant": "acme", "scopes": "train", "credential_id": "k"});
        assert_eq!(
            call(rest_request("POST", "/private", Some(trainer)))
                .await
                .0,
            200
        );
        let forged = json!({"tenant": "../x", "scopes": "train", "credential_id": "k"});
        assert_eq!(
            call(rest_request("POST", "/private", Some(forged))).await.0,
            401
        );
        assert_eq!(call(rest_request("GET", "/health", None)).await.0, 200);
    }

    fn s3_event() -> Value {
        json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/detect/m/x.csv"}}}]})
    }

    #[tokio::test]
    async fn when_a_function_does_not_take_an_event_should_refuse_it_through_refuse() {
        for event in [
            s3_event(),
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "e1", "detail": {}}),
            json!({"action": "backup"}),
            json!({"hello": 1}),
        ] {
            let refused = invoke(
                &http_only(false),
                LambdaEvent::new(event.clone(), Context::default()),
            )
            .await
            .unwrap_err();
            assert!(
                refused.to_string().starts_with("unsupported event"),
                "{refused}"
            );
            let lenient = http_only(true);
            let answered = invoke(&lenient, LambdaEvent::new(event, Context::default()))
                .await
                .unwrap();
            assert_eq!(answered["status"], "ignored");
        }
    }
}
