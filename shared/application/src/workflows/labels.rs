//! Feedback: an analyst labels rows of a model as anomalies or as normal, by their values or as
//! rows of one of the model's batch jobs; the next version trained learns from them. Every label
//! is checked against the model's current features before anything is written, labels are keyed
//! by their row's content (a retried request writes nothing twice), and a tenant reads and writes
//! only its own models' labels.

use std::io::Read;
use std::sync::Arc;

use detection::tabular::{ColumnMapping, ExtraColumns};
use detection::Limits;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::ids::now_millis;
use crate::domain::label::{row_id, MAX_MODEL_LABELS};
use crate::domain::names::validate_model_name;
use crate::domain::{JobKind, RowLabel, Tenant, Verdict};
use crate::error::ServiceError;
use crate::ports::{
    BlobStreams, JobStore, LabelStore, ModelRegistry, MAX_LABELS_PER_WRITE, MAX_LABEL_BYTES,
};
use crate::workflows::csv_stream::csv_chunks;
use crate::workflows::object_train::parse_s3_uri;

/// Most bytes of a job's input read to find the rows it labels: rows further in are labelled by
/// their values instead.
pub const MAX_JOB_SCAN_BYTES: u64 = 64 * 1024 * 1024;

/// Most labels on a page of `GET /api/v1/models/{name}/labels`.
pub const MAX_LABELS_PAGE: usize = 100;

/// Labels on a page unless the request says otherwise.
pub const DEFAULT_LABELS_PAGE: usize = 50;

/// Most bytes of a page of labels (their JSON), well inside a Lambda answer.
const MAX_PAGE_BYTES: usize = 4_000_000;

/// One label of `POST /api/v1/models/{name}/labels`: a verdict on a row given by its values, or
/// by a job and the row's 0-based index in that job's input.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelEntry {
    /// `anomaly` or `normal`.
    pub label: Verdict,
    /// The row as `{feature: number}` (every feature of the model; others are ignored).
    #[serde(default)]
    pub values: Option<Map<String, Value>>,
    /// A batch job of this model whose input holds the row.
    #[serde(default)]
    pub job: Option<String>,
    /// The row's 0-based index among the job's data rows.
    #[serde(default)]
    pub row: Option<u64>,
}

/// The body of `POST /api/v1/models/{name}/labels`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    /// 1 to [`MAX_LABELS_PER_WRITE`] labels.
    pub labels: Vec<LabelEntry>,
}

/// The 200 answer of `POST /api/v1/models/{name}/labels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsWritten {
    /// The model.
    pub model: String,
    /// The ids of the labelled rows, in request order (a row labelled again keeps its id).
    pub ids: Vec<String>,
    /// How many labels the model has now.
    pub total: usize,
}

/// A page of `GET /api/v1/models/{name}/labels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsPage {
    /// The labels, by id.
    pub labels: Vec<RowLabel>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Writes and lists labels; needs the registry (the model's features), the label store, the job
/// table and the data objects (a job's input).
#[derive(Clone)]
pub struct LabelWorkflow {
    registry: Arc<dyn ModelRegistry>,
    labels: Arc<dyn LabelStore>,
    jobs: Arc<dyn JobStore>,
    blobs: Arc<dyn BlobStreams>,
    limits: Limits,
}

impl LabelWorkflow {
    /// A workflow over these ports, reading jobs' inputs within `limits`.
    pub fn new(
        registry: Arc<dyn ModelRegistry>,
        labels: Arc<dyn LabelStore>,
        jobs: Arc<dyn JobStore>,
        blobs: Arc<dyn BlobStreams>,
        limits: Limits,
    ) -> Self {
        Self {
            registry,
            labels,
            jobs,
            blobs,
            limits,
        }
    }

    /// Labels rows of `tenant`'s model `name`: 400 for a malformed request, 404 for an unknown
    /// model or job, 422 for a row that is not one (missing features, a job of another model, a
    /// row the job does not have) or labels beyond [`MAX_MODEL_LABELS`]. All or none are written.
    pub async fn label(
        &self,
        tenant: &Tenant,
        name: &str,
        request: LabelsRequest,
    ) -> Result<LabelsWritten, ServiceError> {
        validate_model_name(name)?;
        if !(1..=MAX_LABELS_PER_WRITE).contains(&request.labels.len()) {
            return Err(ServiceError::BadRequest(format!(
                "give 1 to {MAX_LABELS_PER_WRITE} labels, not {}",
                request.labels.len()
            )));
        }
        let features = self.features(tenant, name).await?;
        let created_at = now_millis();
        let mut labels = Vec::with_capacity(request.labels.len());
        for (i, entry) in request.labels.iter().enumerate() {
            let values = match (&entry.values, &entry.job, entry.row) {
                (Some(values), None, None) => record_values(values, &features)
                    .map_err(|e| ServiceError::InvalidInput(format!("labels[{i}]: {e}")))?,
                (None, Some(_), Some(_)) => Vec::new(), // read below, one pass per job
                _ => {
                    return Err(ServiceError::BadRequest(format!(
                        "labels[{i}]: give either 'values' or both 'job' and 'row'"
                    )))
                }
            };
            labels.push(RowLabel {
                id: String::new(),
                features: features.clone(),
                values,
                label: entry.label,
                job: entry.job.clone(),
                row: entry.row,
                created_at,
            });
        }
        self.fill_job_rows(tenant, name, &features, &mut labels)
            .await?;
        for label in &mut labels {
            label.id = row_id(&label.features, &label.values);
            let bytes = serde_json::to_vec(&label).map_or(usize::MAX, |json| json.len());
            if bytes > MAX_LABEL_BYTES {
                return Err(ServiceError::TooLarge(format!(
                    "a label of this model takes {bytes} bytes; at most {MAX_LABEL_BYTES} are kept"
                )));
            }
        }
        let existing = self
            .labels
            .model_labels(tenant, name, MAX_MODEL_LABELS + 1)
            .await?;
        let mut ids: Vec<&str> = existing.iter().map(|l| l.id.as_str()).collect();
        ids.extend(labels.iter().map(|l| l.id.as_str()));
        ids.sort_unstable();
        ids.dedup();
        if ids.len() > MAX_MODEL_LABELS {
            return Err(ServiceError::InvalidInput(format!(
                "model '{name}' would have {} labels; at most {MAX_MODEL_LABELS} are kept (a row labelled again replaces its label)",
                ids.len()
            )));
        }
        let total = ids.len();
        self.labels.put_labels(tenant, name, &labels).await?;
        Ok(LabelsWritten {
            model: name.to_owned(),
            ids: labels.into_iter().map(|l| l.id).collect(),
            total,
        })
    }

    /// A page of the labels of `tenant`'s model `name`, by id after `cursor`: 400 for a bad
    /// limit or cursor, 404 for an unknown model.
    pub async fn list(
        &self,
        tenant: &Tenant,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<LabelsPage, ServiceError> {
        validate_model_name(name)?;
        if !(1..=MAX_LABELS_PAGE).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit must be between 1 and {MAX_LABELS_PAGE}, not {limit}"
            )));
        }
        if cursor.is_some_and(|c| {
            c.is_empty() || c.len() > 64 || !c.bytes().all(|b| b.is_ascii_hexdigit())
        }) {
            return Err(ServiceError::BadRequest(
                "cursor must be a label id (64 hexadecimal digits or fewer)".into(),
            ));
        }
        self.features(tenant, name).await?;
        let page = self.labels.list_labels(tenant, name, limit, cursor).await?;
        let mut labels = Vec::with_capacity(page.labels.len());
        let mut bytes = 0;
        for label in page.labels {
            bytes += serde_json::to_vec(&label).map_or(MAX_PAGE_BYTES, |json| json.len());
            if bytes > MAX_PAGE_BYTES && !labels.is_empty() {
                let next_cursor = labels.last().map(|l: &RowLabel| l.id.clone());
                return Ok(LabelsPage {
                    labels,
                    next_cursor,
                });
            }
            labels.push(label);
        }
        Ok(LabelsPage {
            labels,
            next_cursor: page.next_cursor,
        })
    }

    /// The features of the current version of `tenant`'s model `name` (404 when it has none).
    async fn features(&self, tenant: &Tenant, name: &str) -> Result<Vec<String>, ServiceError> {
        let missing = || ServiceError::ModelNotFound(name.to_owned());
        let latest = self
            .registry
            .latest(tenant, name)
            .await?
            .ok_or_else(missing)?;
        let version = self
            .registry
            .version(tenant, name, latest)
            .await?
            .ok_or_else(missing)?;
        Ok(version.features)
    }

    /// Reads the values of every label naming a job row, one pass over each job's input.
    async fn fill_job_rows(
        &self,
        tenant: &Tenant,
        name: &str,
        features: &[String],
        labels: &mut [RowLabel],
    ) -> Result<(), ServiceError> {
        let mut jobs: Vec<String> = labels.iter().filter_map(|l| l.job.clone()).collect();
        jobs.sort_unstable();
        jobs.dedup();
        for id in jobs {
            let job = self
                .jobs
                .get_job(tenant, &id)
                .await?
                .ok_or_else(|| ServiceError::JobNotFound(id.clone()))?;
            if job.model.as_deref() != Some(name) {
                return Err(ServiceError::InvalidInput(format!(
                    "job '{id}' did not score model '{name}'"
                )));
            }
            let source = match (job.kind, &job.source) {
                (JobKind::Batch, Some(source)) => source.clone(),
                _ => {
                    return Err(ServiceError::InvalidInput(format!(
                        "job '{id}' kept no rows (it scored rows sent inline): label them by their 'values'"
                    )))
                }
            };
            let wanted: Vec<u64> = labels
                .iter()
                .filter(|l| l.job.as_deref() == Some(id.as_str()))
                .filter_map(|l| l.row)
                .collect();
            let rows = self.read_rows(&id, &source, features, &wanted).await?;
            for label in labels
                .iter_mut()
                .filter(|l| l.job.as_deref() == Some(id.as_str()))
            {
                if let Some(values) = label
                    .row
                    .and_then(|r| rows.iter().find(|(row, _)| *row == r))
                {
                    label.values = values.1.clone();
                }
            }
        }
        Ok(())
    }

    /// The model's features of rows `wanted` of the CSV at `source` (a job's input): 422 for a
    /// row it does not have or one beyond [`MAX_JOB_SCAN_BYTES`].
    async fn read_rows(
        &self,
        job: &str,
        source: &str,
        features: &[String],
        wanted: &[u64],
    ) -> Result<Vec<(u64, Vec<f64>)>, ServiceError> {
        let gone = || {
            ServiceError::InvalidInput(format!(
                "job '{job}''s input is no longer stored: label its rows by their 'values'"
            ))
        };
        let (bucket, key) = parse_s3_uri(source).ok_or_else(gone)?;
        let reader = self.blobs.open(&bucket, &key).await?.ok_or_else(gone)?;
        let failure = reader.failure();
        let last = wanted.iter().copied().max().unwrap_or(0);
        let limits = self.limits;
        let features = features.to_vec();
        let wanted = wanted.to_vec();
        let job = job.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            scan_rows(
                reader.take(MAX_JOB_SCAN_BYTES),
                &limits,
                &features,
                &wanted,
                last,
            )
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("row scan stopped: {e}")))?;
        match found {
            Ok(RowsScan::Found(rows)) => Ok(rows),
            Ok(RowsScan::Short { rows, bytes }) => {
                let reason = if bytes >= MAX_JOB_SCAN_BYTES {
                    format!("lies beyond the first {MAX_JOB_SCAN_BYTES} bytes read of its input: label it by its 'values'")
                } else {
                    format!("is not one of its {rows} rows (rows count from 0)")
                };
                Err(ServiceError::InvalidInput(format!(
                    "row {last} of job '{job}' {reason}"
                )))
            }
            Err(e) => Err(match failure.get() {
                Some(transport) => transport.into(),
                None => ServiceError::InvalidInput(format!("job '{job}''s input: {e}")),
            }),
        }
    }
}

/// What a scan for rows found.
enum RowsScan {
    /// Every wanted row, with its values.
    Found(Vec<(u64, Vec<f64>)>),
    /// The input ended first, after `rows` data rows and `bytes` bytes.
    Short { rows: u64, bytes: u64 },
}

/// Reads the CSV from `reader` until row `last`, keeping the model's `features` of the `wanted`
/// rows.
fn scan_rows<R: Read>(
    reader: std::io::Take<R>,
    limits: &Limits,
    features: &[String],
    wanted: &[u64],
    last: u64,
) -> Result<RowsScan, String> {
    let mut counted = CountingRead {
        inner: reader,
        bytes: 0,
    };
    let mut found = Vec::with_capacity(wanted.len());
    let mut first_row = 0u64;
    {
        let chunks = csv_chunks(&mut counted, limits).map_err(|e| e.to_string())?;
        let mapping = ColumnMapping::new(chunks.columns(), features, ExtraColumns::Ignore)
            .map_err(|e| e.to_string())?;
        for chunk in chunks {
            let table = chunk.map_err(|e| e.to_string())?;
            let values = mapping.apply(table.values().view());
            let n = table.n_rows() as u64;
            for &row in wanted {
                if (first_row..first_row + n).contains(&row) {
                    let local = (row - first_row) as usize;
                    found.push((row, values.row(local).to_vec()));
                }
            }
            first_row += n;
            if first_row > last {
                return Ok(RowsScan::Found(found));
            }
        }
    }
    Ok(RowsScan::Short {
        rows: first_row,
        bytes: counted.bytes,
    })
}

/// A reader that counts the bytes read through it.
struct CountingRead<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The model's `features` of a row given as `{feature: number}`; other keys are ignored.
fn record_values(record: &Map<String, Value>, features: &[String]) -> Result<Vec<f64>, String> {
    features
        .iter()
        .map(|feature| match record.get(feature) {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("'{feature}' is not a finite number")),
            Some(_) => Err(format!("'{feature}' is not a number")),
            None => Err(format!("the row lacks the model's feature '{feature}'")),
        })
        .collect()
}
