//! Scoring what streams and queues deliver (Kinesis Data Streams, SQS): records grouped by model
//! so each model is loaded once per batch, unscorable records set aside as dead letters with the
//! reason (they never block the shard or the queue), alerts raised for the anomalous ones, and a
//! report of exactly the records to retry.

use std::collections::BTreeMap;
use std::sync::Arc;

use detection::WorkBudget;
use ndarray::Array2;

use crate::domain::alert::AnomalyAlert;
use crate::domain::ids::now_millis;
use crate::domain::names::{validate_model_name, validate_series_name};
use crate::domain::stream_record::{
    DeliveredRecord, RecordRejection, StreamRecord, StreamSource, MAX_BATCH_RECORDS,
};
use crate::domain::stream_route::StreamRoutes;
use crate::domain::Tenant;
use crate::metrics::{self, Counter};
use crate::ports::{DeadLetter, DeadLetterSink};
use crate::workflows::alerts::{AlertCandidate, AlertReport, AlertWorkflow};
use crate::workflows::detect::DetectWorkflow;
use crate::workflows::series::{NamedPoint, SeriesWorkflow};
use crate::workflows::series_alerts::{series_alert_candidates, JudgedPoint};
use crate::workflows::severity::SeverityTally;
use crate::ServiceError;

/// Features an alert lists.
const ALERT_TOP_FEATURES: usize = 3;

/// What one delivery came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// The item ids (Kinesis sequence numbers, SQS message ids) to report as failed, so their
    /// source delivers them again; in delivery order.
    pub failed_items: Vec<String>,
    /// Records scored.
    pub scored: usize,
    /// Records set aside as dead letters.
    pub dead_lettered: usize,
    /// What the alerts came to.
    pub alerts: AlertReport,
}

/// What a record is scored by.
enum Target {
    /// A model, by name.
    Model(String),
    /// A series, by name: the record is its next point.
    Series(String),
}

/// A parsed record waiting for its model or series.
struct Pending<'a> {
    index: usize,
    delivered: &'a DeliveredRecord,
    record: StreamRecord,
}

/// Scores delivered records with the tenants' models.
#[derive(Clone)]
pub struct StreamWorkflow {
    detect: DetectWorkflow,
    routes: StreamRoutes,
    dead_letters: Arc<dyn DeadLetterSink>,
    alerts: AlertWorkflow,
    budget: WorkBudget,
    series: Option<SeriesWorkflow>,
}

impl StreamWorkflow {
    /// A workflow scoring with `detect`'s models and caches, for the sources in `routes`, within
    /// `budget` per model group.
    pub fn new(
        detect: DetectWorkflow,
        routes: StreamRoutes,
        dead_letters: Arc<dyn DeadLetterSink>,
        alerts: AlertWorkflow,
        budget: WorkBudget,
    ) -> Self {
        Self {
            detect,
            routes,
            dead_letters,
            alerts,
            budget,
            series: None,
        }
    }

    /// The same workflow appending records that name a series to it through `series`; without
    /// it such records are refused (retried).
    pub fn with_series(mut self, series: SeriesWorkflow) -> Self {
        self.series = Some(series);
        self
    }

    /// Scores one delivery from `source`. A store outage while loading a model fails the whole
    /// delivery (`Err`, a transient error: everything is retried); a record that can never be
    /// scored becomes a dead letter; a record whose dead letter or alert could not be kept is
    /// reported for retry.
    pub async fn score(
        &self,
        source: StreamSource,
        records: &[DeliveredRecord],
    ) -> Result<StreamOutcome, ServiceError> {
        if records.len() > MAX_BATCH_RECORDS {
            return Err(ServiceError::TooLarge(format!(
                "a delivery of {} records; at most {MAX_BATCH_RECORDS} are taken (the largest batch Kinesis and SQS deliver)",
                records.len()
            )));
        }
        let now_ms = now_millis();
        let mut rejected: Vec<(usize, RecordRejection)> = Vec::new();
        let mut groups: BTreeMap<(Tenant, String, Option<u32>), Vec<Pending<'_>>> = BTreeMap::new();
        let mut series_groups: BTreeMap<(Tenant, String), Vec<Pending<'_>>> = BTreeMap::new();
        for (index, delivered) in records.iter().enumerate() {
            match self.admit(delivered) {
                Ok((tenant, target, record)) => {
                    let pending = Pending {
                        index,
                        delivered,
                        record,
                    };
                    match target {
                        Target::Model(model) => groups
                            .entry((tenant, model, pending.record.version))
                            .or_default()
                            .push(pending),
                        Target::Series(name) => series_groups
                            .entry((tenant, name))
                            .or_default()
                            .push(pending),
                    }
                }
                Err(rejection) => rejected.push((index, rejection)),
            }
        }
        let mut candidates = Vec::new();
        let mut candidate_records = Vec::new();
        let mut scored = 0;
        let model_groups = groups
            .into_iter()
            .map(|((tenant, model, version), pending)| {
                (tenant, Target::Model(model), version, pending)
            });
        let series_groups = series_groups
            .into_iter()
            .map(|((tenant, name), pending)| (tenant, Target::Series(name), None, pending));
        for (tenant, target, version, pending) in model_groups.chain(series_groups) {
            let scoring = match &target {
                Target::Model(model) => {
                    self.score_group(source, &tenant, model, version, &pending)
                        .await
                }
                Target::Series(name) => self.append_group(source, &tenant, name, &pending).await,
            };
            match scoring {
                Ok(group) => {
                    scored += group.scored;
                    rejected.extend(group.rejected);
                    for (index, alert) in group.found {
                        candidate_records.push(index);
                        candidates.push(AlertCandidate {
                            tenant: tenant.clone(),
                            alert,
                        });
                    }
                }
                Err(e) if e.is_transient() || e.status() >= 500 => return Err(e),
                Err(e) => rejected.extend(pending.iter().map(|p| {
                    (
                        p.index,
                        RecordRejection {
                            code: e.code(),
                            message: e.to_string(),
                        },
                    )
                })),
            }
        }
        let mut failed: Vec<usize> = Vec::new();
        if !rejected.is_empty() {
            let letters: Vec<DeadLetter> = rejected
                .iter()
                .filter_map(|(index, why)| records.get(*index).map(|delivered| (delivered, why)))
                .map(|(delivered, why)| {
                    DeadLetter::new(
                        source.name(),
                        &delivered.source_arn,
                        &delivered.delivery_id,
                        why.code,
                        &why.message,
                        &delivered.data,
                        now_ms,
                    )
                })
                .collect();
            if let Err(e) = self.dead_letters.send(&letters).await {
                tracing::warn!(error = %e, records = letters.len(), "dead letters not kept; their records are retried");
                failed.extend(rejected.iter().map(|(index, _)| *index));
            }
        }
        let alerts = self
            .alerts
            .raise(&candidates, now_ms)
            .await
            .map_err(ServiceError::from)?;
        failed.extend(
            alerts
                .failed
                .iter()
                .filter_map(|&c| candidate_records.get(c).copied()),
        );
        failed.sort_unstable();
        failed.dedup();
        let dead_lettered = rejected.len() - failed_among(&rejected, &failed);
        metrics::count(Counter::RecordsScored, scored as u64);
        metrics::count(Counter::RecordsFailed, dead_lettered as u64);
        metrics::count(Counter::AlertsPublished, alerts.published as u64);
        metrics::count(Counter::AlertsSuppressed, alerts.suppressed as u64);
        Ok(StreamOutcome {
            failed_items: failed
                .into_iter()
                .filter_map(|index| records.get(index).map(|r| r.item_id.clone()))
                .collect(),
            scored,
            dead_lettered,
            alerts,
        })
    }

    /// The record's tenant (from its source's route), model or series and parsed content, or
    /// why it can never be scored.
    fn admit(
        &self,
        delivered: &DeliveredRecord,
    ) -> Result<(Tenant, Target, StreamRecord), RecordRejection> {
        let route = self
            .routes
            .route(&delivered.source_arn)
            .ok_or_else(|| RecordRejection {
                code: "unmapped_source",
                message: format!(
                    "no tenant is configured for source {} (NOMALY_STREAM_ROUTES)",
                    delivered.source_arn
                ),
            })?;
        let record = StreamRecord::parse(&delivered.data)?;
        if let Some(name) = &record.series {
            validate_series_name(name).map_err(|e| RecordRejection {
                code: "malformed_record",
                message: e.to_string(),
            })?;
            return Ok((route.tenant.clone(), Target::Series(name.clone()), record));
        }
        let model = record
            .model
            .clone()
            .or_else(|| route.model.clone())
            .ok_or_else(|| RecordRejection {
                code: "malformed_record",
                message: "the record names no model and its source has no default model".into(),
            })?;
        validate_model_name(&model).map_err(|e| RecordRejection {
            code: "malformed_record",
            message: e.to_string(),
        })?;
        Ok((route.tenant.clone(), Target::Model(model), record))
    }

    /// Appends one series' records as its next points (in delivery order): records already
    /// learned (a redelivery) are skipped, records whose values do not fit the series are
    /// rejected alone, and the anomalous points become alert candidates. A failure of the whole
    /// group (the store down, over budget) is an `Err`.
    async fn append_group(
        &self,
        source: StreamSource,
        tenant: &Tenant,
        name: &str,
        pending: &[Pending<'_>],
    ) -> Result<GroupOutcome, ServiceError> {
        let series = self.series.as_ref().ok_or_else(|| {
            ServiceError::Unavailable("this function is not configured for series".into())
        })?;
        let points: Vec<NamedPoint> = pending
            .iter()
            .map(|p| NamedPoint {
                timestamp: p
                    .record
                    .timestamp
                    .as_ref()
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or_default(),
                values: p.record.features.clone(),
                entity: p.record.entity.clone(),
            })
            .collect();
        let appended = series.append_delivered(tenant, name, &points).await?;
        let rejected = appended
            .rejected
            .iter()
            .filter_map(|(at, error)| {
                let rejection = RecordRejection {
                    code: error.code(),
                    message: error.to_string(),
                };
                pending.get(*at).map(|p| (p.index, rejection))
            })
            .collect();
        let Some(outcome) = appended.outcome else {
            return Ok(GroupOutcome {
                scored: 0,
                found: Vec::new(),
                rejected,
            });
        };
        let learned: Vec<&Pending<'_>> = appended
            .learned
            .iter()
            .filter_map(|&at| pending.get(at))
            .collect();
        let judged: Vec<JudgedPoint<'_>> = appended
            .learned
            .iter()
            .zip(&learned)
            .zip(&outcome.verdicts)
            .filter_map(|((&at, p), verdict)| {
                Some(JudgedPoint {
                    point: points.get(at)?,
                    verdict,
                    record_id: Some(
                        p.record
                            .id
                            .clone()
                            .unwrap_or_else(|| p.delivered.delivery_id.clone()),
                    ),
                })
            })
            .collect();
        let found = series_alert_candidates(
            tenant,
            &outcome.record,
            &judged,
            &self.alerts,
            source.name(),
        )
        .into_iter()
        .filter_map(|(at, candidate)| learned.get(at).map(|p| (p.index, candidate.alert)))
        .collect();
        Ok(GroupOutcome {
            scored: learned.len(),
            found,
            rejected,
        })
    }

    /// Scores one model's records (one load): the alerts its anomalies may raise and the records
    /// whose features do not fit the model, by record index. A failure of the whole group (no
    /// such model, over budget, the store down) is an `Err`.
    async fn score_group(
        &self,
        source: StreamSource,
        tenant: &Tenant,
        name: &str,
        version: Option<u32>,
        pending: &[Pending<'_>],
    ) -> Result<GroupOutcome, ServiceError> {
        let (version, model) = self.detect.model(tenant, name, version).await?;
        let features = model.features();
        let mut rows = Vec::with_capacity(pending.len() * features.len());
        let mut fitting = Vec::with_capacity(pending.len());
        let mut rejected = Vec::new();
        for p in pending {
            let values: Option<Vec<f64>> = (p.record.features.len() == features.len())
                .then(|| {
                    features
                        .iter()
                        .map(|f| p.record.features.get(f).copied())
                        .collect()
                })
                .flatten();
            match values {
                Some(values) => {
                    rows.extend(values);
                    fitting.push(p);
                }
                None => rejected.push((
                    p.index,
                    RecordRejection {
                        code: "invalid_input",
                        message: feature_mismatch(features, &p.record),
                    },
                )),
            }
        }
        model.check_score(fitting.len(), true, &self.budget)?;
        let x = Array2::from_shape_vec((fitting.len(), features.len()), rows)
            .map_err(|e| ServiceError::Internal(format!("record matrix: {e}")))?;
        let scores = model.score(x.view())?;
        let mut tally = SeverityTally::default();
        let mut found = Vec::new();
        for (row, (&score, p)) in scores.iter().zip(&fitting).enumerate() {
            let (label, normalized_score, severity) = model.assess(score);
            let Some(severity) = severity.filter(|_| label == 1) else {
                continue;
            };
            tally.add(severity);
            if !self.alerts.raises(severity) {
                continue;
            }
            let record_id = p
                .record
                .id
                .clone()
                .unwrap_or_else(|| p.delivered.delivery_id.clone());
            found.push((
                p.index,
                AnomalyAlert {
                    alert_id: alert_id(tenant, name, &record_id),
                    tenant: tenant.to_string(),
                    model: name.to_owned(),
                    version,
                    entity: p.record.entity.clone(),
                    record_id,
                    timestamp: p.record.timestamp.clone(),
                    score,
                    normalized_score,
                    severity,
                    top_features: model.explain(x.row(row), ALERT_TOP_FEATURES)?,
                    suppressed: 0,
                    source: source.name().to_owned(),
                    series: None,
                },
            ));
        }
        tally.record(name, version, fitting.len());
        Ok(GroupOutcome {
            scored: fitting.len(),
            found,
            rejected,
        })
    }
}

/// What scoring one model's records came to.
struct GroupOutcome {
    scored: usize,
    found: Vec<(usize, AnomalyAlert)>,
    rejected: Vec<(usize, RecordRejection)>,
}

/// A deterministic alert id: the same record of the same model always gives the same id.
fn alert_id(tenant: &Tenant, model: &str, record_id: &str) -> String {
    let digest = crate::checksum::sha256_hex(format!("{tenant}\n{model}\n{record_id}").as_bytes());
    format!("anomaly-{}", digest.get(..32).unwrap_or(&digest))
}

/// Why a record's features do not fit the model, naming what is missing and what is unknown.
fn feature_mismatch(features: &[String], record: &StreamRecord) -> String {
    let missing: Vec<&str> = features
        .iter()
        .filter(|f| !record.features.contains_key(*f))
        .map(String::as_str)
        .collect();
    let unknown: Vec<&str> = record
        .features
        .keys()
        .filter(|k| !features.contains(k))
        .map(String::as_str)
        .collect();
    format!(
        "the record's features do not match the model's: missing {missing:?}, unknown {unknown:?}"
    )
}

/// How many of `rejected` are also in `failed` (retried, so not dead letters).
fn failed_among(rejected: &[(usize, RecordRejection)], failed: &[usize]) -> usize {
    rejected
        .iter()
        .filter(|(index, _)| failed.binary_search(index).is_ok())
        .count()
}
