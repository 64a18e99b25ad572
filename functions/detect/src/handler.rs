//! Routes of the `detect` function onto the detect workflow (JSON or CSV bodies) and the job
//! queries.

use std::sync::Arc;

use application::cache::{LatestCache, ModelCache, SeriesCache};
use application::domain::ids::now_millis;
use application::domain::incoming::IncomingRoute;
use application::domain::stream_record::{DeliveredRecord, StreamSource};
use application::domain::{JobPolicy, S3ObjectRef, Scope, Tenant};
use application::ports::{
    AlertLedger, AlertSink, BlobStreams, DeadLetterSink, IdempotencyStore, JobRunner, JobStore,
    LabelStore, ModelRegistry, ObjectAdmin, ObjectStore, SeriesStore, UrlSigner,
};
use application::workflows::alerts::{detect_alert, AlertPolicy, AlertWorkflow};
use application::workflows::batch::{BatchJobRequest, BatchWorkflow, SplitPolicy};
use application::workflows::batch_range::SplitBatch;
use application::workflows::detect::{DetectRequest, DetectWorkflow};
use application::workflows::idempotency::IdempotencyGuard;
use application::workflows::jobs::{JobQueries, DEFAULT_JOBS_PAGE};
use application::workflows::labels::{LabelWorkflow, LabelsRequest, DEFAULT_LABELS_PAGE};
use application::workflows::local_runner::LocalJobRunner;
use application::workflows::series::{SeriesWorkflow, DEFAULT_SERIES_PAGE};
use application::workflows::series_alerts::{series_alert_candidates, JudgedPoint, POSTED_SOURCE};
use application::workflows::series_request::{
    AppendResponse, SeriesListResponse, SeriesPointsRequest, SeriesView,
};
use application::workflows::stream::{StreamOutcome, StreamWorkflow};
use application::workflows::uploads::{UploadRequest, UploadWorkflow};
use application::ServiceError;
use edge::access::Access;
use edge::config::StoreKind;
use edge::dispatch::{for_each_created_object, EventSummary, Function, Work};
use edge::http::{
    body_bytes, json_response, parse_json_body, query_number, query_text, require_json, Matched,
    MediaType, RouteSpec, JSON_MEDIA_TYPE,
};
use edge::trigger::ScheduledEvent;
use edge::Config;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::csv_request::{reject_csv_query, CsvDetect, CSV_MEDIA_TYPE};
use crate::job_steps::{run_step, DetectOutcome};

/// What the handler needs, built once per cold start (the caches live as long as the container).
#[derive(Clone)]
pub struct HandlerDeps {
    detect: DetectWorkflow,
    jobs: JobQueries,
    job_store: Arc<dyn JobStore>,
    batch: Option<BatchWorkflow>,
    split: Option<SplitBatch>,
    uploads: Option<UploadWorkflow>,
    alerts: Option<AlertWorkflow>,
    streams: Option<StreamWorkflow>,
    series: Option<SeriesWorkflow>,
    labels: Option<LabelWorkflow>,
    idempotency: Option<IdempotencyGuard>,
    data_bucket: String,
    max_body_bytes: usize,
    access: Access,
    job_policy: JobPolicy,
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
            )
            .with_jobs(config.job_policy())
            .with_budget(config.budgets().request),
            jobs: JobQueries::new(jobs.clone()),
            job_store: jobs,
            batch: None,
            split: None,
            uploads: None,
            alerts: None,
            streams: None,
            series: None,
            labels: None,
            idempotency: None,
            data_bucket: config.data_bucket().to_owned(),
            max_body_bytes: config.max_body_bytes,
            access: Access::Authorizer,
            job_policy: config.job_policy(),
        }
    }

    /// Enables S3 events: uploads are read and results written through `blobs`. Without it an S3
    /// event is an error (retried), since the function is misconfigured.
    pub fn with_blobs(mut self, blobs: Arc<dyn BlobStreams>) -> Self {
        let batch = BatchWorkflow::new(self.detect.clone(), blobs, self.job_store.clone())
            .with_jobs(self.job_policy);
        self.batch = Some(match &self.alerts {
            Some(alerts) => batch.with_alerts(alerts.clone()),
            None => batch,
        });
        self
    }

    /// Splits uploads larger than `config.batch_split_bytes` into ranges run by `engine` (Step
    /// Functions), or by this process's local driver when there is none (detached from the
    /// invocation on the local store, awaited within it otherwise). Needs
    /// [`with_blobs`](Self::with_blobs) first.
    pub fn with_jobs_engine(mut self, engine: Option<Arc<dyn JobRunner>>, config: &Config) -> Self {
        let Some(batch) = self.batch.take() else {
            return self;
        };
        let steps = batch.split_steps();
        let runner = engine.unwrap_or_else(|| {
            Arc::new(
                LocalJobRunner::new(steps.clone(), config.batch_local_workers)
                    .detached(config.store == StoreKind::Local),
            )
        });
        self.batch = Some(batch.with_split(SplitPolicy {
            split_bytes: config.batch_split_bytes,
            range_bytes: config.batch_range_bytes,
            runner,
        }));
        self.split = Some(steps);
        self
    }

    /// Signs upload URLs (`POST /api/v1/uploads`) and results links (`GET /api/v1/jobs/{id}`)
    /// through `signer`, valid `config.upload_url_ttl_secs`.
    pub fn with_signer(mut self, signer: Arc<dyn UrlSigner>, config: &Config) -> Self {
        self.jobs = self
            .jobs
            .with_links(signer.clone(), config.upload_url_ttl_secs);
        self.uploads = Some(UploadWorkflow::new(
            signer,
            self.job_store.clone(),
            config.data_bucket(),
            config.upload_url_ttl_secs,
            self.job_policy,
        ));
        self
    }

    /// Scores Kinesis and SQS records of the sources in `config.stream_routes`, setting aside
    /// unscorable ones in `dead_letters`, and raises alerts through `sink` (suppression states in
    /// `ledger`) for stream anomalies and jobs that found anomalies (call before
    /// [`with_blobs`](Self::with_blobs), whose batch jobs announce theirs). Without it stream
    /// records are refused (retried) and no alert is raised.
    pub fn with_streams(
        mut self,
        ledger: Arc<dyn AlertLedger>,
        sink: Arc<dyn AlertSink>,
        dead_letters: Arc<dyn DeadLetterSink>,
        config: &Config,
    ) -> Self {
        let alerts = AlertWorkflow::new(
            ledger,
            sink,
            AlertPolicy {
                min_severity: config.alert_min_severity,
                window_ms: config.alert_window_secs * 1000,
            },
        );
        let streams = StreamWorkflow::new(
            self.detect.clone(),
            config.stream_routes.clone(),
            dead_letters,
            alerts.clone(),
            config.budgets().event,
        );
        self.streams = Some(match &self.series {
            Some(series) => streams.with_series(series.clone().with_budget(config.budgets().event)),
            None => streams,
        });
        self.alerts = Some(alerts);
        self
    }

    /// Serves the series routes and appends stream records naming a series (call before
    /// [`with_streams`](Self::with_streams)): records in `series`, detector states in `objects`
    /// (superseded ones deleted through `admin`), a quarter of `config.cache_bytes` keeping
    /// detectors warm.
    pub fn with_series(
        mut self,
        objects: Arc<dyn ObjectStore>,
        admin: Arc<dyn ObjectAdmin>,
        series: Arc<dyn SeriesStore>,
        config: &Config,
    ) -> Self {
        self.series = Some(
            SeriesWorkflow::new(
                objects,
                admin,
                series,
                Arc::new(SeriesCache::new(config.cache_bytes / 4)),
            )
            .with_budget(config.budgets().request),
        );
        self
    }

    /// Serves the feedback routes (`/api/v1/models/{name}/labels`): labels kept in `labels`,
    /// checked against the model's features in `registry`; rows of batch jobs read through
    /// `blobs`.
    pub fn with_labels(
        mut self,
        registry: Arc<dyn ModelRegistry>,
        labels: Arc<dyn LabelStore>,
        blobs: Arc<dyn BlobStreams>,
        config: &Config,
    ) -> Self {
        self.labels = Some(LabelWorkflow::new(
            registry,
            labels,
            self.job_store.clone(),
            blobs,
            config.limits(),
        ));
        self
    }

    /// Honours `Idempotency-Key` on series appends, keeping records in `store`.
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
    /// `POST /api/v1/detect`.
    Detect,
    /// `GET /api/v1/jobs/{id}`.
    Job,
    /// `GET /api/v1/models/{name}/jobs`.
    ModelJobs,
    /// `POST /api/v1/models/{name}/jobs`.
    StartBatch,
    /// `POST /api/v1/uploads`.
    Upload,
    /// `POST /api/v1/series/{name}/points`.
    AppendPoints,
    /// `POST /api/v1/series/detect`.
    DetectSeries,
    /// `GET /api/v1/series`.
    ListSeries,
    /// `GET /api/v1/series/{name}`.
    GetSeries,
    /// `POST /api/v1/models/{name}/labels`.
    Label,
    /// `GET /api/v1/models/{name}/labels`.
    Labels,
}

/// The `detect` function: two routes, and S3 ObjectCreated records under
/// `incoming/detect/{model}/` as batch jobs (other records are ignored; a scheduled event is
/// ignored too). An S3 event whose work failed transiently returns `Err`, so Lambda retries it;
/// bad data is a `failed` job and `Ok`.
impl Function for HandlerDeps {
    const NAME: &'static str = "detect";
    type Route = Route;
    type Outcome = DetectOutcome;

    fn routes(&self) -> Vec<RouteSpec<Route>> {
        vec![
            RouteSpec::new(Method::POST, "/api/v1/detect", Scope::Detect, Route::Detect),
            RouteSpec::new(Method::GET, "/api/v1/jobs/{id}", Scope::Read, Route::Job),
            RouteSpec::new(
                Method::GET,
                "/api/v1/models/{name}/jobs",
                Scope::Read,
                Route::ModelJobs,
            ),
            RouteSpec::new(
                Method::POST,
                "/api/v1/models/{name}/jobs",
                Scope::Detect,
                Route::StartBatch,
            ),
            RouteSpec::new(
                Method::POST,
                "/api/v1/uploads",
                Scope::Detect,
                Route::Upload,
            ),
            RouteSpec::new(
                Method::POST,
                "/api/v1/series/detect",
                Scope::Detect,
                Route::DetectSeries,
            ),
            RouteSpec::new(
                Method::POST,
                "/api/v1/series/{name}/points",
                Scope::Detect,
                Route::AppendPoints,
            )
            .idempotent(&[]),
            RouteSpec::new(
                Method::GET,
                "/api/v1/series",
                Scope::Read,
                Route::ListSeries,
            ),
            RouteSpec::new(
                Method::GET,
                "/api/v1/series/{name}",
                Scope::Read,
                Route::GetSeries,
            ),
            RouteSpec::new(
                Method::POST,
                "/api/v1/models/{name}/labels",
                Scope::Train,
                Route::Label,
            ),
            RouteSpec::new(
                Method::GET,
                "/api/v1/models/{name}/labels",
                Scope::Read,
                Route::Labels,
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
                Route::Detect => detect(self, tenant, &request).await,
                Route::Job => Ok(json_response(
                    200,
                    &self.jobs.get_job(tenant, matched.param()).await?,
                )),
                Route::ModelJobs => {
                    let limit = query_number(&request, "limit")?.unwrap_or(DEFAULT_JOBS_PAGE);
                    let cursor = query_text(&request, "cursor")?;
                    let page =
                        self.jobs
                            .jobs_for_model(tenant, matched.param(), limit, cursor.as_deref());
                    Ok(json_response(200, &page.await?))
                }
                Route::StartBatch => {
                    let bytes = body_bytes(&request, self.max_body_bytes)?;
                    require_json(&request)?;
                    let body: BatchJobRequest = parse_json_body(bytes, self.max_body_bytes)?;
                    let batch = self.batch.as_ref().ok_or_else(|| {
                        ServiceError::Unavailable("this function has no object store".into())
                    })?;
                    let job = batch.start_requested(
                        tenant,
                        matched.param(),
                        &body.source.s3_uri,
                        &self.data_bucket,
                    );
                    Ok(json_response(202, &job.await?))
                }
                Route::Upload => {
                    let bytes = body_bytes(&request, self.max_body_bytes)?;
                    require_json(&request)?;
                    let body: UploadRequest = parse_json_body(bytes, self.max_body_bytes)?;
                    matched.caller()?.require(body.purpose.scope())?;
                    let uploads = self.uploads.as_ref().ok_or_else(|| {
                        ServiceError::Unavailable("this function signs no upload URLs".into())
                    })?;
                    Ok(json_response(201, &uploads.grant(tenant, body).await?))
                }
                Route::AppendPoints => append_points(self, tenant, matched.param(), &request).await,
                Route::DetectSeries => {
                    let body = series_body(self, &request)?;
                    let config = body.config.clone().unwrap_or_default();
                    let points = body.named_points()?;
                    Ok(json_response(200, &series(self)?.detect(config, &points)?))
                }
                Route::ListSeries => {
                    let limit = query_number(&request, "limit")?.unwrap_or(DEFAULT_SERIES_PAGE);
                    let cursor = query_text(&request, "cursor")?;
                    let page = series(self)?.list(tenant, limit, cursor.as_deref()).await?;
                    Ok(json_response(200, &SeriesListResponse::from(page)))
                }
                Route::GetSeries => {
                    let record = series(self)?.describe(tenant, matched.param()).await?;
                    Ok(json_response(200, &SeriesView::from(record)))
                }
                Route::Label => {
                    let bytes = body_bytes(&request, self.max_body_bytes)?;
                    require_json(&request)?;
                    let body: LabelsRequest = parse_json_body(bytes, self.max_body_bytes)?;
                    let written = labels(self)?.label(tenant, matched.param(), body).await?;
                    Ok(json_response(200, &written))
                }
                Route::Labels => {
                    let limit = query_number(&request, "limit")?.unwrap_or(DEFAULT_LABELS_PAGE);
                    let cursor = query_text(&request, "cursor")?;
                    let page = labels(self)?
                        .list(tenant, matched.param(), limit, cursor.as_deref())
                        .await?;
                    Ok(json_response(200, &page))
                }
            }
        })
    }

    fn s3(&self, objects: Vec<S3ObjectRef>) -> Option<Work<'_, DetectOutcome>> {
        Some(Box::pin(async move {
            score_objects(self, objects)
                .await
                .map(DetectOutcome::Summary)
        }))
    }

    fn schedule(
        &self,
        _event: ScheduledEvent,
        _request_id: String,
    ) -> Option<Work<'_, DetectOutcome>> {
        Some(Box::pin(async {
            Ok(DetectOutcome::Summary(EventSummary::of(&[])))
        }))
    }

    fn stream(
        &self,
        source: StreamSource,
        records: Vec<DeliveredRecord>,
    ) -> Option<Work<'_, StreamOutcome>> {
        Some(Box::pin(async move {
            let streams = self.streams.as_ref().ok_or_else(|| {
                ServiceError::Unavailable("this function is not configured for streams".into())
            })?;
            streams.score(source, &records).await
        }))
    }

    /// The steps of split batch jobs (`batch_range`, `batch_join`, `job_fail`).
    fn direct(&self, payload: Value, _request_id: String) -> Option<Work<'_, DetectOutcome>> {
        Some(Box::pin(async move {
            let split = self.split.as_ref().ok_or_else(|| {
                ServiceError::Unavailable("this function has no object store for job steps".into())
            })?;
            run_step(split, payload).await
        }))
    }
}

/// The feedback workflow, or 503 when the function was built without one.
fn labels(deps: &HandlerDeps) -> Result<&LabelWorkflow, ServiceError> {
    deps.labels
        .as_ref()
        .ok_or_else(|| ServiceError::Unavailable("this function keeps no labels".into()))
}

/// Scores a JSON body, or a CSV body with the model in the query string.
async fn detect(
    deps: &HandlerDeps,
    tenant: &Tenant,
    request: &Request,
) -> Result<Response<Body>, ServiceError> {
    let bytes = body_bytes(request, deps.max_body_bytes)?;
    let media = MediaType::of(request);
    let response = if media.is_json() {
        reject_csv_query(request)?;
        let body: DetectRequest = parse_json_body(bytes, deps.max_body_bytes)?;
        deps.detect.detect(tenant, body).await?
    } else if media.is(CSV_MEDIA_TYPE) {
        let csv = CsvDetect::parse(request, bytes, deps.detect.limits())?;
        deps.detect
            .detect_table(tenant, &csv.model, csv.version, &csv.table, csv.options)
            .await?
    } else {
        return Err(media.unsupported(&format!("{JSON_MEDIA_TYPE} or {CSV_MEDIA_TYPE}")));
    };
    if let Some(alerts) = &deps.alerts {
        alerts.announce(detect_alert(tenant, &response)).await;
    }
    Ok(json_response(200, &response))
}

/// The series workflow, or a 503 where the function was built without one.
fn series(deps: &HandlerDeps) -> Result<&SeriesWorkflow, ServiceError> {
    deps.series
        .as_ref()
        .ok_or_else(|| ServiceError::Unavailable("this function keeps no series".into()))
}

/// The JSON body of a series route, bounded before parsing.
fn series_body(deps: &HandlerDeps, request: &Request) -> Result<SeriesPointsRequest, ServiceError> {
    let bytes = body_bytes(request, deps.max_body_bytes)?;
    require_json(request)?;
    parse_json_body(bytes, deps.max_body_bytes)
}

/// Appends the posted points to the series `name` and raises alerts for its anomalies.
async fn append_points(
    deps: &HandlerDeps,
    tenant: &Tenant,
    name: &str,
    request: &Request,
) -> Result<Response<Body>, ServiceError> {
    let body = series_body(deps, request)?;
    let config = body.config.clone();
    let points = body.named_points()?;
    let outcome = series(deps)?.append(tenant, name, config, &points).await?;
    if let Some(alerts) = &deps.alerts {
        let judged: Vec<JudgedPoint<'_>> = points
            .iter()
            .zip(&outcome.verdicts)
            .map(|(point, verdict)| JudgedPoint {
                point,
                verdict,
                record_id: None,
            })
            .collect();
        let candidates: Vec<_> =
            series_alert_candidates(tenant, &outcome.record, &judged, alerts, POSTED_SOURCE)
                .into_iter()
                .map(|(_, candidate)| candidate)
                .collect();
        if !candidates.is_empty() {
            // The points are learned whatever happens to their alerts: a failure is logged.
            match alerts.raise(&candidates, now_millis()).await {
                Ok(report) if report.failed.is_empty() => {}
                Ok(report) => {
                    tracing::warn!(failed = report.failed.len(), "series alerts not raised")
                }
                Err(e) => tracing::warn!(error = %e, "series alerts not raised"),
            }
        }
    }
    Ok(json_response(200, &AppendResponse::new(&points, outcome)))
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
            IncomingRoute::Detect(target) => Some(target),
            _ => None,
        },
        |object, target| async move { batch.score_object(&object, &target).await },
    )
    .await
}
