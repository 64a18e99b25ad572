//! How unusual an anomalous point is, on the same three steps as a model's anomalies, so a
//! series' alerts are filtered and suppressed by the same policy: `low` past the detector's
//! threshold, `medium` rarer than half of what the threshold admits, `high` rarer than a tenth
//! (or, for the ensemble, a value beyond every value the series has seen).

use super::detector::{PointVerdict, ENSEMBLE_THRESHOLD};
use super::params::SeriesDetectorKind;
use crate::threshold::Severity;

/// The ensemble's score of a likelihood ten times rarer than its threshold (the score is a log
/// scale: 0.1 per factor of ten).
const ENSEMBLE_HIGH: f64 = ENSEMBLE_THRESHOLD + 0.1;
/// The ensemble's score of a likelihood twice as rare as its threshold (`log10(2) / 10`).
const ENSEMBLE_MEDIUM: f64 = ENSEMBLE_THRESHOLD + 0.030_103;
/// The forest's anomaly grade above which a point is `high`.
const GRADE_HIGH: f64 = 0.9;
/// The forest's anomaly grade above which a point is `medium`.
const GRADE_MEDIUM: f64 = 0.5;

impl PointVerdict {
    /// The point's severity when it is an anomaly, `None` when it is not.
    pub fn severity(&self, detector: SeriesDetectorKind) -> Option<Severity> {
        if !self.is_anomaly {
            return None;
        }
        let (measure, medium, high) = match detector {
            SeriesDetectorKind::Ensemble => (self.score, ENSEMBLE_MEDIUM, ENSEMBLE_HIGH),
            SeriesDetectorKind::Rcf => (self.grade, GRADE_MEDIUM, GRADE_HIGH),
        };
        Some(if measure >= high {
            Severity::High
        } else if measure >= medium {
            Severity::Medium
        } else {
            Severity::Low
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(score: f64, grade: f64, is_anomaly: bool) -> PointVerdict {
        PointVerdict {
            score,
            raw_score: 1.0,
            grade,
            is_anomaly,
            expected: None,
            lower: None,
            upper: None,
            attribution: vec![1.0],
        }
    }

    #[test]
    fn when_a_point_is_normal_should_have_no_severity() {
        assert_eq!(
            verdict(0.4, 0.0, false).severity(SeriesDetectorKind::Ensemble),
            None
        );
    }

    #[test]
    fn when_an_ensemble_point_is_rarer_should_be_more_severe() {
        let kind = SeriesDetectorKind::Ensemble;
        assert_eq!(verdict(0.51, 0.0, true).severity(kind), Some(Severity::Low));
        assert_eq!(
            verdict(0.55, 0.0, true).severity(kind),
            Some(Severity::Medium)
        );
        assert_eq!(verdict(1.0, 0.0, true).severity(kind), Some(Severity::High));
    }

    #[test]
    fn when_an_rcf_point_has_a_higher_grade_should_be_more_severe() {
        let kind = SeriesDetectorKind::Rcf;
        assert_eq!(verdict(0.9, 0.2, true).severity(kind), Some(Severity::Low));
        assert_eq!(
            verdict(0.9, 0.6, true).severity(kind),
            Some(Severity::Medium)
        );
        assert_eq!(
            verdict(0.9, 0.95, true).severity(kind),
            Some(Severity::High)
        );
    }
}
