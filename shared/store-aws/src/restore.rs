//! Restoring registry items and scanning the job table on DynamoDB, for backups and restores:
//! conditional `PutItem`s (a version only where none is, `LATEST` only forward) and a `Scan` of
//! the job items page by page.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{from_item, latest_item, version_item, Item};
use crate::schema::{GSI2_PK, GSI2_SK, MODELS_INDEX, VERSION_ATTRIBUTE};
use application::domain::keys::{JOB_SK, LEASES_PK};
use application::domain::{Job, ModelVersion};
use application::ports::{JobPage, JobScan, JobStore, RegistryRestore, StoreError};

/// Items one `Scan` call reads at most: small pages keep each call well inside its timeout (moto
/// takes seconds for a 1 MB page).
pub const SCAN_PAGE: i32 = 500;

impl DynamoStore {
    /// `PutItem` of `item`, under `condition` unless it is `None`.
    async fn put_guarded(
        &self,
        item: Item,
        condition: Option<&str>,
        values: HashMap<String, AttributeValue>,
        conflict: String,
    ) -> Result<(), StoreError> {
        let mut put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item));
        if let Some(condition) = condition {
            put = put.condition_expression(condition);
            if condition.contains("#v") {
                put = put.expression_attribute_names("#v", VERSION_ATTRIBUTE);
            }
            if !values.is_empty() {
                put = put.set_expression_attribute_values(Some(values));
            }
        }
        put.send().await.map_err(|e| match classify("PutItem", e) {
            StoreError::Conflict(m) => StoreError::Conflict(format!("{conflict}: {m}")),
            other => other,
        })?;
        Ok(())
    }
}

#[async_trait]
impl RegistryRestore for DynamoStore {
    async fn restore_version(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError> {
        self.put_guarded(
            version_item(item)?,
            (!replace).then_some("attribute_not_exists(PK)"),
            HashMap::new(),
            format!("version {} of model '{}' exists", item.version, item.name),
        )
        .await
    }

    async fn restore_latest(&self, item: &ModelVersion, replace: bool) -> Result<(), StoreError> {
        self.put_guarded(
            latest_item(item)?,
            (!replace).then_some("attribute_not_exists(PK) OR #v < :v"),
            HashMap::from([(":v".to_owned(), AttributeValue::N(item.version.to_string()))]),
            format!(
                "the latest version of model '{}' is not below {}",
                item.name, item.version
            ),
        )
        .await
    }
}

#[async_trait]
impl JobScan for DynamoStore {
    /// One strongly consistent `Scan` call filtered on `SK = JOB` under a tenant (`PK` from `T#`;
    /// items from before tenancy wait for the upgrade), reading at most `limit` items (capped at
    /// [`SCAN_PAGE`]); the cursor is the hex form of `LastEvaluatedKey`'s `PK` and `SK`.
    async fn scan_jobs(&self, cursor: Option<&str>, limit: usize) -> Result<JobPage, StoreError> {
        let (items, next_cursor) = self
            .scan_tenant_page("#sk = :sk", JOB_SK, cursor, limit)
            .await?;
        let jobs = items
            .iter()
            .map(from_item)
            .collect::<Result<Vec<Job>, StoreError>>()?;
        Ok(JobPage { jobs, next_cursor })
    }

    /// A strongly consistent read of the sparse leases partition of the models index is not
    /// possible (index reads are eventual), so each candidate is re-read from the table, and a
    /// job that finished since is dropped.
    async fn expired_leases(&self, now_ms: u64, limit: usize) -> Result<Vec<Job>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(MODELS_INDEX)
            .key_condition_expression("#pk = :pk AND #sk < :now")
            .expression_attribute_names("#pk", GSI2_PK)
            .expression_attribute_names("#sk", GSI2_SK)
            .expression_attribute_values(":pk", AttributeValue::S(LEASES_PK.to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(format!("{now_ms:020}")))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let mut expired = Vec::new();
        for item in output.items.unwrap_or_default() {
            let candidate: Job = from_item(&item)?;
            if let Some(job) = self.get_job(&candidate.tenant, &candidate.id).await? {
                if job.overdue(now_ms) {
                    expired.push(job);
                }
            }
        }
        Ok(expired)
    }
}
