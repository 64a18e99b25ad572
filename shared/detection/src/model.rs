//! A trained model: feature names, the fitted detector and its calibration. This is what an
//! artifact stores and what every scoring path uses.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::algorithm::{Algorithm, AlgorithmParams, FittedDetector};
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError, InputError};
use crate::sampling::sample_rows;
use crate::table::Table;
use crate::tabular::align::{ColumnMapping, ExtraColumns};
use crate::threshold::{Calibration, Severity, ThresholdRule};

/// Most training rows scored to calibrate the threshold, unless a spec says otherwise.
pub const DEFAULT_CALIBRATION_ROWS: usize = 20_000;

/// What to train: an algorithm with its parameters and a threshold rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The detector to fit.
    pub params: AlgorithmParams,
    /// How to set the anomaly threshold.
    pub threshold: ThresholdRule,
    /// Most training rows (a seeded sample) scored for the calibration.
    pub calibration_rows: usize,
}

impl ModelSpec {
    /// A spec with the default threshold rule and calibration size.
    pub fn new(params: AlgorithmParams) -> Self {
        Self {
            params,
            threshold: ThresholdRule::default(),
            calibration_rows: DEFAULT_CALIBRATION_ROWS,
        }
    }

    /// Sets the threshold rule.
    pub fn threshold(mut self, rule: ThresholdRule) -> Self {
        self.threshold = rule;
        self
    }
}

/// Facts about the training run kept with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Rows the detector was fitted on.
    pub rows: usize,
    /// Rows scored to calibrate the threshold.
    pub calibration_rows: usize,
}

/// One feature's share of a row's anomaly score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureContribution {
    /// The feature's name.
    pub feature: String,
    /// Its share of the row's total contribution, in [0, 1].
    pub contribution: f64,
}

/// A trained anomaly-detection model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    features: Vec<String>,
    detector: FittedDetector,
    calibration: Calibration,
    training: TrainingSummary,
}

impl Model {
    /// Fits the spec's detector on every row of `table` and calibrates its threshold on a seeded
    /// sample of the training scores.
    pub fn fit(spec: &ModelSpec, table: &Table) -> Result<Self, DetectionError> {
        spec.threshold.check()?;
        if spec.calibration_rows < 2 {
            return Err(DetectionError::param(
                "calibration_rows",
                "must be at least 2",
            ));
        }
        if table.n_rows() < 2 {
            return Err(DetectionError::Input(InputError::Empty(
                "training needs at least 2 rows".into(),
            )));
        }
        let x = table.values().view();
        let detector = spec.params.fit(x)?;
        let sample = sample_rows(x, spec.calibration_rows, spec.params.seed());
        let scores = detector.calibration_scores(sample.view());
        let calibration = Calibration::fit(
            scores.as_slice().unwrap_or(&scores.to_vec()),
            spec.threshold,
        )?;
        Ok(Self {
            features: table.columns().to_vec(),
            detector,
            calibration,
            training: TrainingSummary {
                rows: table.n_rows(),
                calibration_rows: sample.nrows(),
            },
        })
    }

    /// Feature names, in the order the detector expects them.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.detector.algorithm()
    }

    /// The fitted detector.
    pub fn detector(&self) -> &FittedDetector {
        &self.detector
    }

    /// Threshold, normalization and severities.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Facts about the training run.
    pub fn training(&self) -> &TrainingSummary {
        &self.training
    }

    /// The matching of a table's columns to this model's features (by name; order may differ).
    pub fn column_mapping(
        &self,
        columns: &[String],
        extra: ExtraColumns,
    ) -> Result<ColumnMapping, InputError> {
        ColumnMapping::new(columns, &self.features, extra)
    }

    /// Raw scores of a table whose columns are matched to the features by name.
    pub fn score_table(
        &self,
        table: &Table,
        extra: ExtraColumns,
    ) -> Result<Array1<f64>, DetectionError> {
        let mapping = self.column_mapping(table.columns(), extra)?;
        if mapping.is_identity() {
            return self.score(table.values().view());
        }
        self.score(mapping.apply(table.values().view()).view())
    }

    /// Raw scores of a matrix whose columns are already in feature order.
    pub fn score(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>, DetectionError> {
        self.check_width(x.ncols())?;
        Ok(self.detector.score(x))
    }

    /// The `top_k` features contributing most to one row's score (row in feature order), with
    /// shares of the row's total contribution, largest first.
    pub fn explain(
        &self,
        row: ArrayView1<'_, f64>,
        top_k: usize,
    ) -> Result<Vec<FeatureContribution>, DetectionError> {
        self.check_width(row.len())?;
        let raw = self.detector.contributions(row);
        let total: f64 = raw.iter().filter(|c| c.is_finite()).sum();
        let mut shares: Vec<FeatureContribution> = raw
            .iter()
            .zip(&self.features)
            .map(|(c, f)| FeatureContribution {
                feature: f.clone(),
                contribution: if total > 0.0 && c.is_finite() {
                    c / total
                } else {
                    0.0
                },
            })
            .collect();
        shares.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        shares.truncate(top_k);
        Ok(shares)
    }

    /// Label (1 = anomaly), normalized score and severity of a raw score.
    pub fn assess(&self, score: f64) -> (u8, f64, Option<Severity>) {
        let c = &self.calibration;
        (c.label(score), c.normalized(score), c.severity(score))
    }

    /// Checks every invariant scoring relies on, for models decoded from untrusted bytes.
    pub fn validate(&self) -> Result<(), ArtifactError> {
        crate::table::check_columns(&self.features)
            .map_err(|e| ArtifactError::Invalid(format!("features: {e}")))?;
        if self.features.len() != self.detector.n_features() {
            return Err(ArtifactError::Invalid(format!(
                "{} feature names for a detector of {} features",
                self.features.len(),
                self.detector.n_features()
            )));
        }
        self.detector.validate()?;
        self.calibration.validate()
    }

    fn check_width(&self, found: usize) -> Result<(), DetectionError> {
        if found == self.features.len() {
            Ok(())
        } else {
            Err(InputError::RaggedRow {
                row: 1,
                found,
                expected: self.features.len(),
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn table() -> Table {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut x = Array2::from_shape_fn((300, 3), |_| rng.gen_range(-1.0..1.0));
        x.row_mut(7).assign(&ndarray::arr1(&[6.0, -6.0, 12.0]));
        Table::new(vec!["a".into(), "b".into(), "c".into()], x).unwrap()
    }

    #[test]
    fn when_every_algorithm_trained_should_flag_planted_outlier_and_blame_the_odd_feature() {
        let t = table();
        for algorithm in Algorithm::ALL {
            let spec = ModelSpec::new(AlgorithmParams::default_for(algorithm))
                .threshold(ThresholdRule::Contamination(0.02));
            let model = Model::fit(&spec, &t).unwrap();
            let scores = model.score(t.values().view()).unwrap();
            assert!(scores.iter().all(|s| s.is_finite()), "{algorithm}");
            let (label, normalized, severity) = model.assess(scores[7]);
            assert_eq!(label, 1, "{algorithm}");
            assert!(normalized > 0.98, "{algorithm}: {normalized}");
            assert!(severity.is_some(), "{algorithm}");
            let top = model
                .explain(ndarray::arr1(&[0.0, 0.0, 12.0]).view(), 2)
                .unwrap();
            assert_eq!(top[0].feature, "c", "{algorithm}: {top:?}");
            assert!(top[0].contribution > top[1].contribution, "{algorithm}");
        }
    }

    #[test]
    fn when_columns_reordered_should_score_by_name() {
        let t = table();
        let model = Model::fit(
            &ModelSpec::new(AlgorithmParams::default_for(Algorithm::Ecod)),
            &t,
        )
        .unwrap();
        let (cols, values) = t.clone().into_parts();
        let reordered = Table::new(
            vec![cols[2].clone(), cols[0].clone(), cols[1].clone()],
            ndarray::stack![
                ndarray::Axis(1),
                values.column(2),
                values.column(0),
                values.column(1)
            ],
        )
        .unwrap();
        let a = model.score_table(&t, ExtraColumns::Reject).unwrap();
        let b = model.score_table(&reordered, ExtraColumns::Reject).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn when_width_wrong_should_name_the_counts() {
        let t = table();
        let model = Model::fit(
            &ModelSpec::new(AlgorithmParams::default_for(Algorithm::Hbos)),
            &t,
        )
        .unwrap();
        let err = model
            .score(Array2::zeros((2, 2)).view())
            .unwrap_err()
            .to_string();
        assert!(err.contains("has 2 values; expected 3"), "{err}");
    }

    #[test]
    fn when_contamination_set_should_flag_that_share_of_training_rows() {
        let t = table();
        let spec = ModelSpec::new(AlgorithmParams::default_for(Algorithm::IsolationForest))
            .threshold(ThresholdRule::Contamination(0.1));
        let model = Model::fit(&spec, &t).unwrap();
        let scores = model.score(t.values().view()).unwrap();
        let flagged = scores.iter().filter(|s| model.assess(**s).0 == 1).count();
        assert_eq!(flagged, 30);
    }
}
