//! Routes of the `health` function: liveness never touches storage; readiness probes it and
//! answers 503 with `Retry-After` when a dependency is down.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::header::RETRY_AFTER;
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use service::http::{json_response, match_route, route_path, serve, RouteSpec, RETRY_AFTER_SECS};
use service::ports::{ModelRegistry, ObjectStore};
use service::ServiceError;

use crate::ready::probe;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
}

impl HandlerDeps {
    /// Dependencies over any object store and registry adapters.
    pub fn new(objects: Arc<dyn ObjectStore>, registry: Arc<dyn ModelRegistry>) -> Self {
        Self { objects, registry }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Live,
    Ready,
}

fn routes() -> [RouteSpec<Route>; 2] {
    [
        RouteSpec {
            method: Method::GET,
            pattern: "/health",
            route: Route::Live,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/health/ready",
            route: Route::Ready,
        },
    ]
}

/// The body of `GET /health`.
#[derive(Debug, Serialize)]
struct Liveness {
    status: &'static str,
    version: &'static str,
}

/// Answers one API Gateway request (REST v1 or HTTP v2); every failure is a JSON response.
pub async fn handle(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve("health", request, |request| dispatch(deps, request)).await)
}

async fn dispatch(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, ServiceError> {
    let matched = match_route(&routes(), request.method(), &route_path(&request))?;
    match matched.route {
        Route::Live => Ok(json_response(
            200,
            &Liveness {
                status: "ok",
                version: env!("CARGO_PKG_VERSION"),
            },
        )),
        Route::Ready => {
            let readiness = probe(&deps.objects, &deps.registry).await;
            if readiness.is_ready() {
                return Ok(json_response(200, &readiness));
            }
            let mut response = json_response(503, &readiness);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            Ok(response)
        }
    }
}
