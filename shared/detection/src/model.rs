//! A trained model: feature names, the fitted detector and its calibration. This is what an
//! artifact stores and what every scoring path uses.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::algorithm::{Algorithm, AlgorithmParams, FittedDetector};
use crate::artifact::MAX_MODEL_HEAP_BYTES;
use crate::budget::sizes::{refuse, Size};
use crate::budget::{bytes_of, log2, WorkBudget, WorkEstimate};
use crate::detector::Detector;
use crate::detectors::shared_cost::{PASS_SECONDS, SORT_SECONDS};
use crate::error::{ArtifactError, DetectionError, InputError};
use crate::feedback::{Feedback, FeedbackParams, LabelledRows};
use crate::sampling::sample_rows;
use crate::table::Table;
use crate::tabular::align::{ColumnMapping, ExtraColumns};
use crate::threshold::{Calibration, Severity, ThresholdRule, CALIBRATION_BYTES};

/// Most features a model may have: the isolation forest's stored form keeps feature indices
/// in 16 bits, and every algorithm accepts the same tables.
pub const MAX_FEATURES: usize = crate::detectors::isolation_forest::MAX_FEATURES;

/// Most training rows scored to calibrate the threshold, unless a spec says otherwise.
pub const DEFAULT_CALIBRATION_ROWS: usize = 20_000;

/// Bytes a feature name is assumed to take when estimating a model's size (its `String` and
/// a name of 40 bytes); the model's real size counts the names it has.
const ESTIMATED_FEATURE_BYTES: usize = std::mem::size_of::<String>() + 40;

/// Seconds per feature of an explained row beyond the detector's contributions: its share,
/// a copy of its name, and the sort of the shares.
const EXPLAIN_FEATURE_SECONDS: f64 = 250e-9;

/// What to train: an algorithm with its parameters and a threshold rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The detector to fit.
    pub params: AlgorithmParams,
    /// How to set the anomaly threshold.
    pub threshold: ThresholdRule,
    /// Most training rows (a seeded sample) scored for the calibration.
    pub calibration_rows: usize,
    /// How labelled rows, when a fit has any, re-rank the detector's scores.
    pub feedback: FeedbackParams,
    /// How many labelled rows the fit will learn from (what its estimate counts).
    pub labels: usize,
}

impl ModelSpec {
    /// A spec with the default threshold rule and calibration size.
    pub fn new(params: AlgorithmParams) -> Self {
        Self {
            params,
            threshold: ThresholdRule::default(),
            calibration_rows: DEFAULT_CALIBRATION_ROWS,
            feedback: FeedbackParams::default(),
            labels: 0,
        }
    }

    /// Sets the threshold rule.
    pub fn threshold(mut self, rule: ThresholdRule) -> Self {
        self.threshold = rule;
        self
    }

    /// Counts `labels` labelled rows in the fit's estimate (what [`Model::fit_with_labels`]
    /// will be given).
    pub fn labels(mut self, labels: usize) -> Self {
        self.labels = labels;
        self
    }

    /// What [`Model::fit`] on `rows x columns` is estimated to cost, before any work: the
    /// detector's fit (its row sampling included), the calibration scoring of up to
    /// `calibration_rows` rows, and the model it leaves.
    pub fn estimate_fit(&self, rows: usize, columns: usize) -> WorkEstimate {
        fit_estimate(&self.params, self.calibration_rows, rows, columns)
            .then(feedback_estimate(self, rows, columns))
    }

    /// The estimate of [`Self::estimate_fit`] if it fits `budget` (and the model fits
    /// [`MAX_MODEL_HEAP_BYTES`]); otherwise [`DetectionError::OverBudget`] naming the parameter
    /// (or `rows`, `columns`) to lower and the largest value that fits. Out-of-range
    /// parameters are [`DetectionError::InvalidParam`], as when fitting.
    pub fn check_fit(
        &self,
        rows: usize,
        columns: usize,
        budget: &WorkBudget,
    ) -> Result<WorkEstimate, DetectionError> {
        self.params.check()?;
        let estimate = self.estimate_fit(rows, columns);
        let max_model = MAX_MODEL_HEAP_BYTES as u64;
        if estimate.fits(budget, max_model) {
            return Ok(estimate);
        }
        let mut sizes = self.params.sizes();
        let n_params = sizes.len();
        sizes.push(Size::data("rows", rows));
        sizes.push(Size::data("columns", columns));
        let cal = self.calibration_rows;
        let feedback = |rows: usize, columns: usize| feedback_estimate(self, rows, columns);
        let cost_at = |i: usize, v: usize| match i.checked_sub(n_params) {
            None => fit_estimate(&self.params.with_size(i, v), cal, rows, columns)
                .then(feedback(rows, columns)),
            Some(0) => fit_estimate(&self.params, cal, v, columns).then(feedback(v, columns)),
            Some(_) => fit_estimate(&self.params, cal, rows, v).then(feedback(rows, v)),
        };
        let what = format!(
            "training {} on {rows} rows x {columns} columns",
            self.params.algorithm()
        );
        Err(refuse(
            &what, &estimate, budget, max_model, &sizes, &cost_at,
        ))
    }
}

/// [`ModelSpec::estimate_fit`] of a spec with these parameters and calibration size.
fn fit_estimate(
    params: &AlgorithmParams,
    calibration_rows: usize,
    rows: usize,
    columns: usize,
) -> WorkEstimate {
    let cost = params.fit_cost(rows, columns);
    let sample = rows.min(calibration_rows);
    let m = sample as f64;
    // The sampled rows (when they are a copy), their scores and the calibration's sorted copy.
    let held = if rows > sample {
        bytes_of::<f64>(m * columns as f64) + bytes_of::<u32>(rows as f64)
    } else {
        0.0
    } + bytes_of::<f64>(2.0 * m);
    let sort = WorkEstimate::new(m * log2(m) * SORT_SECONDS, 0.0, 0.0);
    let calibrate = cost
        .scoring
        .for_rows(sample, false)
        .then(sort)
        .holding(held);
    let names = (columns * ESTIMATED_FEATURE_BYTES + CALIBRATION_BYTES) as f64;
    cost.fit
        .then(calibrate)
        .then(WorkEstimate::new(0.0, names, names))
        .holding(std::mem::size_of::<Model>() as f64)
}

/// What fitting the spec's feedback from its `labels` on `rows x columns` costs: the reference
/// sample's copy, scores and standardized copy, every label's distance to each of its rows, and
/// re-ranking the calibration sample's scores.
fn feedback_estimate(spec: &ModelSpec, rows: usize, columns: usize) -> WorkEstimate {
    if spec.labels == 0 {
        return WorkEstimate::default();
    }
    let sample = rows.min(spec.feedback.reference_rows) as f64;
    let calibration = rows.min(spec.calibration_rows) as f64;
    let per_row = crate::feedback::seconds_per_row(spec.labels, columns);
    let (labels, columns) = (spec.labels as f64, columns as f64);
    let held = bytes_of::<f64>(2.0 * sample * columns + 2.0 * sample + 2.0 * labels * columns);
    let seconds = (sample + calibration) * per_row + sample * log2(sample) * SORT_SECONDS;
    let model = bytes_of::<f64>(labels * columns + 2.0 * columns + 2.0 * labels + 1_024.0);
    WorkEstimate::new(seconds, held, model)
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
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_FEATURES>")]
    features: Vec<String>,
    detector: FittedDetector,
    calibration: Calibration,
    training: TrainingSummary,
    /// What labelled rows taught the model, when it was trained with any.
    feedback: Option<Box<Feedback>>,
}

impl Model {
    /// Fits the spec's detector on every row of `table` and calibrates its threshold on a seeded
    /// sample of the training scores.
    pub fn fit(spec: &ModelSpec, table: &Table) -> Result<Self, DetectionError> {
        Self::fit_with_labels(spec, table, None)
    }

    /// [`Model::fit`], then, when `labels` holds any rows (features in `table`'s order), the
    /// feedback layer that re-ranks the detector's scores with them; the threshold is
    /// calibrated on the re-ranked scores. No labels fit exactly what [`Model::fit`] fits.
    pub fn fit_with_labels(
        spec: &ModelSpec,
        table: &Table,
        labels: Option<&LabelledRows>,
    ) -> Result<Self, DetectionError> {
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
        let feedback = match labels.filter(|l| !l.is_empty()) {
            Some(labels) => Some(Box::new(Feedback::fit(
                &FeedbackParams {
                    seed: spec.params.seed(),
                    ..spec.feedback.clone()
                },
                &detector,
                x,
                labels,
            )?)),
            None => None,
        };
        let sample = sample_rows(x, spec.calibration_rows, spec.params.seed());
        let mut scores = detector.calibration_scores(sample.view());
        if let Some(feedback) = &feedback {
            scores = feedback.adjust(&scores, sample.view());
        }
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
            feedback,
        })
    }

    /// How many labelled rows the model learned from (0 when trained without feedback).
    pub fn labels_used(&self) -> usize {
        self.feedback.as_ref().map_or(0, |f| f.labels())
    }

    /// A model decoded from an artifact written before feedback existed (format 1).
    pub(crate) fn from_unlabelled(
        features: Vec<String>,
        detector: FittedDetector,
        calibration: Calibration,
        training: TrainingSummary,
    ) -> Self {
        Self {
            features,
            detector,
            calibration,
            training,
            feedback: None,
        }
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

    /// Bytes the model takes in memory (decoded): names, calibration and the fitted detector.
    /// An artifact holds at most [`MAX_MODEL_HEAP_BYTES`].
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .features
                .iter()
                .map(|f| std::mem::size_of::<String>() + f.len())
                .sum::<usize>()
            + self.calibration.heap_bytes()
            + self.detector.heap_bytes()
            + self.feedback.as_ref().map_or(0, |f| f.heap_bytes())
    }

    /// What scoring `rows` rows in one call (and, with `explain`, explaining every one of
    /// them) is estimated to cost, before any work; the model itself is counted in the peak.
    pub fn estimate_score(&self, rows: usize, explain: bool) -> WorkEstimate {
        let cost = self.detector.score_cost();
        let feedback = self.feedback.as_ref().map_or(WorkEstimate::default(), |f| {
            WorkEstimate::new(
                rows as f64 * f.seconds_per_row(),
                bytes_of::<f64>(2.0 * rows as f64),
                0.0,
            )
        });
        let scoring = cost.for_rows(rows, explain).then(feedback);
        let explaining = if explain {
            let d = self.features.len() as f64;
            let per_row = d * (EXPLAIN_FEATURE_SECONDS + log2(d) * SORT_SECONDS + PASS_SECONDS);
            WorkEstimate::new(
                rows as f64 * per_row,
                bytes_of::<FeatureContribution>(d) + bytes_of::<f64>(d),
                0.0,
            )
        } else {
            WorkEstimate::default()
        };
        let model = self.heap_bytes() as f64;
        WorkEstimate::new(0.0, model, model).then(scoring.then(explaining))
    }

    /// The estimate of [`Self::estimate_score`] if it fits `budget`; otherwise
    /// [`DetectionError::OverBudget`] naming `rows` and the most rows that fit.
    pub fn check_score(
        &self,
        rows: usize,
        explain: bool,
        budget: &WorkBudget,
    ) -> Result<WorkEstimate, DetectionError> {
        let estimate = self.estimate_score(rows, explain);
        if estimate.fits(budget, u64::MAX) {
            return Ok(estimate);
        }
        let what = format!(
            "scoring {rows} rows{} with a {} model",
            if explain { " and explaining them" } else { "" },
            self.algorithm()
        );
        let sizes = [Size::data("rows", rows)];
        let cost_at = |_: usize, v: usize| self.estimate_score(v, explain);
        Err(refuse(&what, &estimate, budget, u64::MAX, &sizes, &cost_at))
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
        let scores = self.detector.score(x);
        Ok(match &self.feedback {
            Some(feedback) => feedback.adjust(&scores, x),
            None => scores,
        })
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
        if let Some(feedback) = &self.feedback {
            feedback.validate(self.features.len())?;
        }
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

    /// Fits and scores each case, measuring the bytes this thread allocated at most: the
    /// estimates must never be below half of it (nor absurdly above it). The figures measured
    /// in release mode, with times, come from `examples/budget_calibration.rs`.
    #[test]
    fn when_trained_with_labels_and_a_seed_should_be_reproducible_and_without_labels_unchanged() {
        let t = table();
        let labels = LabelledRows::new(
            ndarray::arr2(&[[6.0, -6.0, 12.0], [0.5, 0.5, 0.5]]),
            vec![true, false],
        )
        .unwrap();
        let spec = ModelSpec::new(AlgorithmParams::default_for(Algorithm::Ensemble).with_seed(4));
        let first = Model::fit_with_labels(&spec, &t, Some(&labels)).unwrap();
        let again = Model::fit_with_labels(&spec, &t, Some(&labels)).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.labels_used(), 2);
        let plain = Model::fit(&spec, &t).unwrap();
        assert_eq!(plain.labels_used(), 0);
        let empty = LabelledRows::new(Array2::zeros((0, 3)), vec![]).unwrap();
        assert_eq!(
            Model::fit_with_labels(&spec, &t, Some(&empty)).unwrap(),
            plain
        );
        let other_seed =
            ModelSpec::new(AlgorithmParams::default_for(Algorithm::Ensemble).with_seed(5));
        assert_ne!(
            Model::fit_with_labels(&other_seed, &t, Some(&labels)).unwrap(),
            first
        );
    }

    #[test]
    fn when_fits_and_scores_are_measured_should_allocate_within_a_factor_of_the_estimates() {
        use crate::test_alloc::peak_during;
        let cases = [
            (Algorithm::IsolationForest, serde_json::json!({}), 4000, 10),
            (
                Algorithm::IsolationForest,
                serde_json::json!({"n_estimators": 50, "max_samples": 2048}),
                4000,
                10,
            ),
            (Algorithm::Ecod, serde_json::json!({}), 4000, 10),
            (
                Algorithm::Ecod,
                serde_json::json!({"n_quantiles": 1024}),
                5000,
                30,
            ),
            (
                Algorithm::Hbos,
                serde_json::json!({"n_bins": 500}),
                3000,
                100,
            ),
            (Algorithm::Pca, serde_json::json!({}), 400, 12),
            (
                Algorithm::Knn,
                serde_json::json!({"max_samples": 2500}),
                2500,
                10,
            ),
            (
                Algorithm::Gmm,
                serde_json::json!({"n_components": 3}),
                600,
                3,
            ),
            (Algorithm::Ensemble, serde_json::json!({}), 2000, 8),
        ];
        for (algorithm, params, rows, columns) in cases {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
            let x = Array2::from_shape_fn((rows, columns), |_| rng.gen_range(-1.0..1.0));
            let names = (0..columns).map(|j| format!("feature_{j}")).collect();
            let table = Table::new(names, x).unwrap();
            let spec =
                ModelSpec::new(AlgorithmParams::from_json(algorithm, Some(&params)).unwrap());
            let case = format!("{algorithm} {params} {rows}x{columns}");

            let estimate = spec.estimate_fit(rows, columns);
            let (model, peak) = peak_during(|| Model::fit(&spec, &table).unwrap());
            let (estimated, measured) = (estimate.peak_bytes as f64, peak as f64);
            assert!(
                measured <= 2.0 * estimated,
                "{case}: fit {measured} > 2 x {estimated}"
            );
            assert!(
                estimated <= 5.0 * measured + 1e6,
                "{case}: fit {estimated} vs {measured}"
            );
            let heap = model.heap_bytes() as f64;
            assert!(
                heap <= 1.1 * estimate.model_bytes as f64,
                "{case}: model {heap}"
            );
            if algorithm != Algorithm::Pca {
                // PCA's estimate keeps every component: the most a model may keep.
                assert!(
                    estimate.model_bytes as f64 <= 1.5 * heap,
                    "{case}: model {heap}"
                );
            }

            let score = model.estimate_score(rows, false);
            let (_, peak) = peak_during(|| model.score(table.values().view()).unwrap());
            let (estimated, measured) = (score.peak_bytes as f64, peak as f64 + heap);
            assert!(
                measured <= 2.0 * estimated,
                "{case}: score {measured} > 2 x {estimated}"
            );
            assert!(
                estimated <= 5.0 * measured + 1e6,
                "{case}: score {estimated} vs {measured}"
            );
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
