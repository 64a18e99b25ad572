//! Per-key metering on API Gateway: each Nomaly API key gets its own gateway API key in the
//! stack's usage plan (its rate, burst and quota), created with the key and deleted when the key
//! is revoked. The authorizer hands the gateway key's value to API Gateway as
//! `usageIdentifierKey` (the API's key source is `AUTHORIZER`), so callers never send it.

use async_trait::async_trait;
use aws_sdk_apigateway::Client;
use rand::RngCore;

use crate::errors::classify;
use application::domain::{Tenant, UsageKey};
use application::ports::{StoreError, UsagePlan};

/// The stack's usage plan (`NOMALY_USAGE_PLAN_ID`) through the API Gateway API.
#[derive(Debug, Clone)]
pub struct ApiGatewayUsagePlan {
    client: Client,
    plan_id: String,
}

impl ApiGatewayUsagePlan {
    /// The usage plan `plan_id`, managed through `client`.
    pub fn new(client: Client, plan_id: impl Into<String>) -> Self {
        Self {
            client,
            plan_id: plan_id.into(),
        }
    }
}

#[async_trait]
impl UsagePlan for ApiGatewayUsagePlan {
    async fn register(
        &self,
        tenant: &Tenant,
        key_id: &str,
    ) -> Result<Option<UsageKey>, StoreError> {
        let mut random = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let value: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let created = self
            .client
            .create_api_key()
            .name(format!("nomaly-{tenant}-{key_id}"))
            .description(format!(
                "usage-plan key of Nomaly API key {key_id} of tenant {tenant}"
            ))
            .enabled(true)
            .value(&value)
            .send()
            .await
            .map_err(|e| classify("CreateApiKey", e))?;
        let id = created
            .id
            .ok_or_else(|| StoreError::Unavailable("CreateApiKey answered no id".into()))?;
        let usage = UsageKey { id, value };
        let attached = self
            .client
            .create_usage_plan_key()
            .usage_plan_id(&self.plan_id)
            .key_id(&usage.id)
            .key_type("API_KEY")
            .send()
            .await
            .map_err(|e| classify("CreateUsagePlanKey", e));
        if let Err(e) = attached {
            let _ = self.deregister(&usage).await;
            return Err(e);
        }
        Ok(Some(usage))
    }

    /// Takes the key out of the plan, then deletes it; either already gone is fine.
    async fn deregister(&self, usage: &UsageKey) -> Result<(), StoreError> {
        let removed = self
            .client
            .delete_usage_plan_key()
            .usage_plan_id(&self.plan_id)
            .key_id(&usage.id)
            .send()
            .await;
        if let Err(e) = removed {
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_not_found_exception())
            {
                return Err(classify("DeleteUsagePlanKey", e));
            }
        }
        let deleted = self.client.delete_api_key().api_key(&usage.id).send().await;
        match deleted {
            Err(e)
                if !e
                    .as_service_error()
                    .is_some_and(|s| s.is_not_found_exception()) =>
            {
                Err(classify("DeleteApiKey", e))
            }
            _ => Ok(()),
        }
    }
}
