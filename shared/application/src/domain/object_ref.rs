//! An uploaded object an event names, and the deterministic job id of one object version, so
//! every delivery of the same upload claims the same job.

use sha2::{Digest, Sha256};

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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(crate::domain::ids::is_plausible_job_id(&id));
    }
}
