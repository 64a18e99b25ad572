//! Routes of the `train` function onto the train workflow and the registry queries.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, LambdaEvent, Request, Response};
use serde_json::Value;
use service::events::{classify, IncomingRoute, S3ObjectRef, ScheduledEvent, Trigger};
use service::http::{
    body_bytes, json_response, match_route, query_number, require_json, route_path, serve,
    RouteSpec,
};
use service::invoke::{for_each_created_object, run_event, serve_http, EventError, EventSummary};
use service::ports::{BlobStreams, JobStore, ModelRegistry, ObjectStore};
use service::workflows::body::parse_json_body;
use service::workflows::models::{ModelQueries, VersionPage, DEFAULT_VERSIONS_PAGE};
use service::workflows::objects::ObjectTrainWorkflow;
use service::workflows::train::{TrainRequest, TrainWorkflow};
use service::{Config, ServiceError};

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    train: TrainWorkflow,
    models: ModelQueries,
    objects: Option<ObjectTrainWorkflow>,
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
            train: TrainWorkflow::new(objects, registry.clone(), jobs, config.limits()),
            models: ModelQueries::new(registry),
            objects: None,
            max_body_bytes: config.max_body_bytes,
        }
    }

    /// Enables S3 and scheduled events: training data is read through `blobs`. Without it such
    /// an event is an error (retried), since the function is misconfigured.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStreams>) -> Self {
        self.objects = Some(ObjectTrainWorkflow::new(self.train.clone(), blobs));
        self
    }
}

/// The routes this function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Train,
    List,
    Get,
}

fn routes() -> [RouteSpec<Route>; 3] {
    [
        RouteSpec {
            method: Method::POST,
            pattern: "/api/v1/models",
            route: Route::Train,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/models",
            route: Route::List,
        },
        RouteSpec {
            method: Method::GET,
            pattern: "/api/v1/models/{name}",
            route: Route::Get,
        },
    ]
}

/// Answers one API Gateway request (REST v1 or HTTP v2); every failure is a JSON response.
pub async fn handle(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, Infallible> {
    Ok(serve("train", request, |request| dispatch(deps, request)).await)
}

async fn dispatch(deps: &HandlerDeps, request: Request) -> Result<Response<Body>, ServiceError> {
    let matched = match_route(&routes(), request.method(), &route_path(&request))?;
    match matched.route {
        Route::Train => {
            let bytes = body_bytes(&request, deps.max_body_bytes)?;
            require_json(&request)?;
            let train: TrainRequest = parse_json_body(bytes, deps.max_body_bytes)?;
            Ok(json_response(201, &deps.train.train(train).await?))
        }
        Route::List => Ok(json_response(200, &deps.models.list_models().await?)),
        Route::Get => {
            let name = matched.params.first().map(String::as_str).unwrap_or("");
            let page = VersionPage {
                before: query_number(&request, "before")?,
                limit: query_number(&request, "limit")?.unwrap_or(DEFAULT_VERSIONS_PAGE),
            };
            Ok(json_response(
                200,
                &deps.models.get_model(name, page).await?,
            ))
        }
    }
}

/// Answers one invocation, whatever triggered it: API Gateway requests (REST v1 or HTTP v2) as
/// [`handle`] does, S3 ObjectCreated records under `incoming/train/{model}/` (a new version
/// trained on the object), and EventBridge scheduled events (every model trained from S3 is
/// retrained from its source prefix). Transient failures return `Err` so Lambda retries.
pub async fn invoke(deps: &HandlerDeps, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    let (payload, context) = event.into_parts();
    match classify(payload) {
        Trigger::Http(request) => serve_http(*request, context, |r| handle(deps, r)).await,
        Trigger::S3(objects) => run_event("train", "s3", train_objects(deps, objects)).await,
        Trigger::Schedule(event) => run_event("train", "schedule", retrain(deps, event)).await,
        Trigger::Unknown(what) => {
            run_event::<EventSummary, _>("train", "unknown", async move {
                Err(ServiceError::BadRequest(format!(
                    "unsupported event: {what}"
                )))
            })
            .await
        }
    }
}

fn object_workflow(deps: &HandlerDeps) -> Result<&ObjectTrainWorkflow, ServiceError> {
    deps.objects.as_ref().ok_or_else(|| {
        ServiceError::Unavailable("this function has no object store for events".into())
    })
}

/// Trains a version on every created object under `incoming/train/{model}/`.
async fn train_objects(
    deps: &HandlerDeps,
    objects: Vec<S3ObjectRef>,
) -> Result<EventSummary, ServiceError> {
    let workflow = object_workflow(deps)?;
    for_each_created_object(
        &objects,
        |route| match route {
            IncomingRoute::Train(model) => Some(model),
            _ => None,
        },
        |object, model| async move { workflow.train_object(&object, &model).await },
    )
    .await
}

/// Retrains every model whose training source is an S3 prefix.
async fn retrain(deps: &HandlerDeps, event: ScheduledEvent) -> Result<EventSummary, ServiceError> {
    let workflow = object_workflow(deps)?;
    if event.id.is_empty() {
        return Err(ServiceError::BadRequest(
            "a scheduled event needs an id".into(),
        ));
    }
    Ok(EventSummary::of(&workflow.retrain_all(&event.id).await?))
}
