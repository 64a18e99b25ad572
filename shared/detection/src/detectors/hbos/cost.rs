//! What fitting and scoring HBOS costs, from the counts alone: one set of formulas for the
//! estimate before a fit and for the fitted model's own figures.

use super::model::Histogram;
use super::params::HbosParams;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};
use crate::detectors::shared_cost::{scaler_fit, PASS_SECONDS};

/// Seconds per training value: the range pass and the counting pass.
const FIT_SECONDS: f64 = 45e-9;
/// Seconds per value scored or explained (a bin lookup).
const SCORE_SECONDS: f64 = 25e-9;

/// Bytes of one feature's histogram of `bins` bins.
pub(super) fn histogram_bytes(bins: usize) -> f64 {
    std::mem::size_of::<Histogram>() as f64 + bytes_of::<f64>(2.0 * bins as f64 + 1.0)
}

/// Fitting on `rows x columns`, and scoring with the model.
pub(super) fn fit_cost(params: &HbosParams, rows: usize, columns: usize) -> FitCost {
    let (n, d, bins) = (rows as f64, columns as f64, params.n_bins as f64);
    let model = d * histogram_bytes(params.n_bins);
    let counts = d * (bytes_of::<usize>(bins) + bytes_of::<Vec<usize>>(1.0));
    let histograms = WorkEstimate::new(
        n * d * FIT_SECONDS + d * bins * PASS_SECONDS,
        model + counts,
        model,
    );
    let fit = if params.standardize {
        scaler_fit(rows, columns).with_model(0.0).then(histograms)
    } else {
        histograms
    };
    FitCost {
        fit,
        scoring: score_cost(columns),
    }
}

/// Scoring with a model of `columns` features.
pub(super) fn score_cost(columns: usize) -> ScoreCost {
    let d = columns as f64;
    ScoreCost {
        seconds_per_row: d * SCORE_SECONDS,
        explain_seconds_per_row: d * SCORE_SECONDS,
        bytes_per_row: bytes_of::<f64>(1.0),
        fixed_seconds: 0.0,
        fixed_bytes: bytes_of::<f64>(d),
    }
}
