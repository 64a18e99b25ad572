//! Scoring rows against a model version: resolve the version, load the model through the warm
//! cache, align columns by name, score, label, grade, explain, and record a detect job.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use detection::model::{FeatureContribution, Model};
use detection::tabular::{table_from_json_value, ExtraColumns};
use detection::threshold::Severity;
use detection::{Limits, Table, WorkBudget};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::LatestCache;
use crate::cache::ModelCache;
use crate::domain::ids::{new_job_id, now_millis};
use crate::domain::names::validate_model_name;
use crate::domain::{Job, JobCounts, JobKind, JobPolicy, JobStatus, JobTimings, Tenant};
use crate::error::{ServiceError, MAX_ANSWER_BYTES};
use crate::ports::{JobStore, ModelRegistry, ObjectStore};
use crate::workflows::budgets::WorkBudgets;
use crate::workflows::severity::SeverityTally;

/// Features listed per anomaly when `top_k` is not given.
pub const DEFAULT_TOP_K: usize = 3;

/// Most features listed per anomaly.
pub const MAX_TOP_K: usize = 100;

/// Bytes of one row in an answer, at most: its score (up to 24 characters) and label, with
/// separators.
const ANSWER_ROW_BYTES: usize = 28;
/// Bytes of one anomaly's entry without its features, at most.
const ANSWER_ANOMALY_BYTES: usize = 100;
/// Bytes of one listed feature besides its name, at most.
const ANSWER_FEATURE_BYTES: usize = 45;

/// The most bytes an answer of `rows` rows with `anomalies` anomalies, each listing `top_k`
/// features of names at most `name_bytes` long, can take: checked before explanations are
/// computed, so an answer that cannot be sent is refused before its work.
pub fn answer_bytes(rows: usize, anomalies: usize, top_k: usize, name_bytes: usize) -> usize {
    let per_anomaly = ANSWER_ANOMALY_BYTES
        .saturating_add(top_k.saturating_mul(ANSWER_FEATURE_BYTES + name_bytes));
    rows.saturating_mul(ANSWER_ROW_BYTES)
        .saturating_add(anomalies.saturating_mul(per_anomaly))
        .saturating_add(1024)
}

/// Most anomaly row indexes kept in a job record.
pub const JOB_ANOMALY_ROWS_CAP: usize = 100;

/// `POST /api/v1/detect` with a JSON body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// Model name.
    pub model: String,
    /// Version; the latest when absent.
    #[serde(default)]
    pub version: Option<u32>,
    /// `{"columns": [...], "rows": [[...]]}` or an array of records.
    pub data: Value,
    /// Whether to list each anomaly's top contributing features.
    #[serde(default)]
    pub explain: bool,
    /// How many features to list per anomaly (default 3).
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// Options of a scoring request, shared by the JSON and CSV paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectOptions {
    /// Whether to list each anomaly's top contributing features.
    pub explain: bool,
    /// How many features to list per anomaly.
    pub top_k: Option<usize>,
}

/// One anomalous row in the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Row index, from 0, in input order.
    pub row: usize,
    /// Raw score.
    pub score: f64,
    /// How unusual the row is.
    pub severity: Severity,
    /// Largest contributing features (empty unless `explain`).
    pub top_features: Vec<FeatureContribution>,
}

/// Totals of a scoring request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectSummary {
    /// Rows scored.
    pub rows: usize,
    /// Rows labelled anomalous.
    pub anomalies: usize,
    /// Scoring time, in milliseconds.
    pub duration_ms: f64,
}

/// The 200 body of `POST /api/v1/detect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectResponse {
    /// The recorded detect job.
    pub job_id: String,
    /// Model name.
    pub model: String,
    /// Version used.
    pub version: u32,
    /// Raw-score anomaly threshold.
    pub threshold: f64,
    /// Raw scores, one per row, in input order.
    pub scores: Vec<f64>,
    /// 1 = anomaly, one per row.
    pub labels: Vec<u8>,
    /// The anomalous rows.
    pub anomalies: Vec<Anomaly>,
    /// Totals.
    pub summary: DetectSummary,
}

/// Scores rows; needs the object store, the registry, the job table and the warm caches.
#[derive(Clone)]
pub struct DetectWorkflow {
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
    cache: Arc<ModelCache>,
    latest: Arc<LatestCache>,
    limits: Limits,
    policy: JobPolicy,
    budget: WorkBudget,
}

impl DetectWorkflow {
    /// A workflow over these ports and caches (built once per cold start), parsing data within
    /// `limits`.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        registry: Arc<dyn ModelRegistry>,
        jobs: Arc<dyn JobStore>,
        cache: Arc<ModelCache>,
        latest: Arc<LatestCache>,
        limits: Limits,
    ) -> Self {
        Self {
            objects,
            registry,
            jobs,
            cache,
            latest,
            limits,
            policy: JobPolicy::default(),
            budget: WorkBudgets::default().request,
        }
    }

    /// The same workflow holding each request's scoring to `budget`.
    pub fn with_budget(mut self, budget: WorkBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The same workflow keeping its jobs by `policy`.
    pub fn with_jobs(mut self, policy: JobPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The parsing limits, for handlers that parse CSV bodies themselves.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Scores a JSON request with one of `tenant`'s models.
    pub async fn detect(
        &self,
        tenant: &Tenant,
        request: DetectRequest,
    ) -> Result<DetectResponse, ServiceError> {
        validate_model_name(&request.model)?;
        let table = table_from_json_value(&request.data, &self.limits)?;
        let options = DetectOptions {
            explain: request.explain,
            top_k: request.top_k,
        };
        self.detect_table(tenant, &request.model, request.version, &table, options)
            .await
    }

    /// Scores an already parsed table (the CSV path) against `tenant`'s model `name` at `version`
    /// (or latest).
    pub async fn detect_table(
        &self,
        tenant: &Tenant,
        name: &str,
        version: Option<u32>,
        table: &Table,
        options: DetectOptions,
    ) -> Result<DetectResponse, ServiceError> {
        validate_model_name(name)?;
        let started = Instant::now();
        let created_at = now_millis();
        let (version, model) = self.load(tenant, name, version).await?;
        let x = aligned(&model, name, table)?;
        let top_k = options.top_k.unwrap_or(DEFAULT_TOP_K);
        if top_k > MAX_TOP_K {
            return Err(ServiceError::BadRequest(format!(
                "top_k must be between 0 and {MAX_TOP_K}, not {top_k}"
            )));
        }
        model.check_score(table.n_rows(), options.explain, &self.budget)?;
        let scores = model.score(x.view())?;
        // Each row is assessed once: its label and severity, then the answer's bound from them.
        let assessed: Vec<(u8, Option<Severity>)> = scores
            .iter()
            .map(|&score| {
                let (label, _, severity) = model.assess(score);
                (label, severity)
            })
            .collect();
        let flagged = assessed.iter().filter(|(label, _)| *label == 1).count();
        let listed = if options.explain {
            top_k.min(model.features().len())
        } else {
            0
        };
        let longest = model.features().iter().map(String::len).max().unwrap_or(0);
        let bound = answer_bytes(table.n_rows(), flagged, listed, longest);
        if bound > MAX_ANSWER_BYTES {
            return Err(ServiceError::answer_too_large(bound));
        }
        let mut labels = Vec::with_capacity(scores.len());
        let mut anomalies = Vec::new();
        for (row, (&score, &(label, severity))) in scores.iter().zip(&assessed).enumerate() {
            labels.push(label);
            if label == 1 {
                let top_features = if options.explain && top_k > 0 {
                    model.explain(x.row(row), top_k)?
                } else {
                    Vec::new()
                };
                anomalies.push(Anomaly {
                    row,
                    score,
                    severity: severity.unwrap_or(Severity::Low),
                    top_features,
                });
            }
        }
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let job = Job {
            status: JobStatus::Succeeded,
            model: Some(name.to_owned()),
            version: Some(version),
            counts: JobCounts {
                rows: table.n_rows(),
                anomalies: anomalies.len(),
            },
            timings: JobTimings { duration_ms },
            anomaly_rows: anomalies
                .iter()
                .take(JOB_ANOMALY_ROWS_CAP)
                .map(|a| a.row)
                .collect(),
            ..self
                .policy
                .record(tenant, &new_job_id(), JobKind::Detect, created_at)
        };
        let job_id = self.record_job(job).await;
        record_metrics(name, version, table.n_rows(), &anomalies);
        Ok(DetectResponse {
            job_id,
            model: name.to_owned(),
            version,
            threshold: model.calibration().threshold(),
            scores: scores.to_vec(),
            labels,
            summary: DetectSummary {
                rows: table.n_rows(),
                anomalies: anomalies.len(),
                duration_ms,
            },
            anomalies,
        })
    }

    /// Resolves the version of `tenant`'s model (latest through the TTL cache) and loads it.
    pub async fn model(
        &self,
        tenant: &Tenant,
        name: &str,
        version: Option<u32>,
    ) -> Result<(u32, Arc<Model>), ServiceError> {
        validate_model_name(name)?;
        self.load(tenant, name, version).await
    }

    /// Resolves the version (latest through the TTL cache) and loads the model.
    async fn load(
        &self,
        tenant: &Tenant,
        name: &str,
        version: Option<u32>,
    ) -> Result<(u32, Arc<Model>), ServiceError> {
        let version = match version {
            Some(v) => v,
            None => self
                .latest
                .resolve(tenant, name, self.registry.as_ref())
                .await?
                .ok_or_else(|| ServiceError::ModelNotFound(name.to_owned()))?,
        };
        match self
            .cache
            .get_or_load(
                tenant,
                name,
                version,
                self.registry.as_ref(),
                self.objects.as_ref(),
            )
            .await
        {
            Ok(model) => Ok((version, model)),
            Err(ServiceError::VersionNotFound { .. })
                if self.registry.latest(tenant, name).await?.is_none() =>
            {
                Err(ServiceError::ModelNotFound(name.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    /// Records the detect job and returns its id; a failure to record is logged, not returned,
    /// since the scores are already computed.
    async fn record_job(&self, job: Job) -> String {
        if let Err(e) = self.jobs.put_job(&job).await {
            tracing::warn!(model = ?job.model, version = ?job.version, error = %e, "could not record detect job");
        }
        job.id
    }
}

/// Adds the scoring to the invocation's metrics: rows, anomalies by severity, the model.
fn record_metrics(name: &str, version: u32, rows: usize, anomalies: &[Anomaly]) {
    let mut tally = SeverityTally::default();
    for anomaly in anomalies {
        tally.add(anomaly.severity);
    }
    tally.record(name, version, rows);
}

/// The table's values in the model's feature order; columns the model does not use are an error
/// naming all of them, and a missing feature is an error naming it.
pub(crate) fn aligned<'t>(
    model: &Model,
    name: &str,
    table: &'t Table,
) -> Result<Cow<'t, Array2<f64>>, ServiceError> {
    let extra: Vec<&str> = table
        .columns()
        .iter()
        .filter(|c| !model.features().contains(c))
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        return Err(ServiceError::InvalidInput(format!(
            "unknown column(s) {} for model '{name}', which uses {}",
            quoted(&extra),
            quoted(
                &model
                    .features()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            )
        )));
    }
    let mapping = model
        .column_mapping(table.columns(), ExtraColumns::Reject)
        .map_err(|e| ServiceError::InvalidInput(format!("{e} (model '{name}')")))?;
    Ok(if mapping.is_identity() {
        Cow::Borrowed(table.values())
    } else {
        Cow::Owned(mapping.apply(table.values().view()))
    })
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
