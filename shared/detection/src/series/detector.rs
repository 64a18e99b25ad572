//! One series' online detector: each point is judged from the past only, then learned. Its whole
//! state (forest, threshold, likelihood, range, last timestamp) serializes, so a series can live
//! in the store between invocations and resume with exactly the scores of an uninterrupted run.

use serde::{Deserialize, Serialize};

use super::error::SeriesError;
use super::forest::RandomCutForest;
use super::likelihood::AnomalyLikelihood;
use super::params::{SeriesDetectorKind, SeriesOrdering, SeriesSettings};
use super::range_novelty::RangeNovelty;
use super::seasonal::SeasonalDifference;
use super::thresholder::AdaptiveThreshold;
use super::value_level::ValueLevel;

/// The ensemble's score at or above which a point is an anomaly (a likelihood of one in 10^5):
/// where NAB's optimiser puts the standard profile's threshold over the 39 corpus files (0.50 to
/// 0.52 across seeds, `make bench-nab`), one setting for every series.
pub const ENSEMBLE_THRESHOLD: f64 = 0.5;

/// The largest magnitude of a value: the forest computes in `f32`, whose sums and differences of
/// larger values would overflow.
pub const MAX_ABS_VALUE: f64 = 1e30;

/// The verdict on one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointVerdict {
    /// The detector's anomaly score in [0, 1] (for `rcf`, the raw score squashed by
    /// `s / (1 + s)`; for `ensemble`, the log-likelihood or 1 for a range novelty).
    pub score: f64,
    /// The forest's raw score (AWS's scale: about 1 for a usual point).
    pub raw_score: f64,
    /// AWS's anomaly grade of the raw score against its adaptive threshold, in [0, 1].
    pub grade: f64,
    /// Whether the point is an anomaly.
    pub is_anomaly: bool,
    /// The values expected (absent until the forest is ready): the forest's forecast from the
    /// shingle, or with a shingle of 1 each value's recent level.
    pub expected: Option<Vec<f64>>,
    /// Lower bounds of the expected values.
    pub lower: Option<Vec<f64>>,
    /// Upper bounds of the expected values.
    pub upper: Option<Vec<f64>>,
    /// Each value's share of the raw score.
    pub attribution: Vec<f64>,
}

/// A series' detector and everything it has learned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesDetector {
    settings: SeriesSettings,
    forest: RandomCutForest,
    threshold: AdaptiveThreshold,
    likelihood: AnomalyLikelihood,
    range: RangeNovelty,
    level: ValueLevel,
    seasonal: Option<SeasonalDifference>,
    points_seen: u64,
    last_timestamp: Option<i64>,
}

impl SeriesDetector {
    /// A detector that has learned nothing yet.
    pub fn new(settings: SeriesSettings) -> Result<Self, SeriesError> {
        Ok(Self {
            forest: RandomCutForest::new(&settings)?,
            threshold: AdaptiveThreshold::new(settings.time_decay)?,
            likelihood: AnomalyLikelihood::default(),
            range: RangeNovelty::default(),
            level: ValueLevel::new(settings.dimensions, settings.time_decay)?,
            seasonal: settings.params.seasonality.map(SeasonalDifference::new),
            settings,
            points_seen: 0,
            last_timestamp: None,
        })
    }

    /// The settings the detector was built with.
    pub fn settings(&self) -> &SeriesSettings {
        &self.settings
    }

    /// Points learned so far.
    pub fn points_seen(&self) -> u64 {
        self.points_seen
    }

    /// The latest timestamp learned (epoch milliseconds).
    pub fn last_timestamp(&self) -> Option<i64> {
        self.last_timestamp
    }

    /// Folds the forest's attribution (per input number) back onto the series' values.
    fn per_value(&self, attribution: &[f64]) -> Vec<f64> {
        let per_value = self.settings.forest_dimensions() / self.settings.dimensions.max(1);
        attribution
            .chunks(per_value.max(1))
            .map(|chunk| chunk.iter().sum())
            .collect()
    }

    /// Checks a point without learning it: its shape, its values and its order (a point may
    /// share the last point's timestamp, as real feeds repeat them, but not come before it).
    pub fn check(&self, timestamp: i64, values: &[f64]) -> Result<(), SeriesError> {
        self.check_after(self.last_timestamp, timestamp, values)
    }

    /// [`check`](Self::check) as if the last timestamp learned were `last`.
    fn check_after(
        &self,
        last: Option<i64>,
        timestamp: i64,
        values: &[f64],
    ) -> Result<(), SeriesError> {
        if values.len() != self.settings.dimensions {
            return Err(SeriesError::WrongDimensions {
                expected: self.settings.dimensions,
                found: values.len(),
            });
        }
        if let Some(index) = values.iter().position(|value| !value.is_finite()) {
            return Err(SeriesError::NotFinite { index });
        }
        if let Some(index) = values.iter().position(|value| value.abs() > MAX_ABS_VALUE) {
            return Err(SeriesError::OutOfRange { index });
        }
        match (self.settings.params.ordering, last) {
            (SeriesOrdering::Timestamp, Some(last)) if timestamp < last => {
                Err(SeriesError::OutOfOrder { timestamp, last })
            }
            _ => Ok(()),
        }
    }

    /// Checks a batch of points, in order, without learning any: the first bad one is named by
    /// its index, so a request can be refused whole before any point is learned.
    pub fn check_batch<'a>(
        &self,
        points: impl IntoIterator<Item = (i64, &'a [f64])>,
    ) -> Result<(), (usize, SeriesError)> {
        let mut last = self.last_timestamp;
        for (index, (timestamp, values)) in points.into_iter().enumerate() {
            self.check_after(last, timestamp, values)
                .map_err(|error| (index, error))?;
            last = Some(last.map_or(timestamp, |last| last.max(timestamp)));
        }
        Ok(())
    }

    /// Judges the point at `timestamp` from the past only, then learns it. A point that fails
    /// [`check`](Self::check) changes nothing.
    pub fn observe(&mut self, timestamp: i64, values: &[f64]) -> Result<PointVerdict, SeriesError> {
        self.check(timestamp, values)?;
        let inputs = match &mut self.seasonal {
            Some(seasonal) => seasonal.pair(values),
            None => values.to_vec(),
        };
        let point: Vec<f32> = inputs.iter().map(|&value| value as f32).collect();
        let view = self.forest.view(&point)?;
        let ready = self.forest.is_ready();
        let grade = self.threshold.grade(view.score);
        let likelihood = self.likelihood.observe(view.score);
        let novel = self.range.observe(values);
        let expected = match view.expected {
            Some(forecast) => Some(forecast),
            None if ready => self.level.expected(),
            None => None,
        };
        self.level.learn(values);

        self.forest.learn(&point)?;
        if ready {
            self.threshold.learn(view.score);
        }
        self.points_seen = self.points_seen.saturating_add(1);
        self.last_timestamp = Some(
            self.last_timestamp
                .map_or(timestamp, |last| last.max(timestamp)),
        );
        let (score, is_anomaly) = match self.settings.params.detector {
            SeriesDetectorKind::Rcf => (view.score / (1.0 + view.score), grade.grade > 0.0),
            SeriesDetectorKind::Ensemble => {
                let score = if novel { 1.0 } else { likelihood };
                (score, score >= ENSEMBLE_THRESHOLD)
            }
        };
        let (expected, lower, upper) = match expected {
            Some(range) => (Some(range.values), Some(range.lower), Some(range.upper)),
            None => (None, None, None),
        };
        Ok(PointVerdict {
            score,
            raw_score: view.score,
            grade: grade.grade,
            is_anomaly,
            expected,
            lower,
            upper,
            attribution: self.per_value(&view.attribution),
        })
    }
}
