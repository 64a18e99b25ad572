//! The record of one `Idempotency-Key`: a creating `POST` sent again with the same key and the
//! same payload within [`IDEMPOTENCY_TTL_SECS`] answers what the first one answered (the
//! semantics of Powertools for AWS Lambda's idempotency utility).

use serde::{Deserialize, Serialize};

use super::keys::{idempotency_pk, IDEMPOTENCY_SK};
use super::tenant::Tenant;

/// How long a completed answer is replayed, in seconds: 24 hours.
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// Most bytes of an `Idempotency-Key` header.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Most bytes of an answer kept for replay (a DynamoDB item holds at most 400 KB); a larger
/// answer is not kept, so a retry runs again.
pub const MAX_REPLAYED_ANSWER_BYTES: usize = 256 * 1024;

/// Where a keyed request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyStatus {
    /// The first request is being served.
    InProgress,
    /// The first request was answered; its answer is replayed.
    Completed,
}

/// The answer kept for replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body, as sent (minus the fields the route never keeps, such as a new key's
    /// secret).
    pub body: String,
}

/// The `T#{tenant}#IDEM#{key}` / `IDEM` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The tenant whose caller sent the key.
    pub tenant: Tenant,
    /// SHA-256 (hex) of the route and the caller's `Idempotency-Key`.
    pub key: String,
    /// SHA-256 (hex) of the request's method, path, query and body.
    pub payload_sha256: String,
    /// Where the request is.
    pub status: IdempotencyStatus,
    /// The answer, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerRecord>,
    /// Until when (milliseconds since the epoch) an in-progress record blocks a retry; after
    /// that its invocation is taken to have died and a retry runs again.
    pub in_progress_until: u64,
    /// Expiry, seconds since the epoch (the table's TTL attribute).
    pub expires_at: u64,
}

impl IdempotencyRecord {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        idempotency_pk(&self.tenant, &self.key)
    }

    /// The item's sort key.
    pub fn sk(&self) -> &'static str {
        IDEMPOTENCY_SK
    }

    /// Whether the record still decides the answer at `now_ms`: not expired, and not an
    /// in-progress record whose invocation ran out of time.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at.saturating_mul(1000) > now_ms
            && (self.status == IdempotencyStatus::Completed || self.in_progress_until > now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: IdempotencyStatus) -> IdempotencyRecord {
        IdempotencyRecord {
            tenant: Tenant::parse("acme").unwrap(),
            key: "k".into(),
            payload_sha256: "p".into(),
            status,
            answer: None,
            in_progress_until: 2_000,
            expires_at: 10,
        }
    }

    #[test]
    fn when_time_passes_should_stop_deciding() {
        let busy = record(IdempotencyStatus::InProgress);
        assert!(busy.is_live(1_999));
        assert!(
            !busy.is_live(2_000),
            "a dead invocation's record no longer blocks"
        );
        let done = record(IdempotencyStatus::Completed);
        assert!(done.is_live(9_999));
        assert!(!done.is_live(10_000), "expired after its TTL");
        assert!(done.pk().starts_with("T#acme#IDEM#"));
    }
}
