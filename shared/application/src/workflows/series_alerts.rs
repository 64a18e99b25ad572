//! A series' anomalous points as alert candidates: the same `Anomaly Detected` event a model's
//! anomalous stream record raises, with the series named, whether the points were posted or
//! delivered by a stream, so one rule and one suppression policy cover both.

use detection::model::FeatureContribution;
use detection::series::PointVerdict;
use serde_json::Value;

use crate::checksum::sha256_hex;
use crate::domain::alert::AnomalyAlert;
use crate::domain::{SeriesRecord, Tenant};
use crate::workflows::alerts::{AlertCandidate, AlertWorkflow};
use crate::workflows::series::NamedPoint;

/// Values an alert lists.
const ALERT_TOP_VALUES: usize = 3;

/// The `source` of an alert on a point posted to `POST /api/v1/series/{name}/points`.
pub const POSTED_SOURCE: &str = "api";

/// The `model` of a series' alerts: `series/{name}` (a `/` no model name has), so a series and
/// a model of one name never share a suppression window.
pub fn series_alert_model(name: &str) -> String {
    format!("series/{name}")
}

/// One learned point with what an alert on it says.
pub struct JudgedPoint<'a> {
    /// The point.
    pub point: &'a NamedPoint,
    /// Its verdict.
    pub verdict: &'a PointVerdict,
    /// The producer's id of the record that carried it, or the delivery's; `None` for a posted
    /// point (its id is its timestamp and entity).
    pub record_id: Option<String>,
}

/// The alert candidates among `judged`, the points `record` (after their append) learned, by
/// their index in `judged`: anomalies at or above `alerts`' minimum severity.
pub fn series_alert_candidates(
    tenant: &Tenant,
    record: &SeriesRecord,
    judged: &[JudgedPoint<'_>],
    alerts: &AlertWorkflow,
    source: &str,
) -> Vec<(usize, AlertCandidate)> {
    let model = series_alert_model(&record.name);
    judged
        .iter()
        .enumerate()
        .filter_map(|(index, judged)| {
            let severity = judged
                .verdict
                .severity(record.params.detector)
                .filter(|severity| alerts.raises(*severity))?;
            let record_id = judged.record_id.clone().unwrap_or_else(|| {
                let entity = judged.point.entity.as_deref().unwrap_or("");
                format!("{}@{entity}", judged.point.timestamp)
            });
            let digest = sha256_hex(format!("{tenant}\n{model}\n{record_id}").as_bytes());
            let alert = AnomalyAlert {
                alert_id: format!("anomaly-{}", digest.get(..32).unwrap_or(&digest)),
                tenant: tenant.to_string(),
                model: model.clone(),
                version: u32::try_from(record.sequence).unwrap_or(u32::MAX),
                entity: judged.point.entity.clone(),
                record_id,
                timestamp: Some(Value::from(judged.point.timestamp)),
                score: judged.verdict.raw_score,
                normalized_score: judged.verdict.score,
                severity,
                top_features: top_values(&record.values, &judged.verdict.attribution),
                suppressed: 0,
                source: source.to_owned(),
                series: Some(record.name.clone()),
            };
            Some((
                index,
                AlertCandidate {
                    tenant: tenant.clone(),
                    alert,
                },
            ))
        })
        .collect()
}

/// The values contributing most to a point's score, highest first.
fn top_values(names: &[String], attribution: &[f64]) -> Vec<FeatureContribution> {
    let mut shares: Vec<FeatureContribution> = names
        .iter()
        .zip(attribution)
        .map(|(name, &share)| FeatureContribution {
            feature: name.clone(),
            contribution: share,
        })
        .collect();
    shares.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    shares.truncate(ALERT_TOP_VALUES);
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_values_share_a_score_should_list_the_largest_first() {
        let names = ["cpu", "mem", "disk", "net"].map(String::from);
        let top = top_values(&names, &[0.1, 0.5, 0.3, 0.1]);
        let order: Vec<&str> = top.iter().map(|c| c.feature.as_str()).collect();
        assert_eq!(order, ["mem", "disk", "cpu"]);
    }

    #[test]
    fn when_a_series_alerts_should_not_share_a_model_name() {
        assert_eq!(series_alert_model("cpu"), "series/cpu");
    }
}
