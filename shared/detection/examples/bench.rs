//! Speed benchmark of the detectors on one CSV, single-threaded, printing one JSON object per
//! algorithm (medians of repeated runs). `bench/compare.py` runs it beside scikit-learn on the
//! same data and prints the ratios.
//!
//! ```text
//! cargo run --release -p detection --example bench -- DATA.csv [--repeats N] [--algorithms a,b]
//! ```
//!
//! A `label` column, if present, is dropped. Reported per algorithm: fit of the detector alone and
//! of the whole model (with threshold calibration), batch scoring rows/s, one row scored through
//! the model (score + label + severity) in microseconds, artifact size and load time.
// Tool code: a failure should stop it loudly, so it may unwrap, expect, panic and index.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::hint::black_box;
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::artifact;
use detection::evaluation::LabelledData;
use detection::model::{Model, ModelSpec};
use detection::tabular::csv::parse_csv;
use detection::{Limits, Table};

fn median_secs(repeats: usize, mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn load(path: &str) -> Result<Table, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let has_label = bytes.split(|b| *b == b'\n').next().is_some_and(|h| {
        String::from_utf8_lossy(h)
            .split(',')
            .any(|c| c.trim() == "label")
    });
    if has_label {
        LabelledData::from_csv(bytes.as_slice())
            .map(|d| d.table)
            .map_err(|e| e.to_string())
    } else {
        let limits = Limits {
            max_rows: 100_000_000,
            max_values: usize::MAX,
            ..Limits::default()
        };
        parse_csv(bytes.as_slice(), &limits).map_err(|e| e.to_string())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut repeats = 5;
    let mut algorithms = vec![Algorithm::IsolationForest, Algorithm::Ecod, Algorithm::Hbos];
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repeats" => repeats = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--algorithms" => {
                algorithms = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|a| a.parse().ok())
                    .collect()
            }
            other => path = Some(other.to_owned()),
        }
    }
    let Some(path) = path else {
        eprintln!("usage: bench DATA.csv [--repeats N] [--algorithms a,b]");
        std::process::exit(2);
    };
    let table = match load(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let x = table.values().view();
    for algorithm in algorithms {
        let params = AlgorithmParams::default_for(algorithm).with_seed(1);
        let spec = ModelSpec::new(params.clone());
        let fit_s = median_secs(repeats, || {
            black_box(params.fit(x).ok());
        });
        let model_fit_s = median_secs(repeats, || {
            black_box(Model::fit(&spec, &table).ok());
        });
        let model = match Model::fit(&spec, &table) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("bench: {algorithm}: {e}");
                continue;
            }
        };
        let score_s = median_secs(repeats, || {
            black_box(model.score(x).ok());
        });
        let one_row_calls = 2000;
        let one_row_s = median_secs(repeats, || {
            for i in 0..one_row_calls {
                let row = x.slice(ndarray::s![i % x.nrows()..i % x.nrows() + 1, ..]);
                if let Ok(scores) = model.score(row) {
                    black_box(model.assess(scores[0]));
                }
            }
        }) / one_row_calls as f64;
        let bytes = artifact::encode(&model).unwrap_or_default();
        let load_s = median_secs(repeats.max(21), || {
            black_box(artifact::decode(&bytes).ok());
        });
        println!(
            "{}",
            serde_json::json!({
                "algorithm": algorithm.as_str(),
                "rows": x.nrows(),
                "features": x.ncols(),
                "fit_s": fit_s,
                "model_fit_s": model_fit_s,
                "score_rows_per_s": x.nrows() as f64 / score_s,
                "one_row_us": one_row_s * 1e6,
                "artifact_bytes": bytes.len(),
                "load_ms": load_s * 1e3,
            })
        );
    }
}
