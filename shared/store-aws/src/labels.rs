//! Labelled rows on DynamoDB: one item per label at `T#{tenant}#LABELS#{model}` / `LABEL#{id}`,
//! the label's fields as attributes, written by `BatchWriteItem` (a put replaces the label of the
//! same id), listed by id with one query per page, scanned across tenants (backups) with a
//! filtered `Scan` whose items name their tenant and model in their key.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use crate::dynamodb::DynamoStore;
use crate::errors::{build_error, classify};
use crate::items::{from_item, key, to_item, Item};
use crate::schema::{PK, SK};
use application::domain::keys::{label_sk, labels_owner, labels_pk, LABEL_SK_PREFIX};
use application::domain::names::validate_model_name;
use application::domain::{RowLabel, Tenant};
use application::ports::{
    check_label_write, LabelPage, LabelScanPage, LabelStore, OwnedLabel, StoreError,
};

/// The item of `label` of `tenant`'s `model` (checked by [`check_label_write`]).
fn label_item(tenant: &Tenant, model: &str, label: &RowLabel) -> Result<Item, StoreError> {
    let mut item = to_item(label)?;
    item.extend(key(labels_pk(tenant, model), &label_sk(&label.id)));
    Ok(item)
}

/// The string attribute `name` of `item`, or `""`.
fn key_part<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// A stored label item, decoded and checked against the sort key it was found under.
fn stored_label(item: &Item) -> Result<RowLabel, StoreError> {
    let label: RowLabel = from_item(item)?;
    let sk = key_part(item, SK);
    if sk.strip_prefix(LABEL_SK_PREFIX) != Some(label.id.as_str()) {
        return Err(StoreError::Corrupted(format!(
            "the label under '{sk}' has id '{}'",
            label.id
        )));
    }
    Ok(label)
}

/// A scanned label item: its tenant and model (from its partition key) and its label.
fn scanned(item: &Item) -> Result<OwnedLabel, StoreError> {
    let pk = key_part(item, PK);
    let (tenant, model) = labels_owner(pk).ok_or_else(|| {
        StoreError::Corrupted(format!("labels under '{pk}' name no tenant and model"))
    })?;
    Ok(OwnedLabel {
        tenant,
        model,
        label: stored_label(item)?,
    })
}

#[async_trait]
impl LabelStore for DynamoStore {
    /// `BatchWriteItem` in chunks of 25, unprocessed items resent with backoff; a batch may not
    /// hold one key twice, so the last label of an id wins, as in sequential puts.
    async fn put_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        labels: &[RowLabel],
    ) -> Result<(), StoreError> {
        check_label_write(model, labels)?;
        let mut last_of_id: HashMap<&str, usize> = HashMap::new();
        for (i, label) in labels.iter().enumerate() {
            last_of_id.insert(label.id.as_str(), i);
        }
        let mut requests = Vec::with_capacity(last_of_id.len());
        for (i, label) in labels.iter().enumerate() {
            if last_of_id.get(label.id.as_str()) != Some(&i) {
                continue;
            }
            let put = PutRequest::builder()
                .set_item(Some(label_item(tenant, model, label)?))
                .build()
                .map_err(build_error)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_write(&requests).await
    }

    /// One consistent `Query` of ids after the cursor, one item more than asked to tell whether
    /// another page exists.
    async fn list_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<LabelPage, StoreError> {
        validate_model_name(model).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let limit = limit.clamp(1, 1000);
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND #sk > :after")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(labels_pk(tenant, model)))
            .expression_attribute_values(
                ":after",
                AttributeValue::S(label_sk(cursor.unwrap_or_default())),
            )
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let more = output.last_evaluated_key.is_some();
        let mut labels = output
            .items
            .unwrap_or_default()
            .iter()
            .map(stored_label)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if labels.len() > limit {
            labels.truncate(limit);
            labels.last().map(|label| label.id.clone())
        } else if more {
            labels.last().map(|label| label.id.clone())
        } else {
            None
        };
        Ok(LabelPage {
            labels,
            next_cursor,
        })
    }

    /// One strongly consistent `Scan` call filtered on a tenant's key (`PK` from `T#`) and a
    /// label sort key (`LABEL#`), reading at most `limit` items; the cursor is the hex form of
    /// `LastEvaluatedKey`'s `PK` and `SK`.
    async fn scan_labels(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<LabelScanPage, StoreError> {
        let (items, next_cursor) = self
            .scan_tenant_page("begins_with(#sk, :sk)", LABEL_SK_PREFIX, cursor, limit)
            .await?;
        let labels = items
            .iter()
            .map(scanned)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(LabelScanPage {
            labels,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::domain::Verdict;

    fn label(id: &str) -> RowLabel {
        RowLabel {
            id: id.into(),
            features: vec!["amount".into(), "hour".into()],
            values: vec![12.5, 3.0],
            label: Verdict::Anomaly,
            job: Some("j1".into()),
            row: Some(4),
            created_at: 7,
        }
    }

    #[test]
    fn when_a_label_is_mapped_should_round_trip_under_its_key() {
        let tenant = Tenant::parse("acme").unwrap();
        let item = label_item(&tenant, "payments", &label("ab12")).unwrap();
        assert_eq!(item[PK], AttributeValue::S("T#acme#LABELS#payments".into()));
        assert_eq!(item[SK], AttributeValue::S("LABEL#ab12".into()));
        assert_eq!(
            scanned(&item).unwrap(),
            OwnedLabel {
                tenant,
                model: "payments".into(),
                label: label("ab12"),
            }
        );
    }

    #[test]
    fn when_an_item_is_keyed_under_another_id_should_be_corrupted() {
        let mut item = label_item(&Tenant::parse("acme").unwrap(), "m", &label("ab")).unwrap();
        item.insert(SK.into(), AttributeValue::S("LABEL#cd".into()));
        assert!(matches!(stored_label(&item), Err(StoreError::Corrupted(_))));
    }
}
