//! Accuracy report: every detector over every labelled set in `../shared/datasets/{odds,adbench}`,
//! ROC-AUC and PR-AUC per set as mean ± spread over 20 seeds for randomized detectors, compared
//! with scikit-learn's Isolation Forest reference (20 seeds) by Welch's t-test, and the default
//! model retrained with feedback the way an analyst gives it: the 20 top-scored rows labelled
//! with their true labels, and separately 1 % of all rows drawn at random (seeded, at most
//! `feedback::MAX_LABELS`), each scored on the rows not labelled.
//!
//! ```text
//! cargo run --release -p detection --example accuracy [-- --datasets DIR] [--only a,b] [--seeds N]
//!     [--algorithms a,b] [--ensemble '{"members":[{"algorithm":"ecod"}, ...]}']
//!     [--feedback '{"anomaly_weight":0.5,"normal_weight":0.1,"neighbours":10}']
//! ```
//!
//! Exits 1 when a check fails: our Isolation Forest's ROC-AUC is below scikit-learn's on a set by
//! Welch's test at 0.05 / sets (Bonferroni) and by more than 0.01; the ensemble's mean ROC-AUC
//! over the sets does not beat scikit-learn's; top-20 feedback does not raise the mean PR-AUC or
//! lowers a set's by more than 0.01.
// Tool code: a failure should stop it loudly, so it may unwrap, expect, panic and index.
#![allow(clippy::restriction)] // tool code: it may unwrap, expect, panic and index

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::evaluation::{average_precision, roc_auc, LabelledData};
use detection::feedback::{FeedbackParams, LabelledRows, MAX_LABELS};
use detection::model::{Model, ModelSpec};
use detection::significance::{mean_sd, paired, welch};
use detection::Detector;
use ndarray::Axis;
use rand::SeedableRng;

/// Rows labelled by the analyst who reviews the top of the list.
const TOP_LABELLED: usize = 20;

struct Options {
    datasets: PathBuf,
    only: Option<Vec<String>>,
    seeds: u64,
    algorithms: Vec<Algorithm>,
    ensemble: Option<serde_json::Value>,
    feedback: FeedbackParams,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        datasets: std::path::PathBuf::from(
            std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("../../../shared/datasets"),
        only: None,
        seeds: 20,
        algorithms: Algorithm::ALL.to_vec(),
        ensemble: None,
        feedback: FeedbackParams::default(),
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
            "--feedback" => {
                opts.feedback =
                    serde_json::from_str(&value()?).map_err(|e| format!("--feedback: {e}"))?;
                opts.feedback
                    .check()
                    .map_err(|e| format!("--feedback: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if opts.seeds < 2 {
        return Err("--seeds: at least 2 (spreads and tests need them)".into());
    }
    Ok(opts)
}

/// scikit-learn's Isolation Forest on one set, over its seeds.
struct Reference {
    roc: f64,
    roc_sd: f64,
    pr: f64,
    seeds: usize,
}

fn reference(dir: &Path) -> BTreeMap<String, Reference> {
    let text =
        std::fs::read_to_string(dir.join("reference-sklearn-iforest.json")).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    json.as_object()
        .map(|sets| {
            sets.iter()
                .filter_map(|(name, v)| {
                    Some((
                        name.clone(),
                        Reference {
                            roc: v["roc_auc"].as_f64()?,
                            roc_sd: v["roc_auc_sd"].as_f64()?,
                            pr: v["pr_auc"].as_f64()?,
                            seeds: v["seeds"].as_u64()? as usize,
                        },
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

/// ROC-AUC and PR-AUC of `scores` over the rows not in `labelled`.
fn metrics(scores: &[f64], labels: &[u8], labelled: &[usize]) -> (f64, f64) {
    let mut keep = vec![true; labels.len()];
    labelled.iter().for_each(|&i| keep[i] = false);
    let (s, l): (Vec<f64>, Vec<u8>) = scores
        .iter()
        .zip(labels)
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|((s, l), _)| (*s, *l))
        .unzip();
    (
        roc_auc(&s, &l).unwrap_or(f64::NAN),
        average_precision(&s, &l).unwrap_or(f64::NAN),
    )
}

/// The per-seed results of one way of giving feedback: PR-AUC and ROC-AUC on the unlabelled rows
/// without and with it.
#[derive(Default)]
struct FeedbackRun {
    pr_before: Vec<f64>,
    pr_after: Vec<f64>,
    roc_before: Vec<f64>,
    roc_after: Vec<f64>,
    labels: Vec<f64>,
}

impl FeedbackRun {
    fn push(&mut self, before: (f64, f64), after: (f64, f64), labels: usize) {
        self.roc_before.push(before.0);
        self.pr_before.push(before.1);
        self.roc_after.push(after.0);
        self.pr_after.push(after.1);
        self.labels.push(labels as f64);
    }

    fn line(&self, what: &str) -> String {
        let (pb, pa) = (mean_sd(&self.pr_before).0, mean_sd(&self.pr_after).0);
        let (rb, ra) = (mean_sd(&self.roc_before).0, mean_sd(&self.roc_after).0);
        format!(
            "  {what:<24} PR-AUC {pb:.3} -> {pa:.3} ({:+.3})   ROC-AUC {rb:.3} -> {ra:.3} ({:+.3})   [{:.0} labels]",
            pa - pb,
            ra - rb,
            mean_sd(&self.labels).0
        )
    }
}

/// Retrains the model of `spec` with `rows` labelled by their true labels and scores it.
fn with_feedback(spec: &ModelSpec, data: &LabelledData, rows: &[usize]) -> Vec<f64> {
    let x = data.table.values();
    let labelled = LabelledRows::new(
        x.select(Axis(0), rows),
        rows.iter().map(|&i| data.labels[i] == 1).collect(),
    )
    .unwrap();
    let model = Model::fit_with_labels(spec, &data.table, Some(&labelled)).unwrap();
    assert_eq!(model.labels_used(), rows.len());
    model.score(x.view()).unwrap().to_vec()
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
    let files: Vec<PathBuf> = csv_files(&opts.datasets)
        .into_iter()
        .filter(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            opts.only.as_ref().is_none_or(|only| only.contains(&name))
        })
        .collect();
    let alpha = 0.05 / files.len().max(1) as f64;
    let mut failures = Vec::new();
    let mut roc_means: BTreeMap<Algorithm, Vec<f64>> = BTreeMap::new();
    let mut pr_means: BTreeMap<Algorithm, Vec<f64>> = BTreeMap::new();
    let (mut sk_roc, mut sk_pr, mut ens_roc_with_ref) = (Vec::new(), Vec::new(), Vec::new());
    let (mut top_gain, mut random_gain) = (Vec::new(), Vec::new());
    println!(
        "{} seeds for randomized detectors; Welch's test against scikit-learn at alpha {alpha:.4} (0.05 / {} sets)\n",
        opts.seeds,
        files.len()
    );
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
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
        let started = Instant::now();
        let x = data.table.values().view();
        let anomalies = data.labels.iter().filter(|&&l| l == 1).count();
        println!(
            "{name} ({} rows x {} features, {anomalies} anomalies)",
            data.table.n_rows(),
            data.table.columns().len()
        );
        println!("  {:<24} {:>15} {:>15}", "detector", "ROC-AUC", "PR-AUC");
        let sk = reference.get(&name);
        for &algorithm in &opts.algorithms {
            let seeds = if algorithm.is_randomized() {
                opts.seeds
            } else {
                1
            };
            let params_of = |seed: u64| {
                match (&opts.ensemble, algorithm) {
                    (Some(custom), Algorithm::Ensemble) => {
                        AlgorithmParams::from_json(algorithm, Some(custom)).unwrap()
                    }
                    _ => AlgorithmParams::default_for(algorithm),
                }
                .with_seed(seed)
            };
            let (mut roc, mut pr) = (Vec::new(), Vec::new());
            for seed in 0..seeds {
                match params_of(seed).fit(x) {
                    Ok(detector) => {
                        let (r, p) = metrics(&detector.score(x).to_vec(), &data.labels, &[]);
                        roc.push(r);
                        pr.push(p);
                    }
                    Err(e) => failures.push(format!("{name}: {algorithm} did not fit: {e}")),
                }
            }
            let ((r, rsd), (p, psd)) = (mean_sd(&roc), mean_sd(&pr));
            roc_means.entry(algorithm).or_default().push(r);
            pr_means.entry(algorithm).or_default().push(p);
            println!(
                "  {:<24} {r:>7.3} ± {rsd:.3} {p:>7.3} ± {psd:.3}",
                algorithm.as_str()
            );
            if let (Algorithm::IsolationForest, Some(sk)) = (algorithm, sk) {
                if let Some(test) = welch(r, rsd, roc.len(), sk.roc, sk.roc_sd, sk.seeds) {
                    let verdict = if test.p >= alpha {
                        "no significant difference"
                    } else if test.t < 0.0 {
                        "ours lower"
                    } else {
                        "ours higher"
                    };
                    println!(
                        "  {:<24} {:>7.3} ± {:.3} {:>7.3}          Welch t {:+.2}, p {:.4}: {verdict}",
                        "scikit-learn iforest", sk.roc, sk.roc_sd, sk.pr, test.t, test.p
                    );
                    if test.p < alpha && test.t < 0.0 && sk.roc - r > 0.01 {
                        failures.push(format!(
                            "{name}: isolation_forest ROC-AUC {r:.4} below scikit-learn's {:.4} (Welch p {:.2e})",
                            sk.roc, test.p
                        ));
                    }
                }
            }
            if algorithm == Algorithm::Ensemble {
                // Feedback on the default model, the way an analyst gives it.
                let (mut top, mut random) = (FeedbackRun::default(), FeedbackRun::default());
                for seed in 0..opts.seeds {
                    let spec = ModelSpec {
                        feedback: opts.feedback.clone(),
                        ..ModelSpec::new(params_of(seed))
                    };
                    let base = Model::fit(&spec, &data.table).unwrap();
                    let scores = base.score(x).unwrap().to_vec();
                    let mut order: Vec<usize> = (0..scores.len()).collect();
                    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                    let top_rows = &order[..TOP_LABELLED.min(order.len())];
                    let after = with_feedback(&spec, &data, top_rows);
                    top.push(
                        metrics(&scores, &data.labels, top_rows),
                        metrics(&after, &data.labels, top_rows),
                        top_rows.len(),
                    );
                    let count = (scores.len() / 100).clamp(1, MAX_LABELS);
                    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
                    let random_rows =
                        rand::seq::index::sample(&mut rng, scores.len(), count).into_vec();
                    let after = with_feedback(&spec, &data, &random_rows);
                    random.push(
                        metrics(&scores, &data.labels, &random_rows),
                        metrics(&after, &data.labels, &random_rows),
                        random_rows.len(),
                    );
                }
                println!("{}", top.line("ensemble + top-20 labels"));
                println!("{}", random.line("ensemble + 1% random"));
                let (before, after) = (mean_sd(&top.pr_before).0, mean_sd(&top.pr_after).0);
                // A set whose every anomaly was labelled has none left to rank: no PR-AUC.
                if (after - before).is_finite() {
                    top_gain.push((name.clone(), after - before));
                } else {
                    println!("  (top-20 feedback: every anomaly was among the labelled rows; set left out of the feedback summary)");
                }
                let gain = mean_sd(&random.pr_after).0 - mean_sd(&random.pr_before).0;
                if gain.is_finite() {
                    random_gain.push(gain);
                }
                if let Some(sk) = sk {
                    ens_roc_with_ref.push(r);
                    sk_roc.push(sk.roc);
                    sk_pr.push(sk.pr);
                }
            }
        }
        println!("  [{:.1} s]\n", started.elapsed().as_secs_f64());
    }
    report(
        &roc_means,
        &pr_means,
        &sk_roc,
        &sk_pr,
        &ens_roc_with_ref,
        &top_gain,
        &random_gain,
        &mut failures,
    );
    if failures.is_empty() {
        println!("\nall checks passed");
    } else {
        println!("\nFAILED:");
        failures.iter().for_each(|f| println!("  {f}"));
        std::process::exit(1);
    }
}

/// The summary over sets and its checks.
#[allow(clippy::too_many_arguments)]
fn report(
    roc_means: &BTreeMap<Algorithm, Vec<f64>>,
    pr_means: &BTreeMap<Algorithm, Vec<f64>>,
    sk_roc: &[f64],
    sk_pr: &[f64],
    ensemble_roc: &[f64],
    top_gain: &[(String, f64)],
    random_gain: &[f64],
    failures: &mut Vec<String>,
) {
    println!("mean over {} sets:        ROC-AUC  PR-AUC", sk_roc.len());
    for (algorithm, rocs) in roc_means {
        println!(
            "  {:<22} {:.4}   {:.4}",
            algorithm.as_str(),
            mean_sd(rocs).0,
            mean_sd(&pr_means[algorithm]).0
        );
    }
    let (sk, skp) = (mean_sd(sk_roc).0, mean_sd(sk_pr).0);
    println!("  {:<22} {sk:.4}   {skp:.4}", "scikit-learn iforest");
    if !ensemble_roc.is_empty() {
        let ensemble = mean_sd(ensemble_roc).0;
        let test = paired(ensemble_roc, sk_roc);
        println!(
            "\nensemble - scikit-learn: {:+.4} mean ROC-AUC over {} sets (paired t-test p {})",
            ensemble - sk,
            ensemble_roc.len(),
            test.map_or("n/a".into(), |t| format!("{:.4}", t.p))
        );
        if ensemble <= sk {
            failures.push(format!(
                "ensemble mean ROC-AUC {ensemble:.4} does not beat scikit-learn's {sk:.4}"
            ));
        }
    }
    if !top_gain.is_empty() {
        let gains: Vec<f64> = top_gain.iter().map(|(_, g)| *g).collect();
        let (worst_set, worst) = top_gain
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .cloned()
            .unwrap();
        println!(
            "feedback, top-20 rows labelled: PR-AUC {:+.4} on average over {} sets, worst {worst_set} {worst:+.4}",
            mean_sd(&gains).0,
            gains.len()
        );
        println!(
            "feedback, 1% random rows labelled: PR-AUC {:+.4} on average over {} sets",
            mean_sd(random_gain).0,
            random_gain.len()
        );
        if mean_sd(&gains).0 <= 0.0 || worst < -0.01 {
            failures.push(format!(
                "top-20 feedback: mean PR-AUC change {:+.4}, worst {worst_set} {worst:+.4} (must rise, no set below -0.01)",
                mean_sd(&gains).0
            ));
        }
    }
}
