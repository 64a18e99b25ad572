//! Series records on DynamoDB: one item per series at `T#{tenant}#SERIES` / `SERIES#{name}`, the
//! record's fields as attributes, written by a `PutItem` conditioned on the sequence read, listed
//! by name with one query per page, scanned across tenants (backups) with a filtered `Scan` whose
//! items name their tenant in their key.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{from_item, key, to_item, Item};
use crate::schema::{PK, SK};
use application::domain::keys::{series_pk, series_sk, series_tenant, SERIES_SK_PREFIX};
use application::domain::{SeriesRecord, Tenant};
use application::ports::{SeriesPage, SeriesScanPage, SeriesStore, StoreError};

/// The attribute holding a record's sequence (its field `sequence`).
const SEQUENCE_ATTRIBUTE: &str = "sequence";

/// The item of `record` in `tenant`, refusing sequence 0 (no record is ever written with it).
fn series_item(tenant: &Tenant, record: &SeriesRecord) -> Result<Item, StoreError> {
    if record.sequence == 0 {
        return Err(StoreError::Invalid(
            "a series record is written with sequence 1 or more".into(),
        ));
    }
    let mut item = to_item(record)?;
    item.extend(key(series_pk(tenant), &series_sk(&record.name)));
    Ok(item)
}

/// A scanned series item: its tenant (from its partition key) and its record.
fn scanned(item: &Item) -> Result<(Tenant, SeriesRecord), StoreError> {
    let pk = item
        .get(PK)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str);
    let tenant = series_tenant(pk).ok_or_else(|| {
        StoreError::Corrupted(format!("series item under '{pk}' names no tenant"))
    })?;
    Ok((tenant, from_item(item)?))
}

#[async_trait]
impl SeriesStore for DynamoStore {
    /// A strongly consistent `GetItem`.
    async fn series(
        &self,
        tenant: &Tenant,
        name: &str,
    ) -> Result<Option<SeriesRecord>, StoreError> {
        self.get_item(series_pk(tenant), &series_sk(name))
            .await?
            .map(|item| from_item(&item))
            .transpose()
    }

    /// `PutItem` conditioned on no item (sequence 1) or on the stored sequence being the
    /// previous one; a failed condition is `false`.
    async fn put_series(&self, tenant: &Tenant, record: &SeriesRecord) -> Result<bool, StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(series_item(tenant, record)?));
        let put = match record.sequence {
            0 | 1 => put.condition_expression(format!("attribute_not_exists({PK})")),
            sequence => put
                .condition_expression("#sequence = :previous")
                .expression_attribute_names("#sequence", SEQUENCE_ATTRIBUTE)
                .expression_attribute_values(
                    ":previous",
                    AttributeValue::N((sequence - 1).to_string()),
                ),
        };
        match put.send().await.map_err(|e| classify("PutItem", e)) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One consistent `Query` of names after the cursor, one item more than asked to tell
    /// whether another page exists.
    async fn list_series(
        &self,
        tenant: &Tenant,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SeriesPage, StoreError> {
        let limit = limit.clamp(1, 1000);
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND #sk > :after")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(series_pk(tenant)))
            .expression_attribute_values(
                ":after",
                AttributeValue::S(series_sk(cursor.unwrap_or_default())),
            )
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let more = output.last_evaluated_key.is_some();
        let mut series = output
            .items
            .unwrap_or_default()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<SeriesRecord>, _>>()?;
        let next_cursor = if series.len() > limit {
            series.truncate(limit);
            series.last().map(|record| record.name.clone())
        } else if more {
            series.last().map(|record| record.name.clone())
        } else {
            None
        };
        Ok(SeriesPage {
            series,
            next_cursor,
        })
    }

    /// One strongly consistent `Scan` call filtered on a tenant's key (`PK` from `T#`) and a
    /// series sort key (`SERIES#`), reading at most `limit` items (capped at [`SCAN_PAGE`]); the
    /// cursor is the hex form of `LastEvaluatedKey`'s `PK` and `SK`.
    async fn scan_series(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SeriesScanPage, StoreError> {
        let (items, next_cursor) = self
            .scan_tenant_page("begins_with(#sk, :sk)", SERIES_SK_PREFIX, cursor, limit)
            .await?;
        let series = items
            .iter()
            .map(scanned)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SeriesScanPage {
            series,
            next_cursor,
        })
    }

    /// `PutItem` conditioned on no item; a failed condition is `false`.
    async fn restore_series(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<bool, StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(series_item(tenant, record)?))
            .condition_expression(format!("attribute_not_exists({PK})"));
        match put.send().await.map_err(|e| classify("PutItem", e)) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detection::series::SeriesParams;

    #[test]
    fn when_a_record_is_mapped_should_round_trip_with_its_sequence_as_a_number() {
        let record = SeriesRecord {
            name: "cpu".into(),
            params: SeriesParams {
                seasonality: Some(288),
                ..SeriesParams::default()
            },
            values: vec!["value".into()],
            sequence: 7,
            points_seen: 1_000,
            last_timestamp: Some(-5),
            state_key: "series/acme/cpu/000000000007-ab.state".into(),
            created_at_ms: 1,
            updated_at_ms: 2,
            recent_anomalies: Vec::new(),
        };
        let item = to_item(&record).unwrap();
        assert_eq!(item[SEQUENCE_ATTRIBUTE], AttributeValue::N("7".into()));
        assert_eq!(from_item::<SeriesRecord>(&item).unwrap(), record);
    }
}
