//! Dead letters on Amazon SQS: each [`DeadLetter`] is one message whose body is the letter as
//! JSON, sent by `SendMessageBatch` at most 10 messages and 256 KiB per call; messages the service
//! reports failed through no fault of ours are resent, only those, a few times.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::batch::{pack, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES};
use crate::errors::{build_error, classify};
use crate::retry::{send_until_processed, SINK_BACKOFF};
use application::ports::{DeadLetter, DeadLetterSink, StoreError};

/// A [`DeadLetterSink`] sending to one SQS queue.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    /// A sink sending to the queue at `queue_url` through `client`, resending failed messages
    /// with [`SINK_BACKOFF`].
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// A sink on `queue_url` with a client from `sdk` (the configuration the other adapters
    /// share).
    pub fn from_sdk(sdk: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), queue_url)
    }

    /// One `SendMessageBatch` call of `entries`; the entries it reports failed through no fault
    /// of the request ([`StoreError::Invalid`] when one failed through ours: resending it would
    /// fail again).
    async fn send_batch(
        &self,
        entries: Vec<SendMessageBatchRequestEntry>,
    ) -> Result<Vec<SendMessageBatchRequestEntry>, StoreError> {
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| classify("SendMessageBatch", e))?;
        let mut failed = Vec::new();
        for error in output.failed() {
            if error.sender_fault() {
                return Err(StoreError::Invalid(format!(
                    "SendMessageBatch refused message {}: {} {}",
                    error.id(),
                    error.code(),
                    error.message().unwrap_or_default()
                )));
            }
            tracing::warn!(
                code = error.code(),
                message = error.message().unwrap_or_default(),
                "SQS failed a dead letter; resending it"
            );
            let entry = entries
                .iter()
                .find(|entry| entry.id() == error.id())
                .ok_or_else(|| {
                    StoreError::Unavailable(format!(
                        "SendMessageBatch reported unknown message {} failed",
                        error.id()
                    ))
                })?;
            failed.push(entry.clone());
        }
        Ok(failed)
    }
}

/// The message body of `letter`: its JSON, with U+FFFE and U+FFFF (which SQS refuses in a
/// message, and which JSON text holds only inside strings) written as escapes.
fn message_body(letter: &DeadLetter) -> Result<String, StoreError> {
    let json = serde_json::to_string(letter)
        .map_err(|e| StoreError::Invalid(format!("dead letter of {}: {e}", letter.delivery_id)))?;
    Ok(json
        .replace('\u{FFFE}', "\\ufffe")
        .replace('\u{FFFF}', "\\uffff"))
}

/// The messages of `letters`, their ids their indexes (unique within any batch of them).
fn entries(letters: &[DeadLetter]) -> Result<Vec<SendMessageBatchRequestEntry>, StoreError> {
    letters
        .iter()
        .enumerate()
        .map(|(index, letter)| {
            SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(message_body(letter)?)
                .build()
                .map_err(build_error)
        })
        .collect()
}

#[async_trait]
impl DeadLetterSink for SqsDeadLetters {
    /// `SendMessageBatch` per batch of at most 10 messages and 256 KiB; a message over 256 KiB
    /// is [`StoreError::Invalid`] before anything is sent, and messages still failing after
    /// [`SINK_BACKOFF`]'s retries are [`StoreError::Unavailable`] (earlier batches stay sent).
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        let body_size = |entry: &SendMessageBatchRequestEntry| entry.message_body().len();
        for batch in pack(
            entries(letters)?,
            MAX_BATCH_ENTRIES,
            MAX_BATCH_BYTES,
            body_size,
        )? {
            send_until_processed(batch, &SINK_BACKOFF, |pending| self.send_batch(pending)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(data: &[u8]) -> DeadLetter {
        DeadLetter::new("sqs", "arn:q", "m-1", "malformed_record", "bad", data, 5)
    }

    #[test]
    fn when_letters_are_mapped_should_get_distinct_ids_and_their_json_as_body() {
        let letters = [letter(b"{}"), letter("\u{FFFF}x\u{FFFE}".as_bytes())];
        let entries = entries(&letters).unwrap();
        assert_eq!(entries[0].id(), "0");
        assert_eq!(entries[1].id(), "1");
        let first: serde_json::Value = serde_json::from_str(entries[0].message_body()).unwrap();
        assert_eq!(first, serde_json::to_value(&letters[0]).unwrap());
        let second = entries[1].message_body();
        assert!(!second.contains('\u{FFFF}') && !second.contains('\u{FFFE}'));
        let decoded: serde_json::Value = serde_json::from_str(second).unwrap();
        assert_eq!(decoded["data"], "\u{FFFF}x\u{FFFE}");
    }

    #[tokio::test]
    async fn when_a_message_is_over_256_kib_should_be_invalid_before_sending() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let sink = SqsDeadLetters::new(Client::from_conf(config), "http://q");
        // Quotes double when escaped: 200 KiB of them is a 400 KiB body.
        let err = sink.send(&[letter(&[b'"'; 200 * 1024])]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}
