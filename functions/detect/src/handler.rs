//! Routes of the `detect` function onto the detect workflow (JSON or CSV bodies) and the job
//! queries.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use service::cache::ModelCache;
use service::http::{
    body_bytes, json_response, match_route, route_path, serve, MediaType, RouteSpec,
    JSON_MEDIA_TYPE,
};
use service::ports::{JobStore, ModelRegistry, ObjectStore};
use service::workflows::body::parse_json_body;
use service::workflows::detect::{DetectRequest, DetectWorkflow};
use service::workflows::jobs::JobQueries;
use service::workflows::latest::LatestCache;
use service::{Config, ServiceError};

use crate::csv_request::{reject_csv_query, CsvDetect, CSV_MEDIA_TYPE};

/// What the handler needs, built once per cold start (the caches live as long as the container).
#[derive(Clone)]
pub struct HandlerDeps {
    detect: DetectWorkflow,
    jobs: JobQueries,
    max_body_bytes: usize,
}

impl HandlerDeps {
    /// Dependencies over any object store, registry and job table adapters.
    pub fn new<O, R, J>(objects: Arc<O>, registry: Arc<R>, jobs: Arc<J>, config: &Config) -> Self
    where
        O: ObjectStore + 'static,
        R: ModelRegistry + 'static,
        J: JobStore + 'static,
    {
        Self {
            detect: DetectWorkflow::new(
                objects,
                registry,
                jobs.clone(),
                Arc::new(ModelCache::new(config.cache_bytes)),
                Arc::new(LatestCache::new(config.latest_ttl)),
                config.limits(),
            ),
            jobs: JobQueries::new(jobs),
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Detect,
    Job,
}

fn routes() -> [RouteSpec<Route>; 2] {
    [
        RouteSpec {
            method: Method::POST,
            pattern: "/api/v1/detect",
            route: Route::Detect,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/jobs/{id}",
            route: Route::Job,
        },
    ]
}

/// Answers one API Gateway request (REST v1 or HTTP v2); every failure is a JSON response.
pub async fn handle(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve("detect", request, |request| dispatch(deps, request)).await)
}

async fn dispatch(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, ServiceError> {
    let matched = match_route(&routes(), request.method(), &route_path(&request))?;
    match matched.route {
        Route::Detect => detect(deps, &request).await,
        Route::Job => {
            let id = matched.params.first().map(String::as_str).unwrap_or("");
            Ok(json_response(200, &deps.jobs.get_job(id).await?))
        }
    }
}

/// Scores a JSON body, or a CSV body with the model in the query string.
async fn detect(deps: &HandlerDeps, request: &Request) -> Result<Response<Body>, ServiceError> {
    let bytes = body_bytes(request, deps.max_body_bytes)?;
    let media = MediaType::of(request);
    let response = if media.is_json() {
        reject_csv_query(request)?;
        let body: DetectRequest = parse_json_body(bytes, deps.max_body_bytes)?;
        deps.detect.detect(body).await?
    } else if media.is(CSV_MEDIA_TYPE) {
        let csv = CsvDetect::parse(request, bytes, deps.detect.limits())?;
        deps.detect
            .detect_table(&csv.model, csv.version, &csv.table, csv.options)
            .await?
    } else {
        return Err(media.unsupported(&format!("{JSON_MEDIA_TYPE} or {CSV_MEDIA_TYPE}")));
    };
    Ok(json_response(200, &response))
}
