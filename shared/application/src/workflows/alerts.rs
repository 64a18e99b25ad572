//! Raising alerts: every anomalous stream record at or above the configured severity becomes an
//! "Anomaly Detected" event, at most one per model and entity per window (the suppressed count
//! rides on the next one), never twice for a redelivered record; and a job that found anomalies
//! becomes one "Job Anomalies Found" summary.

use std::collections::BTreeMap;
use std::sync::Arc;

use detection::threshold::Severity;
use futures_util::stream::{self, StreamExt};

use crate::domain::alert::{
    AlertDecision, AlertEvent, AlertKey, AlertState, AnomalyAlert, JobAlert, SeverityCounts,
    TopRow, ANOMALY_DETECTED, JOB_ANOMALIES_FOUND, SUMMARY_TOP_ROWS,
};
use crate::domain::ids::now_millis;
use crate::domain::{Job, Tenant};
use crate::metrics::{self, Counter};
use crate::ports::{AlertLedger, AlertSink, StoreError};
use crate::workflows::detect::DetectResponse;

/// How often one record's decision is retried when other invocations keep moving its state.
const DECIDE_ATTEMPTS: usize = 8;

/// How many (tenant, model, entity) states are read and written at once: each step is a store
/// round trip, and a batch's alerts would otherwise wait on each other's.
const LEDGER_CONCURRENCY: usize = 16;

/// Which anomalies raise alerts, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// The least severe anomaly that raises one.
    pub min_severity: Severity,
    /// At most one alert per model and entity within this many ms (0: no suppression).
    pub window_ms: u64,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            min_severity: Severity::Medium,
            window_ms: 300_000,
        }
    }
}

/// An anomalous record that may raise an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCandidate {
    /// Whose model found it.
    pub tenant: Tenant,
    /// The alert's content; `suppressed` is filled in when it is published.
    pub alert: AnomalyAlert,
}

impl AlertCandidate {
    fn key(&self) -> AlertKey {
        AlertKey {
            model: self.alert.model.clone(),
            entity: self.alert.entity.clone().unwrap_or_default(),
        }
    }
}

/// What happened to the candidates of one batch, by index in the list given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertReport {
    /// Alerts published.
    pub published: usize,
    /// Alerts counted into a later one.
    pub suppressed: usize,
    /// Candidates already decided (redeliveries).
    pub duplicates: usize,
    /// Candidates whose decision or publication failed on a transient error: their records are
    /// to be retried (a retry publishes what was claimed and not confirmed).
    pub failed: Vec<usize>,
}

/// Decides and publishes alerts over the ledger and the sink.
#[derive(Clone)]
pub struct AlertWorkflow {
    ledger: Arc<dyn AlertLedger>,
    sink: Arc<dyn AlertSink>,
    policy: AlertPolicy,
}

impl AlertWorkflow {
    /// A workflow keeping suppression states in `ledger` and publishing to `sink` by `policy`.
    pub fn new(
        ledger: Arc<dyn AlertLedger>,
        sink: Arc<dyn AlertSink>,
        policy: AlertPolicy,
    ) -> Self {
        Self {
            ledger,
            sink,
            policy,
        }
    }

    /// Whether an anomaly of `severity` raises an alert.
    pub fn raises(&self, severity: Severity) -> bool {
        severity >= self.policy.min_severity
    }

    /// Decides each candidate (claiming its window), publishes the claimed ones in one batch,
    /// then confirms them. Candidates of one (tenant, model, entity) are decided in order; those
    /// of different ones at once, up to `LEDGER_CONCURRENCY` (each step is a store round trip).
    /// A candidate whose step fails on a transient error is reported in `failed`; a permanent
    /// store error fails the whole call.
    pub async fn raise(
        &self,
        candidates: &[AlertCandidate],
        now_ms: u64,
    ) -> Result<AlertReport, StoreError> {
        let mut report = AlertReport::default();
        let decisions: Vec<_> = by_key(candidates)
            .into_iter()
            .map(|group| self.decide_in_order(group, now_ms))
            .collect();
        let decided = stream::iter(decisions)
            .buffer_unordered(LEDGER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut claimed = Vec::new();
        for (index, candidate, decision) in decided.into_iter().flatten() {
            match decision {
                Ok(AlertDecision::Publish { suppressed }) => {
                    claimed.push((index, candidate, suppressed))
                }
                Ok(AlertDecision::Suppress) => report.suppressed += 1,
                Ok(AlertDecision::Duplicate) => report.duplicates += 1,
                Err(StoreError::Unavailable(reason)) => {
                    tracing::warn!(%reason, "alert decision failed; the record is retried");
                    report.failed.push(index);
                }
                Err(e) => return Err(e),
            }
        }
        if claimed.is_empty() {
            report.failed.sort_unstable();
            return Ok(report);
        }
        claimed.sort_unstable_by_key(|(index, _, _)| *index);
        let events: Vec<AlertEvent> = claimed
            .iter()
            .map(|&(_, candidate, suppressed)| {
                let mut alert = candidate.alert.clone();
                alert.suppressed = suppressed;
                anomaly_event(&alert, now_ms)
            })
            .collect();
        if let Err(e) = self.sink.publish(&events).await {
            tracing::warn!(error = %e, alerts = events.len(), "publishing alerts failed; their records are retried");
            report
                .failed
                .extend(claimed.iter().map(|(index, _, _)| *index));
            report.failed.sort_unstable();
            return Ok(report);
        }
        let confirmations: Vec<_> = claimed
            .into_iter()
            .map(|(index, candidate, _)| self.confirm_indexed(index, candidate, now_ms))
            .collect();
        let confirmed = stream::iter(confirmations)
            .buffer_unordered(LEDGER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for (index, confirmation) in confirmed {
            match confirmation {
                Ok(()) => report.published += 1,
                Err(StoreError::Unavailable(reason)) => {
                    tracing::warn!(%reason, "confirming an alert failed; its record is retried");
                    report.failed.push(index);
                }
                Err(e) => return Err(e),
            }
        }
        report.failed.sort_unstable();
        Ok(report)
    }

    /// Publishes a job's summary when it found anomalies (nothing when it found none). The job's
    /// outcome stands whatever happens here, so a failure is logged, not returned; `true` when
    /// it was published.
    pub async fn announce(&self, alert: JobAlert) -> bool {
        if alert.anomalies.total() == 0 {
            return false;
        }
        let event = AlertEvent {
            id: alert.alert_id.clone(),
            detail_type: JOB_ANOMALIES_FOUND.to_owned(),
            detail: serde_json::to_value(&alert).unwrap_or_default(),
            time_ms: now_millis(),
        };
        match self.sink.publish(&[event]).await {
            Ok(()) => {
                metrics::count(Counter::AlertsPublished, 1);
                true
            }
            Err(e) => {
                tracing::error!(job_id = %alert.job_id, error = %e, "the job's anomaly summary was not published");
                false
            }
        }
    }

    /// Decides one state's candidates, one after the other.
    async fn decide_in_order<'a>(
        &self,
        group: Vec<(usize, &'a AlertCandidate)>,
        now_ms: u64,
    ) -> Vec<(usize, &'a AlertCandidate, Result<AlertDecision, StoreError>)> {
        let mut decisions = Vec::with_capacity(group.len());
        for (index, candidate) in group {
            decisions.push((index, candidate, self.decide(candidate, now_ms).await));
        }
        decisions
    }

    /// Confirms one candidate, keeping its index.
    async fn confirm_indexed(
        &self,
        index: usize,
        candidate: &AlertCandidate,
        now_ms: u64,
    ) -> (usize, Result<(), StoreError>) {
        (index, self.confirm(candidate, now_ms).await)
    }

    async fn decide(
        &self,
        candidate: &AlertCandidate,
        now_ms: u64,
    ) -> Result<AlertDecision, StoreError> {
        let key = candidate.key();
        for _ in 0..DECIDE_ATTEMPTS {
            let state = self.state(&candidate.tenant, &key).await?;
            let (decision, next) =
                state.decide(&candidate.alert.record_id, now_ms, self.policy.window_ms);
            match next {
                None => return Ok(decision),
                Some(next) => {
                    if self
                        .ledger
                        .put_alert_state(&candidate.tenant, &key, &next)
                        .await?
                    {
                        return Ok(decision);
                    }
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "the alert state of model {} moved {DECIDE_ATTEMPTS} times under this decision",
            key.model
        )))
    }

    async fn confirm(&self, candidate: &AlertCandidate, now_ms: u64) -> Result<(), StoreError> {
        let key = candidate.key();
        for _ in 0..DECIDE_ATTEMPTS {
            let state = self.state(&candidate.tenant, &key).await?;
            let Some(next) =
                state.confirm(&candidate.alert.record_id, now_ms, self.policy.window_ms)
            else {
                return Ok(());
            };
            if self
                .ledger
                .put_alert_state(&candidate.tenant, &key, &next)
                .await?
            {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!(
            "the alert state of model {} moved {DECIDE_ATTEMPTS} times under this confirmation",
            key.model
        )))
    }

    async fn state(&self, tenant: &Tenant, key: &AlertKey) -> Result<AlertState, StoreError> {
        Ok(self
            .ledger
            .alert_state(tenant, key)
            .await?
            .unwrap_or_default())
    }
}

/// The summary of a recorded `job` that found `severities` anomalies, its results at `results`.
pub fn job_alert(job: &Job, severities: SeverityCounts, results: Option<String>) -> JobAlert {
    JobAlert {
        alert_id: job_alert_id(&job.tenant, &job.id),
        tenant: job.tenant.to_string(),
        job_id: job.id.clone(),
        kind: serde_json::to_value(job.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        model: job.model.clone().unwrap_or_default(),
        version: job.version.unwrap_or(0),
        rows: job.counts.rows,
        anomalies: severities,
        top_rows: Vec::new(),
        first_anomaly_rows: job
            .anomaly_rows
            .iter()
            .take(SUMMARY_TOP_ROWS)
            .copied()
            .collect(),
        results,
    }
}

/// The summary of a request scored over HTTP: its most anomalous rows by score.
pub fn detect_alert(tenant: &Tenant, response: &DetectResponse) -> JobAlert {
    let mut anomalies = SeverityCounts::default();
    for anomaly in &response.anomalies {
        match anomaly.severity {
            Severity::Low => anomalies.low += 1,
            Severity::Medium => anomalies.medium += 1,
            Severity::High => anomalies.high += 1,
        }
    }
    let mut top_rows: Vec<TopRow> = response
        .anomalies
        .iter()
        .map(|a| TopRow {
            row: a.row,
            score: a.score,
            severity: a.severity,
        })
        .collect();
    top_rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    top_rows.truncate(SUMMARY_TOP_ROWS);
    JobAlert {
        alert_id: job_alert_id(tenant, &response.job_id),
        tenant: tenant.to_string(),
        job_id: response.job_id.clone(),
        kind: "detect".into(),
        model: response.model.clone(),
        version: response.version,
        rows: response.summary.rows,
        anomalies,
        top_rows,
        first_anomaly_rows: response
            .anomalies
            .iter()
            .take(SUMMARY_TOP_ROWS)
            .map(|a| a.row)
            .collect(),
        results: None,
    }
}

/// The id of a job's summary: one per job.
fn job_alert_id(tenant: &Tenant, job_id: &str) -> String {
    format!("job-{tenant}-{job_id}")
}

/// The event of one anomaly alert.
fn anomaly_event(alert: &AnomalyAlert, now_ms: u64) -> AlertEvent {
    AlertEvent {
        id: alert.alert_id.clone(),
        detail_type: ANOMALY_DETECTED.to_owned(),
        detail: serde_json::to_value(alert).unwrap_or_default(),
        time_ms: now_ms,
    }
}

/// The candidates grouped by suppression state ((tenant, model, entity)), each group in the
/// candidates' order, with their indices.
fn by_key(candidates: &[AlertCandidate]) -> Vec<Vec<(usize, &AlertCandidate)>> {
    let mut groups: BTreeMap<(&Tenant, AlertKey), Vec<(usize, &AlertCandidate)>> = BTreeMap::new();
    for (index, candidate) in candidates.iter().enumerate() {
        groups
            .entry((&candidate.tenant, candidate.key()))
            .or_default()
            .push((index, candidate));
    }
    groups.into_values().collect()
}
