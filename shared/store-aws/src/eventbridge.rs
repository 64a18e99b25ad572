//! Alerts on Amazon EventBridge: each [`AlertEvent`] is a `PutEvents` entry on the configured bus
//! (source `nomaly`, its detail type, its detail as JSON, its time), sent at most 10 entries and
//! 256 KiB per call; entries the service reports failed are resent, only those, a few times.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::batch::{pack, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES};
use crate::errors::classify;
use crate::retry::{send_until_processed, SINK_BACKOFF};
use application::domain::alert::{AlertEvent, ALERT_SOURCE};
use application::ports::{AlertSink, StoreError};

/// The bytes EventBridge counts for an entry's `Time` (its entry size rule).
const TIME_BYTES: usize = 14;

/// An [`AlertSink`] publishing to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeAlerts {
    client: Client,
    bus: String,
}

impl EventBridgeAlerts {
    /// A sink publishing to `bus` (a name or an ARN) through `client`, resending failed entries
    /// with [`SINK_BACKOFF`].
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// A sink on `bus` with a client from `sdk` (the configuration the other adapters share).
    pub fn from_sdk(sdk: &SdkConfig, bus: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), bus)
    }

    /// The `PutEvents` entry of `event`; [`StoreError::Invalid`] when its detail is not a JSON
    /// object (EventBridge would drop or refuse it).
    fn entry(&self, event: &AlertEvent) -> Result<PutEventsRequestEntry, StoreError> {
        if !event.detail.is_object() {
            return Err(StoreError::Invalid(format!(
                "the detail of alert '{}' is not a JSON object",
                event.id
            )));
        }
        let detail = serde_json::to_string(&event.detail)
            .map_err(|e| StoreError::Invalid(format!("the detail of alert '{}': {e}", event.id)))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(ALERT_SOURCE)
            .detail_type(&event.detail_type)
            .detail(detail)
            .time(DateTime::from_millis(
                i64::try_from(event.time_ms).unwrap_or(i64::MAX),
            ))
            .build())
    }

    /// One `PutEvents` call of `entries`; the entries it reports failed.
    async fn put(
        &self,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<Vec<PutEventsRequestEntry>, StoreError> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| classify("PutEvents", e))?;
        failed_entries(entries, &output)
    }
}

/// The size EventBridge counts for an entry (time, source, detail type, detail and resources, in
/// UTF-8 bytes), which a call's 256 KiB limit applies to.
fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    entry.time().map_or(0, |_| TIME_BYTES)
        + entry.source().map_or(0, str::len)
        + entry.detail_type().map_or(0, str::len)
        + entry.detail().map_or(0, str::len)
        + entry.resources().iter().map(String::len).sum::<usize>()
}

/// The entries of `sent` that `output` reports failed (its results are in the order sent).
fn failed_entries(
    sent: Vec<PutEventsRequestEntry>,
    output: &PutEventsOutput,
) -> Result<Vec<PutEventsRequestEntry>, StoreError> {
    if output.failed_entry_count() == 0 {
        return Ok(Vec::new());
    }
    let results = output.entries();
    if results.len() != sent.len() {
        return Err(StoreError::Unavailable(format!(
            "PutEvents reported {} failed entries with {} results for {} entries",
            output.failed_entry_count(),
            results.len(),
            sent.len()
        )));
    }
    let mut failed = Vec::new();
    for (entry, result) in sent.into_iter().zip(results) {
        if let Some(code) = result.error_code() {
            tracing::warn!(
                code,
                message = result.error_message().unwrap_or_default(),
                detail_type = entry.detail_type().unwrap_or_default(),
                "EventBridge refused an alert entry; resending it"
            );
            failed.push(entry);
        }
    }
    Ok(failed)
}

#[async_trait]
impl AlertSink for EventBridgeAlerts {
    /// `PutEvents` per batch of at most 10 entries and 256 KiB; an entry over 256 KiB is
    /// [`StoreError::Invalid`] before anything is sent, and entries still failing after
    /// [`SINK_BACKOFF`]'s retries are [`StoreError::Unavailable`] (earlier batches stay published).
    async fn publish(&self, events: &[AlertEvent]) -> Result<(), StoreError> {
        let entries = events
            .iter()
            .map(|event| self.entry(event))
            .collect::<Result<Vec<_>, _>>()?;
        for batch in pack(entries, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES, entry_size)? {
            send_until_processed(batch, &SINK_BACKOFF, |pending| self.put(pending)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use serde_json::json;

    fn sink() -> EventBridgeAlerts {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .build();
        EventBridgeAlerts::new(Client::from_conf(config), "bus")
    }

    fn event(detail: serde_json::Value) -> AlertEvent {
        AlertEvent {
            id: "a-1".into(),
            detail_type: "Anomaly Detected".into(),
            detail,
            time_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn when_an_event_is_mapped_should_carry_source_type_detail_time_and_size() {
        let entry = sink().entry(&event(json!({"score": 1.5}))).unwrap();
        assert_eq!(entry.source(), Some("nomaly"));
        assert_eq!(entry.event_bus_name(), Some("bus"));
        assert_eq!(entry.detail(), Some("{\"score\":1.5}"));
        assert_eq!(
            entry.time().unwrap().to_millis().unwrap(),
            1_700_000_000_123
        );
        assert_eq!(entry_size(&entry), 14 + 6 + 16 + 13);
        let err = sink().entry(&event(json!([1]))).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }

    #[tokio::test]
    async fn when_an_entry_is_over_256_kib_should_be_invalid_before_sending() {
        let big = event(json!({"data": "x".repeat(MAX_BATCH_BYTES)}));
        let err = sink().publish(&[big]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }

    #[test]
    fn when_some_entries_failed_should_return_only_those() {
        let sent: Vec<PutEventsRequestEntry> = (0..3)
            .map(|i| {
                PutEventsRequestEntry::builder()
                    .detail_type(i.to_string())
                    .build()
            })
            .collect();
        let output = PutEventsOutput::builder()
            .failed_entry_count(1)
            .entries(PutEventsResultEntry::builder().event_id("e0").build())
            .entries(
                PutEventsResultEntry::builder()
                    .error_code("InternalFailure")
                    .build(),
            )
            .entries(PutEventsResultEntry::builder().event_id("e2").build())
            .build();
        let failed = failed_entries(sent.clone(), &output).unwrap();
        assert_eq!(failed, vec![sent[1].clone()]);
        let fine = PutEventsOutput::builder().failed_entry_count(0).build();
        assert!(failed_entries(sent.clone(), &fine).unwrap().is_empty());
        let short = PutEventsOutput::builder().failed_entry_count(1).build();
        assert!(matches!(
            failed_entries(sent, &short),
            Err(StoreError::Unavailable(_))
        ));
    }
}
