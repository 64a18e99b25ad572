//! The model registry and the job table on one DynamoDB table (see
//! [`schema`](crate::schema)): versions registered with `LATEST` moved in one conditional
//! transaction, jobs read newest first through the jobs index, batches written 25 at a time.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, PutRequest, TransactWriteItem, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::cursor;
use crate::errors::{build_error, classify, classify_transaction};
use crate::items::{
    self, catalog_prefix, from_item, job_item, key, latest_item, version_item, Item,
};
use crate::restore::SCAN_PAGE;
use crate::retry::{send_until_processed, Backoff};
use crate::scan_cursor;
use crate::schema::{
    CATALOG_PK, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, JOBS_INDEX, LEASE_ATTRIBUTE, MODELS_INDEX, PK,
    RANGES_FINISHED_ATTRIBUTE, SK, VERSION_ATTRIBUTE,
};
use application::domain::keys::{job_pk, model_pk, version_sk, JOB_SK, LATEST_SK};
use application::domain::{Job, ModelVersion, Tenant};
use application::ports::{JobPage, JobStore, ModelRegistry, StoreError};

/// Most items of one `BatchWriteItem` request (DynamoDB's limit).
pub const BATCH_WRITE_LIMIT: usize = 25;

/// Most jobs on one page.
pub const MAX_PAGE: usize = 1000;

/// A [`ModelRegistry`] and [`JobStore`] on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    backoff: Backoff,
}

impl DynamoStore {
    /// A store on `table` through `client`, resending unprocessed batch items with `backoff`.
    pub fn new(client: Client, table: impl Into<String>, backoff: Backoff) -> Self {
        Self {
            client,
            table: table.into(),
            backoff,
        }
    }

    /// The DynamoDB client, for tooling and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key (strongly consistent), or `None`.
    pub(crate) async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(output.item)
    }

    /// `BatchWriteItem` of `requests` in chunks of [`BATCH_WRITE_LIMIT`] (no key twice in one
    /// chunk); items handed back unprocessed are resent with jittered exponential backoff, a
    /// bounded number of times, then [`StoreError::Unavailable`]. Not atomic: on failure,
    /// earlier chunks stay written.
    pub(crate) async fn batch_write(&self, requests: &[WriteRequest]) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            send_until_processed(chunk.to_vec(), &self.backoff, |batch| async move {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, batch)
                    .send()
                    .await
                    .map_err(|e| classify("BatchWriteItem", e))?;
                Ok(output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default())
            })
            .await?;
        }
        Ok(())
    }

    /// A conditional `Put` of `item` in a transaction.
    fn conditional_put(
        &self,
        item: Item,
        condition: &str,
        values: Option<HashMap<String, AttributeValue>>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values);
        if condition.contains("#v") {
            put = put.expression_attribute_names("#v", VERSION_ATTRIBUTE);
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(build_error)?)
            .build())
    }
}

impl DynamoStore {
    /// Every tenant's `LATEST` items of the models index.
    async fn catalog(&self) -> Result<Vec<ModelVersion>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(MODELS_INDEX)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI2_PK)
            .expression_attribute_values(":pk", AttributeValue::S(CATALOG_PK.to_owned()));
        query_all(query).await
    }

    /// Every item a strongly consistent `Scan` finds whose `PK` starts with `pk_prefix` and whose
    /// `SK` passes `sk_condition` (an expression on `#sk` and `:sk`), decoded as `T`.
    pub(crate) async fn scan_where<T: serde::de::DeserializeOwned>(
        &self,
        pk_prefix: &str,
        sk_condition: &str,
        sk_value: &str,
    ) -> Result<Vec<T>, StoreError> {
        all_pages(|start| {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!("begins_with(#pk, :pk) AND {sk_condition}"))
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", AttributeValue::S(pk_prefix.to_owned()))
                .expression_attribute_values(":sk", AttributeValue::S(sk_value.to_owned()))
                .consistent_read(true)
                .limit(SCAN_PAGE)
                .set_exclusive_start_key(start);
            async move {
                let output = page.send().await.map_err(|e| classify("Scan", e))?;
                Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
            }
        })
        .await
    }
}

impl DynamoStore {
    /// One strongly consistent `Scan` call over tenants' items (`PK` from `T#`) whose `SK` passes
    /// `sk_condition` (an expression on `#sk` and `:sk`), from `cursor` (the hex form of a
    /// `LastEvaluatedKey`'s `PK` and `SK`), reading at most `limit` items (capped at
    /// [`SCAN_PAGE`]): the items and the next page's cursor.
    pub(crate) async fn scan_tenant_page(
        &self,
        sk_condition: &str,
        sk_value: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let start = cursor.map(scan_cursor::decode).transpose()?;
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(format!("begins_with(#pk, :pk) AND {sk_condition}"))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S("T#".to_owned()))
            .expression_attribute_values(":sk", AttributeValue::S(sk_value.to_owned()))
            .consistent_read(true)
            .limit(
                i32::try_from(limit)
                    .unwrap_or(SCAN_PAGE)
                    .clamp(1, SCAN_PAGE),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Scan", e))?;
        Ok((
            output.items.unwrap_or_default(),
            output.last_evaluated_key.as_ref().map(scan_cursor::encode),
        ))
    }
}

fn latest_moved(name: &str) -> String {
    format!("the latest version of model '{name}' moved")
}

#[async_trait]
impl ModelRegistry for DynamoStore {
    /// One `TransactWriteItems`: put the version item if its key is free, and put the `LATEST`
    /// copy if `LATEST` is absent (`expected_latest` `None`) or still holds `expected_latest`.
    async fn register_version(
        &self,
        item: &ModelVersion,
        expected_latest: Option<u32>,
    ) -> Result<(), StoreError> {
        if let Some(prev) = expected_latest.filter(|p| item.version <= *p) {
            return Err(StoreError::Conflict(format!(
                "version {} of model '{}' is not above the latest version {prev}",
                item.version, item.name
            )));
        }
        let version_put =
            self.conditional_put(version_item(item)?, "attribute_not_exists(PK)", None)?;
        let latest_put = match expected_latest {
            None => self.conditional_put(latest_item(item)?, "attribute_not_exists(PK)", None)?,
            Some(prev) => self.conditional_put(
                latest_item(item)?,
                "#v = :expected",
                Some(HashMap::from([(
                    ":expected".to_owned(),
                    AttributeValue::N(prev.to_string()),
                )])),
            )?,
        };
        self.client
            .transact_write_items()
            .transact_items(version_put)
            .transact_items(latest_put)
            .send()
            .await
            .map_err(|e| match classify_transaction(e) {
                StoreError::Conflict(m) => StoreError::Conflict(format!(
                    "version {} of model '{}' exists or {}: {m}",
                    item.version,
                    item.name,
                    latest_moved(&item.name)
                )),
                other => other,
            })?;
        Ok(())
    }

    async fn latest(&self, tenant: &Tenant, name: &str) -> Result<Option<u32>, StoreError> {
        let Some(item) = self.get_item(model_pk(tenant, name), LATEST_SK).await? else {
            return Ok(None);
        };
        let version = item
            .get(VERSION_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| {
                StoreError::Corrupted(format!("LATEST of model '{name}' has no version number"))
            })?;
        Ok(Some(version))
    }

    async fn version(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
    ) -> Result<Option<ModelVersion>, StoreError> {
        self.get_item(model_pk(tenant, name), &version_sk(version))
            .await?
            .map(|item| from_item(&item))
            .transpose()
    }

    /// Queries the sparse models index (one item per model, by name) from the name after
    /// `after` (`!` sorts below every character a name may hold, `~` above), following the
    /// service's pages until `limit` models are read.
    async fn list_models(
        &self,
        tenant: &Tenant,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ModelVersion>, StoreError> {
        let prefix = catalog_prefix(tenant);
        let low = match after {
            Some(name) => format!("{prefix}{name}!"),
            None => prefix.clone(),
        };
        let mut models: Vec<ModelVersion> = Vec::new();
        let mut start = None;
        loop {
            let page_size = limit.saturating_sub(models.len()).clamp(1, 1000);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(MODELS_INDEX)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#pk", GSI2_PK)
                .expression_attribute_names("#sk", GSI2_SK)
                .expression_attribute_values(":pk", AttributeValue::S(CATALOG_PK.to_owned()))
                .expression_attribute_values(":low", AttributeValue::S(low.clone()))
                .expression_attribute_values(":high", AttributeValue::S(format!("{prefix}~")))
                .limit(i32::try_from(page_size).unwrap_or(1000))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in output.items.unwrap_or_default() {
                models.push(from_item(&item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || models.len() >= limit {
                break;
            }
        }
        models.truncate(limit);
        Ok(models)
    }

    async fn list_all_models(&self) -> Result<Vec<ModelVersion>, StoreError> {
        self.catalog().await
    }

    async fn versions(&self, tenant: &Tenant, name: &str) -> Result<Vec<ModelVersion>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(model_pk(tenant, name)))
            .expression_attribute_values(":prefix", AttributeValue::S("VERSION#".into()))
            .consistent_read(true);
        query_all(query).await
    }
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)?))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// `PutItem` with `attribute_not_exists(PK)`.
    async fn put_job_if_absent(&self, job: &Job) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// `BatchWriteItem` in chunks of [`BATCH_WRITE_LIMIT`]; items handed back unprocessed are
    /// resent with jittered exponential backoff, a bounded number of times, then
    /// [`StoreError::Unavailable`]. Not atomic: on failure, earlier chunks stay written (every
    /// write is an idempotent replace, so the caller retries the whole batch).
    async fn put_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        // A batch may not hold one key twice; the last job of an id wins, as in sequential puts.
        let mut last_of_id: HashMap<&str, usize> = HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            last_of_id.insert(job.id.as_str(), i);
        }
        let mut requests = Vec::with_capacity(last_of_id.len());
        for (i, job) in jobs.iter().enumerate() {
            if last_of_id.get(job.id.as_str()) != Some(&i) {
                continue;
            }
            let put = PutRequest::builder()
                .set_item(Some(job_item(job)?))
                .build()
                .map_err(build_error)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(&requests).await
    }

    /// `PutItem` under `status = running AND (no lease OR lease < now)`.
    async fn take_over_job(&self, job: &Job, now_ms: u64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)?))
            .condition_expression(
                "#status = :pending OR (#status = :running AND (attribute_not_exists(#lease) OR #lease < :now))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lease", LEASE_ATTRIBUTE)
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":running", AttributeValue::S("running".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        Ok(())
    }

    /// `UpdateItem` adding to `progress` and appending `index` to the list `ranges_finished`
    /// (outside the fields a [`Job`] reads; a list, which every reader can skip) only while the
    /// list lacks it.
    async fn record_range(
        &self,
        tenant: &Tenant,
        id: &str,
        index: u32,
        rows: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_pk(tenant, id), JOB_SK)))
            .update_expression(
                "SET #p.#done = #p.#done + :one, #p.#rows = #p.#rows + :rows, #finished = list_append(if_not_exists(#finished, :empty), :index)",
            )
            .condition_expression("attribute_exists(#p) AND NOT contains(#finished, :i)")
            .expression_attribute_names("#p", "progress")
            .expression_attribute_names("#done", "ranges_done")
            .expression_attribute_names("#rows", "rows_done")
            .expression_attribute_names("#finished", RANGES_FINISHED_ATTRIBUTE)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":rows", AttributeValue::N(rows.to_string()))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(
                ":index",
                AttributeValue::L(vec![AttributeValue::N(index.to_string())]),
            )
            .expression_attribute_values(":i", AttributeValue::N(index.to_string()))
            .send()
            .await;
        match result.map_err(|e| classify("UpdateItem", e)) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_job(&self, tenant: &Tenant, id: &str) -> Result<Option<Job>, StoreError> {
        self.get_item(job_pk(tenant, id), JOB_SK)
            .await?
            .map(|item| from_item(&item))
            .transpose()
    }

    /// Queries the jobs index backwards from the cursor, one item beyond `limit` to know whether
    /// another page exists (so the last page has no cursor), following the service's own pages
    /// when a response stops early at 1 MB.
    async fn jobs_for_model(
        &self,
        tenant: &Tenant,
        name: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<JobPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let gsi_pk = model_pk(tenant, name);
        let mut start: Option<Item> = match cursor {
            None => None,
            Some(c) => {
                let index_sk = cursor::decode(c)?;
                let mut start = key(job_pk(tenant, cursor::job_id(&index_sk)), JOB_SK);
                start.insert(GSI1_PK.to_owned(), AttributeValue::S(gsi_pk.clone()));
                start.insert(GSI1_SK.to_owned(), AttributeValue::S(index_sk));
                Some(start)
            }
        };
        let mut jobs: Vec<Job> = Vec::new();
        let mut more = false;
        loop {
            let wanted = limit + 1 - jobs.len();
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(JOBS_INDEX)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":pk", AttributeValue::S(gsi_pk.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in output.items() {
                if jobs.len() == limit {
                    more = true;
                    break;
                }
                jobs.push(from_item(item)?);
            }
            match output.last_evaluated_key {
                Some(next) if !more && !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        let next_cursor = if more {
            jobs.last()
                .map(|job| cursor::encode(&items::job_index_sk(job)))
        } else {
            None
        };
        Ok(JobPage { jobs, next_cursor })
    }
}

/// Every version item a query finds, following `LastEvaluatedKey` page by page.
pub(crate) async fn query_all<T: serde::de::DeserializeOwned>(
    query: QueryFluentBuilder,
) -> Result<Vec<T>, StoreError> {
    all_pages(|start| {
        let page = query.clone().set_exclusive_start_key(start);
        async move {
            let output = page.send().await.map_err(|e| classify("Query", e))?;
            Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
        }
    })
    .await
}

/// Every item of a paginated read (`Query` or `Scan`), decoded: `page` reads one page from the
/// given start key and returns its items and `LastEvaluatedKey`, followed until there is none.
pub(crate) async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned,
    F: FnMut(Option<Item>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Item>, Option<Item>), StoreError>>,
{
    let mut decoded = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let (items, next) = page(start).await?;
        for item in &items {
            decoded.push(from_item(item)?);
        }
        match next {
            Some(next) if !next.is_empty() => start = Some(next),
            _ => return Ok(decoded),
        }
    }
}
