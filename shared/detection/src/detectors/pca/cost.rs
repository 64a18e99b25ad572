//! What fitting and scoring PCA reconstruction costs, from the counts alone: one set of
//! formulas for the estimate before a fit and for the fitted model's own figures.
//!
//! linfa-reduction (without BLAS) asks LOBPCG for every singular value: a block of
//! `s = min(rows, columns)` vectors, each iteration products of the data with the block
//! (`rows x columns x s` multiply-adds) and a Rayleigh-Ritz step, an eigen decomposition of up
//! to `3s x 3s` (`s^3`). The constants are fitted to fits of 50 to 200,000 rows and 20 to
//! 1,000 columns (`examples/budget_calibration.rs`), each estimated within 1.5 times.

use super::params::PcaReconstructionParams;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};
use crate::detectors::shared_cost::{scaler_fit, FLOP_SECONDS};

/// Seconds per training value: scaling, centering, variances, copies.
const VALUE_SECONDS: f64 = 150e-9;
/// Seconds per training value and block vector: LOBPCG's products with the data.
const PRODUCT_SECONDS: f64 = 0.6e-9;
/// Seconds per `s^3` of LOBPCG's eigen decompositions.
const EIGEN_SECONDS: f64 = 25e-9;
/// `s x s` matrices LOBPCG holds at once (blocks, their products, Gram matrices of `3s`).
const SQUARE_MATRICES: f64 = 16.0;
/// Seconds per value scored or explained: scaling and bounding a copy of the row, the
/// residual and its norm (the projection's multiply-adds come on top).
const SCORE_VALUE_SECONDS: f64 = 20e-9;

/// Fitting on `rows x columns`, and scoring with the model.
pub(super) fn fit_cost(params: &PcaReconstructionParams, rows: usize, columns: usize) -> FitCost {
    let (n, d) = (rows as f64, columns as f64);
    let s = n.min(d);
    // At most `columns - 1` components are kept (unless fixed).
    let kept = params
        .n_components
        .unwrap_or(columns)
        .min(columns.saturating_sub(1));
    let model = model_bytes(kept, columns);
    let seconds = n * d * (VALUE_SECONDS + s * PRODUCT_SECONDS) + s.powi(3) * EIGEN_SECONDS;
    // The scaled copy, linfa's centered copy, the data times the block, the square matrices.
    let working = bytes_of::<f64>(2.0 * n * d + n.max(d) * s + SQUARE_MATRICES * s * s);
    let fit = scaler_fit(rows, columns)
        .with_model(0.0)
        .then(WorkEstimate::new(seconds, model + working, model));
    FitCost {
        fit,
        scoring: score_cost(kept, columns),
    }
}

/// Bytes of a model keeping `kept` components of `columns` features.
fn model_bytes(kept: usize, columns: usize) -> f64 {
    bytes_of::<f64>((kept as f64 + 2.0) * columns as f64)
}

/// Scoring with a model keeping `kept` components of `columns` features: a scaled copy, its
/// projection and the residual.
pub(super) fn score_cost(kept: usize, columns: usize) -> ScoreCost {
    let (k, d) = (kept as f64, columns as f64);
    let per_row = 2.0 * k * d * FLOP_SECONDS + d * SCORE_VALUE_SECONDS;
    ScoreCost {
        seconds_per_row: per_row,
        explain_seconds_per_row: per_row,
        bytes_per_row: bytes_of::<f64>(d + k + 1.0),
        fixed_seconds: 0.0,
        fixed_bytes: bytes_of::<f64>(d),
    }
}
