//! A registered model version: the registry's record.

use serde::{Deserialize, Serialize};

use super::keys::{model_pk, version_sk};
use super::tenant::Tenant;

/// Facts about the training run stored with a version, for listings without loading the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Rows the detector was fitted on.
    pub rows: usize,
    /// Rows scored to calibrate the threshold.
    pub calibration_rows: usize,
    /// Wall time of fitting and encoding, in milliseconds.
    pub duration_ms: u64,
    /// Labelled rows (feedback) the version learned from; 0 for one trained without any.
    #[serde(default)]
    pub labels: usize,
}

/// One registered, immutable model version: the `T#{tenant}#MODEL#{name}` / `VERSION#{000001}`
/// item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The tenant owning the model (absent in records written before tenancy: the default one).
    #[serde(default)]
    pub tenant: Tenant,
    /// Model name (validated, safe in keys and paths).
    pub name: String,
    /// Version number, from 1.
    pub version: u32,
    /// Algorithm API name.
    pub algorithm: String,
    /// Feature names in detector order.
    pub features: Vec<String>,
    /// Raw-score anomaly threshold.
    pub threshold: f64,
    /// Object-store key of the artifact.
    pub s3_key: String,
    /// Lowercase hex SHA-256 of the artifact bytes.
    pub sha256: String,
    /// Artifact size in bytes.
    pub size: u64,
    /// Training facts.
    pub training: TrainingStats,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Where the training data came from when it was not inline: the `s3://bucket/prefix/` the
    /// scheduled retraining reads (every CSV object under it). Absent for inline data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The job that trained it: a redelivered upload whose job already registered a version
    /// finds it here and registers no second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl ModelVersion {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        model_pk(&self.tenant, &self.name)
    }

    /// The item's sort key.
    pub fn sk(&self) -> String {
        version_sk(self.version)
    }
}
