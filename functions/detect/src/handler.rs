//! Routes of the `detect` function onto the detect workflow (JSON or CSV bodies) and the job
//! queries.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, LambdaEvent, Request, Response};
use serde_json::Value;
use service::cache::ModelCache;
use service::events::{classify, IncomingRoute, S3ObjectRef, Trigger};
use service::http::{
    body_bytes, json_response, match_route, route_path, serve, MediaType, RouteSpec,
    JSON_MEDIA_TYPE,
};
use service::invoke::{for_each_created_object, run_event, serve_http, EventError, EventSummary};
use service::ports::{BlobStreams, JobStore, ModelRegistry, ObjectStore};
use service::workflows::body::parse_json_body;
use service::workflows::detect::{DetectRequest, DetectWorkflow};
use service::workflows::jobs::JobQueries;
use service::workflows::latest::LatestCache;
use service::workflows::objects::BatchWorkflow;
use service::{Config, ServiceError};

use crate::csv_request::{reject_csv_query, CsvDetect, CSV_MEDIA_TYPE};

/// What the handler needs, built once per cold start (the caches live as long as the container).
#[derive(Clone)]
pub struct HandlerDeps {
    detect: DetectWorkflow,
    jobs: JobQueries,
    job_store: Arc<dyn JobStore>,
    batch: Option<BatchWorkflow>,
    max_body_bytes: usize,
}

impl HandlerDeps {
    /// Dependencies over any object store, registry and job table adapters.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        registry: Arc<dyn ModelRegistry>,
        jobs: Arc<dyn JobStore>,
        config: &Config,
    ) -> Self {
        Self {
            detect: DetectWorkflow::new(
                objects,
                registry,
                jobs.clone(),
                Arc::new(ModelCache::new(config.cache_bytes)),
                Arc::new(LatestCache::new(config.latest_ttl)),
                config.limits(),
            ),
            jobs: JobQueries::new(jobs.clone()),
            job_store: jobs,
            batch: None,
            max_body_bytes: config.max_body_bytes,
        }
    }

    /// Enables S3 events: uploads are read and results written through `blobs`. Without it an S3
    /// event is an error (retried), since the function is misconfigured.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStreams>) -> Self {
        self.batch = Some(BatchWorkflow::new(
            self.detect.clone(),
            blobs,
            self.job_store.clone(),
        ));
        self
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

/// Answers one invocation, whatever triggered it: API Gateway requests (REST v1 or HTTP v2) as
/// [`handle`] does, and S3 ObjectCreated records under `incoming/detect/{model}/` as batch jobs
/// (other records and scheduled events are ignored). An S3 event whose work failed transiently
/// returns `Err`, so Lambda retries it; bad data is a `failed` job and `Ok`.
pub async fn invoke(deps: &HandlerDeps, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    let (payload, context) = event.into_parts();
    match classify(payload) {
        Trigger::Http(request) => serve_http(*request, context, |r| handle(deps, r)).await,
        Trigger::S3(objects) => run_event("detect", "s3", score_objects(deps, objects)).await,
        Trigger::Schedule(_) => {
            run_event("detect", "schedule", async { Ok(EventSummary::of(&[])) }).await
        }
        Trigger::Unknown(what) => {
            run_event::<EventSummary, _>("detect", "unknown", async move {
                Err(ServiceError::BadRequest(format!(
                    "unsupported event: {what}"
                )))
            })
            .await
        }
    }
}

/// Scores every created object under `incoming/detect/{model}/`; after trying them all, the last
/// transient error (if any) is returned so the event is retried (finished ones are then no-ops).
async fn score_objects(
    deps: &HandlerDeps,
    objects: Vec<S3ObjectRef>,
) -> Result<EventSummary, ServiceError> {
    let batch = deps.batch.as_ref().ok_or_else(|| {
        ServiceError::Unavailable("this function has no object store for S3 events".into())
    })?;
    for_each_created_object(
        &objects,
        |route| match route {
            IncomingRoute::Detect(model) => Some(model),
            _ => None,
        },
        |object, model| async move { batch.score_object(&object, &model).await },
    )
    .await
}
