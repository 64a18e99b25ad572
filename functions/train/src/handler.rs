//! Routes of the `train` function onto the train workflow and the registry queries.

use std::sync::Arc;

use application::domain::incoming::IncomingRoute;
use application::domain::{JobTicket, S3ObjectRef, Scope};
use application::ports::{
    BlobStreams, IdempotencyStore, JobRunner, JobStore, LabelStore, ModelRegistry, ObjectStore,
};
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::job_failure::fail_job;
use application::workflows::local_runner::LocalJobRunner;
use application::workflows::models::{
    ModelQueries, VersionPage, DEFAULT_MODELS_PAGE, DEFAULT_VERSIONS_PAGE,
};
use application::workflows::object_train::ObjectTrainWorkflow;
use application::workflows::train::{TrainRequest, TrainWorkflow};
use application::ServiceError;
use edge::access::Access;
use edge::config::StoreKind;
use edge::dispatch::{for_each_created_object, EventSummary, Function, Work};
use edge::http::{
    body_bytes, json_response, parse_json_body, query_number, query_text, require_json, Matched,
    RouteSpec,
};
use edge::trigger::ScheduledEvent;
use edge::Config;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::Value;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct HandlerDeps {
    train: TrainWorkflow,
    models: ModelQueries,
    objects: Option<ObjectTrainWorkflow>,
    runner: Option<Arc<dyn JobRunner>>,
    job_store: Arc<dyn JobStore>,
    data_bucket: String,
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
            train: TrainWorkflow::new(objects, registry.clone(), jobs.clone(), config.limits())
                .with_jobs(config.job_policy())
                .with_budgets(config.budgets()),
            models: ModelQueries::new(registry),
            objects: None,
            runner: None,
            job_store: jobs.clone(),
            data_bucket: config.data_bucket().to_owned(),
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

    /// Trains every version from the labelled rows (feedback) its model has in `labels`. Call
    /// before [`with_blobs`](Self::with_blobs), whose workflow trains the same way.
    pub fn with_labels(mut self, labels: Arc<dyn LabelStore>) -> Self {
        self.train = self.train.clone().with_labels(labels);
        self
    }

    /// Enables S3 and scheduled events: training data is read through `blobs`. Without it such
    /// an event is an error (retried), since the function is misconfigured.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStreams>) -> Self {
        self.objects = Some(ObjectTrainWorkflow::new(self.train.clone(), blobs));
        self
    }

    /// Runs training jobs (`POST /api/v1/models` with a `source`) on `engine` (Step Functions),
    /// or on this process's local driver when there is none (detached from the invocation on
    /// the local store, awaited within it otherwise). Needs [`with_blobs`](Self::with_blobs)
    /// first.
    pub fn with_jobs_engine(mut self, engine: Option<Arc<dyn JobRunner>>, config: &Config) -> Self {
        let Some(objects) = self.objects.clone() else {
            return self;
        };
        self.runner = Some(engine.unwrap_or_else(|| {
            Arc::new(LocalJobRunner::training(objects).detached(config.store == StoreKind::Local))
        }));
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
                    if train.source.is_none() || train.data.is_some() {
                        return Ok(json_response(201, &self.train.train(tenant, train).await?));
                    }
                    let (objects, runner) = match (&self.objects, &self.runner) {
                        (Some(objects), Some(runner)) => (objects, runner),
                        _ => {
                            return Err(ServiceError::Unavailable(
                                "this function has no job engine".into(),
                            ))
                        }
                    };
                    let job = objects.start_job(tenant, &train, &self.data_bucket, runner.as_ref());
                    Ok(json_response(202, &job.await?))
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

    /// The steps of training jobs as the jobs state machine invokes them: `train_job`, and
    /// `job_fail` once its retries ran out.
    fn direct(&self, payload: Value, _request_id: String) -> Option<Work<'_, EventSummary>> {
        Some(Box::pin(train_step(self, payload)))
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

/// One payload of the jobs state machine: `{"action", "job", "error"?}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainStep {
    action: String,
    job: JobTicket,
    /// The engine's `{"Error", "Cause"}`: logged, never shown to the caller.
    #[serde(default)]
    error: Option<Value>,
}

/// Runs a training job's step; a malformed payload is refused without retry.
async fn train_step(deps: &HandlerDeps, payload: Value) -> Result<EventSummary, ServiceError> {
    let step: TrainStep = serde_json::from_value(payload)
        .map_err(|e| ServiceError::BadRequest(format!("job step: {e}")))?;
    let workflow = object_workflow(deps)?;
    match step.action.as_str() {
        "train_job" => Ok(EventSummary::of(&[workflow.run_ticket(&step.job).await?])),
        "job_fail" => {
            tracing::warn!(job_id = %step.job.id, error = ?step.error, "the training job's engine gave up");
            fail_job(deps.job_store.as_ref(), &step.job).await?;
            Ok(EventSummary::of(&[]))
        }
        other => Err(ServiceError::BadRequest(format!(
            "'{other}' is not an action of this function; expected train_job or job_fail"
        ))),
    }
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
