//! Backup and restore times at scale: 100 trained models and 10,000 jobs, on the AWS adapter
//! against a moto server on 127.0.0.1 (started here, stopped at the end) and on the local
//! adapter, side by side. Each adapter: 3 backups, then 3 times (wipe the models and the table,
//! restore). Prints every run, the medians and the backup's size.
//!
//! `cargo run --release -p e2e --example backup_timing` (needs `moto_server` on PATH:
//! `make bench-backup` installs it).

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::sync::Arc;
use std::time::Instant;

use application::domain::{Job, JobCounts, JobKind, JobStatus, JobTimings};
use application::ports::Stores;
use application::workflows::backup::BackupWorkflow;
use application::workflows::restore::{RestoreRequest, RestoreWorkflow};
use application::workflows::retention::RetentionPolicy;
use application::workflows::train::{TrainRequest, TrainWorkflow};
use aws_config::SdkConfig;
use detection::Limits;
use fixtures::aws_env::aws_stores;
use fixtures::local_env::local_stores;
use fixtures::moto::{unique_name, MotoServer};
use fixtures::tenant;
use futures_util::stream::{self, StreamExt};
use serde_json::json;
use store_aws::schema::{create_bucket, create_table};
use store_aws::{load_sdk_config, AwsStores, AwsTuning, S3ObjectStore, SdkTarget};
use store_local::{LocalObjectStore, LocalStores};

const MODELS: usize = 100;
const JOBS: usize = 10_000;
const RUNS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(moto) = MotoServer::start() else {
        eprintln!("moto_server is not on PATH: run `make bench-backup`");
        std::process::exit(2);
    };
    let sdk = load_sdk_config(
        &SdkTarget::Local {
            endpoint_url: moto.endpoint_url(),
        },
        &AwsTuning::default(),
    )
    .await;
    let aws = AwsSite::create(&sdk).await;
    measure("moto (S3 + DynamoDB)", &aws.stores, || aws.wipe()).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let open_local = || {
        local_stores(
            LocalStores::open(dir.path()).expect("local stores"),
            Arc::new(LocalObjectStore::open(dir.path().join("backup-vault")).expect("vault")),
        )
    };
    let local = open_local();
    measure("local (files + SQLite)", &local, || async {
        let _ = std::fs::remove_dir_all(dir.path().join("objects"));
        wipe_sqlite(&dir.path().join("nomaly.db"));
    })
    .await;
}

struct AwsSite {
    stores: Stores,
    aws: AwsStores,
}

impl AwsSite {
    async fn create(sdk: &SdkConfig) -> Self {
        let (bucket, table, backups) = (
            unique_name("models"),
            unique_name("nomaly"),
            unique_name("backups"),
        );
        let aws = AwsStores::new(sdk, &bucket, &table);
        create_bucket(aws.objects.client(), &bucket)
            .await
            .expect("bucket");
        create_bucket(aws.objects.client(), &backups)
            .await
            .expect("backup bucket");
        create_table(aws.items.client(), &table)
            .await
            .expect("table");
        let vault = Arc::new(S3ObjectStore::new(aws.objects.client().clone(), backups));
        Self {
            stores: aws_stores(aws.clone(), Some(vault)),
            aws,
        }
    }

    async fn wipe(&self) {
        for key in self.stores.admin.list_keys("").await.expect("list") {
            self.stores.admin.delete(&key).await.expect("delete");
        }
        let items = &self.aws.items;
        items
            .client()
            .delete_table()
            .table_name(items.table())
            .send()
            .await
            .expect("delete table");
        create_table(items.client(), items.table())
            .await
            .expect("table");
    }
}

/// Deletes every item of the local table (the stores keep the database open).
fn wipe_sqlite(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).expect("db");
    conn.execute("DELETE FROM items", []).expect("wipe");
}

async fn populate(stores: &Stores) {
    let train = TrainWorkflow::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        Limits::default(),
    );
    let rows: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![f64::from(i % 17), f64::from((i * 7) % 13), f64::from(i % 5)])
        .collect();
    stream::iter(0..MODELS)
        .map(|m| {
            let train = train.clone();
            let rows = rows.clone();
            async move {
                let request: TrainRequest = serde_json::from_value(json!({
                    "name": format!("model-{m:03}"),
                    "algorithm": "isolation_forest",
                    "data": {"columns": ["a", "b", "c"], "rows": rows},
                }))
                .expect("request");
                train.train(&tenant(), request).await.expect("train");
            }
        })
        // One at a time: moto answers concurrent TransactWriteItems with 500s.
        .buffer_unordered(1)
        .collect::<Vec<()>>()
        .await;
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| Job {
            tenant: tenant(),
            id: format!("{:012x}{:016x}", 1_790_000_000_000u64 + i as u64, i),
            kind: JobKind::Detect,
            status: JobStatus::Succeeded,
            model: Some(format!("model-{:03}", i % MODELS)),
            version: Some(1),
            counts: JobCounts {
                rows: 1000,
                anomalies: 10,
            },
            timings: JobTimings { duration_ms: 2.5 },
            anomaly_rows: (0..10).collect(),
            error: None,
            created_at: 1_790_000_000_000 + i as u64,
            expires_at: 1_800_000_000,
            source: None,
            results_key: None,
            lease_expires_at: None,
        })
        .collect();
    stores.jobs.put_jobs(&jobs).await.expect("jobs");
}

async fn measure<F, Fut>(label: &str, stores: &Stores, wipe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let vault = stores.vault.clone().expect("vault");
    let started = Instant::now();
    populate(stores).await;
    println!(
        "{label}: {MODELS} models trained and {JOBS} jobs written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Where a backup's time goes: reading the job table is one part of it.
    let started = Instant::now();
    let jobs = stores.scan.all_jobs().await.expect("scan");
    println!(
        "{label}: reading all {} jobs (the backup's table scan) took {:.2} s",
        jobs.len(),
        started.elapsed().as_secs_f64()
    );
    let backups = BackupWorkflow::new(stores, vault.clone(), RetentionPolicy::default());
    let mut backup_s = Vec::new();
    let mut last = None;
    for run in 1..=RUNS {
        let started = Instant::now();
        let created = backups.create().await.expect("backup");
        backup_s.push(started.elapsed().as_secs_f64());
        println!(
            "{label}: backup {run}: {:.2} s, {} objects, {} items, {:.2} MiB",
            backup_s[run - 1],
            created.backup.objects,
            created.backup.items.models + created.backup.items.versions + created.backup.items.jobs,
            created.backup.size_bytes as f64 / 1048576.0
        );
        last = Some(created.backup);
    }
    let backup = last.expect("a backup");
    let restores = RestoreWorkflow::new(stores, vault);
    let mut restore_s = Vec::new();
    for run in 1..=RUNS {
        wipe().await;
        let started = Instant::now();
        let report = restores
            .restore(&RestoreRequest {
                backup_id: backup.id.clone(),
                dry_run: false,
                replace: false,
            })
            .await
            .expect("restore");
        restore_s.push(started.elapsed().as_secs_f64());
        assert_eq!(report.versions.written, MODELS);
        assert!(report.jobs.written >= JOBS, "{report:?}");
        println!(
            "{label}: restore {run} into a wiped store: {:.2} s",
            restore_s[run - 1]
        );
    }
    println!(
        "{label}: MEDIAN backup {:.2} s, restore {:.2} s, backup size {:.2} MiB ({} bytes)",
        median(&mut backup_s),
        median(&mut restore_s),
        backup.size_bytes as f64 / 1048576.0,
        backup.size_bytes
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
