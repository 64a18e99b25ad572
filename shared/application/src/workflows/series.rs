//! Appending points to a tenant's series and judging them: load the series' detector (warm in the
//! container, or from its stored state), check every point, judge and learn them in order, store
//! the new state under a fresh key and move the record by one sequence with a conditional write.
//! A writer that loses the race deletes its state and starts over from the winner's, so two
//! invocations never lose each other's points; a request with one bad point learns nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use detection::series::{
    decode_state, encode_state, PointVerdict, SeriesDetector, SeriesParams, SeriesSettings,
};
use detection::WorkBudget;

use crate::cache::SeriesCache;
use crate::checksum::sha256_hex;
use crate::domain::ids::now_millis;
use crate::domain::names::validate_series_name;
use crate::domain::series::series_state_key;
use crate::domain::stream_record::MAX_RECORD_ID_BYTES;
use crate::domain::{SeriesAnomaly, SeriesRecord, Tenant};
use crate::error::{ServiceError, MAX_ANSWER_BYTES};
use crate::ports::{ObjectAdmin, ObjectMeta, ObjectStore, SeriesPage, SeriesStore, StoreError};
use crate::workflows::budgets::WorkBudgets;
use crate::workflows::series_request::{point_results, SeriesDetectResponse};

/// Most points one append (or one whole-series detect) may carry.
pub const MAX_POINTS_PER_REQUEST: usize = 10_000;
/// Longest value name.
pub const MAX_VALUE_NAME_BYTES: usize = 64;
/// Series a page lists unless the caller asks for another number.
pub const DEFAULT_SERIES_PAGE: usize = 50;
/// Most series a page lists: a record with its newest anomalies is at most about 15 KB, so a
/// page stays far under the response limit.
pub const MAX_SERIES_PAGE: usize = 100;
/// Times an append starts over after losing the race for a sequence.
const MAX_ATTEMPTS: usize = 8;
/// Bytes of one point's result in an answer beside its values (timestamp, entity, scores).
const RESULT_BYTES: usize = 320;
/// Bytes of one value in a result: it appears in the expected value, both bounds and the
/// attribution.
const RESULT_VALUE_BYTES: usize = 4 * 26;

/// One point as a caller sends it: a timestamp and its values by name.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPoint {
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The values by name (one name, `value`, for a single-valued series).
    pub values: BTreeMap<String, f64>,
    /// The entity the point is for, kept with its anomalies.
    pub entity: Option<String>,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendOutcome {
    /// The series' record after the append.
    pub record: SeriesRecord,
    /// Whether this append created the series.
    pub created: bool,
    /// One verdict per point, in request order.
    pub verdicts: Vec<PointVerdict>,
}

/// What an append of delivered points did, by the points' index in the delivery.
#[derive(Debug, Default)]
pub struct DeliveredAppend {
    /// The append of the new points (`None` when there were none).
    pub outcome: Option<AppendOutcome>,
    /// The points learned, in the order of the outcome's verdicts.
    pub learned: Vec<usize>,
    /// The points skipped as already learned.
    pub duplicates: Vec<usize>,
    /// The points that can never be learned, and why.
    pub rejected: Vec<(usize, ServiceError)>,
}

/// A series read for an append: its record, its detector, and whether the append creates it.
struct LoadedSeries {
    record: SeriesRecord,
    detector: SeriesDetector,
    created: bool,
}

/// The 409 of an append that lost the race for the next sequence on every attempt.
fn lost_every_race(name: &str) -> ServiceError {
    ServiceError::Conflict(format!(
        "series '{name}' kept moving under {MAX_ATTEMPTS} attempts to append; retry"
    ))
}

/// The series workflows, over the ports they use.
#[derive(Clone)]
pub struct SeriesWorkflow {
    objects: Arc<dyn ObjectStore>,
    admin: Arc<dyn ObjectAdmin>,
    series: Arc<dyn SeriesStore>,
    cache: Arc<SeriesCache>,
    budget: WorkBudget,
}

/// Refuses, before any work, a request whose points would take more than `budget` or whose
/// answer would pass the response limit.
fn admit_work(
    settings: &SeriesSettings,
    points: usize,
    budget: &WorkBudget,
) -> Result<(), ServiceError> {
    let answer = points.saturating_mul(RESULT_BYTES + settings.dimensions * RESULT_VALUE_BYTES);
    if answer > MAX_ANSWER_BYTES {
        let fits = MAX_ANSWER_BYTES / (RESULT_BYTES + settings.dimensions * RESULT_VALUE_BYTES);
        return Err(ServiceError::AnswerTooLarge(format!(
            "the answer to {points} points of {} values would be about {answer} bytes, above the \
             {MAX_ANSWER_BYTES}-byte response limit: send at most {fits} points per request",
            settings.dimensions
        )));
    }
    Ok(settings.check_work(points, budget)?)
}

fn check_points(points: &[NamedPoint]) -> Result<(), ServiceError> {
    if points.is_empty() {
        return Err(ServiceError::BadRequest("no points were sent".into()));
    }
    if points.len() > MAX_POINTS_PER_REQUEST {
        return Err(ServiceError::TooLarge(format!(
            "{} points were sent; one request carries at most {MAX_POINTS_PER_REQUEST}",
            points.len()
        )));
    }
    let entity_too_long = |point: &NamedPoint| {
        point
            .entity
            .as_ref()
            .is_some_and(|entity| entity.is_empty() || entity.len() > MAX_RECORD_ID_BYTES)
    };
    if let Some(index) = points.iter().position(entity_too_long) {
        return Err(ServiceError::BadRequest(format!(
            "point {index}: entity must be 1 to {MAX_RECORD_ID_BYTES} bytes (as a stream record's)"
        )));
    }
    Ok(())
}

/// The value names of a new series: the first point's, checked.
fn value_names(points: &[NamedPoint]) -> Result<Vec<String>, ServiceError> {
    let names: Vec<String> = points
        .first()
        .map(|point| point.values.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(bad) = names.iter().find(|name| {
        name.is_empty() || name.len() > MAX_VALUE_NAME_BYTES || name.chars().any(char::is_control)
    }) {
        return Err(ServiceError::BadRequest(format!(
            "value name '{}' must be 1 to {MAX_VALUE_NAME_BYTES} bytes without control characters",
            bad.escape_default()
        )));
    }
    Ok(names)
}

/// Each point's values in the series' order; a point with another set of names is refused,
/// naming it.
fn ordered(points: &[NamedPoint], names: &[String]) -> Result<Vec<Vec<f64>>, ServiceError> {
    points
        .iter()
        .enumerate()
        .map(|(index, point)| {
            if point.values.len() != names.len()
                || names.iter().any(|n| !point.values.contains_key(n))
            {
                return Err(ServiceError::InvalidInput(format!(
                    "point {index} has values {:?}; the series has {names:?}",
                    point.values.keys().collect::<Vec<_>>()
                )));
            }
            Ok(names
                .iter()
                .filter_map(|name| point.values.get(name).copied())
                .collect())
        })
        .collect()
}

/// Judges and learns every point after checking them all; the first bad one refuses the batch.
fn judge(
    detector: &mut SeriesDetector,
    points: &[NamedPoint],
    values: &[Vec<f64>],
) -> Result<Vec<PointVerdict>, ServiceError> {
    detector
        .check_batch(
            points
                .iter()
                .zip(values)
                .map(|(point, values)| (point.timestamp, values.as_slice())),
        )
        .map_err(|(index, error)| match ServiceError::from(error) {
            ServiceError::InvalidInput(message) => {
                ServiceError::InvalidInput(format!("point {index}: {message}"))
            }
            ServiceError::OutOfOrder(message) => {
                ServiceError::OutOfOrder(format!("point {index}: {message}"))
            }
            other => other,
        })?;
    points
        .iter()
        .zip(values)
        .map(|(point, values)| Ok(detector.observe(point.timestamp, values)?))
        .collect()
}

impl SeriesWorkflow {
    /// A workflow storing states in `objects` (deleting superseded ones through `admin`) and
    /// records in `series`, with detectors kept warm in `cache`.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        admin: Arc<dyn ObjectAdmin>,
        series: Arc<dyn SeriesStore>,
        cache: Arc<SeriesCache>,
    ) -> Self {
        Self {
            objects,
            admin,
            series,
            cache,
            budget: WorkBudgets::for_function(1024, 30).request,
        }
    }

    /// The same workflow refusing, before any work, requests estimated above `budget` (by
    /// default a 1,024 MB, 30 s function's request budget).
    pub fn with_budget(mut self, budget: WorkBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The detector `record` names: warm, or loaded from its stored state. `None` when the
    /// state is gone, which happens when another writer superseded (and deleted) it after
    /// `record` was read.
    async fn detector(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<Option<SeriesDetector>, ServiceError> {
        if let Some(detector) = self.cache.get(tenant, &record.name, &record.state_key) {
            return Ok(Some(detector));
        }
        let corrupted = |reason: String| {
            ServiceError::Internal(format!("series '{}' state: {reason}", record.name))
        };
        let Some(object) = (match self.objects.get(&record.state_key).await {
            Err(StoreError::Corrupted(reason)) => return Err(corrupted(reason)),
            other => other?,
        }) else {
            return Ok(None);
        };
        let detector = decode_state(&object.bytes).map_err(|e| corrupted(e.to_string()))?;
        self.cache.insert(
            tenant,
            &record.name,
            &record.state_key,
            detector.clone(),
            object.bytes.len(),
        );
        Ok(Some(detector))
    }

    /// The detector of `record`, or `None` when the record moved on since it was read (its
    /// state was superseded: the caller starts over); a state missing under a record that did
    /// not move is corruption.
    async fn current_detector(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<Option<SeriesDetector>, ServiceError> {
        if let Some(detector) = self.detector(tenant, record).await? {
            return Ok(Some(detector));
        }
        let now = self.series.series(tenant, &record.name).await?;
        if now.is_some_and(|now| now.state_key == record.state_key) {
            return Err(ServiceError::Internal(format!(
                "series '{}' state: '{}' is missing",
                record.name, record.state_key
            )));
        }
        Ok(None)
    }

    /// Reads `name`'s record and detector for an append of `points` (a new series is created
    /// with `params`, or the defaults, and the first point's value names), refusing, before any
    /// work, another configuration than the stored one and work over the budget. `None` when
    /// another writer moved the series while it was read (the caller starts over).
    async fn load(
        &self,
        tenant: &Tenant,
        name: &str,
        params: Option<&SeriesParams>,
        points: &[NamedPoint],
    ) -> Result<Option<LoadedSeries>, ServiceError> {
        match self.series.series(tenant, name).await? {
            Some(record) => {
                if params.is_some_and(|p| *p != record.params) {
                    return Err(ServiceError::Conflict(format!(
                        "series '{name}' exists with another configuration"
                    )));
                }
                let settings = record.params.clone().check(record.values.len())?;
                admit_work(&settings, points.len(), &self.budget)?;
                let Some(detector) = self.current_detector(tenant, &record).await? else {
                    return Ok(None);
                };
                Ok(Some(LoadedSeries {
                    record,
                    detector,
                    created: false,
                }))
            }
            None => {
                let params = params.cloned().unwrap_or_default();
                let names = value_names(points)?;
                let settings = params.clone().check(names.len())?;
                admit_work(&settings, points.len(), &self.budget)?;
                let now = now_millis();
                Ok(Some(LoadedSeries {
                    detector: SeriesDetector::new(settings)?,
                    record: SeriesRecord {
                        name: name.to_owned(),
                        params,
                        values: names,
                        sequence: 0,
                        points_seen: 0,
                        last_timestamp: None,
                        state_key: String::new(),
                        created_at_ms: now,
                        updated_at_ms: now,
                        recent_anomalies: Vec::new(),
                    },
                    created: true,
                }))
            }
        }
    }

    /// Stores what `loaded` learned from `points` (their `values` and `verdicts`): the state
    /// under a fresh key, then the record one sequence on. `None` when another writer moved the
    /// record first (this writer's state is deleted; the caller starts over).
    async fn commit(
        &self,
        tenant: &Tenant,
        loaded: LoadedSeries,
        points: &[NamedPoint],
        values: &[Vec<f64>],
        verdicts: Vec<PointVerdict>,
    ) -> Result<Option<AppendOutcome>, ServiceError> {
        let LoadedSeries {
            mut record,
            detector,
            created,
        } = loaded;
        let previous_key = std::mem::take(&mut record.state_key);
        record.sequence += 1;
        record.points_seen = detector.points_seen();
        record.last_timestamp = detector.last_timestamp();
        record.updated_at_ms = now_millis();
        record.state_key = series_state_key(
            tenant,
            &record.name,
            record.sequence,
            &format!("{:016x}", rand::random::<u64>()),
        );
        record.remember(
            points
                .iter()
                .zip(values)
                .zip(&verdicts)
                .filter(|(_, v)| v.is_anomaly)
                .map(|((point, values), verdict)| SeriesAnomaly {
                    timestamp: point.timestamp,
                    values: values.clone(),
                    score: verdict.score,
                    grade: verdict.grade,
                    entity: point.entity.clone(),
                }),
        );
        let bytes = encode_state(&detector)?;
        let meta = ObjectMeta {
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            content_type: "application/octet-stream".into(),
        };
        self.objects
            .put_if_absent(&record.state_key, &bytes, &meta)
            .await?;
        if !self.series.put_series(tenant, &record).await? {
            let _ = self.admin.delete(&record.state_key).await;
            return Ok(None);
        }
        self.cache.insert(
            tenant,
            &record.name,
            &record.state_key,
            detector,
            bytes.len(),
        );
        if !previous_key.is_empty() {
            // The superseded state is garbage now; a failed delete only leaves it behind.
            let _ = self.admin.delete(&previous_key).await;
        }
        Ok(Some(AppendOutcome {
            record,
            created,
            verdicts,
        }))
    }

    /// Appends `points` to `name`, creating it with `params` (or the defaults) on first use; an
    /// existing series given other `params` is a conflict. Answers every point's verdict.
    pub async fn append(
        &self,
        tenant: &Tenant,
        name: &str,
        params: Option<SeriesParams>,
        points: &[NamedPoint],
    ) -> Result<AppendOutcome, ServiceError> {
        validate_series_name(name)?;
        check_points(points)?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut loaded) = self.load(tenant, name, params.as_ref(), points).await? else {
                continue;
            };
            let values = ordered(points, &loaded.record.values)?;
            let verdicts = judge(&mut loaded.detector, points, &values)?;
            if let Some(outcome) = self
                .commit(tenant, loaded, points, &values, verdicts)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(lost_every_race(name))
    }

    /// Appends what a stream delivered for `name` (created with the defaults on first use):
    /// a point at or before the last timestamp learned (or an earlier point of the same
    /// delivery) is taken as a redelivery and skipped, so a delivery retried changes nothing
    /// twice; a point whose value names differ from the series' is rejected alone.
    pub async fn append_delivered(
        &self,
        tenant: &Tenant,
        name: &str,
        points: &[NamedPoint],
    ) -> Result<DeliveredAppend, ServiceError> {
        validate_series_name(name)?;
        check_points(points)?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(mut loaded) = self.load(tenant, name, None, points).await? else {
                continue;
            };
            let mut sorted = DeliveredAppend::default();
            let mut kept = Vec::new();
            let mut values = Vec::new();
            let mut last = loaded.record.last_timestamp;
            for (index, point) in points.iter().enumerate() {
                if last.is_some_and(|last| point.timestamp <= last) {
                    sorted.duplicates.push(index);
                    continue;
                }
                let fits =
                    ordered(std::slice::from_ref(point), &loaded.record.values).and_then(|one| {
                        let values = one.first().map_or(&[][..], Vec::as_slice);
                        loaded.detector.check(point.timestamp, values)?;
                        Ok(one)
                    });
                match fits {
                    Ok(mut one) => {
                        last = Some(point.timestamp);
                        sorted.learned.push(index);
                        kept.push(point.clone());
                        values.append(&mut one);
                    }
                    Err(error) => sorted.rejected.push((index, error)),
                }
            }
            if kept.is_empty() {
                return Ok(sorted);
            }
            let verdicts = judge(&mut loaded.detector, &kept, &values)?;
            if let Some(outcome) = self
                .commit(tenant, loaded, &kept, &values, verdicts)
                .await?
            {
                sorted.outcome = Some(outcome);
                return Ok(sorted);
            }
        }
        Err(lost_every_race(name))
    }

    /// Judges a whole series in one call with a fresh detector of `params` (for back-filling and
    /// trying settings on history); nothing is stored.
    pub fn detect(
        &self,
        params: SeriesParams,
        points: &[NamedPoint],
    ) -> Result<SeriesDetectResponse, ServiceError> {
        check_points(points)?;
        let names = value_names(points)?;
        let settings = params.clone().check(names.len())?;
        admit_work(&settings, points.len(), &self.budget)?;
        let values = ordered(points, &names)?;
        let mut detector = SeriesDetector::new(settings)?;
        let verdicts = judge(&mut detector, points, &values)?;
        Ok(SeriesDetectResponse {
            config: params,
            values: names,
            anomalies: verdicts.iter().filter(|v| v.is_anomaly).count(),
            results: point_results(points, verdicts),
        })
    }

    /// Up to `limit` (1 to [`MAX_SERIES_PAGE`]) of `tenant`'s series after `cursor` (the last name of the page
    /// before), by name; a cursor that is not a series name is a 400.
    pub async fn list(
        &self,
        tenant: &Tenant,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SeriesPage, ServiceError> {
        if let Some(cursor) = cursor {
            validate_series_name(cursor).map_err(|e| {
                ServiceError::BadRequest(format!("cursor is not a series name: {e}"))
            })?;
        }
        if !(1..=MAX_SERIES_PAGE).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit must be 1 to {MAX_SERIES_PAGE}, not {limit}"
            )));
        }
        Ok(self.series.list_series(tenant, limit, cursor).await?)
    }

    /// The record of `name`, or [`ServiceError::SeriesNotFound`].
    pub async fn describe(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> Result<SeriesRecord, ServiceError> {
        validate_series_name(name)?;
        self.series
            .series(tenant, name)
            .await?
            .ok_or_else(|| ServiceError::SeriesNotFound(name.to_owned()))
    }
}
