//! Who a request is from, decided before any route works on it. In AWS the API Gateway Lambda
//! authorizer checks the credential once (its answer cached) and hands the tenant and scopes to
//! the function in the request context; under `cargo lambda watch` there is no authorizer, so the
//! function runs the same check itself. Either way a tenant route gets a [`Principal`] or the
//! request ends in 401 (no or bad credential) or 403 (`insufficient_scope`).

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use application::domain::principal::parse_scopes;
use application::domain::{Principal, Scope, Tenant};
use application::workflows::authenticate::Authenticator;
use application::ServiceError;

/// Authorizer context key holding the tenant.
pub const CONTEXT_TENANT: &str = "tenant";
/// Authorizer context key holding the scopes, space-separated.
pub const CONTEXT_SCOPES: &str = "scopes";
/// Authorizer context key holding the credential's id (API key id or `jwt:{sub}`).
pub const CONTEXT_CREDENTIAL: &str = "credential_id";

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAccess {
    /// Anyone (liveness and readiness).
    Public,
    /// An authenticated caller holding this scope.
    Requires(Scope),
}

/// How a function learns who calls it (`NOMALY_AUTH`).
#[derive(Clone)]
pub enum Access {
    /// `authorizer`: trust the tenant and scopes the API Gateway authorizer put in the request
    /// context; a request without them (one that did not come through the authorizer) is 401.
    Authorizer,
    /// `inline`: check the `Authorization` header here, as the authorizer would.
    Inline(Authenticator),
}

impl Access {
    /// The caller of `request`, if `access` lets it in: 401 without a valid credential, 403
    /// without the scope. Public routes need no credential and get `None`.
    pub async fn admit(
        &self,
        access: RouteAccess,
        request: &Request,
    ) -> Result<Option<Principal>, ServiceError> {
        let RouteAccess::Requires(scope) = access else {
            return Ok(None);
        };
        let principal = match self {
            Self::Authorizer => from_authorizer(request)?,
            Self::Inline(authenticator) => {
                let header = request
                    .headers()
                    .get(lambda_http::http::header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap_or("\u{0}"));
                authenticator.authenticate(header).await?
            }
        };
        principal.require(scope)?;
        Ok(Some(principal))
    }
}

/// The principal the authorizer's context names (REST API: `requestContext.authorizer`; HTTP
/// API: `requestContext.authorizer.lambda`).
fn from_authorizer(request: &Request) -> Result<Principal, ServiceError> {
    let fields = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => Some(&c.authorizer.fields),
        Some(RequestContext::ApiGatewayV2(c)) => c.authorizer.as_ref().map(|a| &a.fields),
        _ => None,
    };
    let text = |key: &str| fields.and_then(|f| f.get(key)).and_then(Value::as_str);
    let tenant = text(CONTEXT_TENANT)
        .and_then(|t| Tenant::parse(t).ok())
        .ok_or_else(|| {
            ServiceError::Unauthenticated(
                "the request carries no authenticated tenant; call through the API".into(),
            )
        })?;
    Ok(Principal {
        tenant,
        scopes: parse_scopes(text(CONTEXT_SCOPES).unwrap_or_default()),
        credential_id: text(CONTEXT_CREDENTIAL).unwrap_or("unknown").to_owned(),
    })
}

/// The context an authorizer returns for `principal`: what [`Access::Authorizer`] reads back.
pub fn authorizer_context(principal: &Principal) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert(CONTEXT_TENANT.into(), principal.tenant.as_str().into());
    context.insert(CONTEXT_SCOPES.into(), principal.scope_string().into());
    context.insert(
        CONTEXT_CREDENTIAL.into(),
        principal.credential_id.clone().into(),
    );
    context
}
