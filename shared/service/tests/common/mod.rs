//! Helpers shared by the integration tests: isolated temporary stores (local, or AWS on moto in
//! [`aws`]), sample data as JSON, and workflows wired to the local adapter.

#![allow(dead_code)]

pub mod aws;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use detection::tabular::parse_csv;
use detection::{Limits, Table};
use serde_json::{json, Value};
use service::cache::ModelCache;
use service::local::LocalStores;
use service::workflows::detect::DetectWorkflow;
use service::workflows::latest::LatestCache;
use service::workflows::train::TrainWorkflow;

/// A local backend in its own temporary directory, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub stores: LocalStores,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let stores = LocalStores::open(dir.path()).expect("open stores");
        Self { dir, stores }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn train(&self) -> TrainWorkflow {
        TrainWorkflow::new(
            self.stores.objects.clone(),
            self.stores.items.clone(),
            self.stores.items.clone(),
            Limits::default(),
        )
    }

    pub fn detect_with(&self, cache_bytes: usize, ttl: Duration) -> DetectWorkflow {
        DetectWorkflow::new(
            self.stores.objects.clone(),
            self.stores.items.clone(),
            self.stores.items.clone(),
            Arc::new(ModelCache::new(cache_bytes)),
            Arc::new(LatestCache::new(ttl)),
            Limits::default(),
        )
    }

    pub fn detect(&self) -> DetectWorkflow {
        self.detect_with(64 * 1024 * 1024, Duration::ZERO)
    }
}

pub fn sample_path(file: &str) -> PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../data/sample")
    .join(file)
}

pub fn sample_table(file: &str) -> Table {
    let bytes = std::fs::read(sample_path(file)).expect("sample file");
    parse_csv(bytes.as_slice(), &Limits::default()).expect("sample csv")
}

/// A table as the API's `{"columns": [...], "rows": [[...]]}`.
pub fn table_json(table: &Table) -> Value {
    let rows: Vec<Vec<f64>> = table
        .values()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    json!({"columns": table.columns(), "rows": rows})
}

/// A small, deterministic two-column data set with one far outlier at the last row.
pub fn small_data(n: usize) -> Value {
    let mut rows: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![(i % 10) as f64, ((i * 7) % 13) as f64])
        .collect();
    rows.push(vec![100.0, -100.0]);
    json!({"columns": ["a", "b"], "rows": rows})
}
