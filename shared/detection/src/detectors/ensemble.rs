//! An ensemble of detectors on one scale: each member's score is standardized by the mean and
//! standard deviation of its training scores, and the ensemble score is their average.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::algorithm::{Algorithm, AlgorithmParams, FittedDetector};
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};
use crate::sampling::sample_rows;

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

impl EnsembleParams {
    /// Sets the members.
    pub fn members(mut self, members: Vec<MemberSpec>) -> Self {
        self.members = members;
        self
    }

    /// Sets the random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fits every member on `x` and standardizes their scores on a sample of it.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Ensemble, DetectionError> {
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
        let sample = sample_rows(x, self.calibration_rows, self.seed);
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let params = AlgorithmParams::from_json(spec.algorithm, spec.params.as_ref())?
                    .with_seed(self.seed.wrapping_add(i as u64));
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
    detector: FittedDetector,
    mean: f64,
    std: f64,
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    n_features: usize,
    members: Vec<Member>,
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

    fn combine(&self, member_scores: impl Fn(&FittedDetector) -> Array1<f64>) -> Array1<f64> {
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

fn mean_std(scores: &Array1<f64>) -> (f64, f64) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn blob_with_outlier() -> Array2<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut x = Array2::from_shape_fn((400, 3), |_| rng.gen_range(-1.0..1.0));
        x.row_mut(42).assign(&ndarray::arr1(&[0.0, 9.0, 0.0]));
        x
    }

    #[test]
    fn when_outlier_planted_should_rank_it_first_and_credit_its_feature() {
        let x = blob_with_outlier();
        let model = Ensemble::params().seed(1).fit(x.view()).unwrap();
        let scores = model.score(x.view());
        let top = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 42);
        let c = model.contributions(x.row(42));
        assert!(c[1] > c[0] && c[1] > c[2], "{c:?}");
        assert!((c.sum() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn when_members_standardized_should_center_training_scores_near_zero() {
        let x = blob_with_outlier();
        let model = Ensemble::params()
            .members(vec![
                MemberSpec::new(Algorithm::Ecod),
                MemberSpec::new(Algorithm::Hbos),
            ])
            .fit(x.view())
            .unwrap();
        let mean = model.calibration_scores(x.view()).mean().unwrap();
        assert!(mean.abs() < 1e-9, "mean {mean}");
        assert_eq!(model.algorithms(), vec![Algorithm::Ecod, Algorithm::Hbos]);
    }

    #[test]
    fn when_members_invalid_should_say_so() {
        let x = blob_with_outlier();
        let nested = Ensemble::params().members(vec![MemberSpec::new(Algorithm::Ensemble)]);
        assert!(nested
            .fit(x.view())
            .unwrap_err()
            .to_string()
            .contains("cannot contain"));
        let empty = Ensemble::params().members(vec![]);
        assert!(empty
            .fit(x.view())
            .unwrap_err()
            .to_string()
            .contains("members"));
        let bad = Ensemble::params().members(vec![MemberSpec {
            algorithm: Algorithm::IsolationForest,
            params: Some(serde_json::json!({"n_estimators": 0})),
        }]);
        assert!(bad
            .fit(x.view())
            .unwrap_err()
            .to_string()
            .contains("n_estimators"));
    }
}
