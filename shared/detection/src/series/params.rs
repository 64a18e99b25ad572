//! A series' detector configuration as a caller gives it, validated once into the checked
//! settings the detector is built from (as linfa checks params before fitting).

use serde::{Deserialize, Serialize};

use super::error::SeriesError;

/// Which online detector judges a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesDetectorKind {
    /// Random Cut Forest with AWS's semantics: the raw score, graded against a threshold that
    /// adapts to the score's own history.
    Rcf,
    /// The forest's scores through an anomaly-likelihood layer, with a range-novelty check: the
    /// best configuration on NAB, and the default.
    #[default]
    Ensemble,
}

/// Which order a series learns its points in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesOrdering {
    /// Time order: a point older than the last one learned is refused (a point may repeat the
    /// last timestamp).
    #[default]
    Timestamp,
    /// Arrival order, whatever the timestamps say, as Kinesis Data Analytics' RANDOM_CUT_FOREST
    /// learned a stream: for feeds whose clocks disagree.
    Arrival,
}

/// The bounds a configuration is checked against, so one series' state and work stay bounded.
pub mod bounds {
    /// Most values one point may carry.
    pub const MAX_DIMENSIONS: usize = 16;
    /// Largest shingle (points the forest sees at once).
    pub const MAX_SHINGLE_SIZE: usize = 32;
    /// Largest shingled dimension (values times shingle size), as the forest's small form allows.
    pub const MAX_SHINGLED_DIMENSIONS: usize = 128;
    /// Most trees.
    pub const MAX_TREES: usize = 100;
    /// Smallest and largest season, in points (a week of minutes at most).
    pub const SEASONALITY: (usize, usize) = (2, 10_080);
    /// Smallest and largest sample per tree.
    pub const SAMPLE_SIZE: (usize, usize) = (32, 256);
}

/// A series' detector configuration, as given when the series is created. Every field has a
/// default, so `{}` is a valid configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeriesParams {
    /// The detector.
    pub detector: SeriesDetectorKind,
    /// How many consecutive points the forest judges together (1, the default, judges each point
    /// alone, which scored best on NAB; longer shingles judge shapes).
    pub shingle_size: usize,
    /// Trees in the forest; `None` is the detector's default (50 for `rcf`, AWS's; 20 for
    /// `ensemble`, whose likelihood layer smooths the fewer trees' noisier scores: it scored as
    /// well on NAB at 2.4 times the speed and under half the state).
    pub number_of_trees: Option<usize>,
    /// Points each tree keeps (the forest's memory).
    pub sample_size: usize,
    /// How fast old points leave the sample; `None` is AWS's default, `0.1 / sample_size`.
    pub time_decay: Option<f64>,
    /// Seed of every random choice, so a series' scores are reproducible.
    pub seed: u64,
    /// Which order points are learned in.
    pub ordering: SeriesOrdering,
    /// Points per season when the series has one (288 for a daily cycle of five-minute points):
    /// the forest then also judges each value's difference from one season before.
    pub seasonality: Option<usize>,
}

impl Default for SeriesParams {
    fn default() -> Self {
        Self {
            detector: SeriesDetectorKind::default(),
            shingle_size: 1,
            number_of_trees: None,
            sample_size: 256,
            time_decay: None,
            seed: 42,
            ordering: SeriesOrdering::default(),
            seasonality: None,
        }
    }
}

/// Settings that passed [`SeriesParams::check`] for a series of `dimensions` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSettings {
    /// The configuration, as given.
    pub params: SeriesParams,
    /// Values per point.
    pub dimensions: usize,
    /// The time decay in force.
    pub time_decay: f64,
    /// The number of trees in force.
    pub number_of_trees: usize,
}

impl SeriesSettings {
    /// Numbers the forest sees per point: each value, and its seasonal difference with a season.
    pub fn forest_dimensions(&self) -> usize {
        self.dimensions
            * if self.params.seasonality.is_some() {
                2
            } else {
                1
            }
    }
}

fn invalid(message: String) -> SeriesError {
    SeriesError::InvalidParams(message)
}

impl SeriesParams {
    /// Checks every field against [`bounds`] for points of `dimensions` values.
    pub fn check(self, dimensions: usize) -> Result<SeriesSettings, SeriesError> {
        if dimensions == 0 || dimensions > bounds::MAX_DIMENSIONS {
            return Err(invalid(format!(
                "a point carries 1 to {} values, not {dimensions}",
                bounds::MAX_DIMENSIONS
            )));
        }
        if self.shingle_size == 0 || self.shingle_size > bounds::MAX_SHINGLE_SIZE {
            return Err(invalid(format!(
                "shingle_size must be 1 to {}",
                bounds::MAX_SHINGLE_SIZE
            )));
        }
        if let Some(period) = self.seasonality {
            let (low, high) = bounds::SEASONALITY;
            if !(low..=high).contains(&period) {
                return Err(invalid(format!(
                    "seasonality must be {low} to {high} points"
                )));
            }
        }
        let per_point = dimensions * if self.seasonality.is_some() { 2 } else { 1 };
        if per_point * self.shingle_size > bounds::MAX_SHINGLED_DIMENSIONS {
            return Err(invalid(format!(
                "values (twice with a seasonality) times shingle_size must be at most {} \
                 ({per_point} x {})",
                bounds::MAX_SHINGLED_DIMENSIONS,
                self.shingle_size
            )));
        }
        let number_of_trees = self.number_of_trees.unwrap_or(match self.detector {
            SeriesDetectorKind::Rcf => 50,
            SeriesDetectorKind::Ensemble => 20,
        });
        if number_of_trees == 0 || number_of_trees > bounds::MAX_TREES {
            return Err(invalid(format!(
                "number_of_trees must be 1 to {}",
                bounds::MAX_TREES
            )));
        }
        let (low, high) = bounds::SAMPLE_SIZE;
        if !(low..=high).contains(&self.sample_size) {
            return Err(invalid(format!("sample_size must be {low} to {high}")));
        }
        let time_decay = self.time_decay.unwrap_or(0.1 / self.sample_size as f64);
        if !(0.0..1.0).contains(&time_decay) {
            return Err(invalid("time_decay must be at least 0 and below 1".into()));
        }
        Ok(SeriesSettings {
            params: self,
            dimensions,
            time_decay,
            number_of_trees,
        })
    }
}
