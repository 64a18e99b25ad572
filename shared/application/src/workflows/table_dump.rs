//! The table in a backup, `backups/{id}/table.jsonl.gz`: gzip of JSON lines, one item each, in
//! the ports' own shapes (not DynamoDB's attribute JSON), so a backup taken on one adapter
//! restores onto either.

use std::io::{BufRead, BufReader, Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};

use crate::domain::{ApiKey, Job, ModelVersion, Tenant};
use crate::workflows::manifest::ItemCounts;
use crate::workflows::upgrade::adopt;

/// Most bytes a dump may inflate to, so a damaged or hostile dump cannot exhaust memory.
pub const MAX_DUMP_BYTES: u64 = 1 << 30;

/// A model's `LATEST` pointer in a dump; dumps taken before tenancy have no `tenant` (the
/// default one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestPointer {
    /// The tenant owning the model.
    #[serde(default)]
    pub tenant: Tenant,
    /// Model name.
    pub name: String,
    /// The version it names.
    pub version: u32,
}

/// One line of the dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TableItem {
    /// A `T#{tenant}#MODEL#{name}` / `VERSION#{n}` item.
    Version(ModelVersion),
    /// A `T#{tenant}#MODEL#{name}` / `LATEST` pointer.
    Latest(LatestPointer),
    /// A `T#{tenant}#KEYS` / `KEY#{id}` API key (its hash, never the secret).
    Key(ApiKey),
    /// A `T#{tenant}#JOB#{id}` / `JOB` item.
    Job(Job),
}

/// The items of one backup, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableSnapshot {
    /// Version items, by model then version.
    pub versions: Vec<ModelVersion>,
    /// Every model's `LATEST` pointer.
    pub latest: Vec<LatestPointer>,
    /// API keys.
    pub keys: Vec<ApiKey>,
    /// Job items, by id.
    pub jobs: Vec<Job>,
}

impl TableSnapshot {
    /// How many items of each kind.
    pub fn counts(&self) -> ItemCounts {
        ItemCounts {
            models: self.latest.len(),
            versions: self.versions.len(),
            jobs: self.jobs.len(),
            keys: self.keys.len(),
        }
    }

    /// The gzipped JSON lines: versions, then `LATEST` pointers, then jobs.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        let mut write = |item: &TableItem| -> Result<(), String> {
            serde_json::to_writer(&mut gz, item).map_err(|e| e.to_string())?;
            gz.write_all(b"\n").map_err(|e| e.to_string())
        };
        for v in &self.versions {
            write(&TableItem::Version(v.clone()))?;
        }
        for pointer in &self.latest {
            write(&TableItem::Latest(pointer.clone()))?;
        }
        for job in &self.jobs {
            write(&TableItem::Job(job.clone()))?;
        }
        for key in &self.keys {
            write(&TableItem::Key(key.clone()))?;
        }
        gz.finish().map_err(|e| e.to_string())
    }

    /// Reads a dump back; a line that does not parse is an error naming its number.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let reader = BufReader::new(GzDecoder::new(bytes).take(MAX_DUMP_BYTES + 1));
        let mut snapshot = Self::default();
        let mut inflated: u64 = 0;
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| format!("the table dump does not inflate: {e}"))?;
            inflated += line.len() as u64 + 1;
            if inflated > MAX_DUMP_BYTES {
                return Err(format!(
                    "the table dump inflates beyond {MAX_DUMP_BYTES} bytes"
                ));
            }
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<TableItem>(&line)
                .map_err(|e| format!("line {} of the table dump: {e}", n + 1))?
            {
                TableItem::Version(v) => snapshot.versions.push(v),
                TableItem::Latest(pointer) => snapshot.latest.push(pointer),
                TableItem::Key(key) => snapshot.keys.push(key),
                TableItem::Job(mut job) => {
                    adopt(&mut job);
                    snapshot.jobs.push(job)
                }
            }
        }
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobCounts, JobKind, JobStatus, JobTimings, TrainingStats};

    fn snapshot() -> TableSnapshot {
        let version = ModelVersion {
            tenant: Tenant::parse("acme").unwrap(),
            name: "payments".into(),
            version: 2,
            algorithm: "ecod".into(),
            features: vec!["a".into()],
            threshold: 0.125,
            s3_key: "models/payments/v000002/model.nmly".into(),
            sha256: "ab".into(),
            size: 7,
            training: TrainingStats {
                rows: 10,
                calibration_rows: 10,
                duration_ms: 1,
            },
            created_at: 5,
            source: None,
            job: None,
        };
        let job = Job {
            tenant: Tenant::parse("acme").unwrap(),
            id: "j1".into(),
            kind: JobKind::Detect,
            status: JobStatus::Succeeded,
            model: Some("payments".into()),
            version: Some(2),
            counts: JobCounts {
                rows: 3,
                anomalies: 1,
            },
            timings: JobTimings { duration_ms: 0.5 },
            anomaly_rows: vec![2],
            error: None,
            created_at: 6,
            expires_at: 7,
            source: None,
            results_key: None,
            lease_expires_at: None,
        };
        TableSnapshot {
            versions: vec![version],
            latest: vec![LatestPointer {
                tenant: Tenant::parse("acme").unwrap(),
                name: "payments".into(),
                version: 2,
            }],
            jobs: vec![job],
            keys: vec![
                crate::domain::NewKey::generate(
                    &Tenant::parse("acme").unwrap(),
                    "ci",
                    crate::domain::principal::parse_scopes("read"),
                    1,
                )
                .key,
            ],
        }
    }

    #[test]
    fn when_encoded_should_decode_to_the_same_items() {
        let s = snapshot();
        let bytes = s.encode().unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(TableSnapshot::decode(&bytes).unwrap(), s);
        let counts = s.counts();
        assert_eq!(
            (counts.models, counts.versions, counts.jobs, counts.keys),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn when_dump_predates_tenancy_should_decode_into_the_default_tenant() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(
            b"{\"type\":\"latest\",\"name\":\"m\",\"version\":1}\n{\"type\":\"job\",\"id\":\"j\",\"kind\":\"detect\",\"status\":\"succeeded\",\"model\":\"m\",\"version\":1,\"counts\":{\"rows\":1,\"anomalies\":0},\"timings\":{\"duration_ms\":1.0},\"error\":null,\"created_at\":1,\"expires_at\":2}\n",
        )
        .unwrap();
        let old = TableSnapshot::decode(&gz.finish().unwrap()).unwrap();
        assert_eq!(old.latest[0].tenant, Tenant::default());
        assert_eq!(old.jobs[0].tenant, Tenant::default());
    }

    #[test]
    fn when_dump_is_damaged_should_say_where() {
        let mut bytes = snapshot().encode().unwrap();
        let e = TableSnapshot::decode(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(e.contains("inflate"), "{e}");
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"{\"type\":\"latest\",\"name\":\"m\",\"version\":1}\n{\"type\":\"nope\"}\n")
            .unwrap();
        bytes = gz.finish().unwrap();
        let e = TableSnapshot::decode(&bytes).unwrap_err();
        assert!(e.starts_with("line 2 of the table dump"), "{e}");
    }
}
