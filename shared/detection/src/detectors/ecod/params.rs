//! The user-facing parameters of Ecod and their range checks.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::model::Ecod;
use crate::detectors::params::DetectorParams;
use crate::error::DetectionError;

/// Hyper-parameters of [`Ecod`]; ECOD itself has none, these only size the quantile sketch.
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

impl EcodParams {
    /// Sets the uniform quantile grid resolution (16 to 4096): more means a closer
    /// approximation of the exact ECDF and a larger model.
    pub fn n_quantiles(mut self, n_quantiles: usize) -> Self {
        self.n_quantiles = n_quantiles;
        self
    }

    /// Checks the parameters, then fits on `x`.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Ecod, DetectionError> {
        self.check()?.fit(x)
    }
}

impl DetectorParams for EcodParams {
    type Fitted = Ecod;
    const RANDOMIZED: bool = false;

    fn check_ranges(&self) -> Result<(), DetectionError> {
        if !(16..=4096).contains(&self.n_quantiles) {
            return Err(DetectionError::param(
                "n_quantiles",
                "must be between 16 and 4096",
            ));
        }
        Ok(())
    }

    fn seed_mut(&mut self) -> Option<&mut u64> {
        None
    }
}
