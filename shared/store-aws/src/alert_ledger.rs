//! Alert suppression states on DynamoDB: one item per (tenant, model, entity) at
//! `T#{tenant}#ALERT#{model}` / `ENTITY#{entity}`, the state's fields as attributes, written by a
//! `PutItem` conditioned on the revision read, and forgotten through the table's TTL attribute.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamodb::DynamoStore;
use crate::errors::classify;
use crate::items::{from_item, key, to_item, Item};
use crate::schema::{PK, TTL_ATTRIBUTE};
use application::domain::alert::{AlertKey, AlertState};
use application::domain::keys::{alert_pk, alert_sk};
use application::domain::Tenant;
use application::ports::{AlertLedger, StoreError};

/// The attribute holding a state's revision (its field `revision`).
const REVISION_ATTRIBUTE: &str = "revision";

/// The attribute holding a state's expiry in milliseconds (its field `expires_at_ms`); the TTL
/// attribute holds the same in seconds, but the service deletes expired items only eventually.
const EXPIRY_ATTRIBUTE: &str = "expires_at_ms";

/// Milliseconds since the Unix epoch now (0 before it), the clock alert states expire by.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The item of `state` at `tenant`'s `key`, with the TTL attribute (epoch seconds).
fn alert_item(tenant: &Tenant, key_of: &AlertKey, state: &AlertState) -> Result<Item, StoreError> {
    let mut item = to_item(state)?;
    item.extend(key(
        alert_pk(tenant, &key_of.model),
        &alert_sk(&key_of.entity),
    ));
    item.insert(
        TTL_ATTRIBUTE.to_owned(),
        AttributeValue::N((state.expires_at_ms / 1000).to_string()),
    );
    Ok(item)
}

#[async_trait]
impl AlertLedger for DynamoStore {
    /// A strongly consistent `GetItem`; an item whose expiry passed (and which TTL has not
    /// deleted yet) reads as absent.
    async fn alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
    ) -> Result<Option<AlertState>, StoreError> {
        let Some(item) = self
            .get_item(alert_pk(tenant, &key.model), &alert_sk(&key.entity))
            .await?
        else {
            return Ok(None);
        };
        let state: AlertState = from_item(&item)?;
        Ok((state.expires_at_ms > now_ms()).then_some(state))
    }

    /// `PutItem` conditioned on no live item (revision 1: absent, or expired as a read sees it)
    /// or on the stored revision being the previous one; a failed condition is `false`.
    async fn put_alert_state(
        &self,
        tenant: &Tenant,
        key: &AlertKey,
        state: &AlertState,
    ) -> Result<bool, StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(alert_item(tenant, key, state)?));
        let put = match state.revision {
            0 => {
                return Err(StoreError::Invalid(
                    "an alert state is written with revision 1 or more".into(),
                ))
            }
            1 => put
                .condition_expression(format!("attribute_not_exists({PK}) OR #expiry <= :now"))
                .expression_attribute_names("#expiry", EXPIRY_ATTRIBUTE)
                .expression_attribute_values(":now", AttributeValue::N(now_ms().to_string())),
            revision => put
                .condition_expression("#revision = :previous")
                .expression_attribute_names("#revision", REVISION_ATTRIBUTE)
                .expression_attribute_values(
                    ":previous",
                    AttributeValue::N((revision - 1).to_string()),
                ),
        };
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
    use application::domain::alert::PendingAlert;

    #[test]
    fn when_a_state_is_mapped_should_carry_its_key_and_ttl_in_seconds_and_round_trip() {
        let state = AlertState {
            last_published_ms: Some(1_000),
            suppressed: 2,
            recent: vec!["r-1".into()],
            pending: Some(PendingAlert {
                record_id: "r-1".into(),
                suppressed: 2,
            }),
            revision: 3,
            expires_at_ms: 1_700_000_123_999,
        };
        let tenant = Tenant::parse("acme").unwrap();
        let key_of = AlertKey {
            model: "payments".into(),
            entity: "card-1".into(),
        };
        let item = alert_item(&tenant, &key_of, &state).unwrap();
        assert_eq!(item[PK], AttributeValue::S("T#acme#ALERT#payments".into()));
        assert_eq!(item["SK"], AttributeValue::S("ENTITY#card-1".into()));
        assert_eq!(item[TTL_ATTRIBUTE], AttributeValue::N("1700000123".into()));
        assert_eq!(item[REVISION_ATTRIBUTE], AttributeValue::N("3".into()));
        assert_eq!(from_item::<AlertState>(&item).unwrap(), state);
    }
}
