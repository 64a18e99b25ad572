//! Where a backup or a restore cut short by its deadline stands, kept in the vault so a
//! follow-up invocation continues it: `backups/{id}/checkpoint.json` (a backup being taken) and
//! `backups/{id}/restore-checkpoint.json` (a restore of that backup).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;
use crate::domain::ModelVersion;
use crate::error::ServiceError;
use crate::ports::{ObjectAdmin, ObjectMeta};
use crate::workflows::manifest::{backup_prefix, ItemCounts, ManifestObject};
use crate::workflows::restore::Tally;

/// Key of a backup's checkpoint (absent once the backup has its manifest).
pub fn checkpoint_key(id: &str) -> String {
    format!("{}checkpoint.json", backup_prefix(id))
}

/// Key of the checkpoint of a restore of backup `id` (absent once the restore ended).
pub fn restore_checkpoint_key(id: &str) -> String {
    format!("{}restore-checkpoint.json", backup_prefix(id))
}

/// What a backup is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupPhase {
    /// Models in (tenant, name) order after `cursor`: items dumped, artifacts copied.
    Models,
    /// API keys.
    Keys,
    /// Pages of every tenant's series from `cursor`: records dumped, their states copied.
    /// (Checkpoints written before series go from `keys` straight on with `jobs`.)
    Series,
    /// Pages of every tenant's labelled rows from `cursor`. (Checkpoints written before labels
    /// go from `series` straight on with `jobs`.)
    Labels,
    /// Job pages from `cursor`.
    Jobs,
    /// Everything is dumped: the manifest is next.
    Manifest,
}

/// `backups/{id}/checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupCheckpoint {
    /// Backup id.
    pub id: String,
    /// Start time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// What comes next.
    pub phase: BackupPhase,
    /// Where in the phase: the last model done (`{tenant}/{name}`), or the series, label or job
    /// scan's cursor.
    pub cursor: Option<String>,
    /// Invocations that worked on it so far (each writes its own dump part).
    pub invocations: u32,
    /// Every artifact and series state held so far, by source key.
    pub objects: Vec<ManifestObject>,
    /// Artifacts copied so far (the others were already in the vault).
    pub copied: usize,
    /// Dump parts written so far, in order.
    pub tables: Vec<ManifestObject>,
    /// Items dumped so far, by kind.
    pub items: ItemCounts,
}

/// What a restore is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePhase {
    /// Reading and checking artifacts from index `next`.
    VerifyObjects,
    /// Reading and checking dump parts from index `next`.
    VerifyDump,
    /// Writing artifacts from index `next`.
    Objects,
    /// Writing items from part `next`, after its first `line` lines.
    Items,
}

/// `backups/{id}/restore-checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreCheckpoint {
    /// The backup restored.
    pub backup_id: String,
    /// Whether nothing is written.
    pub dry_run: bool,
    /// Whether what differs is replaced.
    pub replace: bool,
    /// What comes next.
    pub phase: RestorePhase,
    /// The artifact or dump part the phase is at.
    pub next: usize,
    /// Lines of part `next` already applied.
    pub line: u64,
    /// Items counted in the dump parts checked so far.
    pub verified: ItemCounts,
    /// Version items read but whose model's `LATEST` has not come yet (the highest per model).
    pub pending: Vec<ModelVersion>,
    /// What was done so far.
    pub progress: RestoreProgress,
    /// Invocations that worked on it so far.
    pub invocations: u32,
}

/// A restore's tallies so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreProgress {
    /// Model artifacts.
    pub objects: Tally,
    /// Version items.
    pub versions: Tally,
    /// `LATEST` pointers.
    pub latest: Tally,
    /// Job items.
    pub jobs: Tally,
    /// API keys.
    pub keys: Tally,
    /// Series (each record with its state); absent from checkpoints written before series.
    #[serde(default)]
    pub series: Tally,
    /// Labelled rows; absent from checkpoints written before labels.
    #[serde(default)]
    pub labels: Tally,
    /// What was kept (or replaced), capped.
    pub conflicts: Vec<String>,
}

/// Reads the JSON object at `key` in `vault`, or `None`.
pub async fn load<T: DeserializeOwned>(
    vault: &dyn ObjectAdmin,
    key: &str,
) -> Result<Option<T>, ServiceError> {
    let Some(object) = vault.get(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&object.bytes)
        .map(Some)
        .map_err(|e| ServiceError::Internal(format!("{key} does not parse: {e}")))
}

/// Writes `value` as JSON at `key` in `vault`, replacing what is there.
pub async fn save<T: Serialize>(
    vault: &dyn ObjectAdmin,
    key: &str,
    value: &T,
) -> Result<(), ServiceError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ServiceError::Internal(format!("encoding {key}: {e}")))?;
    let meta = ObjectMeta {
        sha256: sha256_hex(&bytes),
        size: bytes.len() as u64,
        content_type: "application/json".into(),
    };
    vault.put(key, &bytes, &meta).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_checkpoint_predates_series_and_labels_should_still_read() {
        let phase: BackupPhase = serde_json::from_str(r#""keys""#).unwrap();
        assert_eq!(phase, BackupPhase::Keys);
        assert_eq!(
            serde_json::to_string(&BackupPhase::Series).unwrap(),
            r#""series""#
        );
        let progress: RestoreProgress = serde_json::from_str(
            r#"{"objects":{"written":1,"unchanged":0,"kept":0},"versions":{"written":0,"unchanged":0,"kept":0},"latest":{"written":0,"unchanged":0,"kept":0},"jobs":{"written":0,"unchanged":0,"kept":0},"keys":{"written":0,"unchanged":0,"kept":0},"conflicts":[]}"#,
        )
        .unwrap();
        assert_eq!(progress.objects.written, 1);
        assert_eq!(progress.series, Tally::default());
        assert_eq!(progress.labels, Tally::default());
        assert_eq!(
            serde_json::to_string(&BackupPhase::Labels).unwrap(),
            r#""labels""#
        );
    }
}
