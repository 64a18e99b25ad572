//! Training from uploaded CSVs: a version trained on an upload under `incoming/train/{model}/`,
//! and the scheduled retraining of every model trained from S3, from every CSV under its source
//! prefix. Files are read as streams into a seeded reservoir sample, so memory stays bounded
//! whatever their size. Jobs are claimed and finished as every event job is
//! ([`event_jobs`](super::event_jobs)).

use std::sync::Arc;
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::feedback::LabelledRows;
use detection::model::{Model, ModelSpec};
use detection::sampling::Reservoir;
use detection::{Limits, Table};
use ndarray::Array2;

use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::incoming::{incoming_prefix, ModelTarget, TRAIN_PREFIX};
use crate::domain::names::validate_model_name;
use crate::domain::object_ref::deterministic_id;
use crate::domain::owned_source::owned_key;
use crate::domain::{Job, JobKind, JobStatus, JobTicket, ModelVersion, S3ObjectRef, Tenant};
use crate::error::ServiceError;
use crate::metrics;
use crate::ports::{BlobReader, BlobStreams, JobRunner, JobStore};
use crate::workflows::csv_stream::{csv_chunks, StreamStop};
use crate::workflows::event_jobs::{claim, event_job_id, finish, new_job, open_named, JobOutcome};
use crate::workflows::train::{Origin, TrainRequest, TrainSpec, TrainWorkflow};

/// Most rows kept to train on from uploaded files (a seeded uniform sample).
pub const TRAIN_SAMPLE_ROWS: usize = 100_000;

/// Most values the training sample holds, whatever the width (64 MiB of f64).
pub const TRAIN_SAMPLE_VALUES: usize = 8 * 1024 * 1024;

/// Most CSV objects read by one scheduled retraining of a model: the newest ones.
pub const MAX_RETRAIN_OBJECTS: usize = 1_000;

/// Reads `keys` (CSV objects with the same columns) into one seeded uniform sample.
fn sample_stream(
    reader: BlobReader,
    limits: &Limits,
    sample: &mut Option<(Vec<String>, Reservoir)>,
    seed: u64,
) -> Result<(), StreamStop> {
    let failure = reader.failure();
    let chunks = csv_chunks(reader, limits).map_err(|e| StreamStop::from_input(e, &failure))?;
    let columns = chunks.columns().to_vec();
    let (expected, reservoir) = sample.get_or_insert_with(|| {
        let capacity = TRAIN_SAMPLE_ROWS.min(TRAIN_SAMPLE_VALUES / columns.len().max(1));
        (
            columns.clone(),
            Reservoir::new(capacity, columns.len(), seed),
        )
    });
    if *expected != columns {
        return Err(StreamStop::Data(ServiceError::InvalidInput(format!(
            "columns {columns:?} differ from the first file's {expected:?}"
        ))));
    }
    for chunk in chunks {
        let table = chunk.map_err(|e| StreamStop::from_input(e, &failure))?;
        reservoir.offer_rows(table.values().view());
    }
    Ok(())
}

/// What to train from uploaded objects.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectTraining {
    /// The deterministic job id.
    pub job_id: String,
    /// The tenant owning the model.
    pub tenant: Tenant,
    /// Model name.
    pub model: String,
    /// Bucket of the objects.
    pub bucket: String,
    /// CSV objects to read, in order (same columns).
    pub keys: Vec<String>,
    /// The job's `source`.
    pub job_source: String,
    /// The version item's `source`: the prefix the schedule retrains from.
    pub model_source: String,
    /// The upload an event named, read in exactly its version (`None` for the schedule, which
    /// reads whatever is under the prefix).
    pub named: Option<S3ObjectRef>,
    /// How to train (a training job's request); `None`: the algorithm of the model's latest
    /// version with its default parameters.
    pub spec: Option<TrainSpec>,
}

/// Trains versions from uploaded CSVs.
#[derive(Clone)]
pub struct ObjectTrainWorkflow {
    train: TrainWorkflow,
    blobs: Arc<dyn BlobStreams>,
}

impl ObjectTrainWorkflow {
    /// A workflow registering versions through `train` and reading objects through `blobs`.
    pub fn new(train: TrainWorkflow, blobs: Arc<dyn BlobStreams>) -> Self {
        Self { train, blobs }
    }

    /// The job table, for the drivers of training jobs.
    pub(crate) fn jobs(&self) -> &dyn JobStore {
        self.train.jobs().as_ref()
    }

    /// Trains a version of the target tenant's model on `object` (an upload under
    /// `incoming/train/{tenant}/{model}/`); the version's source is that prefix in that bucket.
    pub async fn train_object(
        &self,
        object: &S3ObjectRef,
        target: &ModelTarget,
    ) -> Result<JobOutcome, ServiceError> {
        let prefix = incoming_prefix(TRAIN_PREFIX, &target.tenant, &target.model);
        let job_id = event_job_id(
            self.train.jobs().as_ref(),
            &target.tenant,
            object,
            JobKind::Train,
            "train",
        )
        .await?;
        self.train_objects(ObjectTraining {
            job_id,
            tenant: target.tenant.clone(),
            model: target.model.clone(),
            bucket: object.bucket.clone(),
            keys: vec![object.key.clone()],
            job_source: object.uri(),
            model_source: format!("s3://{}/{prefix}", object.bucket),
            named: Some(object.clone()),
            spec: None,
        })
        .await
    }

    /// `POST /api/v1/models` with a `source`: checks the request and that `tenant` owns the
    /// object or prefix (in `bucket`, the data bucket) and that it exists, records a `pending`
    /// training job and starts it on `runner`; the answer is that job (202).
    pub async fn start_job(
        &self,
        tenant: &Tenant,
        request: &TrainRequest,
        bucket: &str,
        runner: &dyn JobRunner,
    ) -> Result<Job, ServiceError> {
        validate_model_name(&request.name)?;
        let spec = request.spec();
        spec.model_spec()?;
        let uri =
            match (&request.source, &request.data) {
                (Some(source), None) => source.s3_uri.as_str(),
                _ => return Err(ServiceError::BadRequest(
                    "give either 'data' (rows inline) or 'source' ({\"s3_uri\": ...}), not both"
                        .into(),
                )),
            };
        let key = owned_key(tenant, bucket, uri, true).map_err(ServiceError::SourceNotOwned)?;
        let (version_id, etag) = if key.ends_with('/') {
            if self.blobs.list(bucket, &key, 1).await?.is_empty() {
                return Err(ServiceError::InvalidInput(format!(
                    "there is no object under {uri}"
                )));
            }
            (None, None)
        } else {
            let info = self.blobs.head(bucket, &key).await?.ok_or_else(|| {
                ServiceError::InvalidInput(format!("there is no object at {uri}"))
            })?;
            (info.version_id, info.etag)
        };
        let id = new_job_id();
        let policy = self.train.job_policy();
        let created = now_millis();
        let job = Job {
            status: JobStatus::Pending,
            model: Some(request.name.clone()),
            source: Some(uri.to_owned()),
            // Past this, the sweep fails a job its engine never started.
            lease_expires_at: Some(created.saturating_add(policy.lease_ms)),
            ..policy.record(tenant, &id, JobKind::Train, created)
        };
        self.train.jobs().put_job_if_absent(&job).await?;
        let ticket = JobTicket {
            kind: JobKind::Train,
            tenant: tenant.clone(),
            id: id.clone(),
            model: request.name.clone(),
            bucket: bucket.to_owned(),
            key,
            version_id,
            etag,
            model_version: None,
            size: None,
            ranges: None,
            plan_key: None,
            spec: Some(
                serde_json::to_value(&spec)
                    .map_err(|e| ServiceError::Internal(format!("train spec: {e}")))?,
            ),
        };
        runner.start(&ticket).await?;
        Ok(self.train.jobs().get_job(tenant, &id).await?.unwrap_or(job))
    }

    /// Runs a training job's ticket (the `train_job` step): trains on its object, or on every
    /// `.csv` under its prefix, with its specification.
    pub async fn run_ticket(&self, ticket: &JobTicket) -> Result<JobOutcome, ServiceError> {
        let spec: Option<TrainSpec> = ticket
            .spec
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ServiceError::BadRequest(format!("train spec: {e}")))?;
        let uri = format!("s3://{}/{}", ticket.bucket, ticket.key);
        let (keys, named) = if ticket.key.ends_with('/') {
            let keys = self
                .blobs
                .list(&ticket.bucket, &ticket.key, MAX_RETRAIN_OBJECTS)
                .await?
                .into_iter()
                .filter(|k| k.to_ascii_lowercase().ends_with(".csv"))
                .collect();
            (keys, None)
        } else {
            (vec![ticket.key.clone()], Some(ticket.object()))
        };
        self.train_objects(ObjectTraining {
            job_id: ticket.id.clone(),
            tenant: ticket.tenant.clone(),
            model: ticket.model.clone(),
            bucket: ticket.bucket.clone(),
            keys,
            job_source: uri.clone(),
            model_source: uri,
            named,
            spec,
        })
        .await
    }

    /// Trains one version from `request.keys`, reservoir-sampled, with the algorithm of the
    /// model's latest version (default parameters), or `isolation_forest` for a new model.
    pub async fn train_objects(&self, request: ObjectTraining) -> Result<JobOutcome, ServiceError> {
        let jobs = self.train.jobs().clone();
        let job = new_job(
            self.train.job_policy(),
            &request.tenant,
            &request.job_id,
            JobKind::Train,
            &request.model,
            request.job_source.clone(),
        );
        if let Some(existing) = claim(jobs.as_ref(), &job).await? {
            return Ok(JobOutcome {
                job: existing,
                duplicate: true,
            });
        }
        let started = Instant::now();
        let mut job = job;
        let result = self.train_into(&request, &mut job, started).await;
        finish(jobs.as_ref(), job, started, result).await
    }

    async fn train_into(
        &self,
        request: &ObjectTraining,
        job: &mut Job,
        started: Instant,
    ) -> Result<(), ServiceError> {
        validate_model_name(&request.model)?;
        if request.keys.is_empty() {
            return Err(ServiceError::InvalidInput(format!(
                "no CSV objects to train on under {}",
                request.model_source
            )));
        }
        if let Some(done) = self.version_of_job(request).await? {
            // An earlier delivery registered this job's version, then died before finishing
            // the job: finish it with that version rather than train a second one.
            tracing::info!(model = %done.name, version = done.version, "the job's version was registered by an earlier attempt");
            job.version = Some(done.version);
            job.counts.rows = done.training.rows;
            return Ok(());
        }
        let spec = match &request.spec {
            Some(spec) => spec.model_spec()?,
            None => ModelSpec::new(AlgorithmParams::default_for(
                self.algorithm_of(&request.tenant, &request.model).await?,
            )),
        };
        let seed = spec.params.seed();
        let limits = *self.train.limits();
        let mut sample: Option<(Vec<String>, Reservoir)> = None;
        for key in &request.keys {
            let reader = open_named(
                self.blobs.as_ref(),
                &request.bucket,
                key,
                request.named.as_ref(),
            )
            .await?;
            let taken = sample.take();
            let (back, result) = tokio::task::spawn_blocking(move || {
                let mut sample = taken;
                let result = sample_stream(reader, &limits, &mut sample, seed);
                (sample, result)
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("sampling stopped: {e}")))?;
            sample = back;
            match result {
                Ok(()) => {}
                Err(StreamStop::Data(e)) => {
                    return Err(match e {
                        ServiceError::InvalidInput(m) => ServiceError::InvalidInput(format!(
                            "s3://{}/{key}: {m}",
                            request.bucket
                        )),
                        other => other,
                    })
                }
                Err(StreamStop::Transport(e)) => return Err(e.into()),
                Err(StreamStop::Stopped) => {
                    return Err(ServiceError::Internal("sampling stopped".into()))
                }
            }
        }
        let (columns, reservoir) = sample
            .ok_or_else(|| ServiceError::InvalidInput("no training rows were read".into()))?;
        let seen = reservoir.seen();
        let budget = self.train.budgets().event;
        let labelled = self
            .train
            .labelled_rows(&request.tenant, &request.model, &columns)
            .await?;
        let spec = spec.labels(labelled.as_ref().map_or(0, LabelledRows::len));
        let table = tokio::task::spawn_blocking(move || {
            let rows = reservoir.len();
            let width = columns.len();
            spec.check_fit(rows, width, &budget)?;
            let values = Array2::from_shape_vec((rows, width), reservoir.into_row_major())
                .map_err(|e| ServiceError::Internal(format!("training sample: {e}")))?;
            let table = Table::new(columns, values)?;
            let model = Model::fit_with_labels(&spec, &table, labelled.as_ref())?;
            Ok::<_, ServiceError>(model)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("training stopped: {e}")))??;
        let created_at = job.created_at;
        let item = self
            .train
            .register_model(
                &request.tenant,
                &request.model,
                &table,
                started,
                created_at,
                Origin {
                    source: Some(request.model_source.clone()),
                    job: request.job_id.clone(),
                },
            )
            .await?;
        job.version = Some(item.version);
        job.counts.rows = usize::try_from(seen).unwrap_or(usize::MAX);
        metrics::note_model(&item.name, item.version);
        tracing::info!(model = %item.name, version = item.version, rows_read = seen, rows_fitted = item.training.rows, "trained from objects");
        Ok(())
    }

    /// The version this request's job registered, if an earlier attempt got that far (the newest
    /// versions are searched: the job's would be among them).
    async fn version_of_job(
        &self,
        request: &ObjectTraining,
    ) -> Result<Option<ModelVersion>, ServiceError> {
        let versions = self
            .train
            .registry()
            .versions(&request.tenant, &request.model)
            .await?;
        Ok(versions
            .into_iter()
            .rev()
            .find(|v| v.job.as_deref() == Some(request.job_id.as_str())))
    }

    /// The algorithm of the model's latest version, or the default for a new model.
    async fn algorithm_of(&self, tenant: &Tenant, name: &str) -> Result<Algorithm, ServiceError> {
        let registry = self.train.registry();
        let Some(latest) = registry.latest(tenant, name).await? else {
            return Ok(Algorithm::IsolationForest);
        };
        let item = registry.version(tenant, name, latest).await?;
        Ok(item
            .and_then(|v| v.algorithm.parse().ok())
            .unwrap_or(Algorithm::IsolationForest))
    }

    /// Retrains every model of every tenant whose latest version has an `s3://bucket/prefix/`
    /// source under that tenant's own `incoming/train/{tenant}/{model}/` prefix (any other source
    /// is skipped, so no version item can make the schedule read another tenant's uploads), from
    /// every `.csv` object under the prefix, for the scheduled event `event_id` (each model's job id
    /// derives from both, so a redelivered schedule is a no-op). One model's failure does not
    /// stop the others; if any failed transiently, the last such error is returned after all
    /// were tried (the retry skips the ones that finished).
    pub async fn retrain_all(&self, event_id: &str) -> Result<Vec<JobOutcome>, ServiceError> {
        let models = self.train.registry().list_all_models().await?;
        let mut outcomes = Vec::new();
        let mut transient = None;
        for item in models {
            let Some((bucket, prefix)) = item.source.as_deref().and_then(parse_s3_uri) else {
                continue;
            };
            if prefix != incoming_prefix(TRAIN_PREFIX, &item.tenant, &item.name) {
                tracing::info!(tenant = %item.tenant, model = %item.name, "not retrained: its source is not the model's own upload prefix");
                continue;
            }
            let job_id = deterministic_id(&["retrain", event_id, item.tenant.as_str(), &item.name]);
            let keys = match self.blobs.list(&bucket, &prefix, MAX_RETRAIN_OBJECTS).await {
                Ok(keys) => keys
                    .into_iter()
                    .filter(|k| k.to_ascii_lowercase().ends_with(".csv"))
                    .collect(),
                Err(e) => {
                    tracing::warn!(model = %item.name, error = %e, "cannot list the training source");
                    transient = Some(ServiceError::from(e));
                    continue;
                }
            };
            let source = item.source.clone().unwrap_or_default();
            let result = self
                .train_objects(ObjectTraining {
                    job_id,
                    tenant: item.tenant.clone(),
                    model: item.name.clone(),
                    bucket,
                    keys,
                    job_source: source.clone(),
                    model_source: source,
                    named: None,
                    spec: None,
                })
                .await;
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    tracing::warn!(model = %item.name, error = %e, "retraining failed transiently");
                    transient = Some(e);
                }
            }
        }
        match transient {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }
}

/// `s3://bucket/prefix` as `(bucket, prefix)`.
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/')?;
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}
