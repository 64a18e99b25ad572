//! Backup and restore at scale, with time and peak RSS per phase: on the local adapter, 1,000
//! trained models of 3 versions each and 1,000,000 jobs; on the AWS adapter against a moto
//! server on 127.0.0.1 (started here, stopped at the end), 100 models of 3 versions and 100,000
//! jobs. Each site: populate, back up (a full backup: every artifact copied), train one more
//! version and back up again (incremental: one artifact copied), then wipe the models and the
//! table and restore. Peak RSS is this process's `VmHWM`, reset before each phase
//! (`/proc/self/clear_refs`), so it is the phase's own.
//!
//! `cargo run -p e2e --example backup_timing [local|moto|both]` (moto needs
//! `moto_server` on PATH: `make bench-backup` installs it). Sizes: `BENCH_LOCAL_MODELS`,
//! `BENCH_LOCAL_JOBS`, `BENCH_MOTO_MODELS`, `BENCH_MOTO_JOBS`.

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use application::domain::{Job, JobCounts, JobKind, JobStatus, JobTimings};
use application::ports::Stores;
use application::workflows::backup::{BackupSummary, BackupWorkflow};
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

/// Versions trained per model.
const VERSIONS: usize = 3;

/// Jobs written per `put_jobs` call while populating.
const JOB_CHUNK: usize = 10_000;

/// How many of something to create: the environment variable `name`, else `default`.
fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    if which == "local" || which == "both" {
        bench_local(
            size("BENCH_LOCAL_MODELS", 1000),
            size("BENCH_LOCAL_JOBS", 1_000_000),
        )
        .await;
    }
    if which == "moto" || which == "both" {
        bench_moto(
            size("BENCH_MOTO_MODELS", 100),
            size("BENCH_MOTO_JOBS", 100_000),
        )
        .await;
    }
}

async fn bench_local(models: usize, jobs: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = local_stores(
        LocalStores::open(dir.path()).expect("local stores"),
        Arc::new(LocalObjectStore::open(dir.path().join("backup-vault")).expect("vault")),
    );
    let wipe = || async {
        let _ = std::fs::remove_dir_all(dir.path().join("objects"));
        let conn = rusqlite::Connection::open(dir.path().join("nomaly.db")).expect("db");
        conn.execute("DELETE FROM items", []).expect("wipe");
    };
    measure("local (files + SQLite)", &stores, models, jobs, 8, wipe).await;
}

async fn bench_moto(models: usize, jobs: usize) {
    let Some(moto) = MotoServer::start() else {
        eprintln!("moto_server is not on PATH: run `make bench-backup`");
        std::process::exit(2);
    };
    // moto answers a Query of a 100,000-item table by walking it (seconds under load, where
    // DynamoDB takes milliseconds), past the functions' 20 s operation timeout: the emulator gets
    // two minutes.
    let sdk = load_sdk_config(
        &SdkTarget::Local {
            endpoint_url: moto.endpoint_url(),
        },
        &AwsTuning {
            attempt_timeout: std::time::Duration::from_secs(120),
            operation_timeout: std::time::Duration::from_secs(120),
            ..AwsTuning::default()
        },
    )
    .await;
    let aws = AwsSite::create(&sdk).await;
    // One train at a time: moto answers concurrent TransactWriteItems with 500s.
    measure("moto (S3 + DynamoDB)", &aws.stores, models, jobs, 1, || {
        aws.wipe()
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

/// Trains version `version` of every model (other rows per version: other artifact bytes).
async fn train_round(stores: &Stores, models: usize, version: usize, concurrency: usize) {
    let train = TrainWorkflow::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        Limits::default(),
    );
    stream::iter(0..models)
        .map(|m| {
            let train = train.clone();
            async move {
                let rows: Vec<Vec<f64>> = (0..100 + version)
                    .map(|i| {
                        let i = (i + m) as f64;
                        vec![i % 17.0, (i * 7.0) % 13.0, i % 5.0]
                    })
                    .collect();
                let request: TrainRequest = serde_json::from_value(json!({
                    "name": format!("model-{m:04}"),
                    "algorithm": "hbos",
                    "data": {"columns": ["a", "b", "c"], "rows": rows},
                }))
                .expect("request");
                train.train(&tenant(), request).await.expect("train");
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
}

async fn populate(stores: &Stores, models: usize, jobs: usize, concurrency: usize) {
    for version in 1..=VERSIONS {
        train_round(stores, models, version, concurrency).await;
    }
    for chunk in (0..jobs).step_by(JOB_CHUNK) {
        let batch: Vec<Job> = (chunk..(chunk + JOB_CHUNK).min(jobs))
            .map(|i| Job {
                tenant: tenant(),
                id: format!("{:012x}{:016x}", 1_790_000_000_000u64 + i as u64, i),
                kind: JobKind::Detect,
                status: JobStatus::Succeeded,
                model: Some(format!("model-{:04}", i % models.max(1))),
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
                progress: None,
            })
            .collect();
        stores.jobs.put_jobs(&batch).await.expect("jobs");
    }
}

/// This process's peak resident set since the last [`reset_peak`], in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts a new peak-RSS measurement (Linux: `5` to `/proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs `phase`, printing its wall time and peak RSS.
async fn timed<T, F: Future<Output = T>>(label: &str, what: &str, phase: F) -> T {
    reset_peak();
    let started = Instant::now();
    let out = phase.await;
    println!(
        "{label}: {what}: {:.2} s, peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    out
}

fn describe(backup: &BackupSummary) -> String {
    format!(
        "{} artifacts ({} copied), {} versions, {} jobs, {:.1} MiB",
        backup.objects,
        backup.copied,
        backup.items.versions,
        backup.items.jobs,
        backup.size_bytes as f64 / 1048576.0
    )
}

async fn measure<F, Fut>(
    label: &str,
    stores: &Stores,
    models: usize,
    jobs: usize,
    concurrency: usize,
    wipe: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let vault = stores.vault.clone().expect("vault");
    timed(
        label,
        &format!("populate {models} models x {VERSIONS} versions, {jobs} jobs"),
        populate(stores, models, jobs, concurrency),
    )
    .await;
    let backups = BackupWorkflow::new(stores, vault.clone(), RetentionPolicy::default());
    let full = timed(label, "full backup", backups.create())
        .await
        .expect("backup")
        .backup;
    println!("{label}:   {}", describe(&full));
    train_round(stores, 1, VERSIONS + 1, 1).await;
    let incremental = timed(
        label,
        "incremental backup after one new version",
        backups.create(),
    )
    .await
    .expect("backup")
    .backup;
    println!("{label}:   {}", describe(&incremental));
    wipe().await;
    let restores = RestoreWorkflow::new(stores, vault);
    let request = RestoreRequest {
        backup_id: incremental.id.clone(),
        dry_run: false,
        replace: false,
    };
    let report = timed(
        label,
        "restore into a wiped store",
        restores.restore(&request),
    )
    .await
    .expect("restore");
    assert_eq!(report.versions.written, incremental.items.versions);
    assert_eq!(report.jobs.written, incremental.items.jobs);
    println!(
        "{label}:   wrote {} artifacts, {} versions, {} LATEST, {} jobs",
        report.objects.written, report.versions.written, report.latest.written, report.jobs.written
    );
}
