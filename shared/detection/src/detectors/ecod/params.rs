//! The user-facing parameters of Ecod and their range checks.

use serde::{Deserialize, Serialize};

use crate::error::DetectionError;

/// Hyper-parameters of [`Ecod`](super::Ecod); ECOD itself has none, these only size the quantile
/// sketch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EcodParams {
    /// Resolution of the uniform quantile grid (levels `k / n_quantiles`); geometric levels are
    /// added in both tails. Training sets of at most `2 * n_quantiles` rows are kept exactly.
    pub n_quantiles: usize,
}

impl Default for EcodParams {
    fn default() -> Self {
        Self { n_quantiles: 256 }
    }
}

crate::detectors::params::setters!(EcodParams {
    /// Sets the uniform quantile grid resolution (16 to 4096): more means a closer
    /// approximation of the exact ECDF and a larger model.
    n_quantiles: usize,
});

impl EcodParams {
    /// Checks every parameter's range, naming the first one out of range; what
    /// [`DetectorParams::check_ranges`](crate::detectors::params::DetectorParams::check_ranges)
    /// runs for these parameters.
    pub(super) fn validate_ranges(&self) -> Result<(), DetectionError> {
        if !(16..=4096).contains(&self.n_quantiles) {
            return Err(DetectionError::param(
                "n_quantiles",
                "must be between 16 and 4096",
            ));
        }
        Ok(())
    }
}
