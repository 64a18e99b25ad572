//! Numenta's anomaly likelihood (`nupic.algorithms.anomaly_likelihood`, the layer behind HTM's
//! NAB score): how improbable the recent average of raw scores is under a normal fitted to the
//! series' own history of averaged scores. A detector's raw scores differ in scale from series to
//! series; the likelihood puts every series on one scale, so one threshold fits them all.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Scores ignored while the raw detector warms up (a forest of 256-point samples scores from its
/// 65th point).
const LEARNING_PERIOD: u32 = 50;
/// Scores after the warm-up before the first estimate of the distribution.
const ESTIMATION_SAMPLES: u32 = 100;
/// Averaged scores the distribution is estimated from (30 days of 5-minute points).
const HISTORIC_WINDOW: usize = 8640;
/// Scores between re-estimates of the distribution.
const REESTIMATION_PERIOD: u32 = 100;
/// Raw scores in the short moving average that is judged.
const AVERAGING_WINDOW: usize = 10;
/// The variance never goes below this, so a flat history does not make every wobble unlikely.
const MINIMUM_VARIANCE: f64 = 0.0003;
/// A tail probability at or below this is red; a red point right after a red point is capped
/// to the yellow level, so one event counts once.
const RED_TAIL: f64 = 1e-5;
/// The level a red point after a red point is capped to.
const YELLOW_TAIL: f64 = 1e-3;

/// The layer's state: bounded by [`HISTORIC_WINDOW`] whatever the series length.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyLikelihood {
    seen: u32,
    since_estimate: u32,
    recent: VecDeque<f64>,
    history: VecDeque<f32>,
    mean: f64,
    deviation: f64,
    estimated: bool,
    last_tail: f64,
}

impl Default for AnomalyLikelihood {
    fn default() -> Self {
        Self {
            seen: 0,
            since_estimate: 0,
            recent: VecDeque::with_capacity(AVERAGING_WINDOW),
            history: VecDeque::new(),
            mean: 0.0,
            deviation: 1.0,
            estimated: false,
            last_tail: 1.0,
        }
    }
}

/// The upper tail of the standard normal, `P(Z > z)`, by the complementary error function.
fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 {
        value
    } else {
        2.0 - value
    }
}

impl AnomalyLikelihood {
    fn estimate(&mut self) {
        let count = self.history.len() as f64;
        if count == 0.0 {
            return;
        }
        let mean = self.history.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
        let variance = self
            .history
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / count;
        self.mean = mean;
        self.deviation = variance.max(MINIMUM_VARIANCE).sqrt();
        self.estimated = true;
        self.since_estimate = 0;
    }

    /// Judges `raw` (a detector's raw score for the newest point) and learns it. Answers the
    /// log-scaled likelihood in [0, 1]: 0.5 is one in 10^5, 1 is one in 10^10.
    pub fn observe(&mut self, raw: f64) -> f64 {
        self.seen = self.seen.saturating_add(1);
        if self.recent.len() == AVERAGING_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(raw);
        let average = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
        if self.seen <= LEARNING_PERIOD {
            return 0.0;
        }
        if self.history.len() == HISTORIC_WINDOW {
            self.history.pop_front();
        }
        self.history.push_back(average as f32);
        self.since_estimate = self.since_estimate.saturating_add(1);
        if !self.estimated {
            if self.seen < LEARNING_PERIOD + ESTIMATION_SAMPLES {
                return 0.0;
            }
            self.estimate();
        } else if self.since_estimate >= REESTIMATION_PERIOD {
            self.estimate();
        }
        let mut tail = normal_tail((average - self.mean) / self.deviation);
        if tail <= RED_TAIL && self.last_tail <= RED_TAIL {
            self.last_tail = tail;
            tail = YELLOW_TAIL;
        } else {
            self.last_tail = tail;
        }
        log_likelihood(1.0 - tail)
    }
}

/// Numenta's log scale of a likelihood: `ln(1.0000000001 - l) / ln(1e-10)`, in [0, 1].
fn log_likelihood(likelihood: f64) -> f64 {
    ((1.000_000_000_1 - likelihood).ln() / -23.025_850_929_940_457).clamp(0.0, 1.0)
}
