//! The `backup` function: the two HTTP routes (operators only: a backup is of every tenant), the
//! schedule and direct invocations (`{"action":"backup"}`, `{"action":"backup","continue":id}`,
//! `{"action":"restore",...}`, `{"action":"upgrade"}`, `{"action":"sweep"}`). Restore and the
//! upgrade are never reachable over HTTP.
//!
//! A backup or restore works until the invocation's budget (a share of `NOMALY_TIMEOUT_SECS`) is
//! spent, then checkpoints and answers `continuing`: the 15-minute sweep continues every backup
//! in progress (before it sweeps, so the backup's job is leased again first), and a restore
//! continues when the same request is sent again.

use std::sync::Arc;
use std::time::Duration;

use application::domain::{JobPolicy, Scope};
use application::ports::{ObjectAdmin, Stores};
use application::workflows::backup::{BackupStep, BackupWorkflow};
use application::workflows::deadline::Deadline;
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::restore::{RestoreRequest, RestoreStep, RestoreWorkflow};
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
    time_limit: Option<Duration>,
}

/// Share of the time limit a backup or restore works before it checkpoints, leaving the rest to
/// finish the step under way and answer.
const WORK_SHARE: f64 = 0.75;

/// Share of the time limit the sweep gives pending backups, leaving the rest to its own work.
const SWEEP_WORK_SHARE: f64 = 0.5;

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
            time_limit: None,
        }
    }

    /// Bounds every invocation's backup or restore work by `limit` (the function's timeout):
    /// past its share, they checkpoint and answer `continuing`. Without it they run to the end.
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = Some(limit);
        self
    }

    fn deadline(&self, share: f64) -> Deadline {
        self.time_limit.map_or_else(Deadline::none, |limit| {
            Deadline::within(limit.mul_f64(share))
        })
    }

    /// Admits callers through `access` (by default, the API Gateway authorizer's context).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
}

/// What the sweep did: its report, and the backups it continued.
#[derive(Debug, Serialize)]
pub struct SweepOutcome {
    /// Jobs failed and artifacts deleted.
    #[serde(flatten)]
    pub sweep: SweepReport,
    /// Backups in progress continued before the sweep.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups_continued: Vec<BackupStep>,
}

/// What a direct or scheduled invocation returns.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ActionOutcome {
    /// A backup was taken (and old ones pruned), or continues in a follow-up invocation.
    Backup(BackupStep),
    /// A restore ran, or a dry run reported, or it continues when asked again.
    Restore(RestoreStep),
    /// What the upgrade to tenancy moved.
    Upgrade(UpgradeReport),
    /// What a sweep failed or deleted, and the backups it continued.
    Sweep(SweepOutcome),
    /// The request was refused (unknown backup, corrupted backup, bad payload): nothing was
    /// written, and retrying the same payload cannot help.
    Refused(Refusal),
}

impl EventOutcome for ActionOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Backup(BackupStep::Done(_)) => "ok",
            Self::Backup(BackupStep::Continuing(_)) | Self::Restore(RestoreStep::Continuing(_)) => {
                "continuing"
            }
            Self::Restore(RestoreStep::Done(report)) => report.status,
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
const EXPECTED_EVENTS: &str = "unsupported event: expected an API Gateway request, a schedule, {\"action\":\"backup\"}, {\"action\":\"backup\",\"continue\":\"...\"}, {\"action\":\"restore\",\"backup_id\":\"...\"}, {\"action\":\"upgrade\"} or {\"action\":\"sweep\"}";

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
                Route::Create => Ok(match self.backup.start(self.deadline(WORK_SHARE)).await? {
                    done @ BackupStep::Done(_) => json_response(201, &done),
                    pending @ BackupStep::Continuing(_) => json_response(202, &pending),
                }),
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
                self.backup
                    .start(self.deadline(WORK_SHARE))
                    .await
                    .map(ActionOutcome::Backup),
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
        Some("backup") => match continued(&payload) {
            Ok(None) => deps
                .backup
                .start(deps.deadline(WORK_SHARE))
                .await
                .map(ActionOutcome::Backup),
            Ok(Some(id)) => deps
                .backup
                .resume(id, deps.deadline(WORK_SHARE))
                .await
                .map(ActionOutcome::Backup),
            Err(e) => Err(e),
        },
        Some("upgrade") if payload.as_object().is_some_and(|f| f.is_empty()) => {
            deps.upgrade.run().await.map(ActionOutcome::Upgrade)
        }
        Some("upgrade") => Err(ServiceError::BadRequest(
            "{\"action\":\"upgrade\"} takes no other fields".into(),
        )),
        Some("sweep") if payload.as_object().is_some_and(|f| f.is_empty()) => {
            sweep(deps).await.map(ActionOutcome::Sweep)
        }
        Some("sweep") => Err(ServiceError::BadRequest(
            "{\"action\":\"sweep\"} takes no other fields".into(),
        )),
        Some("restore") => match serde_json::from_value::<RestoreRequest>(payload) {
            Ok(request) => deps
                .restore
                .restore_within(&request, deps.deadline(WORK_SHARE))
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

/// The backup a `{"action":"backup"}` continues: `None` to start one, the id of
/// `{"continue":"<id>"}` to continue that one.
fn continued(payload: &Value) -> Result<Option<&str>, ServiceError> {
    let fields = payload.as_object();
    match fields.map(|f| (f.len(), f.get("continue"))) {
        Some((0, _)) => Ok(None),
        Some((1, Some(Value::String(id)))) => Ok(Some(id)),
        _ => Err(ServiceError::BadRequest(
            "{\"action\":\"backup\"} takes no other field but \"continue\": the id of a backup in progress".into(),
        )),
    }
}

/// Continues the backups in progress (leasing their jobs again, so the sweep never fails them),
/// then sweeps.
async fn sweep(deps: &HandlerDeps) -> Result<SweepOutcome, ServiceError> {
    let backups_continued = deps
        .backup
        .resume_pending(deps.deadline(SWEEP_WORK_SHARE))
        .await?;
    Ok(SweepOutcome {
        sweep: deps.sweep.run().await?,
        backups_continued,
    })
}
