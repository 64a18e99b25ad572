//! What an invocation's JSON is: an API Gateway request, S3 records (the objects they name, with
//! their keys URL-decoded), an EventBridge event, Kinesis or SQS records, or something this
//! service does not handle.

use application::domain::stream_record::{DeliveredRecord, StreamSource};
use application::domain::S3ObjectRef;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

/// What an invocation carries.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway request (REST v1 or HTTP v2), for the HTTP handler.
    Http(Box<lambda_http::request::LambdaRequest>),
    /// S3 notification records (ObjectCreated and others).
    S3(Vec<S3ObjectRef>),
    /// An EventBridge event (a schedule), with its id.
    Schedule(ScheduledEvent),
    /// Records of a Kinesis stream or an SQS queue (an event-source mapping's batch).
    Stream(StreamSource, Vec<DeliveredRecord>),
    /// Anything else; the message says what was expected.
    Unknown(String),
}

/// An EventBridge event as a function sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledEvent {
    /// The event id (unique per event, repeated on redelivery).
    pub id: String,
    /// `detail-type`, `Scheduled Event` for schedules.
    pub detail_type: String,
}

/// Decodes an S3 event key: `+` is a space and `%XX` a byte; the bytes must be UTF-8. A `%` not
/// followed by two hex digits is kept as is.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("key '{raw}' does not decode to UTF-8"))
}

/// What `event` is. S3 records whose key does not decode are dropped with a warning.
pub fn classify(event: Value) -> Trigger {
    let records_source = event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match records_source.as_deref() {
        Some("aws:kinesis") => return kinesis_records(event),
        Some("aws:sqs") => return sqs_records(event),
        _ => {}
    }
    if records_source.as_deref() == Some("aws:s3") {
        return match serde_json::from_value::<S3Event>(event) {
            Ok(s3) => Trigger::S3(
                s3.records
                    .into_iter()
                    .filter_map(|r| {
                        let raw = r.s3.object.key.unwrap_or_default();
                        let key = decode_key(&raw)
                            .map_err(|e| tracing::warn!(error = %e, "S3 record skipped"))
                            .ok()?;
                        Some(S3ObjectRef {
                            event_name: r.event_name.unwrap_or_default(),
                            bucket: r.s3.bucket.name.unwrap_or_default(),
                            key,
                            version_id: r.s3.object.version_id,
                            etag: r.s3.object.e_tag.map(|e| e.trim_matches('"').to_owned()),
                            sequencer: r.s3.object.sequencer,
                        })
                    })
                    .collect(),
            ),
            Err(e) => Trigger::Unknown(format!("an S3 event that does not parse: {e}")),
        };
    }
    if event.get("detail-type").is_some() && event.get("source").is_some() {
        return match serde_json::from_value::<EventBridgeEvent>(event) {
            Ok(e) => Trigger::Schedule(ScheduledEvent {
                id: e.id.unwrap_or_default(),
                detail_type: e.detail_type,
            }),
            Err(e) => Trigger::Unknown(format!("an EventBridge event that does not parse: {e}")),
        };
    }
    match serde_json::from_value::<lambda_http::request::LambdaRequest>(event) {
        Ok(request) => Trigger::Http(Box::new(request)),
        Err(_) => Trigger::Unknown(
            "neither an API Gateway request, an S3, Kinesis, SQS nor EventBridge event".into(),
        ),
    }
}

/// The records of a Kinesis delivery: data decoded from base64, failures named by sequence number.
fn kinesis_records(event: Value) -> Trigger {
    match serde_json::from_value::<KinesisEvent>(event) {
        Ok(kinesis) => Trigger::Stream(
            StreamSource::Kinesis,
            kinesis
                .records
                .into_iter()
                .map(|r| DeliveredRecord {
                    delivery_id: r
                        .event_id
                        .unwrap_or_else(|| r.kinesis.sequence_number.clone()),
                    item_id: r.kinesis.sequence_number,
                    source_arn: r.event_source_arn.unwrap_or_default(),
                    data: r.kinesis.data.0,
                })
                .collect(),
        ),
        Err(e) => Trigger::Unknown(format!("a Kinesis event that does not parse: {e}")),
    }
}

/// The messages of an SQS delivery, named by message id.
fn sqs_records(event: Value) -> Trigger {
    match serde_json::from_value::<SqsEvent>(event) {
        Ok(sqs) => Trigger::Stream(
            StreamSource::Sqs,
            sqs.records
                .into_iter()
                .map(|m| {
                    let id = m.message_id.unwrap_or_default();
                    DeliveredRecord {
                        item_id: id.clone(),
                        delivery_id: id,
                        source_arn: m.event_source_arn.unwrap_or_default(),
                        data: m.body.unwrap_or_default().into_bytes(),
                    }
                })
                .collect(),
        ),
        Err(e) => Trigger::Unknown(format!("an SQS event that does not parse: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_key_is_form_encoded_should_decode_plus_and_percent() {
        assert_eq!(
            decode_key("incoming/detect/payments/2026%2F11%2Fbatch+1.csv").unwrap(),
            "incoming/detect/payments/2026/11/batch 1.csv"
        );
        assert_eq!(decode_key("a%2Bb%20c%zz%").unwrap(), "a+b c%zz%");
        assert_eq!(decode_key("caf%C3%A9").unwrap(), "café");
        assert!(decode_key("%FF").is_err());
    }

    /// The records `classify` finds in the fixture `events/{file}`.
    fn stream_fixture(file: &str) -> (StreamSource, Vec<DeliveredRecord>) {
        let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let event = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        match classify(event) {
            Trigger::Stream(source, records) => (source, records),
            other => panic!("{file} is not a stream delivery: {other:?}"),
        }
    }

    #[test]
    fn when_kinesis_delivers_should_decode_each_record_and_name_it_by_sequence_number() {
        let (source, records) = stream_fixture("kinesis-records.json");
        assert_eq!(source, StreamSource::Kinesis);
        assert_eq!(records.len(), 4);
        let anomalous = &records[1];
        assert_eq!(
            anomalous.item_id,
            "49656800000000000000000000000000000000000000000000000002"
        );
        assert_eq!(
            anomalous.delivery_id,
            format!("shardId-000000000000:{}", anomalous.item_id)
        );
        assert!(anomalous.source_arn.starts_with("arn:aws:kinesis:"));
        let data: Value = serde_json::from_slice(&anomalous.data).unwrap();
        assert_eq!(data["id"], "txn-7731", "the data is decoded from base64");
    }

    #[test]
    fn when_sqs_delivers_should_take_each_body_and_name_it_by_message_id() {
        let (source, records) = stream_fixture("sqs-records.json");
        assert_eq!(source, StreamSource::Sqs);
        assert_eq!(records.len(), 4);
        let anomalous = &records[1];
        assert_eq!(anomalous.item_id, anomalous.delivery_id);
        assert!(anomalous.source_arn.starts_with("arn:aws:sqs:"));
        let data: Value = serde_json::from_slice(&anomalous.data).unwrap();
        assert_eq!(data["id"], "txn-7731");
    }

    #[test]
    fn when_a_stream_delivery_does_not_parse_should_be_unknown() {
        let broken = serde_json::json!({"Records": [{"eventSource": "aws:kinesis", "kinesis": 1}]});
        assert!(matches!(classify(broken), Trigger::Unknown(_)));
    }

    #[test]
    fn when_event_is_not_json_of_a_known_trigger_should_be_unknown() {
        assert!(matches!(
            classify(serde_json::json!({"hello": 1})),
            Trigger::Unknown(_)
        ));
        assert!(matches!(
            classify(serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "e1", "detail": {}})),
            Trigger::Schedule(ScheduledEvent { ref id, .. }) if id == "e1"
        ));
    }
}
