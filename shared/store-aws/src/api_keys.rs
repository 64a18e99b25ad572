//! API keys on DynamoDB: `T#{tenant}#KEYS` / `KEY#{id}` items, written once, read by id, listed by
//! one query per tenant, revoked and touched with conditional updates.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::{query_all, DynamoStore};
use crate::errors::classify;
use crate::items::{from_item, key, to_item};
use crate::schema::{PK, SK};
use application::domain::keys::{api_key_sk, api_keys_pk};
use application::domain::{ApiKey, Tenant};
use application::ports::{KeyStore, StoreError};

#[async_trait]
impl KeyStore for DynamoStore {
    async fn put_key_if_absent(&self, api_key: &ApiKey) -> Result<(), StoreError> {
        let mut item = to_item(api_key)?;
        item.extend(key(api_key.pk(), &api_key.sk()));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    async fn get_key(&self, tenant: &Tenant, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(api_keys_pk(tenant), &api_key_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        output.item.map(|item| from_item(&item)).transpose()
    }

    async fn list_keys(&self, tenant: &Tenant) -> Result<Vec<ApiKey>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :key)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(api_keys_pk(tenant)))
            .expression_attribute_values(":key", AttributeValue::S("KEY#".into()))
            .consistent_read(true);
        query_all(query).await
    }

    async fn all_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .scan_where("T#", "begins_with(#sk, :sk)", "KEY#")
            .await?;
        keys.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<bool, StoreError> {
        let revoked = self
            .set_key_time(
                tenant,
                id,
                "revoked_at",
                at,
                " AND attribute_not_exists(revoked_at)",
            )
            .await;
        match revoked {
            Ok(()) => Ok(true),
            // Missing, or revoked already: which one decides the answer.
            Err(StoreError::Conflict(_)) => Ok(self.get_key(tenant, id).await?.is_some()),
            Err(e) => Err(e),
        }
    }

    async fn touch_key(&self, tenant: &Tenant, id: &str, at: u64) -> Result<(), StoreError> {
        match self.set_key_time(tenant, id, "last_used_at", at, "").await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl DynamoStore {
    /// Sets the time attribute `attribute` of an existing key item to `at`, under `also` (more
    /// of the condition); a failed condition is [`StoreError::Conflict`].
    async fn set_key_time(
        &self,
        tenant: &Tenant,
        id: &str,
        attribute: &str,
        at: u64,
        also: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(api_keys_pk(tenant), &api_key_sk(id))))
            .update_expression(format!("SET {attribute} = :at"))
            .condition_expression(format!("attribute_exists(PK){also}"))
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }
}
