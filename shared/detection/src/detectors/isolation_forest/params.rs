//! The user-facing parameters of IsolationForest and their range checks.

use serde::{Deserialize, Serialize};

use crate::error::DetectionError;

/// Largest supported `max_samples`: trees of depth 12 (4,095 split slots) at most.
pub const MAX_SAMPLES_LIMIT: usize = 4096;

/// Hyper-parameters of an Isolation Forest; defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub n_estimators: usize,
    /// Rows drawn (without replacement) to grow each tree; capped by the number of rows.
    pub max_samples: usize,
    /// Fraction of the features each tree may split on, in (0, 1].
    pub max_features: f64,
    /// Seed of the random generator: the same seed and data give the same forest.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self {
            n_estimators: 100,
            max_samples: 256,
            max_features: 1.0,
            seed: 0,
        }
    }
}

crate::detectors::params::setters!(IsolationForestParams {
    /// Sets the number of trees.
    n_estimators: usize,
    /// Sets the rows drawn per tree.
    max_samples: usize,
    /// Sets the fraction of features per tree.
    max_features: f64,
    /// Sets the random seed.
    seed: u64,
});

impl IsolationForestParams {
    /// Checks every parameter's range, naming the first one out of range; what
    /// [`DetectorParams::check_ranges`](crate::detectors::params::DetectorParams::check_ranges)
    /// runs for these parameters.
    pub(super) fn validate_ranges(&self) -> Result<(), DetectionError> {
        if !(1..=10_000).contains(&self.n_estimators) {
            return Err(DetectionError::param(
                "n_estimators",
                "must be between 1 and 10000",
            ));
        }
        if !(2..=MAX_SAMPLES_LIMIT).contains(&self.max_samples) {
            return Err(DetectionError::param(
                "max_samples",
                format!("must be between 2 and {MAX_SAMPLES_LIMIT}"),
            ));
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return Err(DetectionError::param(
                "max_features",
                "must be a fraction in (0, 1]",
            ));
        }
        Ok(())
    }
}
