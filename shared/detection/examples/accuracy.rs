//! Accuracy report: every detector over every labelled set in `../shared/datasets/{odds,adbench}`,
//! ROC-AUC and PR-AUC per set (mean of 5 seeds for randomized detectors), checked against
//! scikit-learn's Isolation Forest reference.
//!
//! ```text
//! cargo run --release -p detection --example accuracy [-- --datasets DIR] [--only a,b] [--seeds N]
//!     [--algorithms a,b] [--ensemble '{"members":[{"algorithm":"ecod"}, ...]}']
//! ```
//!
//! Exits 1 when a check fails: our Isolation Forest's mean ROC-AUC differs from scikit-learn's
//! by more than max(0.01, 2 x its seed spread) on a set, or the ensemble's mean ROC-AUC over all
//! sets does not beat scikit-learn's Isolation Forest mean over the same sets.
// Tool code: a failure should stop it loudly, so it may unwrap, expect, panic and index.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::evaluation::{average_precision, roc_auc, LabelledData};
use detection::Detector;

struct Options {
    datasets: PathBuf,
    only: Option<Vec<String>>,
    seeds: u64,
    algorithms: Vec<Algorithm>,
    ensemble: Option<serde_json::Value>,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        datasets: std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("../../../shared/datasets"),
        only: None,
        seeds: 5,
        algorithms: Algorithm::ALL.to_vec(),
        ensemble: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--datasets" => opts.datasets = PathBuf::from(value()?),
            "--only" => opts.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--seeds" => opts.seeds = value()?.parse().map_err(|e| format!("--seeds: {e}"))?,
            "--algorithms" => {
                opts.algorithms = value()?
                    .split(',')
                    .map(|a| a.parse().map_err(|e| format!("--algorithms: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--ensemble" => {
                let params =
                    serde_json::from_str(&value()?).map_err(|e| format!("--ensemble: {e}"))?;
                AlgorithmParams::from_json(Algorithm::Ensemble, Some(&params))
                    .map_err(|e| e.to_string())?;
                opts.ensemble = Some(params);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

/// scikit-learn's Isolation Forest per set: (mean ROC-AUC, seed spread).
fn reference(dir: &Path) -> BTreeMap<String, (f64, f64)> {
    let text =
        std::fs::read_to_string(dir.join("reference-sklearn-iforest.json")).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    json.as_object()
        .map(|sets| {
            sets.iter()
                .filter_map(|(name, v)| {
                    Some((
                        name.clone(),
                        (v["roc_auc"].as_f64()?, v["roc_auc_sd"].as_f64()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["odds", "adbench"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

fn main() {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("accuracy: {e}");
            std::process::exit(2);
        }
    };
    if !opts.datasets.is_dir() {
        println!(
            "accuracy: skipped: no datasets at {} (the read-only ../shared folder is absent)",
            opts.datasets.display()
        );
        return;
    }
    let reference = reference(&opts.datasets);
    let mut failures = Vec::new();
    let mut means: BTreeMap<Algorithm, Vec<f64>> = BTreeMap::new();
    let mut sklearn_means = Vec::new();
    println!(
        "{:<12} {:>7} {:>4}  {}",
        "dataset",
        "rows",
        "dims",
        opts.algorithms
            .iter()
            .map(|a| format!("{:>16}", a.as_str()))
            .collect::<String>()
    );
    for path in csv_files(&opts.datasets) {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if opts.only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let data = match std::fs::File::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                LabelledData::from_csv(std::io::BufReader::new(f)).map_err(|e| e.to_string())
            }) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        let x = data.table.values().view();
        let mut cells = String::new();
        let started = Instant::now();
        for &algorithm in &opts.algorithms {
            let seeds = if algorithm.is_randomized() {
                opts.seeds
            } else {
                1
            };
            let (mut roc, mut pr) = (Vec::new(), Vec::new());
            for seed in 0..seeds {
                let params = match (&opts.ensemble, algorithm) {
                    (Some(custom), Algorithm::Ensemble) => {
                        AlgorithmParams::from_json(algorithm, Some(custom))
                            .unwrap_or_else(|_| AlgorithmParams::default_for(algorithm))
                    }
                    _ => AlgorithmParams::default_for(algorithm),
                }
                .with_seed(seed);
                match params.fit(x) {
                    Ok(detector) => {
                        let scores = detector.score(x).to_vec();
                        roc.push(roc_auc(&scores, &data.labels).unwrap_or(f64::NAN));
                        pr.push(average_precision(&scores, &data.labels).unwrap_or(f64::NAN));
                    }
                    Err(e) => failures.push(format!("{name}: {algorithm} did not fit: {e}")),
                }
            }
            let roc = mean(&roc);
            let pr = mean(&pr);
            means.entry(algorithm).or_default().push(roc);
            cells.push_str(&format!("   {roc:.3} ({pr:.3})"));
            if algorithm == Algorithm::IsolationForest {
                if let Some(&(sk, sd)) = reference.get(&name) {
                    sklearn_means.push(sk);
                    let tolerance = (2.0 * sd).max(0.01);
                    if (roc - sk).abs() > tolerance {
                        failures.push(format!(
                            "{name}: isolation_forest ROC-AUC {roc:.4} vs scikit-learn {sk:.4} (tolerance {tolerance:.4})"
                        ));
                    }
                }
            }
        }
        println!(
            "{name:<12} {:>7} {:>4}  {cells}   [{:.1} s]",
            data.table.n_rows(),
            data.table.columns().len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("\nmean ROC-AUC over {} sets:", sklearn_means.len());
    for (algorithm, rocs) in &means {
        println!("  {:<18} {:.4}", algorithm.as_str(), mean(rocs));
    }
    let sklearn = mean(&sklearn_means);
    println!("  {:<18} {:.4}", "sklearn iforest", sklearn);
    let ensemble = means
        .get(&Algorithm::Ensemble)
        .map(|r| mean(r))
        .unwrap_or(f64::NAN);
    if ensemble.is_nan() || ensemble <= sklearn {
        failures.push(format!(
            "ensemble mean ROC-AUC {ensemble:.4} does not beat scikit-learn's {sklearn:.4}"
        ));
    }
    if failures.is_empty() {
        println!("\nall checks passed: isolation_forest within tolerance on every set; ensemble beats scikit-learn");
    } else {
        println!("\nFAILED:");
        failures.iter().for_each(|f| println!("  {f}"));
        std::process::exit(1);
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}
