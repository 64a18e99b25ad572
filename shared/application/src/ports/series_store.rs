//! Series records, kept in the item store and written under their sequence, so concurrent
//! appends to one series never lose each other's points.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{SeriesRecord, Tenant};

/// One page of a tenant's series, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPage {
    /// The records on this page, by name.
    pub series: Vec<SeriesRecord>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Reads, lists and conditionally writes series records.
#[async_trait]
pub trait SeriesStore: Send + Sync {
    /// The record of `name` in `tenant`, or `None`.
    async fn series(&self, tenant: &Tenant, name: &str)
        -> Result<Option<SeriesRecord>, StoreError>;

    /// Writes `record` only if the stored sequence is `record.sequence - 1` (absent counts as
    /// 0, so a first write has sequence 1); `false` when another writer moved it.
    async fn put_series(&self, tenant: &Tenant, record: &SeriesRecord) -> Result<bool, StoreError>;

    /// Up to `limit` (1 to 1,000) of `tenant`'s series after `cursor`, by name.
    async fn list_series(
        &self,
        tenant: &Tenant,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<SeriesPage, StoreError>;
}
