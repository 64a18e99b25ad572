//! The user-facing parameters of GaussianMixture and their range checks.

use serde::{Deserialize, Serialize};

use crate::detectors::params::{check_between, check_positive};
use crate::error::DetectionError;

/// Most Gaussian components: 32 times the default. EM holds `rows x components` values and
/// fits `components` full covariances; components under 2 % of the rows are dropped anyway,
/// so more than 50 can never all be kept.
pub const MAX_COMPONENTS: usize = 64;
/// Most rows EM runs on: ten times the default; a sample that size already pins down every
/// component a mixture of [`MAX_COMPONENTS`] can keep.
pub const MAX_SAMPLES: usize = 100_000;
/// Largest covariance regularisation: features are standard-scaled, so a million times their
/// variance makes every component the same sphere.
pub const MAX_REG_COVAR: f64 = 1e6;
/// Most EM iterations: fifty times the default; EM that has not converged by then will not.
pub const MAX_ITER: u64 = 10_000;
/// Largest convergence tolerance on the mean log-likelihood: beyond it EM stops after one step.
pub const MAX_TOLERANCE: f64 = 1e6;

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
        check_between("n_components", self.n_components, 1, MAX_COMPONENTS)?;
        check_between("max_samples", self.max_samples, 2, MAX_SAMPLES)?;
        check_positive("reg_covar", self.reg_covar, MAX_REG_COVAR)?;
        check_between("max_iter", self.max_iter, 1, MAX_ITER)?;
        check_positive("tolerance", self.tolerance, MAX_TOLERANCE)?;
        Ok(())
    }
}

crate::detectors::params::sizes!(GaussianMixtureParams {
    n_components: 1,
    max_samples: 2,
    max_iter: 1,
});
