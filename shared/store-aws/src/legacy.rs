//! Items from before tenancy on DynamoDB (`MODEL#{name}`, `JOB#{id}`), found by filtered scans and
//! removed by key, for the one-time upgrade to the default tenant.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{key, Item};
use crate::schema::{PK, SK};
use application::domain::keys::{
    legacy_job_pk, legacy_model_pk, version_sk, JOB_SK, LATEST_SK, LEGACY_JOB_PREFIX,
    LEGACY_MODEL_PREFIX,
};
use application::domain::{Job, ModelVersion};
use application::ports::{LegacyItems, StoreError};

impl DynamoStore {
    async fn delete(&self, item_key: Item) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(item_key))
            .send()
            .await
            .map_err(|e| classify("DeleteItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl LegacyItems for DynamoStore {
    async fn legacy_versions(&self) -> Result<Vec<ModelVersion>, StoreError> {
        self.scan_where(LEGACY_MODEL_PREFIX, "begins_with(#sk, :sk)", "VERSION#")
            .await
    }

    async fn legacy_latest(&self) -> Result<Vec<(String, u32)>, StoreError> {
        // The LATEST item is a copy of its version's item, so its name and version decode.
        let items: Vec<ModelVersion> = self
            .scan_where(LEGACY_MODEL_PREFIX, "#sk = :sk", LATEST_SK)
            .await?;
        Ok(items.into_iter().map(|v| (v.name, v.version)).collect())
    }

    async fn legacy_jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.scan_where(LEGACY_JOB_PREFIX, "#sk = :sk", JOB_SK)
            .await
    }

    async fn remove_legacy_model(&self, name: &str) -> Result<(), StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(legacy_model_pk(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let versions: Vec<u32> = output
            .items()
            .iter()
            .filter_map(|item| {
                item.get(SK)?
                    .as_s()
                    .ok()?
                    .strip_prefix("VERSION#")?
                    .parse()
                    .ok()
            })
            .collect();
        for version in versions {
            self.delete(key(legacy_model_pk(name), &version_sk(version)))
                .await?;
        }
        self.delete(key(legacy_model_pk(name), LATEST_SK)).await
    }

    async fn remove_legacy_job(&self, id: &str) -> Result<(), StoreError> {
        self.delete(key(legacy_job_pk(id), JOB_SK)).await
    }
}
