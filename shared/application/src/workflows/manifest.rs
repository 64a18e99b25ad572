//! The backup manifest, `backups/{id}/manifest.json`: every artifact and series state the backup
//! holds (a content-addressed object `backups/objects/sha256/{hex}`, shared by every backup that
//! holds the same bytes) with its SHA-256 and size, the table dump's parts and the item counts.
//! Restore checks a backup against its manifest before writing anything, so a damaged or partial
//! backup is refused whole. Format 1 (before content addressing) kept each artifact under the
//! backup's own prefix and the dump in one object; it still reads.

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;

/// Version of the manifest layout; a newer one is refused by an older restore.
pub const MANIFEST_FORMAT: u32 = 2;

/// Prefix of every content-addressed artifact in the vault: `{CONTENT_PREFIX}{sha256 hex}`.
pub const CONTENT_PREFIX: &str = "backups/objects/sha256/";

/// Prefix of every backup in the backup bucket: `backups/{id}/`.
pub fn backup_prefix(id: &str) -> String {
    format!("backups/{id}/")
}

/// Key of a backup's manifest.
pub fn manifest_key(id: &str) -> String {
    format!("{}manifest.json", backup_prefix(id))
}

/// Key of the vault object holding the artifact whose SHA-256 is `sha256`.
pub fn content_key(sha256: &str) -> String {
    format!("{CONTENT_PREFIX}{sha256}")
}

/// Key of part `n` of a backup's table dump (each part gzip of JSON lines, one item each;
/// written by one invocation).
pub fn table_part_key(id: &str, n: u32) -> String {
    format!("{}table/{n:06}.jsonl.gz", backup_prefix(id))
}

/// How a backup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    /// Every object and the table dump were written and verified.
    Succeeded,
    /// It stopped part way (see `error`); never restored from, never counted as good.
    Failed,
}

/// One object of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestObject {
    /// Key in the backup bucket ([`content_key`] for an artifact).
    pub backup_key: String,
    /// Key it is restored to (in the models bucket); empty for the table dump.
    pub source_key: String,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl ManifestObject {
    /// Checks `bytes` against the recorded size and SHA-256, naming the object when they differ.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() as u64 != self.size {
            return Err(format!(
                "{} is {} bytes; the manifest says {}",
                self.backup_key,
                bytes.len(),
                self.size
            ));
        }
        let actual = sha256_hex(bytes);
        if actual != self.sha256 {
            return Err(format!(
                "{} has sha256 {actual}; the manifest says {}",
                self.backup_key, self.sha256
            ));
        }
        Ok(())
    }
}

/// Item counts of a backup, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCounts {
    /// `LATEST` items (one per model).
    pub models: usize,
    /// Version items.
    pub versions: usize,
    /// Job items.
    pub jobs: usize,
    /// API key items (hashes, never secrets); absent from backups taken before tenancy.
    #[serde(default)]
    pub keys: usize,
    /// Series records (each with its detector state among the objects); absent from backups
    /// taken before series.
    #[serde(default)]
    pub series: usize,
    /// Labelled rows of models; absent from backups taken before labels.
    #[serde(default)]
    pub labels: usize,
}

impl ItemCounts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ItemCounts) {
        self.models += other.models;
        self.versions += other.versions;
        self.jobs += other.jobs;
        self.keys += other.keys;
        self.series += other.series;
        self.labels += other.labels;
    }
}

/// `backups/{id}/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Layout version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// Backup id (time-ordered).
    pub id: String,
    /// Start time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// End time, milliseconds since the Unix epoch.
    pub finished_at: u64,
    /// How it ended.
    pub status: BackupStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every model artifact and series state the backup holds, one per source key.
    pub objects: Vec<ManifestObject>,
    /// Artifacts this backup copied; the others an earlier backup already held.
    #[serde(default)]
    pub copied: usize,
    /// The table dump in one object (format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<ManifestObject>,
    /// The parts of the table dump, in order (format 2).
    #[serde(default)]
    pub tables: Vec<ManifestObject>,
    /// Items in the dump, by kind.
    pub items: ItemCounts,
}

impl BackupManifest {
    /// Bytes of every object and the dump.
    pub fn total_bytes(&self) -> u64 {
        self.objects
            .iter()
            .chain(self.dump_parts())
            .map(|o| o.size)
            .sum()
    }

    /// The parts of the table dump, in order, whichever the format.
    pub fn dump_parts(&self) -> impl Iterator<Item = &ManifestObject> {
        self.table.iter().chain(self.tables.iter())
    }

    /// Parses a stored manifest, refusing a newer format or a manifest that names keys outside
    /// its own backup.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(bytes)
            .map_err(|e| format!("the manifest is not valid JSON for this version: {e}"))?;
        if manifest.format > MANIFEST_FORMAT {
            return Err(format!(
                "the manifest has format {}; this build reads up to {MANIFEST_FORMAT}",
                manifest.format
            ));
        }
        let prefix = backup_prefix(&manifest.id);
        let own = |o: &ManifestObject| o.backup_key.starts_with(&prefix);
        let escapes = |o: &&ManifestObject| o.backup_key.contains("..");
        let outside = manifest
            .objects
            .iter()
            .find(|o| !(own(o) || o.backup_key == content_key(&o.sha256)))
            .or_else(|| manifest.dump_parts().find(|o| !own(o)))
            .or_else(|| {
                manifest
                    .objects
                    .iter()
                    .chain(manifest.dump_parts())
                    .find(escapes)
            });
        if let Some(object) = outside {
            return Err(format!(
                "the manifest names {}, outside {prefix} and {CONTENT_PREFIX}",
                object.backup_key
            ));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: &str, key: &str, bytes: &[u8]) -> ManifestObject {
        ManifestObject {
            backup_key: format!("{}{key}", backup_prefix(id)),
            source_key: key.into(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }

    fn manifest(objects: Vec<ManifestObject>) -> BackupManifest {
        BackupManifest {
            format: MANIFEST_FORMAT,
            id: "b1".into(),
            created_at: 1,
            finished_at: 2,
            status: BackupStatus::Succeeded,
            error: None,
            objects,
            copied: 0,
            table: None,
            tables: vec![object("b1", "table/000001.jsonl.gz", b"dump")],
            items: ItemCounts {
                models: 1,
                versions: 2,
                jobs: 3,
                keys: 4,
                series: 5,
                labels: 6,
            },
        }
    }

    #[test]
    fn when_bytes_differ_should_name_the_object_and_the_mismatch() {
        let o = object("b1", "models/m/v000001/model.nmly", b"model");
        assert_eq!(o.verify(b"model"), Ok(()));
        let e = o.verify(b"mode!").unwrap_err();
        assert!(
            e.contains("backups/b1/models/m/v000001/model.nmly has sha256"),
            "{e}"
        );
        let e = o.verify(b"mod").unwrap_err();
        assert!(e.contains("is 3 bytes; the manifest says 5"), "{e}");
    }

    #[test]
    fn when_round_tripped_should_parse_back_and_sum_sizes() {
        let mut shared = object("b1", "models/m/v000001/model.nmly", b"model");
        shared.backup_key = content_key(&shared.sha256);
        let m = manifest(vec![shared]);
        let bytes = serde_json::to_vec(&m).unwrap();
        let back = BackupManifest::parse(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.total_bytes(), 9);
        assert_eq!(back.dump_parts().count(), 1);
    }

    #[test]
    fn when_counts_predate_keys_series_and_labels_should_read_them_as_zero() {
        let counts: ItemCounts =
            serde_json::from_str(r#"{"models":1,"versions":2,"jobs":3}"#).unwrap();
        assert_eq!(
            counts,
            ItemCounts {
                models: 1,
                versions: 2,
                jobs: 3,
                ..ItemCounts::default()
            }
        );
    }

    #[test]
    fn when_manifest_is_newer_or_escapes_its_backup_should_be_refused() {
        let mut m = manifest(vec![]);
        m.format = MANIFEST_FORMAT + 1;
        let e = BackupManifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap_err();
        assert!(e.contains("format 3"), "{e}");
        let mut m = manifest(vec![object("b1", "models/x", b"x")]);
        m.objects[0].backup_key = "backups/b2/models/x".into();
        let e = BackupManifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap_err();
        assert!(e.contains("outside backups/b1/"), "{e}");
        // A content object must sit at the key of its own SHA-256.
        m.objects[0].backup_key = content_key(&sha256_hex(b"other"));
        let e = BackupManifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap_err();
        assert!(e.contains("outside backups/b1/"), "{e}");
        let e = BackupManifest::parse(b"{not json").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
