//! Training a new model version from inline data: validate, fit, encode, store the artifact
//! without overwriting, register the version and move `LATEST`, retrying on lost races.

use std::sync::Arc;
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use std::collections::HashMap;

use detection::artifact;
use detection::feedback::LabelledRows;
use detection::model::{Model, ModelSpec};
use detection::tabular::table_from_json_value;
use detection::threshold::ThresholdRule;
use detection::{Limits, Table};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checksum::sha256_hex;
use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::label::MAX_MODEL_LABELS;
use crate::domain::names::{artifact_key, validate_model_name};
use crate::domain::owned_source::SourceRef;
use crate::domain::{
    Job, JobCounts, JobKind, JobPolicy, JobStatus, JobTimings, ModelVersion, Tenant, TrainingStats,
};
use crate::error::ServiceError;
use crate::metrics;
use crate::ports::{JobStore, LabelStore, ModelRegistry, ObjectMeta, ObjectStore, StoreError};
use crate::workflows::budgets::WorkBudgets;

/// Most versions tried when concurrent trainers keep taking the next one.
pub const MAX_VERSION_ATTEMPTS: u32 = 20;

/// Most bytes of a version item (its JSON form): DynamoDB holds items of at most 400 KB, counting
/// attribute names and the index keys besides the values.
pub const MAX_VERSION_ITEM_BYTES: usize = 350_000;

/// MIME type of model artifacts in the object store.
pub const ARTIFACT_CONTENT_TYPE: &str = "application/vnd.nomaly.model";

/// A threshold given as a raw score or as `"auto"` (Tukey's fence).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThresholdSetting {
    /// An explicit raw-score threshold.
    Score(f64),
    /// A named rule.
    Named(NamedThreshold),
}

/// Named threshold rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedThreshold {
    /// Tukey's upper fence on the training scores.
    Auto,
}

fn default_algorithm() -> Algorithm {
    Algorithm::IsolationForest
}

/// `POST /api/v1/models` with inline data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    /// Model name (`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`).
    pub name: String,
    /// Algorithm API name; `isolation_forest` when absent.
    #[serde(default = "default_algorithm")]
    pub algorithm: Algorithm,
    /// Algorithm parameters; defaults for missing ones.
    #[serde(default)]
    pub params: Option<Value>,
    /// Expected anomaly fraction (exclusive with `threshold`).
    #[serde(default)]
    pub contamination: Option<f64>,
    /// A raw threshold or `"auto"` (exclusive with `contamination`).
    #[serde(default)]
    pub threshold: Option<ThresholdSetting>,
    /// `{"columns": [...], "rows": [[...]]}` or an array of records (exclusive with `source`).
    #[serde(default)]
    pub data: Option<Value>,
    /// An object or prefix of the caller's to train on, asynchronously (exclusive with `data`).
    #[serde(default)]
    pub source: Option<SourceRef>,
}

/// How a model is trained, apart from its data: what an asynchronous training job carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Algorithm API name.
    pub algorithm: Algorithm,
    /// Algorithm parameters.
    #[serde(default)]
    pub params: Option<Value>,
    /// Expected anomaly fraction.
    #[serde(default)]
    pub contamination: Option<f64>,
    /// A raw threshold or `"auto"`.
    #[serde(default)]
    pub threshold: Option<ThresholdSetting>,
}

impl TrainSpec {
    /// The validated model specification.
    pub fn model_spec(&self) -> Result<ModelSpec, ServiceError> {
        let rule = threshold_rule(self.contamination, self.threshold)?;
        let params = AlgorithmParams::from_json(self.algorithm, self.params.as_ref())?;
        Ok(ModelSpec::new(params).threshold(rule))
    }
}

impl TrainRequest {
    /// The threshold rule the request asks for (the default contamination when neither is set).
    pub fn threshold_rule(&self) -> Result<ThresholdRule, ServiceError> {
        threshold_rule(self.contamination, self.threshold)
    }

    /// The request's specification (everything but the data).
    pub fn spec(&self) -> TrainSpec {
        TrainSpec {
            algorithm: self.algorithm,
            params: self.params.clone(),
            contamination: self.contamination,
            threshold: self.threshold,
        }
    }
}

/// The threshold rule of a contamination or a threshold (the default contamination when neither
/// is set).
fn threshold_rule(
    contamination: Option<f64>,
    threshold: Option<ThresholdSetting>,
) -> Result<ThresholdRule, ServiceError> {
    match (contamination, threshold) {
        (Some(_), Some(_)) => Err(ServiceError::BadRequest(
            "give either 'contamination' or 'threshold', not both".into(),
        )),
        (Some(c), None) => Ok(ThresholdRule::Contamination(c)),
        (None, Some(ThresholdSetting::Score(t))) => Ok(ThresholdRule::Explicit(t)),
        (None, Some(ThresholdSetting::Named(NamedThreshold::Auto))) => Ok(ThresholdRule::Auto),
        (None, None) => Ok(ThresholdRule::default()),
    }
}

/// Facts about the training run in the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Rows fitted.
    pub rows: usize,
    /// Fit and encode time, in milliseconds.
    pub duration_ms: u64,
    /// Labelled rows (feedback) the version learned from.
    pub labels: usize,
}

/// The 201 body of `POST /api/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResponse {
    /// Model name.
    pub name: String,
    /// The new version.
    pub version: u32,
    /// Algorithm API name.
    pub algorithm: String,
    /// Feature names in detector order.
    pub features: Vec<String>,
    /// Raw-score anomaly threshold.
    pub threshold: f64,
    /// Training facts.
    pub training: TrainingInfo,
}

/// Where a version came from: the training data's location (uploads) and the job that trained
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The `s3://bucket/prefix/` the scheduled retraining reads; `None` for inline data.
    pub source: Option<String>,
    /// The training job's id.
    pub job: String,
}

/// Trains model versions; needs the object store, the registry and the job table.
#[derive(Clone)]
pub struct TrainWorkflow {
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
    limits: Limits,
    policy: JobPolicy,
    budgets: WorkBudgets,
    labels: Option<Arc<dyn LabelStore>>,
}

impl TrainWorkflow {
    /// A workflow over these ports, parsing data within `limits`.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        registry: Arc<dyn ModelRegistry>,
        jobs: Arc<dyn JobStore>,
        limits: Limits,
    ) -> Self {
        Self {
            objects,
            registry,
            jobs,
            limits,
            policy: JobPolicy::default(),
            budgets: WorkBudgets::default(),
            labels: None,
        }
    }

    /// The same workflow learning from the labelled rows in `labels` (feedback) whenever it
    /// trains a model that has any.
    pub fn with_labels(mut self, labels: Arc<dyn LabelStore>) -> Self {
        self.labels = Some(labels);
        self
    }

    /// The labelled rows of `tenant`'s model `name` that carry every one of `columns`, in that
    /// order (labels of rows without one of them are left out): what its next version learns
    /// from. `None` without a label store or labels.
    pub(crate) async fn labelled_rows(
        &self,
        tenant: &Tenant,
        name: &str,
        columns: &[String],
    ) -> Result<Option<LabelledRows>, ServiceError> {
        let Some(store) = &self.labels else {
            return Ok(None);
        };
        let labels = store.model_labels(tenant, name, MAX_MODEL_LABELS).await?;
        let mut values = Vec::with_capacity(labels.len() * columns.len());
        let mut anomaly = Vec::with_capacity(labels.len());
        for label in &labels {
            let by_name: HashMap<&str, f64> = label
                .features
                .iter()
                .map(String::as_str)
                .zip(label.values.iter().copied())
                .collect();
            let row: Option<Vec<f64>> = columns
                .iter()
                .map(|c| by_name.get(c.as_str()).copied())
                .collect();
            if let Some(row) = row {
                values.extend(row);
                anomaly.push(label.label.is_anomaly());
            }
        }
        if anomaly.is_empty() {
            return Ok(None);
        }
        let x = Array2::from_shape_vec((anomaly.len(), columns.len()), values)
            .map_err(|e| ServiceError::Internal(format!("labelled rows: {e}")))?;
        Ok(Some(LabelledRows::new(x, anomaly)?))
    }

    /// The same workflow holding fits to `budgets`.
    pub fn with_budgets(mut self, budgets: WorkBudgets) -> Self {
        self.budgets = budgets;
        self
    }

    /// The budgets fits are held to, for the event workflows.
    pub(crate) fn budgets(&self) -> &WorkBudgets {
        &self.budgets
    }

    /// The same workflow keeping and leasing its jobs by `policy`.
    pub fn with_jobs(mut self, policy: JobPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How jobs are kept and leased, for the event workflows.
    pub(crate) fn job_policy(&self) -> &JobPolicy {
        &self.policy
    }

    /// Trains and registers the next version of `tenant`'s model `request.name`.
    pub async fn train(
        &self,
        tenant: &Tenant,
        request: TrainRequest,
    ) -> Result<TrainResponse, ServiceError> {
        validate_model_name(&request.name)?;
        let rule = request.threshold_rule()?;
        let params = AlgorithmParams::from_json(request.algorithm, request.params.as_ref())?;
        let data =
            match (&request.data, &request.source) {
                (Some(data), None) => data,
                (None, Some(_)) => return Err(ServiceError::BadRequest(
                    "a 'source' is trained from asynchronously; this function has no job engine"
                        .into(),
                )),
                _ => return Err(ServiceError::BadRequest(
                    "give either 'data' (rows inline) or 'source' ({\"s3_uri\": ...}), not both"
                        .into(),
                )),
            };
        let table = table_from_json_value(data, &self.limits)?;
        let started = Instant::now();
        let created_at = now_millis();
        let labelled = self
            .labelled_rows(tenant, &request.name, table.columns())
            .await?;
        let spec = ModelSpec::new(params)
            .threshold(rule)
            .labels(labelled.as_ref().map_or(0, LabelledRows::len));
        self.check_request_fit(&spec, &table, tenant, &request.name)?;
        let model = Model::fit_with_labels(&spec, &table, labelled.as_ref())?;
        let job_id = new_job_id();
        let origin = Origin {
            source: None,
            job: job_id.clone(),
        };
        let item = self
            .register_model(tenant, &request.name, &model, started, created_at, origin)
            .await?;
        let duration_ms = item.training.duration_ms;
        self.record_job(&item, &job_id, created_at, started).await;
        metrics::note_model(&item.name, item.version);
        Ok(TrainResponse {
            name: item.name,
            version: item.version,
            algorithm: item.algorithm,
            features: item.features,
            threshold: item.threshold,
            training: TrainingInfo {
                rows: item.training.rows,
                duration_ms,
                labels: item.training.labels,
            },
        })
    }

    /// Refuses, before any work, a fit over the request budget; when the event budget would
    /// take it, the refusal points to the upload path.
    fn check_request_fit(
        &self,
        spec: &ModelSpec,
        table: &Table,
        tenant: &Tenant,
        name: &str,
    ) -> Result<(), ServiceError> {
        let (rows, columns) = (table.n_rows(), table.columns().len());
        let Err(refused) = spec.check_fit(rows, columns, &self.budgets.request) else {
            return Ok(());
        };
        let mut refused = ServiceError::from(refused);
        if let ServiceError::OverBudget { message, .. } = &mut refused {
            if spec.check_fit(rows, columns, &self.budgets.event).is_ok() {
                message.push_str(&format!(
                    "; or upload the rows as CSV under incoming/train/{tenant}/{name}/ to train in the background, where the budget is larger"
                ));
            }
        }
        Err(refused)
    }

    /// Encodes a fitted model, stores it and registers it as the next version, with its origin
    /// (the training data's location and the job) in the version item.
    pub(crate) async fn register_model(
        &self,
        tenant: &Tenant,
        name: &str,
        model: &Model,
        started: Instant,
        created_at: u64,
        origin: Origin,
    ) -> Result<ModelVersion, ServiceError> {
        let bytes = artifact::encode(model)?;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut item = ModelVersion {
            tenant: tenant.clone(),
            name: name.to_owned(),
            version: 0,
            algorithm: model.algorithm().as_str().to_owned(),
            features: model.features().to_vec(),
            threshold: model.calibration().threshold(),
            s3_key: String::new(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            training: TrainingStats {
                rows: model.training().rows,
                calibration_rows: model.training().calibration_rows,
                duration_ms,
                labels: model.labels_used(),
            },
            created_at,
            source: origin.source,
            job: Some(origin.job),
        };
        let item_bytes = serde_json::to_vec(&item).map_or(usize::MAX, |json| json.len());
        if item_bytes > MAX_VERSION_ITEM_BYTES {
            // Refused before the artifact is written: nothing is left behind.
            return Err(ServiceError::InvalidInput(format!(
                "the version's record would take {item_bytes} bytes (its {} feature names most of it), above the {MAX_VERSION_ITEM_BYTES} a table item holds: use shorter column names or fewer columns",
                item.features.len()
            )));
        }
        self.store_next_version(&mut item, &bytes).await?;
        Ok(item)
    }

    /// The registry, for the event workflows.
    pub(crate) fn registry(&self) -> &Arc<dyn ModelRegistry> {
        &self.registry
    }

    /// The job table, for the event workflows.
    pub(crate) fn jobs(&self) -> &Arc<dyn JobStore> {
        &self.jobs
    }

    /// The parsing limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Stores the artifact and registers it as `LATEST + 1`, moving on to a higher version
    /// whenever another trainer took one first; sets `item.version` and `item.s3_key`.
    ///
    /// The artifact is written before the version is registered, so a registered version always
    /// has its artifact. If the registry fails in between (503) or the registration loses a
    /// race, the artifact stays as an orphan at its version's key: no registry item points at it,
    /// so no read ever sees it, and the next trainer's `put_if_absent` on that key conflicts and
    /// moves on to a higher number (that version number is skipped, never reused).
    async fn store_next_version(
        &self,
        item: &mut ModelVersion,
        bytes: &[u8],
    ) -> Result<(), ServiceError> {
        let meta = ObjectMeta {
            sha256: item.sha256.clone(),
            size: item.size,
            content_type: ARTIFACT_CONTENT_TYPE.to_owned(),
        };
        // Versions at or below `floor` are known to be taken.
        let mut floor = 0u32;
        for _ in 0..MAX_VERSION_ATTEMPTS {
            let latest = self.registry.latest(&item.tenant, &item.name).await?;
            let version = latest
                .unwrap_or(0)
                .max(floor)
                .checked_add(1)
                .ok_or_else(|| {
                    ServiceError::Conflict(format!("model '{}' has no versions left", item.name))
                })?;
            floor = version;
            item.version = version;
            item.s3_key = artifact_key(&item.tenant, &item.name, version);
            match self.objects.put_if_absent(&item.s3_key, bytes, &meta).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            match self.registry.register_version(item, latest).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "could not allocate a version of model '{}' after {MAX_VERSION_ATTEMPTS} attempts; retry",
            item.name
        )))
    }

    /// Records a succeeded train job; a failure to record is logged, not returned, since the
    /// version is already registered.
    async fn record_job(&self, item: &ModelVersion, id: &str, created_at: u64, started: Instant) {
        let job = Job {
            status: JobStatus::Succeeded,
            model: Some(item.name.clone()),
            version: Some(item.version),
            counts: JobCounts {
                rows: item.training.rows,
                anomalies: 0,
            },
            timings: JobTimings {
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            },
            ..self
                .policy
                .record(&item.tenant, id, JobKind::Train, created_at)
        };
        if let Err(e) = self.jobs.put_job(&job).await {
            tracing::warn!(model = %item.name, version = item.version, error = %e, "could not record train job");
        }
    }
}
