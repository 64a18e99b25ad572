//! The Random Cut Forest a series learns into: AWS's algorithm through `krcflib` (a maintained
//! fork of AWS's Rust RCF), with internal shingling so the forest keeps the last points itself and
//! its whole state, random generator included, serializes and resumes exactly.

use rcflib::errors::RCFError;
use rcflib::rcf::{AugmentedRCF, RCFBuilder, RCFOptionsBuilder, RCFSmall};
use serde::{Deserialize, Serialize};

use super::error::SeriesError;
use super::params::SeriesSettings;

/// The forest's small form: sample indices in a byte, point indices in 16 bits, which the
/// configuration bounds guarantee, and which keeps the stored state small.
type Forest = RCFSmall<u64, u64>;

/// What the forest says about one point before learning it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestView {
    /// AWS's raw anomaly score (about 1 for a usual point; 0 until the forest has enough
    /// points to judge).
    pub score: f64,
    /// How much of the score each input number explains, summed over the shingle (input order).
    pub attribution: Vec<f64>,
    /// The value the forest forecast from the shingle's earlier points, with its bounds (with a
    /// shingle of 1 there is nothing to forecast from).
    pub expected: Option<ExpectedRange>,
}

/// A forecast of a point from its predecessors: median and bounds per value.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedRange {
    /// The expected values.
    pub values: Vec<f64>,
    /// Lower bounds.
    pub lower: Vec<f64>,
    /// Upper bounds.
    pub upper: Vec<f64>,
}

/// A series' forest with its shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RandomCutForest {
    forest: Forest,
    dimensions: usize,
    shingle_size: usize,
}

fn forest_error(error: RCFError) -> SeriesError {
    SeriesError::Forest(error.to_string())
}

fn widen(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&value| f64::from(value)).collect()
}

impl RandomCutForest {
    /// Builds an empty forest for checked settings (seeded, single-threaded).
    pub fn new(settings: &SeriesSettings) -> Result<Self, SeriesError> {
        let params = &settings.params;
        let forest = RCFBuilder::new(settings.forest_dimensions(), params.shingle_size)
            .tree_capacity(params.sample_size)
            .number_of_trees(settings.number_of_trees)
            .time_decay(settings.time_decay)
            .random_seed(params.seed)
            .internal_shingling(true)
            .parallel_enabled(false)
            .build_small_simple::<u64>()
            .map_err(forest_error)?;
        Ok(Self {
            forest,
            dimensions: settings.forest_dimensions(),
            shingle_size: params.shingle_size,
        })
    }

    /// Judges `point` (one number per input dimension) against the points learned so far.
    pub fn view(&self, point: &[f32]) -> Result<ForestView, SeriesError> {
        if !self.forest.is_output_ready() {
            return Ok(ForestView {
                score: 0.0,
                attribution: vec![0.0; self.dimensions],
                expected: None,
            });
        }
        let score = self.forest.score(point).map_err(forest_error)?;
        let divector = self.forest.attribution(point).map_err(forest_error)?;
        let mut attribution = vec![0.0; self.dimensions];
        for (index, (high, low)) in divector.high.iter().zip(&divector.low).enumerate() {
            if let Some(slot) = attribution.get_mut(index % self.dimensions) {
                *slot += high + low;
            }
        }
        let expected = if self.shingle_size > 1 {
            let range = self.forest.extrapolate(1).map_err(forest_error)?;
            Some(ExpectedRange {
                values: widen(&range.values),
                lower: widen(&range.lower),
                upper: widen(&range.upper),
            })
        } else {
            None
        };
        Ok(ForestView {
            score,
            attribution,
            expected,
        })
    }

    /// Learns `point`: it enters the shingle and, by reservoir sampling, the trees.
    pub fn learn(&mut self, point: &[f32]) -> Result<(), SeriesError> {
        self.forest.update(point, 0).map_err(forest_error)
    }

    /// Whether the forest has seen enough points to score.
    pub fn is_ready(&self) -> bool {
        self.forest.is_output_ready()
    }
}
