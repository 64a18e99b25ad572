//! A row an analyst labelled as an anomaly or as normal, kept per tenant and model: what a new
//! version of the model learns from (semi-supervised feedback). A row's id is the SHA-256 of its
//! feature names and values, so labelling the same row again replaces its label instead of
//! adding a second one, and a retried request changes nothing twice.

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;

/// Most labels a model keeps: every row a version scores is compared with each of them.
pub const MAX_MODEL_LABELS: usize = detection::feedback::MAX_LABELS;

/// What an analyst said about a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The row is an anomaly.
    Anomaly,
    /// The row is normal (a false alarm when the model flagged it).
    Normal,
}

impl Verdict {
    /// Whether this verdict says anomaly.
    pub fn is_anomaly(self) -> bool {
        self == Self::Anomaly
    }
}

/// One labelled row of a model, as the store keeps it (the tenant and model are its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowLabel {
    /// Lowercase hex SHA-256 of the row's feature names and values ([`row_id`]).
    pub id: String,
    /// The row's feature names, in the order of `values`.
    pub features: Vec<String>,
    /// The row's values.
    pub values: Vec<f64>,
    /// What the analyst said.
    pub label: Verdict,
    /// The job whose row it is, when it was labelled by job and row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Its 0-based row index in that job's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// When it was labelled (epoch milliseconds).
    pub created_at: u64,
}

/// The id of a row: SHA-256 over each feature name and value (length-prefixed names, the
/// values' bits), so equal rows have equal ids whatever their source.
pub fn row_id(features: &[String], values: &[f64]) -> String {
    let mut bytes = Vec::with_capacity(features.len() * 32);
    for (name, value) in features.iter().zip(values) {
        bytes.extend_from_slice(&(name.len() as u64).to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
        // -0.0 and 0.0 are one value.
        let value = if *value == 0.0 { 0.0 } else { *value };
        bytes.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    sha256_hex(&bytes)
}
