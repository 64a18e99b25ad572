//! The fitted Ensemble and how it is fitted.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::cost::score_cost;
use super::params::{EnsembleParams, MAX_MEMBERS};
use crate::algorithm::{Algorithm, FittedDetector};
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::error::{ArtifactError, DetectionError};
use crate::sampling::sample_rows;

crate::detectors::params::params_of!(EnsembleParams => Ensemble, seeded by seed);

impl Checked<EnsembleParams> {
    /// Fits every member on `x` and standardizes their scores on a sample of it.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Ensemble, DetectionError> {
        let sample = sample_rows(x, self.calibration_rows, self.seed);
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let params = spec.params()?.with_seed(self.seed.wrapping_add(i as u64));
                let detector = params.fit(x)?;
                let scores = detector.calibration_scores(sample.view());
                let (mean, std) = mean_std(&scores);
                Ok(Member {
                    detector,
                    mean,
                    std,
                })
            })
            .collect::<Result<Vec<_>, DetectionError>>()?;
        Ok(Ensemble {
            n_features: x.ncols(),
            members,
        })
    }
}

/// A fitted member and the standardization of its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub(super) detector: FittedDetector,
    pub(super) mean: f64,
    pub(super) std: f64,
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub(super) n_features: usize,
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_MEMBERS>")]
    pub(super) members: Vec<Member>,
}

impl Ensemble {
    /// Default parameters, to be adjusted and fitted.
    pub fn params() -> EnsembleParams {
        EnsembleParams::default()
    }

    /// The members' algorithms, in order.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        self.members
            .iter()
            .map(|m| m.detector.algorithm())
            .collect()
    }

    pub(super) fn combine(
        &self,
        member_scores: impl Fn(&FittedDetector) -> Array1<f64>,
    ) -> Array1<f64> {
        let mut total: Option<Array1<f64>> = None;
        for m in &self.members {
            let z = (member_scores(&m.detector) - m.mean) / m.std;
            total = Some(match total {
                Some(t) => t + z,
                None => z,
            });
        }
        total.unwrap_or_default() / self.members.len().max(1) as f64
    }
}

pub(super) fn mean_std(scores: &Array1<f64>) -> (f64, f64) {
    let mean = scores.mean().unwrap_or(0.0);
    let std = scores.std(0.0);
    let std = if std.is_finite() && std > 1e-12 * mean.abs().max(1.0) {
        std
    } else {
        1.0
    };
    (mean, std)
}

impl Detector for Ensemble {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        self.combine(|d| d.score(x))
    }

    fn calibration_scores(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        self.combine(|d| d.calibration_scores(x))
    }

    /// The average over members of each member's contributions as shares of its total.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        let mut total = Array1::zeros(self.n_features);
        for m in &self.members {
            let c = m.detector.contributions(row);
            let sum = c.sum();
            if sum > 0.0 && sum.is_finite() {
                total += &(c / sum);
            }
        }
        total / self.members.len().max(1) as f64
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        if self.members.is_empty() {
            return Err(ArtifactError::Invalid("ensemble has no members".into()));
        }
        for m in &self.members {
            if matches!(m.detector, FittedDetector::Ensemble(_)) {
                return Err(ArtifactError::Invalid("ensemble nests an ensemble".into()));
            }
            if !m.mean.is_finite() || !m.std.is_finite() || m.std <= 0.0 {
                return Err(ArtifactError::Invalid(
                    "ensemble member scale is not finite".into(),
                ));
            }
            if m.detector.n_features() != self.n_features {
                return Err(ArtifactError::Invalid(
                    "ensemble members disagree on features".into(),
                ));
            }
            m.detector.validate()?;
        }
        Ok(())
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .members
                .iter()
                .map(|m| std::mem::size_of::<Member>() + m.detector.heap_bytes())
                .sum::<usize>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.members.iter().map(|m| m.detector.score_cost()))
    }
}
