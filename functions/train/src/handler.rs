//! Routes of the `train` function onto the train workflow and the registry queries.

use std::sync::Arc;

use application::domain::incoming::IncomingRoute;
use application::domain::{S3ObjectRef, Scope};
use application::ports::{BlobStreams, IdempotencyStore, JobStore, ModelRegistry, ObjectStore};
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::models::{
    ModelQueries, VersionPage, DEFAULT_MODELS_PAGE, DEFAULT_VERSIONS_PAGE,
};
use application::workflows::object_train::ObjectTrainWorkflow;
use application::workflows::train::{TrainRequest, TrainWorkflow};
use application::ServiceError;
use edge::access::Access;
use edge::dispatch::{for_each_created_object, EventSummary, Function, Work};
use edge::http::{
    body_bytes, json_response, parse_json_body, query_number, query_text, require_json, Matched,
    RouteSpec,
};
use edge::trigger::ScheduledEvent;
use edge::Config;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    train: TrainWorkflow,
    models: ModelQueries,
    objects: Option<ObjectTrainWorkflow>,
    max_body_bytes: usize,
    access: Access,
    idempotency: Option<IdempotencyGuard>,
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
            train: TrainWorkflow::new(objects, registry.clone(), jobs, config.limits())
                .with_jobs(config.job_policy())
                .with_budgets(config.budgets()),
            models: ModelQueries::new(registry),
            objects: None,
            max_body_bytes: config.max_body_bytes,
            access: Access::Authorizer,
            idempotency: None,
        }
    }

    /// Honours `Idempotency-Key` on its creating `POST`, keeping records in `store`.
    pub fn with_idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = Some(IdempotencyGuard::new(store));
        self
    }

    /// Enables S3 and scheduled events: training data is read through `blobs`. Without it such
    /// an event is an error (retried), since the function is misconfigured.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStreams>) -> Self {
        self.objects = Some(ObjectTrainWorkflow::new(self.train.clone(), blobs));
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
    /// `POST /api/v1/models`.
    Train,
    /// `GET /api/v1/models`.
    List,
    /// `GET /api/v1/models/{name}`.
    Get,
}

/// The `train` function: three routes, S3 ObjectCreated records under `incoming/train/{model}/`
/// (a new version trained on the object), and EventBridge scheduled events (every model trained
/// from S3 is retrained from its source prefix). Transient failures return `Err` so Lambda
/// retries.
impl Function for HandlerDeps {
    const NAME: &'static str = "train";
    type Route = Route;
    type Outcome = EventSummary;

    fn routes(&self) -> Vec<RouteSpec<Route>> {
        vec![
            RouteSpec::new(Method::POST, "/api/v1/models", Scope::Train, Route::Train)
                .idempotent(&[]),
            RouteSpec::new(Method::GET, "/api/v1/models", Scope::Read, Route::List),
            RouteSpec::new(
                Method::GET,
                "/api/v1/models/{name}",
                Scope::Read,
                Route::Get,
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
            let tenant = matched.tenant()?;
            match matched.route {
                Route::Train => {
                    let bytes = body_bytes(&request, self.max_body_bytes)?;
                    require_json(&request)?;
                    let train: TrainRequest = parse_json_body(bytes, self.max_body_bytes)?;
                    Ok(json_response(201, &self.train.train(tenant, train).await?))
                }
                Route::List => {
                    let after = query_text(&request, "after")?;
                    let limit = query_number(&request, "limit")?.unwrap_or(DEFAULT_MODELS_PAGE);
                    let page = self.models.list_models(tenant, after.as_deref(), limit);
                    Ok(json_response(200, &page.await?))
                }
                Route::Get => {
                    let name = matched.param();
                    let page = VersionPage {
                        before: query_number(&request, "before")?,
                        limit: query_number(&request, "limit")?.unwrap_or(DEFAULT_VERSIONS_PAGE),
                    };
                    Ok(json_response(
                        200,
                        &self.models.get_model(tenant, name, page).await?,
                    ))
                }
            }
        })
    }

    fn s3(&self, objects: Vec<S3ObjectRef>) -> Option<Work<'_, EventSummary>> {
        Some(Box::pin(train_objects(self, objects)))
    }

    fn schedule(
        &self,
        event: ScheduledEvent,
        _request_id: String,
    ) -> Option<Work<'_, EventSummary>> {
        Some(Box::pin(retrain(self, event)))
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
            IncomingRoute::Train(target) => Some(target),
            _ => None,
        },
        |object, target| async move { workflow.train_object(&object, &target).await },
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
