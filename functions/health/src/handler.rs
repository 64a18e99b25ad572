//! Routes of the `health` function: liveness never touches storage; readiness probes it and
//! answers 503 with `Retry-After` when a dependency is down.

use std::sync::Arc;

use application::ports::{ModelRegistry, ObjectStore};
use edge::access::Access;
use edge::dispatch::{EventSummary, Function, Work};
use edge::http::{json_response, Matched, RouteSpec, RETRY_AFTER_SECS};
use lambda_http::http::header::RETRY_AFTER;
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::ready::probe;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    access: Access,
}

impl HandlerDeps {
    /// Dependencies over any object store and registry adapters.
    pub fn new(objects: Arc<dyn ObjectStore>, registry: Arc<dyn ModelRegistry>) -> Self {
        Self {
            objects,
            registry,
            access: Access::Authorizer,
        }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`: liveness.
    Live,
    /// `GET /health/ready`: readiness.
    Ready,
}

/// The body of `GET /health`.
#[derive(Debug, Serialize)]
struct Liveness {
    status: &'static str,
    version: &'static str,
}

/// The `health` function: HTTP only; every event is refused.
impl Function for HandlerDeps {
    const NAME: &'static str = "health";
    type Route = Route;
    type Outcome = EventSummary;

    fn routes(&self) -> Vec<RouteSpec<Route>> {
        vec![
            RouteSpec::public(Method::GET, "/health", Route::Live),
            RouteSpec::public(Method::GET, "/health/ready", Route::Ready),
        ]
    }

    /// Both routes are public (load balancers and monitors call them without credentials).
    fn access(&self) -> &Access {
        &self.access
    }

    fn http(&self, matched: Matched<Route>, _request: Request) -> Work<'_, Response<Body>> {
        Box::pin(async move {
            match matched.route {
                Route::Live => Ok(json_response(
                    200,
                    &Liveness {
                        status: "ok",
                        version: env!("CARGO_PKG_VERSION"),
                    },
                )),
                Route::Ready => {
                    let readiness = probe(&self.objects, &self.registry).await;
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
        })
    }
}
