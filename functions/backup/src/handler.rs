//! The `backup` function: the two HTTP routes (operators only: a backup is of every tenant), the
//! schedule and direct invocations (`{"action":"backup"}`, `{"action":"restore",...}`,
//! `{"action":"upgrade"}`). Restore and the upgrade are never reachable over HTTP.

use std::sync::Arc;

use application::domain::{JobPolicy, Scope};
use application::ports::{ObjectAdmin, Stores};
use application::workflows::backup::{BackupCreated, BackupWorkflow};
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::restore::{RestoreReport, RestoreRequest, RestoreWorkflow};
use application::workflows::retention::RetentionPolicy;
use application::workflows::sweep::{SweepReport, SweepWorkflow};
use application::workflows::upgrade::{UpgradeReport, UpgradeWorkflow};
use application::ServiceError;
use edge::access::Access;
use edge::dispatch::{settle, EventOutcome, Function, Refusal, Work};
use edge::http::{json_response, Matched, RouteSpec};
use edge::trigger::ScheduledEvent;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    backup: BackupWorkflow,
    restore: RestoreWorkflow,
    upgrade: UpgradeWorkflow,
    sweep: SweepWorkflow,
    access: Access,
    idempotency: IdempotencyGuard,
}

impl HandlerDeps {
    /// Backups of `stores` kept in `vault`, pruned by `policy`, their jobs kept and leased by
    /// `jobs`.
    pub fn new(
        stores: &Stores,
        vault: Arc<dyn ObjectAdmin>,
        policy: RetentionPolicy,
        jobs: JobPolicy,
    ) -> Self {
        Self {
            backup: BackupWorkflow::new(stores, vault.clone(), policy).with_jobs(jobs),
            restore: RestoreWorkflow::new(stores, vault),
            upgrade: UpgradeWorkflow::new(stores),
            sweep: SweepWorkflow::new(stores),
            access: Access::Authorizer,
            idempotency: IdempotencyGuard::new(stores.idempotency.clone()),
        }
    }

    /// Admits callers through `access` (by default, the API Gateway authorizer's context).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
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
    /// What the upgrade to tenancy moved.
    Upgrade(UpgradeReport),
    /// What a sweep failed or deleted.
    Sweep(SweepReport),
    /// The request was refused (unknown backup, corrupted backup, bad payload): nothing was
    /// written, and retrying the same payload cannot help.
    Refused(Refusal),
}

impl EventOutcome for ActionOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Backup(_) => "ok",
            Self::Restore(report) => report.status,
            Self::Upgrade(report) => report.status,
            Self::Sweep(_) => "ok",
            Self::Refused(_) => "refused",
        }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/v1/backups`.
    Create,
    /// `GET /api/v1/backups`.
    List,
}

/// What an event this function does not take is told.
const EXPECTED_EVENTS: &str = "unsupported event: expected an API Gateway request, a schedule, {\"action\":\"backup\"}, {\"action\":\"restore\",\"backup_id\":\"...\"}, {\"action\":\"upgrade\"} or {\"action\":\"sweep\"}";

/// The `backup` function: two routes; `{"action":"backup"}` (the schedule's input) and
/// EventBridge scheduled events take a backup; `{"action":"restore","backup_id":"...",
/// "dry_run":false,"replace":false}` restores one. A refused request is an `Ok` answer with
/// `status: refused`; a transient or internal failure returns `Err`, so Lambda retries an
/// asynchronous invocation and, in the end, hands it to the failure destination.
impl Function for HandlerDeps {
    const NAME: &'static str = "backup";
    type Route = Route;
    type Outcome = ActionOutcome;

    fn routes(&self) -> Vec<RouteSpec<Route>> {
        vec![
            RouteSpec::new(
                Method::POST,
                "/api/v1/backups",
                Scope::Operator,
                Route::Create,
            )
            .idempotent(&[]),
            RouteSpec::new(Method::GET, "/api/v1/backups", Scope::Operator, Route::List),
        ]
    }

    fn access(&self) -> &Access {
        &self.access
    }

    fn idempotency(&self) -> Option<&IdempotencyGuard> {
        Some(&self.idempotency)
    }

    fn http(&self, matched: Matched<Route>, _request: Request) -> Work<'_, Response<Body>> {
        Box::pin(async move {
            match matched.route {
                Route::Create => Ok(json_response(201, &self.backup.create().await?)),
                Route::List => Ok(json_response(200, &self.backup.list().await?)),
            }
        })
    }

    fn schedule(
        &self,
        _event: ScheduledEvent,
        request_id: String,
    ) -> Option<Work<'_, ActionOutcome>> {
        Some(Box::pin(async move {
            settle(
                self.backup.create().await.map(ActionOutcome::Backup),
                &request_id,
                ActionOutcome::Refused,
            )
        }))
    }

    fn direct(&self, payload: Value, request_id: String) -> Option<Work<'_, ActionOutcome>> {
        Some(Box::pin(act(self, payload, request_id)))
    }

    fn refuse(
        &self,
        _error: ServiceError,
        request_id: &str,
    ) -> Result<ActionOutcome, ServiceError> {
        settle(
            Err(ServiceError::BadRequest(EXPECTED_EVENTS.into())),
            request_id,
            ActionOutcome::Refused,
        )
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
        Some("upgrade") if payload.as_object().is_some_and(|f| f.is_empty()) => {
            deps.upgrade.run().await.map(ActionOutcome::Upgrade)
        }
        Some("upgrade") => Err(ServiceError::BadRequest(
            "{\"action\":\"upgrade\"} takes no other fields".into(),
        )),
        Some("sweep") if payload.as_object().is_some_and(|f| f.is_empty()) => {
            deps.sweep.run().await.map(ActionOutcome::Sweep)
        }
        Some("sweep") => Err(ServiceError::BadRequest(
            "{\"action\":\"sweep\"} takes no other fields".into(),
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
            "unknown action {}; expected \"backup\", \"restore\", \"upgrade\" or \"sweep\"",
            action.unwrap_or(Value::Null)
        ))),
    };
    settle(result, &request_id, ActionOutcome::Refused)
}
