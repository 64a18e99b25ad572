//! Reproduces NAB's published per-file score rows from the published outputs of two detectors
//! (numenta, randomCutForest) in `../shared/nab`, and prints, per detector and profile: the rows
//! matched, the largest score difference, and the corpus normalized score at NAB's published
//! threshold and at the threshold our optimiser picks over these files.
//!
//! `cargo run -p nab --example reproduce`

use std::error::Error;

use nab::{
    load_detector_scores, load_profiles, load_published_rows, load_published_thresholds,
    optimize_threshold, score_corpus, score_file, Corpus,
};

const DETECTORS: [&str; 2] = ["numenta", "randomCutForest"];

/// A row matches when its score is within this (absolute) and its counts are equal.
const SCORE_TOLERANCE: f64 = 1e-6;

fn main() -> Result<(), Box<dyn Error>> {
    let root = nab::shared_data_root();
    if !root.join("results").is_dir() {
        eprintln!("skipping: ../shared/nab is absent ({})", root.display());
        return Ok(());
    }
    let corpus = Corpus::load(&root)?;
    let profiles = load_profiles(&root.join("config/profiles.json"))?;
    let thresholds = load_published_thresholds(&root.join("config/thresholds.json"))?;
    let windows: usize = corpus.files.iter().map(|file| file.windows.len()).sum();
    println!(
        "NAB corpus at {}: {} files, {windows} windows",
        root.display(),
        corpus.files.len()
    );
    println!(
        "{:<16} {:<19} {:>7} {:>10} {:>12} {:>10} {:>12} {:>10}",
        "detector",
        "profile",
        "rows",
        "max |dS|",
        "published t",
        "normalized",
        "optimised t",
        "normalized"
    );
    for detector in DETECTORS {
        let scores = load_detector_scores(&root, detector, &corpus)?;
        let inputs = corpus.inputs(&scores)?;
        for profile in &profiles {
            let rows = load_published_rows(&root, detector, &profile.name)?;
            let mut matched = 0;
            let mut max_difference = 0.0_f64;
            for row in &rows {
                let Some((file, file_scores)) = corpus
                    .files
                    .iter()
                    .zip(&scores)
                    .find(|(file, _)| file.name == row.file)
                else {
                    println!("  {}: not in the corpus", row.file);
                    continue;
                };
                let ours = score_file(
                    &file.windows,
                    &file.timestamps,
                    file_scores,
                    &profile.costs,
                    row.threshold,
                )?;
                let difference = (ours.score - row.score).abs();
                max_difference = max_difference.max(difference);
                if difference <= SCORE_TOLERANCE
                    && ours.counts == row.counts
                    && ours.total_count == row.total_count
                {
                    matched += 1;
                } else {
                    println!("  differs: {} ours {ours:?}, published {row:?}", row.file);
                }
            }
            let published = thresholds
                .get(detector)
                .and_then(|by_profile| by_profile.get(&profile.name))
                .map(|published| published.threshold);
            let at_published = published
                .map(|threshold| score_corpus(&inputs, &profile.costs, threshold))
                .transpose()?;
            let best = optimize_threshold(&inputs, &profile.costs)?;
            let at_best = score_corpus(&inputs, &profile.costs, best.threshold)?;
            println!(
                "{:<16} {:<19} {:>3}/{:<3} {:>10.1e} {:>12.6} {:>10.2} {:>12.6} {:>10.2}",
                detector,
                profile.name,
                matched,
                rows.len(),
                max_difference,
                published.unwrap_or(f64::NAN),
                at_published.as_ref().map_or(f64::NAN, |s| s.normalized),
                best.threshold,
                at_best.normalized,
            );
            println!(
                "{:<36} raw {:.4} at t = {}, {:.4} at t = {}; null {}, perfect {}",
                "",
                at_published.as_ref().map_or(f64::NAN, |s| s.raw),
                published.unwrap_or(f64::NAN),
                at_best.raw,
                best.threshold,
                at_best.baseline.null,
                at_best.baseline.perfect
            );
        }
    }
    Ok(())
}
