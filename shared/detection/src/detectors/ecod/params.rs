//! The user-facing parameters of Ecod and their range checks.

use serde::{Deserialize, Serialize};

use crate::detectors::params::check_between;
use crate::error::DetectionError;

/// Fewest uniform quantile levels: coarser grids lose the shape of the distribution's body.
pub const MIN_QUANTILES: usize = 16;
/// Most uniform quantile levels: 16 times the default, a grid finer than 0.025 %, beyond which
/// the sketch is already exact for training sets of up to 8,192 rows; finer grids only make
/// the model larger (about 40 bytes per level and feature).
pub const MAX_QUANTILES: usize = 4096;

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
        check_between(
            "n_quantiles",
            self.n_quantiles,
            MIN_QUANTILES,
            MAX_QUANTILES,
        )
    }
}

crate::detectors::params::sizes!(EcodParams {
    n_quantiles: MIN_QUANTILES,
});
