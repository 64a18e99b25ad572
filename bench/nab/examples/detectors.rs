//! Runs Nomaly's series detectors over the NAB corpus in `../shared/nab`, through the detector
//! the functions run (`detection::series::SeriesDetector`, one per file, every point judged from
//! the past only, then learned), writes NAB-format result files, and prints per profile the
//! normalized score of each configuration beside the published detectors' on the same files, at
//! the threshold NAB's optimiser picks per profile over the corpus. Every configuration runs with
//! several seeds; the table gives the median and the range.
//!
//! `make bench-nab` (`cargo run --release -p nab --example detectors`); result files (the first
//! seed's) go to `$NAB_RESULTS_DIR` (default `target/nab-results`), `NAB_SEEDS` (default 9)
//! sets how many seeds run, and `NAB_PARAMS` (a series configuration in JSON, e.g.
//! `{"shingle_size": 4}`) runs that configuration instead of the defaults.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use detection::series::{SeriesDetector, SeriesDetectorKind, SeriesOrdering, SeriesParams};
use nab::{
    load_detector_scores, load_profiles, optimize_threshold, score_corpus, Corpus, CorpusFile,
    FileInput, Profile,
};

/// The published detectors whose outputs `../shared/nab` holds.
const PUBLISHED: [&str; 2] = ["numenta", "randomCutForest"];

/// The published scoreboard's detectors shown for reference (their scores are over all 58 files).
const SCOREBOARD: [&str; 4] = ["ARTime", "numenta", "contextOSE", "randomCutForest"];

/// Seeds tried: the default configuration's first, then 1, 2, ...
const DEFAULT_SEED: u64 = 42;

type BoxError = Box<dyn Error + Send + Sync>;

/// Our configurations: the defaults of each detector, the same settings for every file, or the
/// one configuration `NAB_PARAMS` gives (a series configuration in JSON, to try settings). NAB's
/// series are their files' rows in order, and a few files' timestamps step back, so every
/// configuration learns in arrival order.
fn configurations() -> Result<Vec<(&'static str, SeriesParams)>, BoxError> {
    if let Ok(text) = std::env::var("NAB_PARAMS") {
        let params: SeriesParams = serde_json::from_str(&text)
            .map_err(|e| format!("NAB_PARAMS is not a series configuration: {e}"))?;
        return Ok(vec![(
            "NAB_PARAMS",
            SeriesParams {
                ordering: SeriesOrdering::Arrival,
                ..params
            },
        )]);
    }
    let ensemble = SeriesParams {
        ordering: SeriesOrdering::Arrival,
        ..SeriesParams::default()
    };
    let rcf = SeriesParams {
        detector: SeriesDetectorKind::Rcf,
        ..ensemble.clone()
    };
    Ok(vec![("nomaly_rcf", rcf), ("nomaly_ensemble", ensemble)])
}

/// One file's scores, and the size of the detector's state after its last point (bincode, as
/// the store keeps it).
fn run_file(file: &CorpusFile, params: &SeriesParams) -> Result<(Vec<f64>, usize), BoxError> {
    let mut detector = SeriesDetector::new(params.clone().check(1)?)?;
    let scores = file
        .timestamps
        .iter()
        .zip(&file.values)
        .map(|(timestamp, value)| Ok(detector.observe(timestamp.epoch_millis(), &[*value])?.score))
        .collect::<Result<Vec<_>, BoxError>>()?;
    let state = bincode::serde::encode_to_vec(&detector, bincode::config::standard())?;
    Ok((scores, state.len()))
}

/// Runs `params` over every file on two threads; the scores (and state sizes) come back in
/// corpus order.
fn run_corpus(corpus: &Corpus, params: &SeriesParams) -> Result<Vec<(Vec<f64>, usize)>, BoxError> {
    let threads = 2;
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    corpus
                        .files
                        .iter()
                        .enumerate()
                        .filter(|(index, _)| index % threads == thread)
                        .map(|(index, file)| Ok((index, run_file(file, params)?)))
                        .collect::<Result<Vec<_>, BoxError>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .map_err(|_| BoxError::from("a detector thread panicked"))?
            })
            .collect::<Result<Vec<_>, BoxError>>()
    })?;
    let mut by_index: BTreeMap<usize, (Vec<f64>, usize)> = parts.into_iter().flatten().collect();
    (0..corpus.files.len())
        .map(|index| {
            by_index
                .remove(&index)
                .ok_or_else(|| BoxError::from(format!("no scores for file {index}")))
        })
        .collect()
}

fn write_results(
    dir: &Path,
    detector: &str,
    corpus: &Corpus,
    scores: &[Vec<f64>],
) -> Result<(), BoxError> {
    for (file, file_scores) in corpus.files.iter().zip(scores) {
        let (category, name) = file.name.split_once('/').unwrap_or(("", &file.name));
        let folder = dir.join(detector).join(category);
        std::fs::create_dir_all(&folder)?;
        let mut text = String::from("timestamp,value,anomaly_score,label\n");
        for ((timestamp, value), score) in file.timestamps.iter().zip(&file.values).zip(file_scores)
        {
            let label = u8::from(
                file.windows
                    .iter()
                    .any(|window| window.contains(*timestamp)),
            );
            writeln!(text, "{timestamp},{value},{score},{label}")?;
        }
        std::fs::write(folder.join(format!("{detector}_{name}")), text)?;
    }
    Ok(())
}

/// Per profile: the normalized score at the threshold NAB's optimiser picks, and that threshold.
fn score_profiles(
    inputs: &[FileInput<'_>],
    profiles: &[Profile],
) -> Result<Vec<(f64, f64)>, BoxError> {
    profiles
        .iter()
        .map(|profile| {
            let best = optimize_threshold(inputs, &profile.costs)?;
            let score = score_corpus(inputs, &profile.costs, best.threshold)?;
            Ok((score.normalized, best.threshold))
        })
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => values.get(middle).copied().unwrap_or(f64::NAN),
        _ => {
            (values.get(middle - 1).copied().unwrap_or(f64::NAN)
                + values.get(middle).copied().unwrap_or(f64::NAN))
                / 2.0
        }
    }
}

fn env_usize(name: &str, default: usize) -> Result<usize, BoxError> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a whole number").into()),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<(), BoxError> {
    let root = nab::shared_data_root();
    if !root.join("data").is_dir() {
        eprintln!("skipping: ../shared/nab is absent ({})", root.display());
        return Ok(());
    }
    let corpus = Corpus::load(&root)?;
    let profiles = load_profiles(&root.join("config/profiles.json"))?;
    let seeds = env_usize("NAB_SEEDS", 9)?.max(1);
    let dir = std::env::var_os("NAB_RESULTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/nab-results"),
        PathBuf::from,
    );
    let points: usize = corpus.files.iter().map(|file| file.values.len()).sum();
    println!(
        "NAB corpus: {} files, {points} points; {seeds} seeds per configuration; result files in {}",
        corpus.files.len(),
        dir.display()
    );
    print!("{:<34}", "normalized score (threshold)");
    for profile in &profiles {
        print!(" {:>30}", profile.name);
    }
    println!();
    for detector in PUBLISHED {
        let scores = load_detector_scores(&root, detector, &corpus)?;
        let row = score_profiles(&corpus.inputs(&scores)?, &profiles)?;
        print!("{:<34}", format!("{detector}, published outputs"));
        for (normalized, threshold) in row {
            print!(" {:>30}", format!("{normalized:.2} (t={threshold:.4})"));
        }
        println!();
    }
    for (name, params) in configurations()? {
        let mut by_profile = vec![Vec::new(); profiles.len()];
        let mut thresholds = Vec::new();
        let mut rates = Vec::new();
        let mut state_bytes = Vec::new();
        for run in 0..seeds {
            let seed = if run == 0 { DEFAULT_SEED } else { run as u64 };
            let params = SeriesParams {
                seed,
                ..params.clone()
            };
            let started = Instant::now();
            let (scores, sizes): (Vec<_>, Vec<_>) =
                run_corpus(&corpus, &params)?.into_iter().unzip();
            rates.push(points as f64 / started.elapsed().as_secs_f64());
            if run == 0 {
                state_bytes = sizes;
            }
            if run == 0 {
                write_results(&dir, name, &corpus, &scores)?;
            }
            let row = score_profiles(&corpus.inputs(&scores)?, &profiles)?;
            if run == 0 {
                thresholds = row.iter().map(|(_, threshold)| *threshold).collect();
            }
            for (slot, (normalized, _)) in by_profile.iter_mut().zip(row) {
                slot.push(normalized);
            }
        }
        print!("{name:<34}");
        for values in &mut by_profile {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            print!(
                " {:>30}",
                format!("{:.2} ({low:.2} to {high:.2})", median(values))
            );
        }
        let largest = state_bytes.iter().copied().max().unwrap_or(0);
        println!(
            "\n{:<34} seed {DEFAULT_SEED}'s thresholds {thresholds:.4?}; {:.0} points/s (median, 2 threads); \
             state {:.0} KiB at the end of a file (median; largest {:.0} KiB)",
            "",
            median(&mut rates),
            median(&mut state_bytes.iter().map(|&b| b as f64).collect::<Vec<_>>()) / 1024.0,
            largest as f64 / 1024.0
        );
    }
    let scoreboard: BTreeMap<String, BTreeMap<String, f64>> = serde_json::from_str(
        &std::fs::read_to_string(root.join("results/final_results.json"))?,
    )?;
    println!("published scoreboard, all 58 files (for reference):");
    for detector in SCOREBOARD {
        if let Some(scores) = scoreboard.get(detector) {
            print!("{:<34}", format!("{detector}, NAB's 58 files"));
            for profile in &profiles {
                print!(
                    " {:>30}",
                    scores
                        .get(&profile.name)
                        .map_or("-".to_string(), |s| format!("{s:.2}"))
                );
            }
            println!();
        }
    }
    Ok(())
}
