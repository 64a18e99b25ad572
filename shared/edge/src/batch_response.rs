//! The answer to a Kinesis or SQS delivery under `ReportBatchItemFailures`: the records to deliver
//! again, so one bad record never sends its whole batch back.

use application::workflows::stream::StreamOutcome;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::dispatch::EventOutcome;

/// `{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`, Lambda's partial-batch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResponse {
    /// The item ids to deliver again (Kinesis sequence numbers, SQS message ids).
    pub failures: Vec<String>,
}

impl From<StreamOutcome> for BatchResponse {
    fn from(outcome: StreamOutcome) -> Self {
        Self {
            failures: outcome.failed_items,
        }
    }
}

impl EventOutcome for BatchResponse {
    fn status(&self) -> &'static str {
        if self.failures.is_empty() {
            "ok"
        } else {
            "partial"
        }
    }
}

/// One failed item.
struct Item<'a>(&'a str);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("itemIdentifier", self.0)?;
        map.end()
    }
}

/// The failures as a list of items.
struct Items<'a>(&'a [String]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for id in self.0 {
            seq.serialize_element(&Item(id))?;
        }
        seq.end()
    }
}

impl Serialize for BatchResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("batchItemFailures", &Items(&self.failures))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_items_failed_should_name_each_as_lambda_expects() {
        let response = BatchResponse {
            failures: vec![
                "49590338271490256608559692538361571095921575989136588898".into(),
                "m-2".into(),
            ],
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [
                {"itemIdentifier": "49590338271490256608559692538361571095921575989136588898"},
                {"itemIdentifier": "m-2"}
            ]})
        );
        assert_eq!(response.status(), "partial");
        let none = BatchResponse { failures: vec![] };
        assert_eq!(
            serde_json::to_value(&none).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
        assert_eq!(none.status(), "ok");
    }
}
