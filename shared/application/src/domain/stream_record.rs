//! The records streams and queues deliver (Kinesis Data Streams, SQS): what the trigger hands the
//! scoring workflow, and the JSON a record carries.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The most bytes of one record's data (Kinesis' own limit; an SQS message is at most 256 KiB).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// The most records of one delivery (Kinesis' and SQS' largest batch).
pub const MAX_BATCH_RECORDS: usize = 10_000;
/// The most features one record may carry.
pub const MAX_RECORD_FEATURES: usize = 10_000;
/// The most bytes of an entity or record id.
pub const MAX_RECORD_ID_BYTES: usize = 256;

/// Which service delivered a batch; their failure reports differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSource {
    /// Kinesis Data Streams (a failure names the sequence number; Lambda resumes from the lowest).
    Kinesis,
    /// SQS (a failure names the message id; only those messages come back).
    Sqs,
}

impl StreamSource {
    /// The name in alerts, dead letters and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kinesis => "kinesis",
            Self::Sqs => "sqs",
        }
    }
}

/// One delivered record, as the trigger hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRecord {
    /// What a partial-failure report names: the Kinesis sequence number, the SQS message id.
    pub item_id: String,
    /// Identifies the record across redeliveries: the Kinesis event id (`shard:sequence`), the
    /// SQS message id.
    pub delivery_id: String,
    /// The stream's or queue's ARN (which tenant it belongs to).
    pub source_arn: String,
    /// The record's data (Kinesis data decoded from base64; the SQS body).
    pub data: Vec<u8>,
}

/// The JSON a record carries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRecord {
    /// The model; optional when the source is mapped to one.
    #[serde(default)]
    pub model: Option<String>,
    /// The series the record is a point of (instead of a model): its `features` are the point's
    /// values and its `timestamp` (epoch milliseconds) is required.
    #[serde(default)]
    pub series: Option<String>,
    /// The version; the latest when absent.
    #[serde(default)]
    pub version: Option<u32>,
    /// The feature values by name (every feature of the model, nothing else).
    pub features: BTreeMap<String, f64>,
    /// What the record is about (a card, a host); alerts are suppressed per model and entity.
    #[serde(default)]
    pub entity: Option<String>,
    /// When it happened, as the producer gives it (carried into the alert as is).
    #[serde(default)]
    pub timestamp: Option<Value>,
    /// The producer's own id of the record (else the delivery's id is used).
    #[serde(default)]
    pub id: Option<String>,
}

/// Why a record can never be scored: it goes to the dead-letter destination with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRejection {
    /// A stable code (`malformed_record`, `model_not_found`, `unmapped_source`, ...).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl StreamRecord {
    /// Parses and checks one record's data: JSON of at most [`MAX_RECORD_BYTES`], finite values,
    /// bounded ids.
    pub fn parse(data: &[u8]) -> Result<Self, RecordRejection> {
        let malformed = |message: String| RecordRejection {
            code: "malformed_record",
            message,
        };
        if data.len() > MAX_RECORD_BYTES {
            return Err(malformed(format!(
                "the record is {} bytes; at most {MAX_RECORD_BYTES} are accepted",
                data.len()
            )));
        }
        let record: Self = serde_json::from_slice(data)
            .map_err(|e| malformed(format!("the record is not a valid record object: {e}")))?;
        if record.features.is_empty() || record.features.len() > MAX_RECORD_FEATURES {
            return Err(malformed(format!(
                "features must name between 1 and {MAX_RECORD_FEATURES} values"
            )));
        }
        if let Some((name, _)) = record.features.iter().find(|(_, v)| !v.is_finite()) {
            return Err(malformed(format!(
                "feature {name:?} is not a finite number"
            )));
        }
        if record.series.is_some() {
            if record.model.is_some() || record.version.is_some() {
                return Err(malformed(
                    "a record is a point of a series or a row for a model, not both".into(),
                ));
            }
            if !record.timestamp.as_ref().is_some_and(Value::is_i64) {
                return Err(malformed(
                    "a series record needs its timestamp in epoch milliseconds (an integer)".into(),
                ));
            }
        }
        for (field, value) in [("entity", &record.entity), ("id", &record.id)] {
            if let Some(value) = value {
                if value.is_empty() || value.len() > MAX_RECORD_ID_BYTES {
                    return Err(malformed(format!(
                        "{field} must be 1 to {MAX_RECORD_ID_BYTES} bytes"
                    )));
                }
            }
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_record_is_well_formed_should_parse_its_fields() {
        let record = StreamRecord::parse(
            br#"{"model":"payments","features":{"amount":12.5,"hour":3},"entity":"card-1","timestamp":"2026-12-03T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(record.model.as_deref(), Some("payments"));
        assert_eq!(record.features["amount"], 12.5);
        assert_eq!(record.entity.as_deref(), Some("card-1"));
    }

    #[test]
    fn when_a_record_is_a_series_point_should_parse_its_series_and_timestamp() {
        let record = StreamRecord::parse(
            br#"{"series":"cpu","features":{"value":0.5},"timestamp":1764756000000}"#,
        )
        .unwrap();
        assert_eq!(record.series.as_deref(), Some("cpu"));
        assert_eq!(
            record.timestamp.as_ref().and_then(Value::as_i64),
            Some(1_764_756_000_000)
        );
    }

    #[test]
    fn when_a_record_is_malformed_should_say_why() {
        for (data, needle) in [
            (&b"not json"[..], "not a valid record"),
            (br#"{"features":{}}"#, "between 1"),
            (br#"{"features":{"a":1},"extra":1}"#, "unknown field"),
            (br#"{"features":{"a":"x"}}"#, "not a valid record"),
            (br#"{"features":{"a":1},"entity":""}"#, "entity"),
            (
                br#"{"series":"cpu","model":"m","features":{"a":1},"timestamp":1}"#,
                "not both",
            ),
            (
                br#"{"series":"cpu","features":{"a":1},"timestamp":"2026-12-03T10:00:00Z"}"#,
                "epoch milliseconds",
            ),
            (
                br#"{"series":"cpu","features":{"a":1}}"#,
                "epoch milliseconds",
            ),
        ] {
            let rejection = StreamRecord::parse(data).unwrap_err();
            assert_eq!(rejection.code, "malformed_record");
            assert!(rejection.message.contains(needle), "{}", rejection.message);
        }
        let big = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(StreamRecord::parse(&big)
            .unwrap_err()
            .message
            .contains("bytes"));
    }
}
