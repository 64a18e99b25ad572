//! Port structs to DynamoDB items and back. A struct becomes one attribute per field through its
//! serde form (strings `S`, numbers `N`, booleans `BOOL`, null `NULL`, lists `L`, objects `M`),
//! plus the key and index attributes of [`schema`](crate::schema); an item that does not
//! decode is [`StoreError::Corrupted`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::schema::{CATALOG_PK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, KEY_ATTRIBUTES, PK, SK};
use application::domain::keys::{lease_sk, model_pk, JOB_SK, LATEST_SK, LEASES_PK};
use application::domain::{Job, JobStatus, ModelVersion, Tenant};
use application::ports::StoreError;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A JSON value as an attribute value.
pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(values) => AttributeValue::L(values.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

/// An attribute value as JSON; sets, binary and malformed numbers are refused.
pub fn from_attribute(value: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::L(values) => Value::Array(
            values
                .iter()
                .map(from_attribute)
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
                .collect::<Result<Map<_, _>, StoreError>>()?,
        ),
        other => {
            return Err(StoreError::Corrupted(format!(
                "unexpected attribute type {other:?}"
            )))
        }
    })
}

/// A DynamoDB number as a JSON number: integers exactly, others as finite floats.
fn parse_number(text: &str) -> Result<Number, StoreError> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Ok(Number::from(n));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Number::from(n));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| StoreError::Corrupted(format!("'{text}' is not a number")))
}

/// The attributes of a struct (which must serialize to a JSON object).
pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map
            .iter()
            .map(|(k, v)| (k.clone(), to_attribute(v)))
            .collect()),
        Ok(_) => Err(StoreError::Invalid("item is not an object".into())),
        Err(e) => Err(StoreError::Invalid(format!("item does not serialize: {e}"))),
    }
}

/// A struct from an item's attributes, ignoring the key and index attributes.
pub fn from_item<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let map = item
        .iter()
        .filter(|(k, _)| !KEY_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
        .collect::<Result<Map<_, _>, StoreError>>()?;
    let pk = item.get(PK).and_then(|v| v.as_s().ok()).map(String::as_str);
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        StoreError::Corrupted(format!("item {} does not decode: {e}", pk.unwrap_or("?")))
    })
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The primary key `{PK, SK}` of an item.
pub fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The `MODEL#{name}` / `VERSION#{000001}` item.
pub fn version_item(version: &ModelVersion) -> Result<Item, StoreError> {
    let mut item = to_item(version)?;
    item.extend(key(version.pk(), &version.sk()));
    Ok(item)
}

/// The `MODEL#{name}` / `LATEST` item: a copy of the current version's item, listed in the
/// models index.
pub fn latest_item(version: &ModelVersion) -> Result<Item, StoreError> {
    let mut item = to_item(version)?;
    item.extend(key(version.pk(), LATEST_SK));
    item.insert(GSI2_PK.to_owned(), s(CATALOG_PK));
    item.insert(
        GSI2_SK.to_owned(),
        s(format!(
            "{}{}",
            catalog_prefix(&version.tenant),
            version.name
        )),
    );
    Ok(item)
}

/// The start of the catalog sort key of every model of `tenant` (`{tenant}#`; a tenant holds no
/// `#`, so no tenant's prefix starts another's).
pub fn catalog_prefix(tenant: &Tenant) -> String {
    format!("{tenant}#")
}

/// The jobs index sort key: creation time zero-padded to 20 digits, `#`, the id.
pub fn job_index_sk(job: &Job) -> String {
    format!("{:020}#{}", job.created_at, job.id)
}

/// The `JOB#{id}` / `JOB` item, listed in the jobs index when it concerns a model.
pub fn job_item(job: &Job) -> Result<Item, StoreError> {
    let mut item = to_item(job)?;
    item.extend(key(job.pk(), JOB_SK));
    if let Some(model) = &job.model {
        item.insert(GSI1_PK.to_owned(), s(model_pk(&job.tenant, model)));
        item.insert(GSI1_SK.to_owned(), s(job_index_sk(job)));
    }
    if let (JobStatus::Running | JobStatus::Pending, Some(lease)) =
        (job.status, job.lease_expires_at)
    {
        item.insert(GSI2_PK.to_owned(), s(LEASES_PK));
        item.insert(GSI2_SK.to_owned(), s(lease_sk(lease, &job.tenant, &job.id)));
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::domain::{JobCounts, JobKind, JobStatus, JobTimings, TrainingStats};

    fn version() -> ModelVersion {
        ModelVersion {
            tenant: Tenant::parse("acme").unwrap(),
            name: "payments".into(),
            version: 3,
            algorithm: "ecod".into(),
            features: vec!["b".into(), "a".into()],
            threshold: 0.123_456_789_012_345_67,
            s3_key: "models/payments/v000003/model.nmly".into(),
            sha256: "ab".into(),
            size: 10,
            training: TrainingStats {
                rows: 5,
                calibration_rows: 5,
                duration_ms: 2,
                labels: 0,
            },
            created_at: 1_700_000_000_000,
            source: None,
            job: None,
        }
    }

    fn job() -> Job {
        Job {
            tenant: Tenant::parse("acme").unwrap(),
            id: "j1".into(),
            kind: JobKind::Detect,
            status: JobStatus::Failed,
            model: Some("payments".into()),
            version: None,
            counts: JobCounts {
                rows: 2,
                anomalies: 1,
            },
            timings: JobTimings { duration_ms: 0.25 },
            anomaly_rows: vec![1],
            error: Some("boom".into()),
            created_at: 42,
            expires_at: 7,
            source: None,
            results_key: None,
            lease_expires_at: None,
            progress: None,
        }
    }

    #[test]
    fn when_version_mapped_should_round_trip_with_keys() {
        let v = version();
        let item = version_item(&v).unwrap();
        assert_eq!(item[PK], s("T#acme#MODEL#payments"));
        assert_eq!(item[SK], s("VERSION#000003"));
        assert_eq!(from_item::<ModelVersion>(&item).unwrap(), v);
        let latest = latest_item(&v).unwrap();
        assert_eq!(latest[SK], s("LATEST"));
        assert_eq!(latest[GSI2_PK], s(CATALOG_PK));
        assert_eq!(latest[GSI2_SK], s("acme#payments"));
        assert_eq!(latest["version"], AttributeValue::N("3".into()));
        assert_eq!(from_item::<ModelVersion>(&latest).unwrap(), v);
    }

    #[test]
    fn when_job_mapped_should_carry_ttl_and_index_keys() {
        let j = job();
        let item = job_item(&j).unwrap();
        assert_eq!(item["expires_at"], AttributeValue::N("7".into()));
        assert_eq!(item[GSI1_PK], s("T#acme#MODEL#payments"));
        assert_eq!(item[GSI1_SK], s("00000000000000000042#j1"));
        assert_eq!(item["version"], AttributeValue::Null(true));
        assert_eq!(from_item::<Job>(&item).unwrap(), j);
        let mut unowned = j.clone();
        unowned.model = None;
        assert!(!job_item(&unowned).unwrap().contains_key(GSI1_PK));
    }

    #[test]
    fn when_numbers_normalized_by_the_service_should_still_decode() {
        let mut item = version_item(&version()).unwrap();
        item.insert("threshold".into(), AttributeValue::N("2".into()));
        item.insert("size".into(), AttributeValue::N("1E1".into()));
        let err = from_item::<ModelVersion>(&item).unwrap_err();
        // A float where an integer is required is corruption, not a panic.
        assert!(matches!(err, StoreError::Corrupted(_)), "{err:?}");
        item.insert("size".into(), AttributeValue::N("10".into()));
        assert_eq!(from_item::<ModelVersion>(&item).unwrap().threshold, 2.0);
    }

    #[test]
    fn when_item_undecodable_should_be_corrupted() {
        let mut item = version_item(&version()).unwrap();
        item.insert("version".into(), s("three"));
        assert!(matches!(
            from_item::<ModelVersion>(&item),
            Err(StoreError::Corrupted(_))
        ));
        item.insert("version".into(), AttributeValue::N("not a number".into()));
        assert!(matches!(
            from_item::<ModelVersion>(&item),
            Err(StoreError::Corrupted(_))
        ));
        item.insert("version".into(), AttributeValue::Ss(vec!["x".into()]));
        assert!(matches!(
            from_item::<ModelVersion>(&item),
            Err(StoreError::Corrupted(_))
        ));
    }
}
