//! Series records, kept in the item store and written under their sequence, so concurrent
//! appends to one series never lose each other's points; scanned across tenants and written back
//! by backups and restores.

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

/// One page of a scan of every tenant's series (backups), each record with its tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesScanPage {
    /// The records on this page, in the store's own order.
    pub series: Vec<(Tenant, SeriesRecord)>,
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

    /// One page of the series of every tenant (a backup): at most `limit` records (a page may
    /// hold fewer, even none, and still not be the last), after `cursor` (a page's
    /// `next_cursor`; `None` for the first). The order is the store's own; every series is on
    /// exactly one page of a scan, as it was when its page was read.
    async fn scan_series(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SeriesScanPage, StoreError>;

    /// Every series of every tenant, by tenant then name: every page of
    /// [`SeriesStore::scan_series`], in memory (tests and tools; the backup reads page by page).
    async fn all_series(&self) -> Result<Vec<(Tenant, SeriesRecord)>, StoreError> {
        let mut series = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.scan_series(cursor.as_deref(), 1000).await?;
            series.extend(page.series);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        series.sort_by(|(a, x), (b, y)| (a, &x.name).cmp(&(b, &y.name)));
        Ok(series)
    }

    /// Writes `record` as it is, whatever its sequence, only where `tenant` has no series of its
    /// name (a restore putting back a lost series; appends then go on from its sequence); `false`
    /// when one exists, which is left as it is.
    async fn restore_series(
        &self,
        tenant: &Tenant,
        record: &SeriesRecord,
    ) -> Result<bool, StoreError>;
}
