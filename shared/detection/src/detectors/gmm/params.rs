//! The user-facing parameters of GaussianMixture and their range checks.

use serde::{Deserialize, Serialize};

use crate::error::DetectionError;

/// Hyperparameters of [`GaussianMixture`](super::GaussianMixture), as accepted from API callers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianMixtureParams {
    /// Number of Gaussian components (at least 1); fewer are used if the data cannot support
    /// them.
    pub n_components: usize,
    /// Most training rows EM runs on (at least 2); bounds fitting time.
    pub max_samples: usize,
    /// Added to every covariance diagonal (in scaled units, greater than 0): keeps covariances
    /// invertible when features are collinear or constant.
    pub reg_covar: f64,
    /// Most EM iterations per fit (at least 1).
    pub max_iter: u64,
    /// EM stops when the mean log-likelihood improves by less than this (greater than 0).
    pub tolerance: f64,
    /// Seed of the row sample and of the k-means initialisation.
    pub seed: u64,
}

impl Default for GaussianMixtureParams {
    fn default() -> Self {
        Self {
            n_components: 2,
            max_samples: 10_000,
            reg_covar: 0.1,
            max_iter: 200,
            tolerance: 1e-3,
            seed: 0,
        }
    }
}

crate::detectors::params::setters!(GaussianMixtureParams {
    /// Sets the number of Gaussian components.
    n_components: usize,
    /// Sets the most training rows EM runs on.
    max_samples: usize,
    /// Sets the covariance regularisation.
    reg_covar: f64,
    /// Sets the most EM iterations.
    max_iter: u64,
    /// Sets the EM convergence tolerance.
    tolerance: f64,
    /// Sets the seed.
    seed: u64,
});

impl GaussianMixtureParams {
    /// Checks every parameter's range, naming the first one out of range; what
    /// [`DetectorParams::check_ranges`](crate::detectors::params::DetectorParams::check_ranges)
    /// runs for these parameters.
    pub(super) fn validate_ranges(&self) -> Result<(), DetectionError> {
        if self.n_components == 0 {
            return Err(DetectionError::param("n_components", "must be at least 1"));
        }
        if self.max_samples < 2 {
            return Err(DetectionError::param("max_samples", "must be at least 2"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar > 0.0) {
            return Err(DetectionError::param("reg_covar", "must be greater than 0"));
        }
        if self.max_iter == 0 {
            return Err(DetectionError::param("max_iter", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(DetectionError::param("tolerance", "must be greater than 0"));
        }
        Ok(())
    }
}
