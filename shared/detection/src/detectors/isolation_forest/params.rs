//! The user-facing parameters of IsolationForest and their range checks.

use serde::{Deserialize, Serialize};

use crate::detectors::params::check_between;
use crate::error::DetectionError;

/// Most trees: 100 times scikit-learn's default, far past where more trees stop changing the
/// ranking. Deep forests meet the model-size limit first (about 1,360 trees of
/// `max_samples` 4096 fit in [`crate::artifact::MAX_MODEL_HEAP_BYTES`]).
pub const MAX_ESTIMATORS: usize = 10_000;

/// Largest supported `max_samples`: trees of depth 12 (4,095 split slots) at most, 16 times
/// scikit-learn's default of 256 (the original paper finds 256 enough for any data size).
pub const MAX_SAMPLES_LIMIT: usize = 4096;

/// Largest `max_features`: a fraction of the features, so every feature at most.
pub const MAX_FEATURES_FRACTION: f64 = 1.0;

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
        check_between("n_estimators", self.n_estimators, 1, MAX_ESTIMATORS)?;
        check_between("max_samples", self.max_samples, 2, MAX_SAMPLES_LIMIT)?;
        if !(self.max_features > 0.0 && self.max_features <= MAX_FEATURES_FRACTION) {
            return Err(DetectionError::param(
                "max_features",
                "must be a fraction in (0, 1]",
            ));
        }
        Ok(())
    }
}

crate::detectors::params::sizes!(IsolationForestParams {
    n_estimators: 1,
    max_samples: 2,
});
