//! The level each value has kept lately: discounted mean and deviation at the forest's time
//! decay, giving an expected value and bounds when the forest has no earlier points in its
//! shingle to forecast from (a shingle of 1). The forest's own sample summary would answer the
//! same question at ten times the cost of scoring.

use rcflib::common::deviation::Deviation;
use serde::{Deserialize, Serialize};

use super::error::SeriesError;
use super::forest::ExpectedRange;

/// Deviations either side of the level that bound the expected value.
const BOUND_DEVIATIONS: f64 = 3.0;

/// One discounted statistic per value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueLevel {
    values: Vec<Deviation>,
}

impl ValueLevel {
    /// Levels for `dimensions` values that forget at `discount` per point.
    pub fn new(dimensions: usize, discount: f64) -> Result<Self, SeriesError> {
        let values = (0..dimensions)
            .map(|_| {
                Deviation::new(discount).map_err(|error| SeriesError::Forest(error.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { values })
    }

    /// The expected values and bounds from the points learned so far (none before the first).
    pub fn expected(&self) -> Option<ExpectedRange> {
        if self.values.iter().any(Deviation::is_empty) {
            return None;
        }
        let values: Vec<f64> = self.values.iter().map(Deviation::mean).collect();
        let spread: Vec<f64> = self
            .values
            .iter()
            .map(|level| BOUND_DEVIATIONS * level.deviation())
            .collect();
        Some(ExpectedRange {
            lower: values.iter().zip(&spread).map(|(v, s)| v - s).collect(),
            upper: values.iter().zip(&spread).map(|(v, s)| v + s).collect(),
            values,
        })
    }

    /// Learns a point's values.
    pub fn learn(&mut self, values: &[f64]) {
        for (level, &value) in self.values.iter_mut().zip(values) {
            level.update(value);
        }
    }
}
