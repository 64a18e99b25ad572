//! Where anomaly alerts go: an event bus anyone can route (EventBridge in AWS; locally a JSON-lines
//! file standing in for it).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::alert::AlertEvent;

/// Publishes alert events, all or an error: an event that was not accepted is an error, so the
/// caller retries the records that raised it.
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Publishes `events` (any number; the adapter batches them as its service needs).
    async fn publish(&self, events: &[AlertEvent]) -> Result<(), StoreError>;
}

/// A sink that drops every event: for a deployment without alerts configured, and for tests
/// that do not look at them.
pub struct NoAlerts;

#[async_trait]
impl AlertSink for NoAlerts {
    async fn publish(&self, _events: &[AlertEvent]) -> Result<(), StoreError> {
        Ok(())
    }
}
