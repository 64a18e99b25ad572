//! Routes of the `backup` function: the two HTTP routes, the schedule and direct invocations
//! (`{"action":"backup"}`, `{"action":"restore",...}`). Restore is never reachable over HTTP.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, LambdaEvent, Request, Response};
use serde::Serialize;
use serde_json::Value;
use service::events::{classify, Trigger};
use service::http::{json_response, match_route, route_path, serve, RouteSpec};
use service::invoke::{run_event, serve_http, EventError, EventOutcome};
use service::ports::ObjectAdmin;
use service::startup::Stores;
use service::workflows::backup::{BackupCreated, BackupWorkflow};
use service::workflows::restore::{RestoreReport, RestoreRequest, RestoreWorkflow};
use service::workflows::retention::RetentionPolicy;
use service::ServiceError;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    backup: BackupWorkflow,
    restore: RestoreWorkflow,
}

impl HandlerDeps {
    /// Backups of `stores` kept in `vault`, pruned by `policy`.
    pub fn new(stores: &Stores, vault: Arc<dyn ObjectAdmin>, policy: RetentionPolicy) -> Self {
        Self {
            backup: BackupWorkflow::new(stores, vault.clone(), policy),
            restore: RestoreWorkflow::new(stores, vault),
        }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Create,
    List,
}

fn routes() -> [RouteSpec<Route>; 2] {
    [
        RouteSpec {
            method: Method::POST,
            pattern: "/api/v1/backups",
            route: Route::Create,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/backups",
            route: Route::List,
        },
    ]
}

/// Answers one API Gateway request (REST v1 or HTTP v2); every failure is a JSON response.
pub async fn handle(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve("backup", request, |request| dispatch(deps, request)).await)
}

async fn dispatch(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, ServiceError> {
    let matched = match_route(&routes(), request.method(), &route_path(&request))?;
    match matched.route {
        Route::Create => Ok(json_response(201, &deps.backup.create().await?)),
        Route::List => Ok(json_response(200, &deps.backup.list().await?)),
    }
}

/// What a direct or scheduled invocation returns.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ActionOutcome {
    /// A backup was taken (and old ones pruned).
    Backup(BackupCreated),
    /// A restore ran, or a dry run reported.
    Restore(RestoreReport),
    /// The request was refused (unknown backup, corrupted backup, bad payload): nothing was
    /// written, and retrying the same payload cannot help.
    Refused {
        /// Always `refused`.
        status: &'static str,
        /// The JSON error envelope's `error`.
        error: Value,
    },
}

impl EventOutcome for ActionOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Backup(_) => "ok",
            Self::Restore(report) => report.status,
            Self::Refused { .. } => "refused",
        }
    }
}

/// Answers one invocation: API Gateway requests as [`handle`] does; `{"action":"backup"}` (the
/// schedule's input) and EventBridge scheduled events take a backup; `{"action":"restore",
/// "backup_id":"...","dry_run":false,"replace":false}` restores one. A refused request is an
/// `Ok` answer with `status: refused`; a transient or internal failure returns `Err`, so Lambda
/// retries an asynchronous invocation and, in the end, hands it to the failure destination.
pub async fn invoke(deps: &HandlerDeps, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    let (payload, context) = event.into_parts();
    let request_id = context.request_id.clone();
    if payload.get("action").is_some() {
        return run_event("backup", "direct", act(deps, payload, request_id)).await;
    }
    match classify(payload) {
        Trigger::Http(request) => serve_http(*request, context, |r| handle(deps, r)).await,
        Trigger::Schedule(_) => {
            let work = async {
                settle(
                    deps.backup.create().await.map(ActionOutcome::Backup),
                    &request_id,
                )
            };
            run_event("backup", "schedule", work).await
        }
        Trigger::S3(_) | Trigger::Unknown(_) => {
            let refused = ServiceError::BadRequest(
                "unsupported event: expected an API Gateway request, a schedule, or {\"action\":\"backup\"} or {\"action\":\"restore\",\"backup_id\":\"...\"}".into(),
            );
            run_event("backup", "unknown", async {
                settle(Err(refused), &request_id)
            })
            .await
        }
    }
}

/// Runs `{"action": ...}`.
async fn act(
    deps: &HandlerDeps,
    mut payload: Value,
    request_id: String,
) -> Result<ActionOutcome, ServiceError> {
    let action = payload
        .as_object_mut()
        .and_then(|fields| fields.remove("action"));
    let result = match action.as_ref().and_then(Value::as_str) {
        Some("backup") if payload.as_object().is_some_and(|f| f.is_empty()) => {
            deps.backup.create().await.map(ActionOutcome::Backup)
        }
        Some("backup") => Err(ServiceError::BadRequest(
            "{\"action\":\"backup\"} takes no other fields".into(),
        )),
        Some("restore") => match serde_json::from_value::<RestoreRequest>(payload) {
            Ok(request) => deps
                .restore
                .restore(&request)
                .await
                .map(ActionOutcome::Restore),
            Err(e) => Err(ServiceError::BadRequest(format!(
                "a restore takes {{\"action\":\"restore\",\"backup_id\":\"...\",\"dry_run\":false,\"replace\":false}}: {e}"
            ))),
        },
        _ => Err(ServiceError::BadRequest(format!(
            "unknown action {}; expected \"backup\" or \"restore\"",
            action.unwrap_or(Value::Null)
        ))),
    };
    settle(result, &request_id)
}

/// A client error becomes a refusal the invoker can read; faults stay errors (retried).
fn settle(
    result: Result<ActionOutcome, ServiceError>,
    request_id: &str,
) -> Result<ActionOutcome, ServiceError> {
    match result {
        Err(e) if e.status() < 500 => {
            tracing::warn!(code = e.code(), error = %e, "request refused");
            let envelope = e.envelope(request_id);
            Ok(ActionOutcome::Refused {
                status: "refused",
                error: envelope.get("error").cloned().unwrap_or(Value::Null),
            })
        }
        other => other,
    }
}
