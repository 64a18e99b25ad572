//! `Idempotency-Key` records on DynamoDB: a conditional `PutItem` claims a key unless a live
//! record holds it, then that record is read back (strongly consistent).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{from_item, key, to_item};
use application::domain::keys::{idempotency_pk, IDEMPOTENCY_SK};
use application::domain::{IdempotencyRecord, Tenant};
use application::ports::{IdempotencyStore, StoreError};

/// The negation of [`IdempotencyRecord::is_live`]: no record, an expired one, or an in-progress
/// one whose invocation ran out of time.
const CLAIMABLE: &str = "attribute_not_exists(PK) OR expires_at <= :now_s \
     OR (#status = :in_progress AND in_progress_until <= :now_ms)";

impl DynamoStore {
    async fn put_record(
        &self,
        record: &IdempotencyRecord,
        now_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut item = to_item(record)?;
        item.extend(key(record.pk(), IDEMPOTENCY_SK));
        let mut put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item));
        if let Some(now_ms) = now_ms {
            put = put
                .condition_expression(CLAIMABLE)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":in_progress",
                    AttributeValue::S("in_progress".into()),
                )
                .expression_attribute_values(":now_ms", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(
                    ":now_s",
                    AttributeValue::N((now_ms / 1000).to_string()),
                );
        }
        put.send().await.map_err(|e| classify("PutItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn begin_idempotent(
        &self,
        record: &IdempotencyRecord,
        now_ms: u64,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        match self.put_record(record, Some(now_ms)).await {
            Ok(()) => Ok(None),
            Err(StoreError::Conflict(_)) => {
                match self.get_item(record.pk(), IDEMPOTENCY_SK).await? {
                    Some(item) => Ok(Some(from_item(&item)?)),
                    // Released between the two calls: the caller retries.
                    None => Err(StoreError::Conflict(
                        "the idempotency record changed concurrently".into(),
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn complete_idempotent(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        self.put_record(record, None).await
    }

    async fn release_idempotent(&self, tenant: &Tenant, key_hash: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(idempotency_pk(tenant, key_hash), IDEMPOTENCY_SK)))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }
}
