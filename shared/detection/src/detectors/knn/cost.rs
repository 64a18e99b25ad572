//! What fitting and scoring k-NN distance costs, from the counts alone: one set of formulas
//! for the estimate before a fit and for the fitted model's own figures.

use super::model::{BLOCK_ELEMS, TREE_MAX_FEATURES};
use super::params::KnnDistanceParams;
use crate::budget::{bytes_of, log2, FitCost, ScoreCost};
use crate::detectors::shared_cost::{
    deviation_fit, scaled_sample, scaler_fit, PASS_SECONDS, SORT_SECONDS,
};

/// Seconds per neighbour and tree level of a k-d tree query, per feature.
const TREE_SECONDS: f64 = 10e-9;
/// Seconds per sample row and feature of the brute-force search (a thin matrix product).
const BRUTE_SECONDS: f64 = 0.6e-9;
/// Seconds per sample row of the brute-force search's ranking scan.
const SCAN_SECONDS: f64 = 3e-9;

/// Fitting on `rows x columns`, and scoring with the model.
pub(super) fn fit_cost(params: &KnnDistanceParams, rows: usize, columns: usize) -> FitCost {
    let sample = rows.min(params.max_samples);
    let fit = scaler_fit(rows, columns)
        .then(deviation_fit(rows, columns))
        .then(scaled_sample(rows, columns, params.max_samples));
    FitCost {
        fit,
        // Calibration leaves each row's own copy out: one more neighbour.
        scoring: score_cost(params.k.min(sample.saturating_sub(1)) + 1, sample, columns),
    }
}

/// Scoring with the `k`-th neighbour among `sample` rows of `columns` features: by brute force
/// (a blocked matrix product), or with a k-d tree on few features; the dearer of the two.
pub(super) fn score_cost(k: usize, sample: usize, columns: usize) -> ScoreCost {
    let (k, m, d) = (k as f64, sample as f64, columns as f64);
    let exact = k * (d * PASS_SECONDS + log2(k) * SORT_SECONDS);
    let brute = m * (d * BRUTE_SECONDS + SCAN_SECONDS) + exact;
    let (tree, tree_build) = if columns <= TREE_MAX_FEATURES {
        (
            (k + log2(m)) * log2(m) * d * TREE_SECONDS + exact,
            m * log2(m) * d * TREE_SECONDS,
        )
    } else {
        (0.0, 0.0)
    };
    ScoreCost {
        seconds_per_row: brute.max(tree) + 3.0 * d * PASS_SECONDS,
        explain_seconds_per_row: d * SORT_SECONDS,
        bytes_per_row: bytes_of::<f64>(d + 1.0),
        fixed_seconds: tree_build,
        // The distance block and the sample's squared norms, or the tree's copy of the sample.
        fixed_bytes: bytes_of::<f64>(BLOCK_ELEMS as f64 + m) + bytes_of::<f64>(2.0 * m * d),
    }
}
