//! AWS's adaptive threshold for Random Cut Forest scores (`BasicThresholder` of AWS's thresholded
//! RCF): discounted statistics of the scores and of their differences set a threshold of
//! mean + z deviations, ramped in from an initial threshold over the first scores, and a score
//! above it gets an anomaly grade in (0, 1].

use rcflib::common::deviation::Deviation;
use serde::{Deserialize, Serialize};

use super::error::SeriesError;

/// Scores before the statistics are used at all; they ramp in over as many again.
const MINIMUM_SCORES: u32 = 10;
/// The threshold until the statistics are ready, and its floor.
const INITIAL_THRESHOLD: f64 = 1.5;
/// No score below this is ever an anomaly.
const ABSOLUTE_THRESHOLD: f64 = 0.8;
/// Deviations above the mean that make a score anomalous.
const Z_FACTOR: f64 = 3.0;
/// Weight of the score's own deviation against its differences' in the long-term deviation.
const SCORE_DIFFERENCING: f64 = 0.5;
/// Scores are capped here before they enter the statistics, so one outlier does not blind them.
const SCORE_CAP: f64 = 2.0;

/// A threshold and the grade of a score against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grade {
    /// The threshold in force for this score.
    pub threshold: f64,
    /// 0 below the threshold; otherwise how far above it, in (0, 1].
    pub grade: f64,
}

/// The threshold's state: discounted statistics of the scores seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdaptiveThreshold {
    count: u32,
    last_score: f64,
    primary: Deviation,
    secondary: Deviation,
    gaps: Deviation,
}

fn deviation(discount: f64) -> Result<Deviation, SeriesError> {
    Deviation::new(discount).map_err(|error| SeriesError::Forest(error.to_string()))
}

impl AdaptiveThreshold {
    /// A threshold whose statistics forget at `discount` per score (the forest's time decay).
    pub fn new(discount: f64) -> Result<Self, SeriesError> {
        Ok(Self {
            count: 0,
            last_score: 0.0,
            primary: deviation(discount)?,
            secondary: deviation(discount)?,
            gaps: deviation(discount / 2.0)?,
        })
    }

    fn is_ready(&self) -> bool {
        self.count >= MINIMUM_SCORES && self.primary.count >= MINIMUM_SCORES as i32
    }

    fn ramp(&self) -> f64 {
        if self.count < MINIMUM_SCORES {
            0.0
        } else if self.count > 2 * MINIMUM_SCORES {
            1.0
        } else {
            f64::from(self.count - MINIMUM_SCORES) / f64::from(MINIMUM_SCORES)
        }
    }

    fn long_term_deviation(&self) -> f64 {
        let first = self
            .primary
            .deviation()
            .min(2.0_f64.sqrt() * self.gaps.deviation())
            .min(self.secondary.deviation());
        SCORE_DIFFERENCING * first + (1.0 - SCORE_DIFFERENCING) * self.secondary.deviation()
    }

    /// Grades `score` against the threshold the scores so far set (it does not learn it).
    pub fn grade(&self, score: f64) -> Grade {
        let ramp = self.ramp();
        let scaled_deviation =
            (Z_FACTOR - 1.0) * self.long_term_deviation() + self.primary.deviation();
        let threshold = if self.is_ready() {
            (ramp * (self.primary.mean() + scaled_deviation) + (1.0 - ramp) * INITIAL_THRESHOLD)
                .max(ABSOLUTE_THRESHOLD)
        } else {
            INITIAL_THRESHOLD.max(ABSOLUTE_THRESHOLD)
        };
        if score < threshold || threshold == 0.0 {
            return Grade {
                threshold,
                grade: 0.0,
            };
        }
        let surprise = if self.is_ready() {
            let spread = scaled_deviation / Z_FACTOR;
            let z = if spread > 0.0 {
                ((score - threshold) / spread).min(Z_FACTOR)
            } else {
                2.0 * Z_FACTOR
            };
            (z / Z_FACTOR).max(0.0)
        } else {
            ((score - ABSOLUTE_THRESHOLD) / ABSOLUTE_THRESHOLD).clamp(0.0, 1.0)
        };
        let grade = ((surprise * 20.0).floor() / 16.0).min(1.0);
        Grade { threshold, grade }
    }

    /// Learns `score` into the statistics.
    pub fn learn(&mut self, score: f64) {
        let capped = score.min(SCORE_CAP);
        let difference = score - self.last_score;
        self.last_score = capped;
        self.primary.update(capped);
        self.secondary.update(difference);
        let gap = capped - self.primary.mean();
        if gap > 0.0 {
            self.gaps.update(gap);
        }
        self.count = self.count.saturating_add(1);
    }
}
