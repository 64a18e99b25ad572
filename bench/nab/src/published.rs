//! NAB's published figures a scorer is checked against: the per-file score tables
//! (`results/<detector>/<detector>_<profile>_scores.csv`) and the optimised thresholds
//! (`config/thresholds.json`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::NabError;
use crate::files::{parse_f64, parse_usize, read_json, CsvText};
use crate::sweep::Counts;

/// One per-file row of a published score table.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedRow {
    /// The detector's name.
    pub detector: String,
    /// The profile's name.
    pub profile: String,
    /// The file, `category/name.csv`.
    pub file: String,
    /// The threshold the row was scored at, as printed (12 significant digits).
    pub threshold: f64,
    /// The file's raw NAB score, as printed (12 significant digits).
    pub score: f64,
    /// TP, TN, FP and FN row counts.
    pub counts: Counts,
    /// `Total_Count`: every row of the file, the probationary period included.
    pub total_count: usize,
}

/// Loads a published score table's per-file rows (a `Totals` row, if any, is left out).
pub fn load_published_rows(
    root: &Path,
    detector: &str,
    profile: &str,
) -> Result<Vec<PublishedRow>, NabError> {
    let path = root
        .join("results")
        .join(detector)
        .join(format!("{detector}_{profile}_scores.csv"));
    let csv = CsvText::read(&path)?;
    let detector_at = csv.column("Detector")?;
    let profile_at = csv.column("Profile")?;
    let file_at = csv.column("File")?;
    let threshold_at = csv.column("Threshold")?;
    let score_at = csv.column("Score")?;
    let [tp_at, tn_at, fp_at, fn_at] = [
        csv.column("TP")?,
        csv.column("TN")?,
        csv.column("FP")?,
        csv.column("FN")?,
    ];
    let total_at = csv.column("Total_Count")?;
    let mut rows = Vec::new();
    for (line, cells) in csv.rows() {
        let cell = |at: usize| cells.get(at).map(String::as_str).unwrap_or_default();
        if cell(detector_at) == "Totals" || cell(file_at).is_empty() {
            continue;
        }
        let number = |at: usize| parse_f64(cell(at)).map_err(|message| csv.error(line, message));
        let count = |at: usize| parse_usize(cell(at)).map_err(|message| csv.error(line, message));
        rows.push(PublishedRow {
            detector: cell(detector_at).to_owned(),
            profile: cell(profile_at).to_owned(),
            file: cell(file_at).to_owned(),
            threshold: number(threshold_at)?,
            score: number(score_at)?,
            counts: Counts {
                true_positives: count(tp_at)?,
                true_negatives: count(tn_at)?,
                false_positives: count(fp_at)?,
                false_negatives: count(fn_at)?,
            },
            total_count: count(total_at)?,
        });
    }
    Ok(rows)
}

/// A threshold NAB's optimiser chose for a detector and profile, with the raw corpus score it
/// reached (over NAB's full corpus).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct PublishedThreshold {
    /// The chosen threshold, at full precision.
    pub threshold: f64,
    /// The raw corpus score at it.
    pub score: f64,
}

/// Loads `config/thresholds.json`: detector name, then profile name, to its threshold.
pub fn load_published_thresholds(
    path: &Path,
) -> Result<BTreeMap<String, BTreeMap<String, PublishedThreshold>>, NabError> {
    read_json(path)
}
