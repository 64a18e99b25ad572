//! Labelled rows of a model (analysts' feedback), kept in the item store under the tenant and
//! model; read by training, scanned across tenants and written back by backups and restores.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::names::validate_model_name;
use crate::domain::{RowLabel, Tenant};

/// Most labels written in one call of [`LabelStore::put_labels`].
pub const MAX_LABELS_PER_WRITE: usize = 100;

/// Most bytes of a label's JSON form: a DynamoDB item holds at most 400 KB, counting attribute
/// names and the key; the local store keeps the same bound, so a label either keeps, the other
/// (and a restore onto it) keeps too.
pub const MAX_LABEL_BYTES: usize = 350_000;

/// Longest label id (a SHA-256 in hex is 64 characters).
const MAX_LABEL_ID_LEN: usize = 64;

/// Refuses labels no store could key or read back, before any is written: more than
/// [`MAX_LABELS_PER_WRITE`], a model name that is not one, an id that is not 1 to 64 ASCII
/// letters or digits (it ends the key), features and values that do not pair up, a value that
/// is not finite (JSON holds no NaN), or a label above [`MAX_LABEL_BYTES`]. Every adapter's
/// [`LabelStore::put_labels`] runs it.
pub fn check_label_write(model: &str, labels: &[RowLabel]) -> Result<(), StoreError> {
    validate_model_name(model).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if labels.len() > MAX_LABELS_PER_WRITE {
        return Err(StoreError::Invalid(format!(
            "{} labels in one write; the limit is {MAX_LABELS_PER_WRITE}",
            labels.len()
        )));
    }
    for label in labels {
        let id = &label.id;
        if id.is_empty()
            || id.len() > MAX_LABEL_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(StoreError::Invalid(format!(
                "label id '{}' is not 1 to {MAX_LABEL_ID_LEN} letters or digits",
                id.escape_default()
            )));
        }
        if label.features.len() != label.values.len() || label.values.iter().any(|v| !v.is_finite())
        {
            return Err(StoreError::Invalid(format!(
                "label '{id}' does not pair {} features with as many finite values",
                label.features.len()
            )));
        }
        let bytes = serde_json::to_vec(label).map_or(usize::MAX, |json| json.len());
        if bytes > MAX_LABEL_BYTES {
            return Err(StoreError::Invalid(format!(
                "label '{id}' takes {bytes} bytes; the limit is {MAX_LABEL_BYTES}"
            )));
        }
    }
    Ok(())
}

/// One page of a model's labels, by id.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelPage {
    /// The labels on this page, by id.
    pub labels: Vec<RowLabel>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// One label of a scan of every tenant's labels, with its tenant and model.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedLabel {
    /// The tenant owning the model.
    pub tenant: Tenant,
    /// The model's name.
    pub model: String,
    /// The label.
    pub label: RowLabel,
}

/// One page of a scan of every tenant's labels (backups).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelScanPage {
    /// The labels on this page, in the store's own order.
    pub labels: Vec<OwnedLabel>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Writes, lists and scans labelled rows.
#[async_trait]
pub trait LabelStore: Send + Sync {
    /// Writes up to [`MAX_LABELS_PER_WRITE`] labels of `tenant`'s `model`; a label whose id the
    /// model already has replaces it (the row's newest verdict wins). All are written or, on an
    /// error, the call may be retried whole: writing a label twice leaves one.
    async fn put_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        labels: &[RowLabel],
    ) -> Result<(), StoreError>;

    /// Up to `limit` (1 to 1,000) of the labels of `tenant`'s `model` after `cursor` (an id),
    /// by id.
    async fn list_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<LabelPage, StoreError>;

    /// One page of the labels of every tenant's models (a backup): at most `limit` labels (a
    /// page may hold fewer, even none, and still not be the last), after `cursor` (a page's
    /// `next_cursor`; `None` for the first). Every label is on exactly one page of a scan.
    async fn scan_labels(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<LabelScanPage, StoreError>;

    /// Every label of `tenant`'s `model`, at most `max` of them (the first by id), every page of
    /// [`LabelStore::list_labels`]: what a training run learns from.
    async fn model_labels(
        &self,
        tenant: &Tenant,
        model: &str,
        max: usize,
    ) -> Result<Vec<RowLabel>, StoreError> {
        let mut labels = Vec::new();
        let mut cursor: Option<String> = None;
        while labels.len() < max {
            let page = self
                .list_labels(
                    tenant,
                    model,
                    (max - labels.len()).min(1000),
                    cursor.as_deref(),
                )
                .await?;
            labels.extend(page.labels);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        labels.truncate(max);
        Ok(labels)
    }

    /// Every label of every tenant: every page of [`LabelStore::scan_labels`], in memory, by
    /// tenant, model then id (tests and tools; the backup reads page by page).
    async fn all_labels(&self) -> Result<Vec<OwnedLabel>, StoreError> {
        let mut labels = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.scan_labels(cursor.as_deref(), 1000).await?;
            labels.extend(page.labels);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        labels.sort_by(|a, b| {
            (&a.tenant, &a.model, &a.label.id).cmp(&(&b.tenant, &b.model, &b.label.id))
        });
        Ok(labels)
    }
}
