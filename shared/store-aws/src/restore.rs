//! Restoring registry items and scanning the job table on DynamoDB, for backups and restores:
//! conditional `PutItem`s (a version only where none is, `LATEST` only forward) and a `Scan` of
//! the job items page by page.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{latest_item, version_item, Item};
use crate::schema::VERSION_ATTRIBUTE;
use application::domain::keys::JOB_SK;
use application::domain::{Job, ModelVersion};
use application::ports::{JobScan, RegistryRestore, StoreError};

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
    /// A strongly consistent `Scan` filtered on `SK = JOB` under a tenant (`PK` from `T#`; items
    /// from before tenancy wait for the upgrade), [`SCAN_PAGE`] items a call, following
    /// `LastEvaluatedKey`.
    async fn all_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = self.scan_where("T#", "#sk = :sk", JOB_SK).await?;
        jobs.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
        Ok(jobs)
    }
}
