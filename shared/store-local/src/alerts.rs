//! Alerts on the local store: appended to `{data_dir}/alerts.jsonl`, one event per line shaped as
//! EventBridge delivers it (`id`, `source`, `detail-type`, `time`, `detail`), so what reads the
//! file reads the same fields a rule on the AWS bus matches.

use std::path::Path;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use application::domain::alert::{AlertEvent, ALERT_SOURCE};
use application::ports::{AlertSink, StoreError};

use crate::jsonl::JsonLinesFile;

/// The alert file's name in the data directory.
pub const ALERTS_FILE: &str = "alerts.jsonl";

/// An [`AlertSink`] appending to a JSON-lines file.
#[derive(Debug)]
pub struct JsonLinesAlerts {
    file: JsonLinesFile,
}

impl JsonLinesAlerts {
    /// Alerts appended to [`ALERTS_FILE`] in `data_dir` (created with the first alert).
    pub fn new(data_dir: &Path) -> Self {
        Self {
            file: JsonLinesFile::new(data_dir.join(ALERTS_FILE)),
        }
    }

    /// The file alerts go to.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// One line: an event as EventBridge hands it to a rule's target.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    source: &'static str,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    time: String,
    detail: &'a Value,
}

#[async_trait]
impl AlertSink for JsonLinesAlerts {
    async fn publish(&self, events: &[AlertEvent]) -> Result<(), StoreError> {
        let lines: Vec<Line<'_>> = events
            .iter()
            .map(|event| Line {
                id: &event.id,
                source: ALERT_SOURCE,
                detail_type: &event.detail_type,
                time: rfc3339_utc(event.time_ms),
                detail: &event.detail,
            })
            .collect();
        self.file.append(&lines)
    }
}

/// `ms` since the Unix epoch as RFC 3339 in UTC to the second (`2026-01-02T03:04:05Z`), as
/// EventBridge writes an event's `time`.
fn rfc3339_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// The Gregorian (year, month, day) of `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(i: usize, detail_type: &str) -> AlertEvent {
        AlertEvent {
            id: format!("alert-{i}"),
            detail_type: detail_type.into(),
            detail: json!({"alert_id": format!("alert-{i}"), "score": i, "note": "a\nb"}),
            time_ms: 1_767_323_045_678,
        }
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn when_times_formatted_should_be_rfc3339_utc_seconds() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_767_323_045_678), "2026-01-02T03:04:05Z");
        assert_eq!(rfc3339_utc(4_107_542_399_999), "2100-02-28T23:59:59Z");
    }

    #[tokio::test]
    async fn when_alerts_published_should_append_one_eventbridge_shaped_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let sink = JsonLinesAlerts::new(&dir.path().join("missing/dir"));
        sink.publish(&[event(0, "Anomaly Detected")]).await.unwrap();
        sink.publish(&[]).await.unwrap();
        sink.publish(&[
            event(1, "Anomaly Detected"),
            event(2, "Job Anomalies Found"),
        ])
        .await
        .unwrap();
        let got = lines(sink.path());
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[2],
            json!({
                "id": "alert-2",
                "source": "nomaly",
                "detail-type": "Job Anomalies Found",
                "time": "2026-01-02T03:04:05Z",
                "detail": {"alert_id": "alert-2", "score": 2, "note": "a\nb"},
            })
        );
        assert_eq!(got[0]["detail"]["alert_id"], "alert-0");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn when_batches_published_concurrently_should_never_interleave_or_cut_lines() {
        let dir = tempfile::tempdir().unwrap();
        let sink = std::sync::Arc::new(JsonLinesAlerts::new(dir.path()));
        let tasks: Vec<_> = (0..8)
            .map(|writer| {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let batch: Vec<AlertEvent> = (0..50)
                        .map(|i| event(writer * 1000 + i, "Anomaly Detected"))
                        .collect();
                    sink.publish(&batch).await.unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let got = lines(sink.path());
        assert_eq!(got.len(), 400);
        for batch in got.chunks(50) {
            let writer = batch[0]["detail"]["score"].as_u64().unwrap() / 1000;
            for (i, line) in batch.iter().enumerate() {
                assert_eq!(
                    line["detail"]["score"].as_u64().unwrap(),
                    writer * 1000 + i as u64,
                    "a batch was interleaved"
                );
            }
        }
    }
}
