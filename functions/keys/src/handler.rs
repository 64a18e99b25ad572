//! Routes of the `keys` function onto key management, within the caller's tenant, and the
//! direct `issue_key` action (never reachable over HTTP).

use std::sync::Arc;

use application::domain::Scope;
use application::ports::{IdempotencyStore, KeyStore, UsagePlan};
use application::workflows::api_keys::{ApiKeyAdmin, CreateKeyRequest, IssueKeyRequest, IssuedKey};
use application::workflows::idempotency::IdempotencyGuard;
use application::ServiceError;
use edge::access::Access;
use edge::dispatch::{settle, EventOutcome, Function, Refusal, Work};
use edge::http::{body_bytes, json_response, parse_json_body, require_json, Matched, RouteSpec};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

/// Largest key-management request body (a name and a few scopes).
pub const MAX_KEY_BODY_BYTES: usize = 4096;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    admin: ApiKeyAdmin,
    access: Access,
    idempotency: Option<IdempotencyGuard>,
}

impl HandlerDeps {
    /// Dependencies over any key store and usage plan.
    pub fn new(keys: Arc<dyn KeyStore>, usage: Arc<dyn UsagePlan>) -> Self {
        Self {
            admin: ApiKeyAdmin::new(keys, usage),
            access: Access::Authorizer,
            idempotency: None,
        }
    }

    /// Honours `Idempotency-Key` on its creating `POST`, keeping records in `store`.
    pub fn with_idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = Some(IdempotencyGuard::new(store));
        self
    }

    /// Admits callers through `access` (by default, the API Gateway authorizer's context).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/v1/keys`.
    Create,
    /// `GET /api/v1/keys`.
    List,
    /// `DELETE /api/v1/keys/{id}`.
    Revoke,
}

/// What a direct invocation answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum KeyOutcome {
    /// The issued key, its token shown this once.
    Issued(IssuedKey),
    /// The payload was refused; nothing was written.
    Refused(Refusal),
}

impl EventOutcome for KeyOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Issued(_) => "issued",
            Self::Refused(_) => "refused",
        }
    }
}

/// The `keys` function: three admin routes and the `issue_key` action; every other event is
/// refused.
impl Function for HandlerDeps {
    const NAME: &'static str = "keys";
    type Route = Route;
    type Outcome = KeyOutcome;

    fn routes(&self) -> Vec<RouteSpec<Route>> {
        vec![
            // The secret is shown once and never kept: a replay answers `"key": null`.
            RouteSpec::new(Method::POST, "/api/v1/keys", Scope::Admin, Route::Create)
                .idempotent(&["key"]),
            RouteSpec::new(Method::GET, "/api/v1/keys", Scope::Admin, Route::List),
            RouteSpec::new(
                Method::DELETE,
                "/api/v1/keys/{id}",
                Scope::Admin,
                Route::Revoke,
            ),
        ]
    }

    fn access(&self) -> &Access {
        &self.access
    }

    fn idempotency(&self) -> Option<&IdempotencyGuard> {
        self.idempotency.as_ref()
    }

    fn http(&self, matched: Matched<Route>, request: Request) -> Work<'_, Response<Body>> {
        Box::pin(async move {
            let caller = matched.caller()?;
            match matched.route {
                Route::Create => {
                    let bytes = body_bytes(&request, MAX_KEY_BODY_BYTES)?;
                    require_json(&request)?;
                    let body: CreateKeyRequest = parse_json_body(bytes, MAX_KEY_BODY_BYTES)?;
                    Ok(json_response(201, &self.admin.create(caller, body).await?))
                }
                Route::List => Ok(json_response(200, &self.admin.list(&caller.tenant).await?)),
                Route::Revoke => Ok(json_response(
                    200,
                    &self.admin.revoke(&caller.tenant, matched.param()).await?,
                )),
            }
        })
    }

    fn direct(&self, payload: Value, request_id: String) -> Option<Work<'_, KeyOutcome>> {
        Some(Box::pin(async move {
            settle(issue(self, payload).await, &request_id, KeyOutcome::Refused)
        }))
    }
}

/// `{"action":"issue_key","tenant":"...","name":"...","scopes":[...]}`.
async fn issue(deps: &HandlerDeps, mut payload: Value) -> Result<KeyOutcome, ServiceError> {
    let action = payload
        .as_object_mut()
        .and_then(|fields| fields.remove("action"));
    if action.as_ref().and_then(Value::as_str) != Some("issue_key") {
        return Err(ServiceError::BadRequest(format!(
            "unknown action {}; expected \"issue_key\"",
            action.unwrap_or(Value::Null)
        )));
    }
    let request: IssueKeyRequest = serde_json::from_value(payload).map_err(|e| {
        ServiceError::BadRequest(format!(
            "issue_key takes {{\"action\":\"issue_key\",\"tenant\":\"...\",\"name\":\"admin\",\"scopes\":[\"admin\"]}}: {e}"
        ))
    })?;
    Ok(KeyOutcome::Issued(deps.admin.issue(request).await?))
}
