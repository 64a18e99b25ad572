//! Where stream records that can never be scored go, with the reason, so they neither block their
//! shard or queue nor disappear (an SQS queue in AWS; locally a JSON-lines file).

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// One record set aside.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// `kinesis` or `sqs`.
    pub source: String,
    /// The stream's or queue's ARN.
    pub source_arn: String,
    /// The delivery's id (Kinesis event id, SQS message id).
    pub delivery_id: String,
    /// Why it cannot be scored: a stable code.
    pub code: String,
    /// Why, for a person.
    pub reason: String,
    /// The record's data (as UTF-8, lossy), cut to [`DEAD_LETTER_DATA_BYTES`].
    pub data: String,
    /// Whether `data` was cut.
    pub truncated: bool,
    /// When it was set aside, ms since the epoch.
    pub at_ms: u64,
}

/// The most bytes of a record's data a dead letter carries (an SQS message holds 256 KiB).
pub const DEAD_LETTER_DATA_BYTES: usize = 200 * 1024;

impl DeadLetter {
    /// A dead letter of `data` (cut to [`DEAD_LETTER_DATA_BYTES`] on a character boundary).
    pub fn new(
        source: &str,
        source_arn: &str,
        delivery_id: &str,
        code: &str,
        reason: &str,
        data: &[u8],
        at_ms: u64,
    ) -> Self {
        let text = String::from_utf8_lossy(data);
        let mut end = text.len().min(DEAD_LETTER_DATA_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            source: source.to_owned(),
            source_arn: source_arn.to_owned(),
            delivery_id: delivery_id.to_owned(),
            code: code.to_owned(),
            reason: reason.to_owned(),
            data: text[..end].to_owned(),
            truncated: end < text.len(),
            at_ms,
        }
    }
}

/// Keeps dead letters, all or an error (a record whose letter was not kept is retried instead).
#[async_trait]
pub trait DeadLetterSink: Send + Sync {
    /// Keeps `letters`.
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError>;
}

/// No destination configured: every letter is refused as unavailable, so its record is retried by
/// its source (and ends in the source's own failure destination), never dropped.
pub struct NoDeadLetters;

#[async_trait]
impl DeadLetterSink for NoDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        if letters.is_empty() {
            return Ok(());
        }
        Err(StoreError::Unavailable(
            "no dead-letter destination is configured".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_data_is_long_should_cut_it_on_a_character_boundary() {
        let data = "é".repeat(DEAD_LETTER_DATA_BYTES);
        let letter = DeadLetter::new(
            "sqs",
            "arn",
            "m-1",
            "malformed_record",
            "bad",
            data.as_bytes(),
            1,
        );
        assert!(letter.truncated);
        assert!(letter.data.len() <= DEAD_LETTER_DATA_BYTES);
        let short = DeadLetter::new("sqs", "arn", "m-1", "malformed_record", "bad", b"{}", 1);
        assert_eq!((short.data.as_str(), short.truncated), ("{}", false));
    }
}
