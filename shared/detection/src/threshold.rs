//! Turning raw scores into decisions: the threshold, a normalized score in [0, 1] and a severity,
//! all from the distribution of scores on the training data.

use serde::{Deserialize, Serialize};

use crate::error::{ArtifactError, DetectionError};

/// How the anomaly threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// The expected fraction of anomalies: the threshold is the `1 - contamination` quantile of
    /// the training scores (linear interpolation, as numpy's `percentile`).
    Contamination(f64),
    /// A raw score given by the caller.
    Explicit(f64),
    /// Tukey's upper fence on the training scores: `Q3 + 1.5 * (Q3 - Q1)`; needs no guess of the
    /// anomaly rate and works for every detector's score scale.
    Auto,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        Self::Contamination(0.05)
    }
}

impl ThresholdRule {
    /// Checks the rule's value: contamination in (0, 0.5], explicit threshold finite.
    pub fn check(&self) -> Result<(), DetectionError> {
        match *self {
            Self::Contamination(c) if !(c > 0.0 && c <= 0.5) => Err(DetectionError::param(
                "contamination",
                "must be in (0, 0.5]",
            )),
            Self::Explicit(t) if !t.is_finite() => Err(DetectionError::param(
                "threshold",
                "must be a finite number",
            )),
            _ => Ok(()),
        }
    }
}

/// How unusual an anomalous row is, relative to the anomaly rate the threshold implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Above the threshold.
    Low,
    /// Rarer than half the expected anomaly rate.
    Medium,
    /// Rarer than a tenth of the expected anomaly rate, or beyond every training score.
    High,
}

impl Severity {
    /// The lowercase name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// Number of quantile knots kept of the training scores (every 0.1 %).
const KNOTS: usize = 1001;

/// The training score distribution and the threshold derived from it: everything needed to
/// label, normalize and grade a new score, in a few kilobytes whatever the training size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Scores above this are anomalies.
    threshold: f64,
    /// Fraction of training scores above the threshold (the anomaly rate it implies).
    tail_rate: f64,
    /// Training-score quantiles at levels `i / (KNOTS - 1)`.
    quantiles: Vec<f64>,
    /// Mean of the training scores (for ensembles' standardization).
    mean: f64,
    /// Standard deviation of the training scores (1 when they are all equal).
    std: f64,
}

/// Bytes of a calibration in memory, whatever the training size.
pub(crate) const CALIBRATION_BYTES: usize =
    std::mem::size_of::<Calibration>() + KNOTS * std::mem::size_of::<f64>();

impl Calibration {
    /// Bytes it takes in memory, for the model's size.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.quantiles.len() * std::mem::size_of::<f64>()
    }

    /// Calibrates on training scores (finite, at least one) with a threshold rule.
    pub fn fit(scores: &[f64], rule: ThresholdRule) -> Result<Self, DetectionError> {
        rule.check()?;
        if scores.is_empty() || scores.iter().any(|s| !s.is_finite()) {
            return Err(DetectionError::Fit {
                algorithm: "calibration",
                reason: "needs at least one finite training score".into(),
            });
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        let quantiles: Vec<f64> = (0..KNOTS)
            .map(|i| quantile(&sorted, i as f64 / (KNOTS - 1) as f64))
            .collect();
        let threshold = match rule {
            ThresholdRule::Contamination(c) => quantile(&sorted, 1.0 - c),
            ThresholdRule::Explicit(t) => t,
            ThresholdRule::Auto => {
                let (q1, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.75));
                q3 + 1.5 * (q3 - q1)
            }
        };
        let above = sorted.len() - sorted.partition_point(|s| *s <= threshold);
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / n;
        let std = if var.sqrt() > 1e-12 * mean.abs().max(1.0) {
            var.sqrt()
        } else {
            1.0
        };
        Ok(Self {
            threshold,
            tail_rate: above as f64 / n,
            quantiles,
            mean,
            std,
        })
    }

    /// The raw-score threshold: scores strictly above it are anomalies.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// 1 for an anomaly, 0 otherwise.
    pub fn label(&self, score: f64) -> u8 {
        u8::from(score > self.threshold)
    }

    /// The fraction of training scores at or below `score`, interpolated between knots: 0 at or
    /// below the smallest training score, 1 at or above the largest.
    pub fn normalized(&self, score: f64) -> f64 {
        let q = &self.quantiles;
        let (Some(&smallest), Some(&largest)) = (q.first(), q.last()) else {
            return 0.0;
        };
        let last = q.len() - 1;
        if score <= smallest {
            return 0.0;
        }
        if score >= largest {
            return 1.0;
        }
        // First knot strictly above the score; the previous one is at or below it.
        let hi = q.partition_point(|k| *k <= score).clamp(1, last);
        let Some(&[a, b]) = q.get(hi - 1..=hi) else {
            return 1.0;
        };
        let within = if b > a { (score - a) / (b - a) } else { 1.0 };
        ((hi - 1) as f64 + within) / last as f64
    }

    /// The severity of an anomalous score (`None` for a normal one).
    pub fn severity(&self, score: f64) -> Option<Severity> {
        if self.label(score) == 0 {
            return None;
        }
        let rarity = 1.0 - self.normalized(score);
        let rate = self.tail_rate.max(1e-3);
        Some(
            if self.quantiles.last().is_some_and(|&top| score > top) || rarity <= rate / 10.0 {
                Severity::High
            } else if rarity <= rate / 2.0 {
                Severity::Medium
            } else {
                Severity::Low
            },
        )
    }

    /// `(score - mean) / std` of the training scores: puts detectors on one scale for ensembles.
    pub fn standardized(&self, score: f64) -> f64 {
        (score - self.mean) / self.std
    }

    /// Checks a decoded calibration: finite values, sorted knots of the right count.
    pub fn validate(&self) -> Result<(), ArtifactError> {
        let finite = [self.threshold, self.tail_rate, self.mean, self.std]
            .iter()
            .all(|v| v.is_finite());
        if !finite
            || self.std <= 0.0
            || self.quantiles.len() != KNOTS
            || self.quantiles.iter().any(|q| !q.is_finite())
            || self
                .quantiles
                .windows(2)
                .any(|w| matches!(w, [a, b] if a > b))
        {
            return Err(ArtifactError::Invalid("calibration is inconsistent".into()));
        }
        Ok(())
    }
}

/// The `level` quantile of sorted values with linear interpolation (numpy's default).
pub fn quantile(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = level.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    match (sorted.get(lo), sorted.get(hi)) {
        (Some(&a), Some(&b)) => a + (b - a) * (pos - lo as f64),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_to_hundred() -> Vec<f64> {
        (1..=100).map(f64::from).collect()
    }

    #[test]
    fn when_quantile_between_values_should_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        // numpy.percentile([1, 2, 3, 4], 90) == 3.7
        assert!((quantile(&v, 0.9) - 3.7).abs() < 1e-12);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn when_contamination_given_should_put_that_fraction_above_threshold() {
        let c = Calibration::fit(&one_to_hundred(), ThresholdRule::Contamination(0.1)).unwrap();
        // numpy.percentile(range(1, 101), 90) == 90.1
        assert!((c.threshold() - 90.1).abs() < 1e-9);
        let labels: u32 = one_to_hundred()
            .iter()
            .map(|s| u32::from(c.label(*s)))
            .sum();
        assert_eq!(labels, 10);
        assert!((c.tail_rate - 0.1).abs() < 1e-12);
    }

    #[test]
    fn when_auto_rule_should_use_tukey_fence() {
        let c = Calibration::fit(&one_to_hundred(), ThresholdRule::Auto).unwrap();
        // Q1 = 25.75, Q3 = 75.25 -> 75.25 + 1.5 * 49.5
        assert!((c.threshold() - 149.5).abs() < 1e-9);
        assert_eq!(c.label(149.0), 0);
        assert_eq!(c.label(150.0), 1);
    }

    #[test]
    fn when_explicit_threshold_should_label_strictly_above() {
        let c = Calibration::fit(&one_to_hundred(), ThresholdRule::Explicit(50.0)).unwrap();
        assert_eq!(c.label(50.0), 0);
        assert_eq!(c.label(50.5), 1);
    }

    #[test]
    fn when_normalizing_should_map_training_range_onto_unit_interval() {
        let c = Calibration::fit(&one_to_hundred(), ThresholdRule::Auto).unwrap();
        assert_eq!(c.normalized(-5.0), 0.0);
        assert_eq!(c.normalized(1.0), 0.0);
        assert_eq!(c.normalized(100.0), 1.0);
        assert_eq!(c.normalized(1e9), 1.0);
        assert!((c.normalized(50.5) - 0.5).abs() < 1e-3);
        let mut last = 0.0;
        for s in 0..=110 {
            let n = c.normalized(f64::from(s));
            assert!((0.0..=1.0).contains(&n) && n >= last);
            last = n;
        }
    }

    #[test]
    fn when_score_rarer_should_be_more_severe() {
        let scores: Vec<f64> = (1..=1000).map(f64::from).collect();
        let c = Calibration::fit(&scores, ThresholdRule::Contamination(0.1)).unwrap();
        assert_eq!(c.severity(500.0), None);
        assert_eq!(c.severity(910.0), Some(Severity::Low));
        assert_eq!(c.severity(970.0), Some(Severity::Medium));
        assert_eq!(c.severity(995.0), Some(Severity::High));
        assert_eq!(c.severity(5000.0), Some(Severity::High));
    }

    #[test]
    fn when_all_scores_equal_should_stay_finite() {
        let c = Calibration::fit(&[0.5; 20], ThresholdRule::Contamination(0.05)).unwrap();
        assert_eq!(c.label(0.5), 0);
        assert_eq!(c.label(0.6), 1);
        assert!(c.standardized(0.7).is_finite());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn when_rule_out_of_range_should_name_the_parameter() {
        let err = Calibration::fit(&[1.0], ThresholdRule::Contamination(0.9)).unwrap_err();
        assert!(err.to_string().contains("contamination"));
        let err = Calibration::fit(&[1.0], ThresholdRule::Explicit(f64::NAN)).unwrap_err();
        assert!(err.to_string().contains("threshold"));
        assert!(Calibration::fit(&[], ThresholdRule::Auto).is_err());
    }
}
