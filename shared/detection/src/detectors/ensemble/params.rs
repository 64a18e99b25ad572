//! The user-facing parameters of Ensemble and their range checks.

use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;
use crate::error::DetectionError;

/// One member of an ensemble, as the API names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// The member's algorithm (any but `ensemble`).
    pub algorithm: Algorithm,
    /// Its parameters; defaults when absent.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
}

impl MemberSpec {
    /// A member with default parameters.
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            algorithm,
            params: None,
        }
    }
}

/// Hyper-parameters of an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleParams {
    /// The members; by default the combination that ranks best on the benchmark sets.
    pub members: Vec<MemberSpec>,
    /// Seed for randomized members (member `i` gets `seed + i`) and for sampling.
    pub seed: u64,
    /// Training rows (sampled) used to standardize each member's scores.
    pub calibration_rows: usize,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            members: vec![
                MemberSpec::new(Algorithm::IsolationForest),
                MemberSpec::new(Algorithm::Ecod),
                MemberSpec::new(Algorithm::Hbos),
                MemberSpec::new(Algorithm::Knn),
            ],
            seed: 0,
            calibration_rows: 10_000,
        }
    }
}

crate::detectors::params::setters!(EnsembleParams {
    /// Sets the members.
    members: Vec<MemberSpec>,
    /// Sets the random seed.
    seed: u64,
});

impl EnsembleParams {
    /// Checks every parameter's range, naming the first one out of range; what
    /// [`DetectorParams::check_ranges`](crate::detectors::params::DetectorParams::check_ranges)
    /// runs for these parameters.
    pub(super) fn validate_ranges(&self) -> Result<(), DetectionError> {
        if self.members.is_empty() || self.members.len() > 16 {
            return Err(DetectionError::param(
                "members",
                "must list 1 to 16 detectors",
            ));
        }
        if self
            .members
            .iter()
            .any(|m| m.algorithm == Algorithm::Ensemble)
        {
            return Err(DetectionError::param(
                "members",
                "an ensemble cannot contain an ensemble",
            ));
        }
        if self.calibration_rows < 2 {
            return Err(DetectionError::param(
                "calibration_rows",
                "must be at least 2",
            ));
        }
        Ok(())
    }
}
