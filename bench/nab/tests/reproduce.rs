//! NAB's published per-file score rows, reproduced from the published detector outputs
//! (numenta and randomCutForest, all three profiles) in `../shared/nab`; plus the corpus-level
//! properties of threshold optimisation and normalisation on the same data. Every test skips
//! with a message when the shared folder is absent.
#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use std::path::PathBuf;

use nab::{
    load_detector_scores, load_profiles, load_published_rows, load_published_thresholds,
    optimize_threshold, score_corpus, score_file, Corpus, Profile,
};

const DETECTORS: [&str; 2] = ["numenta", "randomCutForest"];

/// Published scores are printed with 12 significant digits (at most ~1e-11 off for these
/// magnitudes); a row matches when |ours - published| <= 1e-6, absolute.
const SCORE_TOLERANCE: f64 = 1e-6;

fn data_root() -> Option<PathBuf> {
    let root = nab::shared_data_root();
    if root.join("results").is_dir() && root.join("data").is_dir() {
        Some(root)
    } else {
        eprintln!(
            "skipping: ../shared/nab is absent ({}), the read-only NAB data",
            root.display()
        );
        None
    }
}

fn profiles(root: &std::path::Path) -> Vec<Profile> {
    let profiles = load_profiles(&root.join("config/profiles.json")).expect("profiles");
    let mut names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["reward_low_FN_rate", "reward_low_FP_rate", "standard"]
    );
    profiles
}

#[test]
fn when_scoring_published_outputs_should_reproduce_every_per_file_row() {
    let Some(root) = data_root() else { return };
    let corpus = Corpus::load(&root).expect("corpus");
    let profiles = profiles(&root);
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut max_difference = 0.0_f64;
    for detector in DETECTORS {
        let scores = load_detector_scores(&root, detector, &corpus).expect("detector outputs");
        for profile in &profiles {
            let rows = load_published_rows(&root, detector, &profile.name).expect("score table");
            if rows.len() != corpus.files.len() {
                failures.push(format!(
                    "{detector}/{}: {} published rows for {} corpus files",
                    profile.name,
                    rows.len(),
                    corpus.files.len()
                ));
            }
            for row in rows {
                checked += 1;
                assert_eq!(
                    (row.detector.as_str(), row.profile.as_str()),
                    (detector, profile.name.as_str())
                );
                let Some(index) = corpus.files.iter().position(|f| f.name == row.file) else {
                    failures.push(format!(
                        "{detector}/{}: {} is not in the corpus",
                        profile.name, row.file
                    ));
                    continue;
                };
                let file = &corpus.files[index];
                let ours = score_file(
                    &file.windows,
                    &file.timestamps,
                    &scores[index],
                    &profile.costs,
                    row.threshold,
                )
                .expect("score");
                let difference = (ours.score - row.score).abs();
                max_difference = max_difference.max(difference);
                if difference > SCORE_TOLERANCE
                    || ours.counts != row.counts
                    || ours.total_count != row.total_count
                {
                    failures.push(format!(
                        "{detector}/{} {} at {}: published score {} {:?} total {}, ours {} {:?} total {}",
                        profile.name,
                        row.file,
                        row.threshold,
                        row.score,
                        row.counts,
                        row.total_count,
                        ours.score,
                        ours.counts,
                        ours.total_count
                    ));
                }
            }
        }
    }
    eprintln!(
        "checked {checked} published rows: {} differ; max |score difference| {max_difference:e}",
        failures.len()
    );
    assert_eq!(checked, 2 * 3 * 39, "every published row of both detectors");
    assert!(
        failures.is_empty(),
        "{} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn when_optimizing_over_the_corpus_should_score_at_least_the_published_threshold() {
    let Some(root) = data_root() else { return };
    let corpus = Corpus::load(&root).expect("corpus");
    let thresholds =
        load_published_thresholds(&root.join("config/thresholds.json")).expect("thresholds");
    for detector in DETECTORS {
        let scores = load_detector_scores(&root, detector, &corpus).expect("detector outputs");
        let inputs = corpus.inputs(&scores).expect("inputs");
        for profile in profiles(&root) {
            let best = optimize_threshold(&inputs, &profile.costs).expect("optimize");
            let at_best = score_corpus(&inputs, &profile.costs, best.threshold).expect("score");
            // The sweep's corpus score and the per-file rows' total agree (only the order of the
            // float additions differs).
            assert!(
                (best.score - at_best.raw).abs() < 1e-9,
                "{detector}/{}",
                profile.name
            );
            let summed = at_best
                .files
                .iter()
                .fold(nab::Counts::default(), |sum, row| nab::Counts {
                    true_positives: sum.true_positives + row.counts.true_positives,
                    true_negatives: sum.true_negatives + row.counts.true_negatives,
                    false_positives: sum.false_positives + row.counts.false_positives,
                    false_negatives: sum.false_negatives + row.counts.false_negatives,
                });
            assert_eq!(best.counts, summed, "{detector}/{}", profile.name);
            // NAB chose its threshold over all 58 files; over these 39 ours can only do better.
            let published = thresholds[detector][&profile.name].threshold;
            let at_published = score_corpus(&inputs, &profile.costs, published).expect("score");
            assert!(
                best.score >= at_published.raw - 1e-9,
                "{detector}/{}: optimum {} below the published threshold's {}",
                profile.name,
                best.score,
                at_published.raw
            );
        }
    }
}

#[test]
fn when_normalizing_the_corpus_should_give_null_0_and_perfect_100() {
    let Some(root) = data_root() else { return };
    let corpus = Corpus::load(&root).expect("corpus");
    let never: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|f| vec![0.0; f.timestamps.len()])
        .collect();
    // A perfect detector fires exactly on every window's first row.
    let perfect: Vec<Vec<f64>> = corpus
        .files
        .iter()
        .map(|f| {
            f.timestamps
                .iter()
                .map(|t| {
                    if f.windows.iter().any(|w| w.start == *t) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    for profile in profiles(&root) {
        let null = score_corpus(&corpus.inputs(&never).unwrap(), &profile.costs, 0.5).unwrap();
        assert_eq!(null.normalized, 0.0, "{}", profile.name);
        assert_eq!(null.baseline.null, -80.0 * profile.costs.fn_weight);
        assert_eq!(null.baseline.perfect, 80.0 * profile.costs.tp_weight);
        let best = score_corpus(&corpus.inputs(&perfect).unwrap(), &profile.costs, 0.5).unwrap();
        assert!(
            (best.normalized - 100.0).abs() < 1e-9,
            "{}: {}",
            profile.name,
            best.normalized
        );
    }
}

#[test]
fn when_loading_the_corpus_should_pair_every_file_with_its_windows() {
    let Some(root) = data_root() else { return };
    let corpus = Corpus::load(&root).expect("corpus");
    assert_eq!(corpus.files.len(), 39);
    assert_eq!(
        corpus.files.iter().map(|f| f.windows.len()).sum::<usize>(),
        80
    );
    for file in &corpus.files {
        assert_eq!(file.values.len(), file.timestamps.len(), "{}", file.name);
        for window in &file.windows {
            assert!(window.start <= window.end, "{}", file.name);
            for limit in [window.start, window.end] {
                assert!(file.timestamps.contains(&limit), "{}: {limit}", file.name);
            }
        }
    }
    let ibm = corpus
        .file("realTweets/Twitter_volume_IBM.csv")
        .expect("IBM");
    assert_eq!(ibm.timestamps.len(), 15893);
}
