//! Isolation Forest against scikit-learn's reference ROC-AUC on the small labelled sets of
//! `../shared/datasets/odds` (mean of 5 seeds, within max(0.01, 2 x scikit-learn's seed spread)),
//! plus every detector's sanity on them. Skips with a message when the shared folder is absent;
//! `cargo run --release -p detection --example accuracy` covers every set and detector.
#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::path::PathBuf;

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::evaluation::{roc_auc, LabelledData};
use detection::Detector;

fn datasets() -> Option<PathBuf> {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../../shared/datasets");
    if dir.join("odds").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (the read-only shared folder)",
            dir.display()
        );
        None
    }
}

fn load(dir: &std::path::Path, name: &str) -> LabelledData {
    let file = std::fs::File::open(dir.join("odds").join(format!("{name}.csv"))).expect("dataset");
    LabelledData::from_csv(std::io::BufReader::new(file)).expect("valid dataset")
}

const SETS: [&str; 7] = [
    "wine",
    "lympho",
    "wbc",
    "arrhythmia",
    "breastw",
    "cardio",
    "digits",
];

#[test]
fn when_run_on_odds_sets_isolation_forest_should_match_scikit_learn() {
    let Some(dir) = datasets() else { return };
    let text =
        std::fs::read_to_string(dir.join("reference-sklearn-iforest.json")).expect("reference");
    let reference: serde_json::Value = serde_json::from_str(&text).expect("reference json");
    for name in SETS {
        let data = load(&dir, name);
        let x = data.table.values().view();
        let aucs: Vec<f64> = (0..5)
            .map(|seed| {
                let forest = AlgorithmParams::default_for(Algorithm::IsolationForest)
                    .with_seed(seed)
                    .fit(x)
                    .expect("fit");
                roc_auc(&forest.score(x).to_vec(), &data.labels).expect("both classes")
            })
            .collect();
        let ours = aucs.iter().sum::<f64>() / 5.0;
        let theirs = reference[name]["roc_auc"].as_f64().expect("roc_auc");
        let tolerance = (2.0 * reference[name]["roc_auc_sd"].as_f64().expect("sd")).max(0.01);
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{name}: ours {ours:.4} vs scikit-learn {theirs:.4} (tolerance {tolerance:.4})"
        );
    }
}

#[test]
fn when_run_on_odds_sets_every_detector_should_rank_better_than_chance_on_most() {
    let Some(dir) = datasets() else { return };
    for algorithm in Algorithm::ALL {
        let mut better = 0;
        for name in SETS {
            let data = load(&dir, name);
            let x = data.table.values().view();
            let detector = AlgorithmParams::default_for(algorithm).fit(x).expect("fit");
            let scores = detector.score(x).to_vec();
            assert!(
                scores.iter().all(|s| s.is_finite()),
                "{algorithm} on {name}"
            );
            if roc_auc(&scores, &data.labels).expect("both classes") > 0.6 {
                better += 1;
            }
        }
        assert!(
            better >= 5,
            "{algorithm}: better than 0.6 on only {better} of 7 sets"
        );
    }
}
