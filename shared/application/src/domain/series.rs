//! A tenant's time series as the store keeps it: its configuration, its value names, how far it
//! has been learned, where its detector's state is, and its last anomalies. The record moves by
//! one `sequence` per append, written only over the sequence it was read at, so two invocations
//! appending to one series never lose each other's points.

use detection::series::SeriesParams;
use serde::{Deserialize, Serialize};

use super::tenant::Tenant;

/// Most anomalies a series record remembers (the newest).
pub const RECENT_ANOMALIES: usize = 20;

/// One anomalous point, as a series record remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesAnomaly {
    /// The point's timestamp (epoch milliseconds).
    pub timestamp: i64,
    /// Its values, in the series' value order.
    pub values: Vec<f64>,
    /// The detector's score in [0, 1].
    pub score: f64,
    /// AWS's anomaly grade.
    pub grade: f64,
    /// The entity the point was sent for, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
}

/// A series' record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRecord {
    /// The series' name (unique in its tenant).
    pub name: String,
    /// The detector configuration it was created with.
    pub params: SeriesParams,
    /// The names of its values, in the order the detector sees them.
    pub values: Vec<String>,
    /// Moves by one per append; a write must name the sequence it read plus one.
    pub sequence: u64,
    /// Points learned so far.
    pub points_seen: u64,
    /// The latest timestamp learned (epoch milliseconds).
    pub last_timestamp: Option<i64>,
    /// The object key of the detector's state after the last append.
    pub state_key: String,
    /// When the series was created (epoch milliseconds).
    pub created_at_ms: u64,
    /// When it last learned a point (epoch milliseconds).
    pub updated_at_ms: u64,
    /// The newest anomalies, oldest first, at most [`RECENT_ANOMALIES`].
    pub recent_anomalies: Vec<SeriesAnomaly>,
}

impl SeriesRecord {
    /// Adds `anomalies` (oldest first), keeping the newest [`RECENT_ANOMALIES`].
    pub fn remember(&mut self, anomalies: impl IntoIterator<Item = SeriesAnomaly>) {
        self.recent_anomalies.extend(anomalies);
        let excess = self.recent_anomalies.len().saturating_sub(RECENT_ANOMALIES);
        self.recent_anomalies.drain(..excess);
    }
}

/// The start of every series state's object key, so backups and restores can tell series states
/// from model artifacts in the same store.
pub const SERIES_STATE_PREFIX: &str = "series/";

/// The start of the object keys of one series' states: `series/{tenant}/{name}/` (a restore
/// refuses a record naming a state outside its own series).
pub fn series_state_prefix(tenant: &Tenant, name: &str) -> String {
    format!("{SERIES_STATE_PREFIX}{tenant}/{name}/")
}

/// The object key of a series' state written at `sequence` by one writer:
/// `series/{tenant}/{name}/{sequence:012}-{write_id}.state`. The writer's id keeps two writers
/// racing for one sequence from ever writing the same object; the loser's object is deleted.
pub fn series_state_key(tenant: &Tenant, name: &str, sequence: u64, write_id: &str) -> String {
    format!(
        "{}{sequence:012}-{write_id}.state",
        series_state_prefix(tenant, name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(timestamp: i64) -> SeriesAnomaly {
        SeriesAnomaly {
            timestamp,
            values: vec![1.0],
            score: 1.0,
            grade: 1.0,
            entity: None,
        }
    }

    #[test]
    fn when_more_anomalies_than_kept_should_keep_the_newest() {
        let mut record = SeriesRecord {
            name: "cpu".into(),
            params: SeriesParams::default(),
            values: vec!["value".into()],
            sequence: 1,
            points_seen: 0,
            last_timestamp: None,
            state_key: String::new(),
            created_at_ms: 0,
            updated_at_ms: 0,
            recent_anomalies: Vec::new(),
        };
        record.remember((0..15).map(anomaly));
        record.remember((15..30).map(anomaly));
        let kept: Vec<i64> = record
            .recent_anomalies
            .iter()
            .map(|a| a.timestamp)
            .collect();
        assert_eq!(kept, (10..30).collect::<Vec<_>>());
    }

    #[test]
    fn when_a_state_key_is_made_should_sort_by_sequence_under_the_tenant() {
        let tenant = Tenant::parse("acme").unwrap();
        assert_eq!(
            series_state_key(&tenant, "cpu", 42, "w1"),
            "series/acme/cpu/000000000042-w1.state"
        );
        assert!(series_state_key(&tenant, "cpu", 42, "w1")
            .starts_with(&series_state_prefix(&tenant, "cpu")));
        assert!(!series_state_key(&tenant, "cpu-2", 1, "w1")
            .starts_with(&series_state_prefix(&tenant, "cpu")));
    }
}
