//! The JSON of the series routes: the points a caller sends (one `value`, or several named
//! `values`), the configuration that creates a series, and the answers: one verdict per point, a
//! series' record as callers see it.

use std::collections::BTreeMap;

use detection::series::{PointVerdict, SeriesParams};
use serde::{Deserialize, Serialize};

use crate::domain::{SeriesAnomaly, SeriesRecord};
use crate::error::ServiceError;
use crate::ports::SeriesPage;
use crate::workflows::series::{AppendOutcome, NamedPoint};

/// The value name of a point sent with a single `value`.
pub const SINGLE_VALUE_NAME: &str = "value";

/// One point as sent: a timestamp and either `value` or `values`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointInput {
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The value of a single-valued series.
    #[serde(default)]
    pub value: Option<f64>,
    /// The values of a series of several, by name.
    #[serde(default)]
    pub values: Option<BTreeMap<String, f64>>,
    /// What the point is about (a host, a card); kept with its anomalies and alerts.
    #[serde(default)]
    pub entity: Option<String>,
}

/// The body of `POST /api/v1/series/{name}/points` and `POST /api/v1/series/detect`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesPointsRequest {
    /// The configuration: creates a series on its first append (the defaults when absent; a
    /// different one for an existing series is a 409); the detector of a whole-series detect.
    #[serde(default)]
    pub config: Option<SeriesParams>,
    /// The points, oldest first.
    pub points: Vec<PointInput>,
}

impl SeriesPointsRequest {
    /// The points with their values by name; a point with both or neither of `value` and
    /// `values` is a 400 naming it.
    pub fn named_points(self) -> Result<Vec<NamedPoint>, ServiceError> {
        self.points
            .into_iter()
            .enumerate()
            .map(|(index, point)| {
                let values = match (point.value, point.values) {
                    (Some(value), None) => BTreeMap::from([(SINGLE_VALUE_NAME.to_owned(), value)]),
                    (None, Some(values)) if !values.is_empty() => values,
                    _ => {
                        return Err(ServiceError::BadRequest(format!(
                            "point {index}: send either 'value' (a number) or 'values' (an object of named numbers), not both or neither"
                        )))
                    }
                };
                Ok(NamedPoint {
                    timestamp: point.timestamp,
                    values,
                    entity: point.entity,
                })
            })
            .collect()
    }
}

/// One point's verdict, with the point's timestamp and entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointResult {
    /// The point's timestamp.
    pub timestamp: i64,
    /// The point's entity, when it named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The detector's verdict.
    #[serde(flatten)]
    pub verdict: PointVerdict,
}

/// Each point's result, in request order.
pub fn point_results(points: &[NamedPoint], verdicts: Vec<PointVerdict>) -> Vec<PointResult> {
    points
        .iter()
        .zip(verdicts)
        .map(|(point, verdict)| PointResult {
            timestamp: point.timestamp,
            entity: point.entity.clone(),
            verdict,
        })
        .collect()
}

/// A series as callers see it (its state's object key is the store's business).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesView {
    /// The series' name.
    pub name: String,
    /// The configuration it was created with.
    pub config: SeriesParams,
    /// Its value names, in the order verdicts list expected values and attributions.
    pub values: Vec<String>,
    /// Points learned.
    pub points_seen: u64,
    /// The latest timestamp learned.
    pub last_timestamp: Option<i64>,
    /// Moves by one per append.
    pub sequence: u64,
    /// When it was created (epoch milliseconds).
    pub created_at_ms: u64,
    /// When it last learned (epoch milliseconds).
    pub updated_at_ms: u64,
    /// The newest anomalies, oldest first.
    pub recent_anomalies: Vec<SeriesAnomaly>,
}

impl From<SeriesRecord> for SeriesView {
    fn from(record: SeriesRecord) -> Self {
        Self {
            name: record.name,
            config: record.params,
            values: record.values,
            points_seen: record.points_seen,
            last_timestamp: record.last_timestamp,
            sequence: record.sequence,
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
            recent_anomalies: record.recent_anomalies,
        }
    }
}

/// The answer of an append.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppendResponse {
    /// Whether this append created the series.
    pub created: bool,
    /// The series after the append.
    pub series: SeriesView,
    /// Anomalies among the points.
    pub anomalies: usize,
    /// One result per point, in request order.
    pub results: Vec<PointResult>,
}

impl AppendResponse {
    /// The answer of `outcome`, for `points` as sent.
    pub fn new(points: &[NamedPoint], outcome: AppendOutcome) -> Self {
        let anomalies = outcome.verdicts.iter().filter(|v| v.is_anomaly).count();
        Self {
            created: outcome.created,
            series: outcome.record.into(),
            anomalies,
            results: point_results(points, outcome.verdicts),
        }
    }
}

/// The answer of a whole-series detect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesDetectResponse {
    /// The configuration used, as given (absent fields take their defaults).
    pub config: SeriesParams,
    /// The value names, in the order results list expected values and attributions.
    pub values: Vec<String>,
    /// Anomalies among the points.
    pub anomalies: usize,
    /// One result per point, in request order.
    pub results: Vec<PointResult>,
}

/// A page of series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesListResponse {
    /// The series on this page, by name.
    pub series: Vec<SeriesView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl From<SeriesPage> for SeriesListResponse {
    fn from(page: SeriesPage) -> Self {
        Self {
            series: page.series.into_iter().map(SeriesView::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Result<Vec<NamedPoint>, ServiceError> {
        serde_json::from_str::<SeriesPointsRequest>(body)
            .unwrap()
            .named_points()
    }

    #[test]
    fn when_a_point_has_one_value_should_name_it_value() {
        let points = request(r#"{"points":[{"timestamp":1,"value":2.5,"entity":"h1"}]}"#).unwrap();
        assert_eq!(points[0].values, BTreeMap::from([("value".into(), 2.5)]));
        assert_eq!(points[0].entity.as_deref(), Some("h1"));
    }

    #[test]
    fn when_a_point_has_both_or_neither_forms_should_be_a_400_naming_it() {
        for body in [
            r#"{"points":[{"timestamp":1,"value":1},{"timestamp":2,"value":1,"values":{"a":1}}]}"#,
            r#"{"points":[{"timestamp":1,"value":1},{"timestamp":2}]}"#,
            r#"{"points":[{"timestamp":1,"value":1},{"timestamp":2,"values":{}}]}"#,
        ] {
            let e = request(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert!(e.to_string().starts_with("point 1:"), "{e}");
        }
    }

    #[test]
    fn when_a_body_has_unknown_fields_should_not_parse() {
        for body in [
            r#"{"points":[],"extra":1}"#,
            r#"{"points":[{"timestamp":1,"value":1,"when":2}]}"#,
            r#"{"points":[{"timestamp":"2026-01-01","value":1}]}"#,
        ] {
            assert!(
                serde_json::from_str::<SeriesPointsRequest>(body).is_err(),
                "{body}"
            );
        }
    }
}
