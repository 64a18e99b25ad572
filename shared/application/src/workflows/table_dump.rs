//! The table in a backup, `backups/{id}/table/{n}.jsonl.gz`: gzip of JSON lines, one item each,
//! in the ports' own shapes (not DynamoDB's attribute JSON), so a backup taken on one adapter
//! restores onto either. Written as it is read (a multipart upload fed page by page) and read
//! back as a stream (batches of items from a blocking decoder), so memory stays bounded whatever
//! the table's size.

use std::io::{BufRead, BufReader, Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::domain::{ApiKey, Job, ModelVersion, RowLabel, SeriesRecord, Tenant};
use crate::ports::{BlobReader, BlobUpload, ObjectAdmin, StoreError, MIN_PART_BYTES};
use crate::workflows::manifest::{ItemCounts, ManifestObject};
use crate::workflows::upgrade::adopt;

/// Most bytes one dump part may inflate to, so a damaged or hostile dump cannot run forever.
pub const MAX_DUMP_BYTES: u64 = 1 << 36;

/// Longest line of a dump (an item), so a damaged dump cannot exhaust memory.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// Compressed bytes gathered before they are sent as one part of the upload.
const PART_BYTES: usize = 2 * MIN_PART_BYTES;

/// Batches a reader hands over before it waits for the consumer.
const READ_AHEAD: usize = 2;

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
    /// A `T#{tenant}#SERIES` / `SERIES#{name}` record; the backup holds the state it names.
    Series {
        /// The tenant owning the series (records do not name it).
        tenant: Tenant,
        /// The record as it was read, naming the state the backup holds.
        record: SeriesRecord,
    },
    /// A `T#{tenant}#LABELS#{model}` / `LABEL#{id}` labelled row.
    Label {
        /// The tenant owning the model (labels do not name it).
        tenant: Tenant,
        /// The model the row is labelled for.
        model: String,
        /// The label.
        label: RowLabel,
    },
}

impl TableItem {
    /// Counts this item in `counts`.
    pub fn count_in(&self, counts: &mut ItemCounts) {
        match self {
            Self::Version(_) => counts.versions += 1,
            Self::Latest(_) => counts.models += 1,
            Self::Key(_) => counts.keys += 1,
            Self::Job(_) => counts.jobs += 1,
            Self::Series { .. } => counts.series += 1,
            Self::Label { .. } => counts.labels += 1,
        }
    }
}

/// Why a dump part could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The bytes are not a dump (or not the one the manifest describes).
    #[error("{0}")]
    Damaged(String),
    /// The store failed while the part was read or written (retryable).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One part of a dump being written: items are gzipped into a buffer sent as a part of the
/// upload whenever it holds [`PART_BYTES`], while its SHA-256 and size are computed.
pub struct DumpWriter {
    key: String,
    upload: Box<dyn BlobUpload>,
    gz: GzEncoder<Vec<u8>>,
    sha: Sha256,
    size: u64,
    counts: ItemCounts,
}

impl DumpWriter {
    /// Starts the part at `key` in `vault`.
    pub async fn open(vault: &dyn ObjectAdmin, key: String) -> Result<Self, StoreError> {
        let upload = vault.write_stream(&key, "application/gzip").await?;
        Ok(Self {
            key,
            upload,
            gz: GzEncoder::new(Vec::with_capacity(PART_BYTES), Compression::fast()),
            sha: Sha256::new(),
            size: 0,
            counts: ItemCounts::default(),
        })
    }

    /// Appends one item.
    pub async fn write(&mut self, item: &TableItem) -> Result<(), StoreError> {
        let encoding = |e: std::io::Error| {
            StoreError::Invalid(format!("encoding the table dump {}: {e}", self.key))
        };
        serde_json::to_writer(&mut self.gz, item)
            .map_err(|e| StoreError::Invalid(format!("encoding the table dump: {e}")))?;
        self.gz.write_all(b"\n").map_err(encoding)?;
        item.count_in(&mut self.counts);
        if self.gz.get_ref().len() >= PART_BYTES {
            let part = std::mem::replace(self.gz.get_mut(), Vec::with_capacity(PART_BYTES));
            self.send(part).await?;
        }
        Ok(())
    }

    /// Items written so far, by kind.
    pub fn counts(&self) -> &ItemCounts {
        &self.counts
    }

    async fn send(&mut self, part: Vec<u8>) -> Result<(), StoreError> {
        self.sha.update(&part);
        self.size += part.len() as u64;
        self.upload.write_part(part).await
    }

    /// Ends the gzip stream and publishes the part; its manifest entry and item counts.
    pub async fn finish(mut self) -> Result<(ManifestObject, ItemCounts), StoreError> {
        let gz = std::mem::replace(
            &mut self.gz,
            GzEncoder::new(Vec::new(), Compression::fast()),
        );
        let last = gz
            .finish()
            .map_err(|e| StoreError::Invalid(format!("encoding the table dump: {e}")))?;
        if let Err(e) = self.send(last).await {
            self.upload.abort().await;
            return Err(e);
        }
        let object = ManifestObject {
            backup_key: self.key,
            source_key: String::new(),
            sha256: self
                .sha
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            size: self.size,
        };
        self.upload.complete().await?;
        Ok((object, self.counts))
    }

    /// Discards the part.
    pub async fn abort(self) {
        self.upload.abort().await;
    }
}

/// A `Read` that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(buf.get(..n).unwrap_or_default());
        self.size += n as u64;
        Ok(n)
    }
}

/// A dump part being read: batches of items (after the first `skip` lines), then whether the
/// part matched its manifest entry.
pub struct DumpStream {
    batches: mpsc::Receiver<Vec<TableItem>>,
    reading: JoinHandle<Result<u64, DumpError>>,
}

impl DumpStream {
    /// Reads `reader`, the part `expected` describes, in batches of `batch` items, skipping the
    /// first `skip` lines (read again after a checkpoint).
    pub fn open(reader: BlobReader, expected: ManifestObject, skip: u64, batch: usize) -> Self {
        let (tx, batches) = mpsc::channel(READ_AHEAD);
        let reading = tokio::task::spawn_blocking(move || {
            let failure = reader.failure();
            read_part(reader, &expected, skip, batch.max(1), &tx).map_err(|e| {
                match (failure.get(), e) {
                    (Some(transport), _) => DumpError::Store(transport),
                    (None, e) => e,
                }
            })
        });
        Self { batches, reading }
    }

    /// The next batch, or `None` once the part is read (then see [`DumpStream::finish`]).
    pub async fn next_batch(&mut self) -> Option<Vec<TableItem>> {
        self.batches.recv().await
    }

    /// How many lines the part holds, once every batch was taken; an error when the part did not
    /// read, inflate, parse, or match its manifest entry.
    pub async fn finish(mut self) -> Result<u64, DumpError> {
        self.batches.close();
        while self.batches.recv().await.is_some() {}
        self.reading
            .await
            .map_err(|e| DumpError::Damaged(format!("the dump reader stopped: {e}")))?
    }
}

/// The blocking side of [`DumpStream`]: inflates, parses and hands over batches, then checks the
/// compressed bytes against `expected`; returns the number of lines.
fn read_part(
    reader: BlobReader,
    expected: &ManifestObject,
    skip: u64,
    batch: usize,
    tx: &mpsc::Sender<Vec<TableItem>>,
) -> Result<u64, DumpError> {
    let key = &expected.backup_key;
    let hashing = Hashing {
        inner: reader,
        sha: Sha256::new(),
        size: 0,
    };
    let mut lines = BufReader::new(GzDecoder::new(hashing));
    let (mut n, mut inflated) = (0u64, 0u64);
    let mut items = Vec::with_capacity(batch);
    let mut line = String::new();
    loop {
        line.clear();
        let read = (&mut lines)
            .take(MAX_LINE_BYTES)
            .read_line(&mut line)
            .map_err(|e| DumpError::Damaged(format!("{key} does not inflate: {e}")))?;
        if read == 0 {
            break;
        }
        inflated += read as u64;
        if read as u64 == MAX_LINE_BYTES && !line.ends_with('\n') {
            return Err(DumpError::Damaged(format!(
                "line {} of {key} is longer than {MAX_LINE_BYTES} bytes",
                n + 1
            )));
        }
        if inflated > MAX_DUMP_BYTES {
            return Err(DumpError::Damaged(format!(
                "{key} inflates beyond {MAX_DUMP_BYTES} bytes"
            )));
        }
        let text = line.trim_end_matches('\n');
        if text.is_empty() {
            continue;
        }
        n += 1;
        if n <= skip {
            continue;
        }
        items.push(
            parse_line(text).map_err(|e| DumpError::Damaged(format!("line {n} of {key}: {e}")))?,
        );
        if items.len() >= batch && tx.blocking_send(std::mem::take(&mut items)).is_err() {
            return Err(DumpError::Damaged(format!("{key} was not read to its end")));
        }
    }
    if !items.is_empty() && tx.blocking_send(items).is_err() {
        return Err(DumpError::Damaged(format!("{key} was not read to its end")));
    }
    let mut hashing = lines.into_inner().into_inner();
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| DumpError::Damaged(format!("{key} does not read: {e}")))?;
    let sha256: String = hashing
        .sha
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if hashing.size != expected.size || sha256 != expected.sha256 {
        return Err(DumpError::Damaged(format!(
            "{key} is {} bytes with sha256 {sha256}; the manifest says {} bytes with sha256 {}",
            hashing.size, expected.size, expected.sha256
        )));
    }
    Ok(n)
}

/// One line of a dump; jobs from before tenancy are adopted into the default tenant.
fn parse_line(line: &str) -> Result<TableItem, serde_json::Error> {
    let mut item: TableItem = serde_json::from_str(line)?;
    if let TableItem::Job(job) = &mut item {
        adopt(job);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::sha256_hex;
    use crate::domain::{JobCounts, JobKind, JobStatus, JobTimings, TrainingStats};
    use crate::ports::ReadFailure;
    use detection::series::SeriesParams;

    fn items() -> Vec<TableItem> {
        let acme = Tenant::parse("acme").unwrap();
        let version = ModelVersion {
            tenant: acme.clone(),
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
                labels: 0,
            },
            created_at: 5,
            source: None,
            job: None,
        };
        let job = Job {
            tenant: acme.clone(),
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
            progress: None,
        };
        let key = crate::domain::NewKey::generate(
            &acme,
            "ci",
            crate::domain::principal::parse_scopes("read"),
            1,
        )
        .key;
        let series = SeriesRecord {
            name: "cpu".into(),
            params: SeriesParams::default(),
            values: vec!["value".into()],
            sequence: 3,
            points_seen: 50,
            last_timestamp: Some(49),
            state_key: "series/acme/cpu/000000000003-ab.state".into(),
            created_at_ms: 1,
            updated_at_ms: 2,
            recent_anomalies: Vec::new(),
        };
        vec![
            TableItem::Version(version),
            TableItem::Latest(LatestPointer {
                tenant: acme.clone(),
                name: "payments".into(),
                version: 2,
            }),
            TableItem::Key(key),
            TableItem::Series {
                tenant: acme.clone(),
                record: series,
            },
            TableItem::Label {
                tenant: acme,
                model: "payments".into(),
                label: RowLabel {
                    id: "ab".into(),
                    features: vec!["a".into()],
                    values: vec![-0.5],
                    label: crate::domain::Verdict::Normal,
                    job: Some("j1".into()),
                    row: Some(2),
                    created_at: 8,
                },
            },
            TableItem::Job(job),
        ]
    }

    fn gzip(lines: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(lines).unwrap();
        gz.finish().unwrap()
    }

    fn encoded(items: &[TableItem]) -> Vec<u8> {
        let mut lines = Vec::new();
        for item in items {
            serde_json::to_writer(&mut lines, item).unwrap();
            lines.push(b'\n');
        }
        gzip(&lines)
    }

    fn entry(bytes: &[u8]) -> ManifestObject {
        ManifestObject {
            backup_key: "backups/b1/table/000001.jsonl.gz".into(),
            source_key: String::new(),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }

    /// Every item after `skip` lines, in batches of two, and the line count.
    async fn read(
        bytes: Vec<u8>,
        expected: ManifestObject,
        skip: u64,
    ) -> Result<(Vec<TableItem>, u64), DumpError> {
        let reader = BlobReader::new(
            Box::new(std::io::Cursor::new(bytes)),
            ReadFailure::default(),
        );
        let mut stream = DumpStream::open(reader, expected, skip, 2);
        let mut all = Vec::new();
        while let Some(batch) = stream.next_batch().await {
            assert!(batch.len() <= 2);
            all.extend(batch);
        }
        stream.finish().await.map(|n| (all, n))
    }

    #[tokio::test]
    async fn when_a_part_is_read_should_give_every_item_after_the_skipped_lines() {
        let items = items();
        let bytes = encoded(&items);
        let (all, n) = read(bytes.clone(), entry(&bytes), 0).await.unwrap();
        assert_eq!((all, n), (items.clone(), 6));
        let mut counts = ItemCounts::default();
        items.iter().for_each(|i| i.count_in(&mut counts));
        assert_eq!(
            (
                counts.models,
                counts.versions,
                counts.jobs,
                counts.keys,
                counts.series,
                counts.labels
            ),
            (1, 1, 1, 1, 1, 1)
        );
        let (rest, n) = read(bytes.clone(), entry(&bytes), 3).await.unwrap();
        assert_eq!((rest, n), (items[3..].to_vec(), 6));
    }

    #[tokio::test]
    async fn when_dump_predates_tenancy_should_decode_into_the_default_tenant() {
        let bytes = gzip(b"{\"type\":\"latest\",\"name\":\"m\",\"version\":1}\n{\"type\":\"job\",\"id\":\"j\",\"kind\":\"detect\",\"status\":\"succeeded\",\"model\":\"m\",\"version\":1,\"counts\":{\"rows\":1,\"anomalies\":0},\"timings\":{\"duration_ms\":1.0},\"error\":null,\"created_at\":1,\"expires_at\":2}\n");
        let (old, _) = read(bytes.clone(), entry(&bytes), 0).await.unwrap();
        let tenants: Vec<&Tenant> = old
            .iter()
            .map(|item| match item {
                TableItem::Latest(p) => &p.tenant,
                TableItem::Job(j) => &j.tenant,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(tenants, [&Tenant::default(), &Tenant::default()]);
    }

    #[tokio::test]
    async fn when_dump_is_damaged_should_say_where() {
        let bytes = encoded(&items());
        let half = bytes[..bytes.len() / 2].to_vec();
        let e = read(half.clone(), entry(&half), 0).await.unwrap_err();
        assert!(e.to_string().contains("inflate"), "{e}");
        let e = read(bytes.clone(), entry(b"other"), 0).await.unwrap_err();
        assert!(e.to_string().contains("the manifest says 5 bytes"), "{e}");
        let bad =
            gzip(b"{\"type\":\"latest\",\"name\":\"m\",\"version\":1}\n{\"type\":\"nope\"}\n");
        let e = read(bad.clone(), entry(&bad), 0).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 2 of backups/b1/table/000001.jsonl.gz"),
            "{e}"
        );
    }
}
