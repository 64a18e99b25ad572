//! The API Gateway usage plan that meters each API key (its rate, burst and quota), so one caller
//! cannot use up another's share: every Nomaly API key gets its own gateway key in the plan.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Tenant, UsageKey};

/// Registers and removes the metering keys of a usage plan.
#[async_trait]
pub trait UsagePlan: Send + Sync {
    /// A new metering key for API key `key_id` of `tenant`, in the plan; `None` where nothing
    /// meters requests (no API Gateway in front: `cargo lambda watch`).
    async fn register(&self, tenant: &Tenant, key_id: &str)
        -> Result<Option<UsageKey>, StoreError>;

    /// Removes a metering key (the API key was revoked); one already gone is not an error.
    async fn deregister(&self, usage: &UsageKey) -> Result<(), StoreError>;
}

/// Where no usage plan meters requests (locally): registers nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUsagePlan;

#[async_trait]
impl UsagePlan for NoUsagePlan {
    async fn register(&self, _: &Tenant, _: &str) -> Result<Option<UsageKey>, StoreError> {
        Ok(None)
    }

    async fn deregister(&self, _: &UsageKey) -> Result<(), StoreError> {
        Ok(())
    }
}
