//! Anomaly alerts: the events Nomaly publishes when it finds anomalies (one per anomalous stream
//! record, one summary per job), and the suppression state that keeps a noisy entity from raising
//! more than one alert per window and a redelivered record from raising one twice.

use detection::model::FeatureContribution;
use detection::threshold::Severity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `source` of every event Nomaly publishes.
pub const ALERT_SOURCE: &str = "nomaly";
/// The `detail-type` of an alert on one anomalous record.
pub const ANOMALY_DETECTED: &str = "Anomaly Detected";
/// The `detail-type` of the summary of a job that found anomalies.
pub const JOB_ANOMALIES_FOUND: &str = "Job Anomalies Found";
/// How many record ids the suppression state remembers (for redeliveries); older ones drop off.
pub const REMEMBERED_RECORDS: usize = 256;
/// The most anomalous rows a job summary lists.
pub const SUMMARY_TOP_ROWS: usize = 10;

/// One event to publish (an EventBridge entry; locally a line of the alert file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// A deterministic id: the same anomaly of the same record, or the same job, gives the same
    /// id, so a consumer can drop the rare duplicate an at-least-once delivery lets through.
    pub id: String,
    /// [`ANOMALY_DETECTED`] or [`JOB_ANOMALIES_FOUND`].
    pub detail_type: String,
    /// The event's detail ([`AnomalyAlert`] or [`JobAlert`]).
    pub detail: Value,
    /// When it was raised, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

/// The detail of an [`ANOMALY_DETECTED`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyAlert {
    /// The alert's id (as the event's).
    pub alert_id: String,
    /// The tenant whose model found it.
    pub tenant: String,
    /// The model.
    pub model: String,
    /// The model version that scored the record.
    pub version: u32,
    /// The record's entity (a card, a host, a sensor), when it named one.
    pub entity: Option<String>,
    /// The record's own id, else the delivery's (Kinesis event id, SQS message id).
    pub record_id: String,
    /// The record's timestamp as it gave it, when it gave one.
    pub timestamp: Option<Value>,
    /// Raw score.
    pub score: f64,
    /// The fraction of the model's training scores at or below this one (0 to 1).
    pub normalized_score: f64,
    /// How unusual the record is.
    pub severity: Severity,
    /// The features contributing most.
    pub top_features: Vec<FeatureContribution>,
    /// Alerts of this model and entity suppressed since the previous one was published.
    pub suppressed: u64,
    /// Where the record came from (`kinesis`, `sqs`, or `api` for points posted to a series).
    pub source: String,
    /// The series the point belongs to, for a series' anomaly (whose `model` is then
    /// `series/{name}`, which no model can be named, and whose `version` is the series' sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// The detail of a [`JOB_ANOMALIES_FOUND`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobAlert {
    /// The alert's id (as the event's; derived from the job id).
    pub alert_id: String,
    /// The job's tenant.
    pub tenant: String,
    /// The job.
    pub job_id: String,
    /// `detect` (HTTP) or `batch` (an object).
    pub kind: String,
    /// The model.
    pub model: String,
    /// The version that scored.
    pub version: u32,
    /// Rows scored.
    pub rows: usize,
    /// Anomalies found, by severity.
    pub anomalies: SeverityCounts,
    /// The most anomalous rows (at most [`SUMMARY_TOP_ROWS`]), highest score first (a request
    /// scored over HTTP; a batch job keeps no per-row scores outside its results object).
    pub top_rows: Vec<TopRow>,
    /// The first anomalous rows in input order (at most [`SUMMARY_TOP_ROWS`]).
    pub first_anomaly_rows: Vec<usize>,
    /// Where the results are (`s3://bucket/key`), for a batch job.
    pub results: Option<String>,
}

/// Anomalies by severity, in a job summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// Low.
    pub low: u64,
    /// Medium.
    pub medium: u64,
    /// High.
    pub high: u64,
}

impl SeverityCounts {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.low + self.medium + self.high
    }
}

/// One of a job's most anomalous rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopRow {
    /// Row index from 0 in input order.
    pub row: usize,
    /// Raw score.
    pub score: f64,
    /// Its severity.
    pub severity: Severity,
}

/// What the suppression state of one (model, entity) decides for an anomalous record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertDecision {
    /// Publish it, carrying this many alerts suppressed since the last one, then confirm it.
    Publish {
        /// Alerts suppressed since the previous published one.
        suppressed: u64,
    },
    /// Within the window of the last published alert: count it, publish nothing.
    Suppress,
    /// The record was already decided (a redelivery): do nothing.
    Duplicate,
}

/// An alert claimed (the window taken) but not yet confirmed published: if publishing fails, the
/// record's redelivery publishes it then, instead of finding it a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAlert {
    /// The record whose alert it is.
    pub record_id: String,
    /// The suppressed count it carries.
    pub suppressed: u64,
}

/// The suppression state of one (tenant, model, entity), read and written whole under a revision
/// (optimistic concurrency), so concurrent invocations never publish twice in a window and a
/// redelivered record never raises its alert twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// When the last alert was claimed, ms since the epoch.
    pub last_published_ms: Option<u64>,
    /// Alerts suppressed since then.
    pub suppressed: u64,
    /// The ids of the latest records decided and done (at most [`REMEMBERED_RECORDS`]), oldest
    /// first.
    pub recent: Vec<String>,
    /// The last alert claimed, until its publication is confirmed.
    pub pending: Option<PendingAlert>,
    /// Bumped on every write; 0 for a state never written.
    pub revision: u64,
    /// When the store may forget the state (its window and a day after the last decision), ms.
    pub expires_at_ms: u64,
}

impl AlertState {
    /// Decides record `record_id` at `now_ms` with suppression window `window_ms`, and returns the
    /// state to write first (revision bumped) when it changes: a claim before publishing, or the
    /// counted suppression.
    pub fn decide(
        &self,
        record_id: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> (AlertDecision, Option<AlertState>) {
        if self.recent.iter().any(|seen| seen == record_id) {
            return (AlertDecision::Duplicate, None);
        }
        if let Some(pending) = self.pending.as_ref().filter(|p| p.record_id == record_id) {
            let suppressed = pending.suppressed;
            return (AlertDecision::Publish { suppressed }, None);
        }
        let mut next = self.bumped(now_ms, window_ms);
        let within = self
            .last_published_ms
            .is_some_and(|last| now_ms < last.saturating_add(window_ms));
        if within {
            next.suppressed += 1;
            next.remember(record_id);
            return (AlertDecision::Suppress, Some(next));
        }
        next.last_published_ms = Some(now_ms);
        next.suppressed = 0;
        next.pending = Some(PendingAlert {
            record_id: record_id.to_owned(),
            suppressed: self.suppressed,
        });
        (
            AlertDecision::Publish {
                suppressed: self.suppressed,
            },
            Some(next),
        )
    }

    /// The state after `record_id`'s alert was published: no longer pending, remembered as done;
    /// `None` when it is not the pending one (already confirmed).
    pub fn confirm(&self, record_id: &str, now_ms: u64, window_ms: u64) -> Option<AlertState> {
        if self.pending.as_ref()?.record_id != record_id {
            return None;
        }
        let mut next = self.bumped(now_ms, window_ms);
        next.pending = None;
        next.remember(record_id);
        Some(next)
    }

    fn bumped(&self, now_ms: u64, window_ms: u64) -> AlertState {
        let mut next = self.clone();
        next.revision = self.revision + 1;
        next.expires_at_ms = now_ms
            .saturating_add(window_ms)
            .saturating_add(24 * 3_600_000);
        next
    }

    fn remember(&mut self, record_id: &str) {
        self.recent.push(record_id.to_owned());
        if self.recent.len() > REMEMBERED_RECORDS {
            let excess = self.recent.len() - REMEMBERED_RECORDS;
            self.recent.drain(..excess);
        }
    }
}

/// Which suppression state an alert belongs to: a model and an entity (empty when the record
/// named none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlertKey {
    /// The model.
    pub model: String,
    /// The entity, or empty.
    pub entity: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: u64 = 60_000;

    fn published(state: &AlertState, id: &str, now: u64) -> AlertState {
        let (decision, claimed) = state.decide(id, now, WINDOW);
        assert!(
            matches!(decision, AlertDecision::Publish { .. }),
            "{decision:?}"
        );
        let claimed = claimed.unwrap_or_else(|| state.clone());
        claimed.confirm(id, now, WINDOW).unwrap()
    }

    #[test]
    fn when_alerts_come_within_the_window_should_publish_the_first_and_carry_the_count() {
        let state = published(&AlertState::default(), "a", 1_000);
        let (second, state) = state.decide("b", 2_000, WINDOW);
        assert_eq!(second, AlertDecision::Suppress);
        let (third, state) = state.unwrap().decide("c", 3_000, WINDOW);
        assert_eq!(third, AlertDecision::Suppress);
        let state = state.unwrap();
        let (after, claimed) = state.decide("d", 1_000 + WINDOW, WINDOW);
        assert_eq!(after, AlertDecision::Publish { suppressed: 2 });
        let claimed = claimed.unwrap();
        assert_eq!(claimed.suppressed, 0);
        let done = claimed.confirm("d", 1_000 + WINDOW, WINDOW).unwrap();
        assert_eq!((done.pending.clone(), done.revision), (None, 6));
        assert_eq!(done.recent, ["a", "b", "c", "d"]);
    }

    #[test]
    fn when_a_record_is_decided_twice_should_be_a_duplicate_whatever_its_decision() {
        let state = published(&AlertState::default(), "a", 1_000);
        let (_, state) = state.decide("b", 1_500, WINDOW);
        let state = state.unwrap();
        assert_eq!(
            state.decide("a", 90_000, WINDOW),
            (AlertDecision::Duplicate, None)
        );
        assert_eq!(
            state.decide("b", 90_000, WINDOW),
            (AlertDecision::Duplicate, None)
        );
    }

    #[test]
    fn when_a_claimed_alert_was_not_confirmed_should_publish_it_again_on_redelivery() {
        let (_, claimed) = AlertState::default().decide("a", 1_000, WINDOW);
        let claimed = claimed.unwrap();
        // Publishing failed: the redelivery publishes again, and another record is suppressed.
        assert_eq!(
            claimed.decide("a", 1_200, WINDOW),
            (AlertDecision::Publish { suppressed: 0 }, None)
        );
        assert_eq!(
            claimed.decide("b", 1_300, WINDOW).0,
            AlertDecision::Suppress
        );
        assert!(claimed.confirm("b", 1_300, WINDOW).is_none());
    }

    #[test]
    fn when_many_records_are_decided_should_remember_only_the_latest() {
        let mut state = AlertState::default();
        for i in 0..(REMEMBERED_RECORDS + 10) {
            state = published(&state, &i.to_string(), i as u64 * WINDOW);
        }
        assert_eq!(state.recent.len(), REMEMBERED_RECORDS);
        assert_eq!(state.recent[0], "10");
    }
}
