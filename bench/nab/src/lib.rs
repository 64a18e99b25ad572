//! A scorer for the Numenta Anomaly Benchmark (NAB), reimplementing `nab/sweeper.py`,
//! `nab/scorer.py`, `nab/optimizer.py` and the normalisation of `nab/runner.py` in float64 as NAB
//! computes them, so Nomaly's detectors can be scored on NAB's corpus and compared with its
//! published scoreboard. Its tests reproduce NAB's published per-file rows from the published
//! detector outputs.
//!
//! A benchmark loads the [`Corpus`] and the [`Profile`]s, runs its detector on each file's values
//! to get one score in [0, 1] per row, then calls [`optimize_threshold`] per profile and
//! [`score_corpus`] at the chosen threshold (per-file rows and the normalized score).

pub mod corpus;
pub mod error;
mod files;
pub mod normalize;
pub mod optimize;
pub mod profile;
pub mod published;
pub mod results;
pub mod score;
pub mod sweep;
pub mod timestamp;
pub mod windows;

use std::path::PathBuf;

pub use corpus::{Corpus, CorpusFile};
pub use error::NabError;
pub use normalize::{normalized_score, Baseline};
pub use optimize::optimize_threshold;
pub use profile::{load_profiles, CostMatrix, Profile};
pub use published::{
    load_published_rows, load_published_thresholds, PublishedRow, PublishedThreshold,
};
pub use results::load_detector_scores;
pub use score::{score_corpus, score_file, CorpusScore, FileInput, FileScore};
pub use sweep::{Counts, ThresholdScore};
pub use timestamp::Timestamp;
pub use windows::Window;

/// Where the shared, read-only NAB data lives: `<workspace root>/../shared/nab`, so tests and
/// examples find it from any working directory.
pub fn shared_data_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("../shared/nab")
}
