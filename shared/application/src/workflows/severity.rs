//! Anomalies counted by severity, the one tally both synchronous detection and batch scoring
//! publish to the invocation's metrics.

use detection::threshold::Severity;
use serde::{Deserialize, Serialize};

use crate::domain::alert::SeverityCounts;
use crate::metrics::{self, Counter};

/// Anomalies by severity, for the `Anomalies{Low,Medium,High}` metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityTally {
    low: u64,
    medium: u64,
    high: u64,
}

impl SeverityTally {
    /// Counts one anomaly of `severity`.
    pub fn add(&mut self, severity: Severity) {
        let slot = match severity {
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
        };
        *slot += 1;
    }

    /// Adds `other`'s counts (the ranges of a split job, joined).
    pub fn merge(&mut self, other: &Self) {
        self.low += other.low;
        self.medium += other.medium;
        self.high += other.high;
    }

    /// Adds the scoring of `rows` rows with model `name` at `version`, and these anomalies, to
    /// the invocation's metrics.
    pub fn record(&self, name: &str, version: u32, rows: usize) {
        metrics::note_model(name, version);
        metrics::count(Counter::RowsScored, rows as u64);
        metrics::count(Counter::AnomaliesLow, self.low);
        metrics::count(Counter::AnomaliesMedium, self.medium);
        metrics::count(Counter::AnomaliesHigh, self.high);
    }
}

impl From<SeverityTally> for SeverityCounts {
    fn from(tally: SeverityTally) -> Self {
        Self {
            low: tally.low,
            medium: tally.medium,
            high: tally.high,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn when_recorded_should_count_rows_and_each_severity_once() {
        let mut tally = SeverityTally::default();
        for severity in [Severity::High, Severity::Low, Severity::High] {
            tally.add(severity);
        }
        let ((), counts) = metrics::measure(async { tally.record("payments", 2, 10) }).await;
        assert_eq!(counts.get(Counter::RowsScored), 10);
        assert_eq!(counts.get(Counter::AnomaliesLow), 1);
        assert_eq!(counts.get(Counter::AnomaliesMedium), 0);
        assert_eq!(counts.get(Counter::AnomaliesHigh), 2);
        assert_eq!(counts.model(), Some(("payments", 2)));
    }
}
