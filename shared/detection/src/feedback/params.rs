//! The parameters of feedback and their range checks.

use serde::{Deserialize, Serialize};

use crate::detectors::params::check_between;
use crate::error::DetectionError;

/// Most labelled rows a model learns from: every scored row is compared with each.
pub const MAX_LABELS: usize = 1_000;

/// Most training rows sampled to standardize features and size each label's kernel.
pub const MAX_REFERENCE_ROWS: usize = 100_000;

/// How strongly labels move scores, and how wide their reach is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedbackParams {
    /// Most a row next to a labelled anomaly rises, in units of the detector's score spread
    /// (median to 99th percentile of its training scores), 0 to 1.
    pub anomaly_weight: f64,
    /// Most a row next to a labelled normal row sinks, in the same units, 0 to 1.
    pub normal_weight: f64,
    /// A label's kernel width is the distance to its `neighbours`-th nearest reference row.
    pub neighbours: usize,
    /// Training rows (a seeded sample) that standardize features, size kernels and rank scores.
    pub reference_rows: usize,
    /// Seed of the sample.
    pub seed: u64,
}

impl Default for FeedbackParams {
    fn default() -> Self {
        Self {
            anomaly_weight: 0.5,
            normal_weight: 0.1,
            neighbours: 10,
            reference_rows: 5_000,
            seed: 0,
        }
    }
}

impl FeedbackParams {
    /// Checks every parameter's range, naming the first one out of range.
    pub fn check(&self) -> Result<(), DetectionError> {
        for (name, weight) in [
            ("anomaly_weight", self.anomaly_weight),
            ("normal_weight", self.normal_weight),
        ] {
            if !(0.0..=1.0).contains(&weight) {
                return Err(DetectionError::param(name, "must be between 0 and 1"));
            }
        }
        check_between("neighbours", self.neighbours, 1, 1_000)?;
        check_between("reference_rows", self.reference_rows, 2, MAX_REFERENCE_ROWS)
    }
}
