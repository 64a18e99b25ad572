//! Non-HTTP triggers: what an invocation's JSON is (an API Gateway request, S3 ObjectCreated
//! records, an EventBridge scheduled event), the S3 objects it names with their keys URL-decoded,
//! the routing of `incoming/` keys, and the deterministic job id of an object version.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Prefix of uploads to score: `incoming/detect/{model}/...`.
pub const DETECT_PREFIX: &str = "incoming/detect/";

/// Prefix of uploads to train on: `incoming/train/{model}/...`.
pub const TRAIN_PREFIX: &str = "incoming/train/";

/// What an invocation carries.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway request (REST v1 or HTTP v2), for the HTTP handler.
    Http(Box<lambda_http::request::LambdaRequest>),
    /// S3 notification records (ObjectCreated and others).
    S3(Vec<S3ObjectRef>),
    /// An EventBridge event (a schedule), with its id.
    Schedule(ScheduledEvent),
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

/// One object an S3 record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectRef {
    /// The record's `eventName` (`ObjectCreated:Put`, ...).
    pub event_name: String,
    /// Bucket name.
    pub bucket: String,
    /// The key, URL-decoded (`+` is a space, `%XX` a byte).
    pub key: String,
    /// The object version, when the bucket is versioned.
    pub version_id: Option<String>,
    /// The ETag, without quotes.
    pub etag: Option<String>,
    /// S3's ordering token of events on one key.
    pub sequencer: Option<String>,
}

impl S3ObjectRef {
    /// Whether the record is an ObjectCreated event.
    pub fn is_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }

    /// `s3://bucket/key`.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// A job id that is the same for every delivery of one object version and different for any
    /// other: `s3-` and 32 hex digits of SHA-256 over `kind`, bucket, key and the version id (or,
    /// unversioned, the ETag and the sequencer).
    pub fn job_id(&self, kind: &str) -> String {
        let identity = match &self.version_id {
            Some(v) if !v.is_empty() && v != "null" => format!("version:{v}"),
            _ => format!(
                "etag:{}|sequencer:{}",
                self.etag.as_deref().unwrap_or(""),
                self.sequencer.as_deref().unwrap_or("")
            ),
        };
        deterministic_id(&[kind, &self.bucket, &self.key, &identity])
    }
}

/// `s3-` and 32 hex digits of SHA-256 over `parts` (length-prefixed, so no two part lists
/// collide by concatenation).
pub fn deterministic_id(parts: &[&str]) -> String {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update((part.len() as u64).to_be_bytes());
        sha.update(part.as_bytes());
    }
    let digest = sha.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("s3-{hex}")
}

/// Where an `incoming/` key sends the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingRoute {
    /// Score it with the model.
    Detect(String),
    /// Train a version of the model on it.
    Train(String),
    /// Not under `incoming/detect/{model}/` or `incoming/train/{model}/` (the model segment must
    /// be followed by a file name).
    Other,
}

/// The route of a decoded key.
pub fn route_key(key: &str) -> IncomingRoute {
    let model_of = |rest: &str| -> Option<String> {
        let (model, file) = rest.split_once('/')?;
        (!model.is_empty() && !file.is_empty() && !file.ends_with('/')).then(|| model.to_owned())
    };
    if let Some(model) = key.strip_prefix(DETECT_PREFIX).and_then(model_of) {
        IncomingRoute::Detect(model)
    } else if let Some(model) = key.strip_prefix(TRAIN_PREFIX).and_then(model_of) {
        IncomingRoute::Train(model)
    } else {
        IncomingRoute::Other
    }
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
    let is_s3 = event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:s3");
    if is_s3 {
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
            "neither an API Gateway request, an S3 event nor an EventBridge event".into(),
        ),
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

    #[test]
    fn when_key_is_under_incoming_should_route_by_prefix_and_model() {
        assert_eq!(
            route_key("incoming/detect/payments/a/b.csv"),
            IncomingRoute::Detect("payments".into())
        );
        assert_eq!(
            route_key("incoming/train/fraud/x.csv"),
            IncomingRoute::Train("fraud".into())
        );
        for other in [
            "incoming/detect/payments",
            "incoming/detect/payments/",
            "incoming/detect//x.csv",
            "results/payments/x.csv",
            "incoming/other/m/x.csv",
        ] {
            assert_eq!(route_key(other), IncomingRoute::Other, "{other}");
        }
    }

    fn object(version: Option<&str>, etag: &str) -> S3ObjectRef {
        S3ObjectRef {
            event_name: "ObjectCreated:Put".into(),
            bucket: "b".into(),
            key: "incoming/detect/m/x.csv".into(),
            version_id: version.map(str::to_owned),
            etag: Some(etag.into()),
            sequencer: Some("01".into()),
        }
    }

    #[test]
    fn when_same_object_version_should_give_the_same_job_id() {
        let a = object(Some("v1"), "e1");
        assert_eq!(a.job_id("batch"), object(Some("v1"), "e2").job_id("batch"));
        assert_ne!(a.job_id("batch"), object(Some("v2"), "e1").job_id("batch"));
        assert_ne!(a.job_id("batch"), a.job_id("train"));
        assert_ne!(
            object(None, "e1").job_id("batch"),
            object(None, "e2").job_id("batch")
        );
        assert_eq!(
            object(Some("null"), "e1").job_id("batch"),
            object(None, "e1").job_id("batch")
        );
        let id = a.job_id("batch");
        assert!(id.starts_with("s3-") && id.len() == 35, "{id}");
        assert!(crate::workflows::ids::is_plausible_job_id(&id));
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
