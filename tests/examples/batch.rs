//! Batch scoring through the S3 event path, end to end, on moto or on the local store: a seeded
//! synthetic CSV (synth_1m's shape: 16 features, Gaussian clusters and 1 % uniform anomalies, 4
//! decimals, no label column) is uploaded under `incoming/detect/acme/synth/`, a model is trained on
//! a separate 50,000-row file through the train function's S3 event, then the detect function is
//! invoked with the `events/` S3 fixture and timed until the results object and the job are
//! written. Prints one JSON line: rows/s end to end, peak RSS of this process during the event
//! (VmHWM, reset just before it through /proc/self/clear_refs), and the time to only read the
//! input object back (the store's share).
//!
//! With WORKERS, the upload is split into byte ranges (`NOMALY_BATCH_SPLIT_BYTES` 1,
//! `NOMALY_BATCH_RANGE_BYTES` as set, 128 MiB by default) scored by the local driver's WORKERS
//! workers and joined, and the time runs until the job is `succeeded`.
//!
//! ```text
//! cargo run --release -p e2e --example batch -- gen ROWS PATH
//! cargo run --release -p e2e --example batch -- run local|ENDPOINT_URL PATH [WORKERS]
//! ```
//! `bench/batch.py` runs both for 1M and 2M rows on moto and on the local store;
//! `bench/batch_split.py` compares the single invocation with 1, 2 and 4 range workers.

#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use application::ports::{BlobStreams, JobStore, ModelRegistry, ObjectStore, MIN_PART_BYTES};
use edge::Config;
use fixtures::fixture;
use fixtures::tenant;
use lambda_http::{Context, LambdaEvent};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};
use store_aws::schema::{create_bucket, create_table};
use store_aws::{AwsStores, AwsTuning, SdkTarget};
use store_local::LocalStores;

const FEATURES: usize = 16;
const CLUSTERS: usize = 5;

/// Writes `rows` seeded synth rows (as `make_datasets.py`'s `synth`, without its label): the
/// clusters are the same for every file, the rows are drawn with `seed`.
fn generate(rows: usize, seed: u64, out: &mut dyn Write) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1000);
    let centres: Vec<f64> = (0..CLUSTERS * FEATURES)
        .map(|_| rng.gen_range(-5.0..5.0))
        .collect();
    let stds: Vec<f64> = (0..CLUSTERS * FEATURES)
        .map(|_| rng.gen_range(0.5..1.5))
        .collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let header: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    writeln!(out, "{}", header.join(",")).unwrap();
    let mut line = String::with_capacity(256);
    for _ in 0..rows {
        line.clear();
        let anomaly = rng.gen_bool(0.01);
        let c = rng.gen_range(0..CLUSTERS);
        for f in 0..FEATURES {
            let v = if anomaly {
                rng.gen_range(-10.0..10.0)
            } else {
                // Box-Muller
                let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                centres[c * FEATURES + f] + stds[c * FEATURES + f] * z
            };
            if f > 0 {
                line.push(',');
            }
            line.push_str(&format!("{v:.4}"));
        }
        line.push('\n');
        out.write_all(line.as_bytes()).unwrap();
    }
}

struct Stores {
    objects: Arc<dyn ObjectStore>,
    registry: Arc<dyn ModelRegistry>,
    jobs: Arc<dyn JobStore>,
    blobs: Arc<dyn BlobStreams>,
    bucket: String,
    _dir: Option<tempfile::TempDir>,
}

async fn stores(target: &str) -> Stores {
    if target == "local" {
        let dir =
            tempfile::tempdir_in(std::env::var("BENCH_TMP").unwrap_or("/tmp".into())).unwrap();
        let s = LocalStores::open(dir.path()).unwrap();
        return Stores {
            objects: s.objects.clone(),
            registry: s.items.clone(),
            jobs: s.items.clone(),
            blobs: s.objects,
            bucket: "bench".into(),
            _dir: Some(dir),
        };
    }
    let bucket = format!("bench-{}", std::process::id());
    let s = AwsStores::connect(
        &SdkTarget::Local {
            endpoint_url: target.to_owned(),
        },
        &AwsTuning::default(),
        &bucket,
        &bucket,
    )
    .await;
    create_bucket(s.objects.client(), &bucket).await.unwrap();
    create_table(s.items.client(), &bucket).await.unwrap();
    Stores {
        objects: s.objects.clone(),
        registry: s.items.clone(),
        jobs: s.items.clone(),
        blobs: s.objects,
        bucket,
        _dir: None,
    }
}

/// Uploads a file in 8 MiB parts.
async fn upload(stores: &Stores, key: &str, path: &str) {
    let mut upload = stores
        .blobs
        .create_upload(&stores.bucket, key, "text/csv")
        .await
        .unwrap();
    let mut file = File::open(path).unwrap();
    loop {
        let mut part = vec![0u8; MIN_PART_BYTES + 3 * 1024 * 1024];
        let mut filled = 0;
        while filled < part.len() {
            let n = file.read(&mut part[filled..]).unwrap();
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        part.truncate(filled);
        upload.write_part(part).await.unwrap();
    }
    upload.complete().await.unwrap();
}

fn event(fixture_name: &str, bucket: &str, key: &str) -> LambdaEvent<Value> {
    let mut e = fixture(fixture_name);
    e["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    e["Records"][0]["s3"]["object"]["key"] = json!(key);
    // No version or ETag: the object just written is read as it is (the fixture's version id
    // names no version of this bucket).
    e["Records"][0]["s3"]["object"]["versionId"] = Value::Null;
    e["Records"][0]["s3"]["object"]["eTag"] = Value::Null;
    LambdaEvent::new(e, Context::default())
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn run(target: &str, path: &str, workers: Option<usize>) {
    let stores = stores(target).await;
    let config = Config::from_lookup(|_| None).unwrap();
    let split_config = Config::from_lookup(|name| match name {
        "NOMALY_BATCH_SPLIT_BYTES" => Some("1".into()),
        "NOMALY_BATCH_LOCAL_WORKERS" => workers.map(|w| w.to_string()),
        "NOMALY_BATCH_RANGE_BYTES" => std::env::var(name).ok(),
        _ => None,
    })
    .unwrap();
    let train_deps = train::handler::HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        &config,
    )
    .with_blobs(stores.blobs.clone());
    let detect_deps = detect::handler::HandlerDeps::new(
        stores.objects.clone(),
        stores.registry.clone(),
        stores.jobs.clone(),
        &config,
    )
    .with_blobs(stores.blobs.clone());
    let detect_deps = match workers {
        Some(_) => detect_deps.with_jobs_engine(None, &split_config),
        None => detect_deps,
    };

    let train_path = format!("{path}.train");
    generate(
        50_000,
        7,
        &mut BufWriter::new(File::create(&train_path).unwrap()),
    );
    upload(&stores, "incoming/train/acme/synth/train.csv", &train_path).await;
    let out = edge::dispatch::invoke(
        &train_deps,
        event(
            "s3-train-object-created.json",
            &stores.bucket,
            "incoming/train/acme/synth/train.csv",
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "ok", "{out}");

    let started = Instant::now();
    upload(&stores, "incoming/detect/acme/synth/input.csv", path).await;
    let upload_s = started.elapsed().as_secs_f64();

    // The store's share: read the input back without parsing.
    let started = Instant::now();
    let mut reader = stores
        .blobs
        .open(&stores.bucket, "incoming/detect/acme/synth/input.csv")
        .await
        .unwrap()
        .unwrap();
    let bytes = tokio::task::spawn_blocking(move || {
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap()
    })
    .await
    .unwrap();
    let read_s = started.elapsed().as_secs_f64();

    let rss_before_kib = status_kib("VmRSS:");
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let out = edge::dispatch::invoke(
        &detect_deps,
        event(
            "s3-detect-object-created.json",
            &stores.bucket,
            "incoming/detect/acme/synth/input.csv",
        ),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "ok", "{out}");
    let id = out["jobs"][0]["id"].as_str().unwrap();
    // A split job runs on the local driver's workers after the event returns: wait for its end.
    let job = loop {
        let job = stores.jobs.get_job(&tenant(), id).await.unwrap().unwrap();
        if job.status != application::domain::JobStatus::Running {
            break job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let event_s = started.elapsed().as_secs_f64();
    let peak_kib = status_kib("VmHWM:");
    assert_eq!(
        job.status,
        application::domain::JobStatus::Succeeded,
        "{job:?}"
    );
    let rows = job.counts.rows as u64;
    println!(
        "{}",
        json!({
            "store": if target == "local" { "local" } else { "moto" },
            "workers": workers,
            "ranges": job.progress.as_ref().map(|p| p.ranges),
            "rows": rows,
            "input_mib": bytes as f64 / 1048576.0,
            "event_s": event_s,
            "rows_per_s": rows as f64 / event_s,
            "peak_rss_mib": peak_kib as f64 / 1024.0,
            "peak_reset": reset,
            "rss_before_mib": rss_before_kib as f64 / 1024.0,
            "upload_s": upload_s,
            "read_only_s": read_s,
            "anomalies": job.counts.anomalies,
        })
    );
    let _ = std::fs::remove_file(&train_path);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let rows: usize = args[2].parse().unwrap();
            generate(
                rows,
                1000,
                &mut BufWriter::with_capacity(1 << 20, File::create(&args[3]).unwrap()),
            );
        }
        Some("run") => run(&args[2], &args[3], args.get(4).map(|w| w.parse().unwrap())).await,
        _ => eprintln!("usage: batch gen ROWS PATH | batch run local|ENDPOINT_URL PATH [WORKERS]"),
    }
}
