//! What fitting and scoring a Gaussian mixture costs, from the counts alone: one set of
//! formulas for the estimate before a fit and for the fitted model's own figures.
//!
//! A fit is linfa-clustering's EM on `m = min(rows, max_samples)` scaled rows: a k-means
//! initialisation (10 runs), then up to `max_iter` iterations, each computing every row's
//! log-likelihood under every component (`m x components x columns^2` multiply-adds, with
//! `m x components` values held several times over) and re-estimating every full covariance
//! (as many multiply-adds again). The estimate is the worst case: EM never converging and every
//! retry taken. Retries run half as many iterations each time (`model::iterations`), so all
//! of them together run at most twice `max_iter` iterations at the first count of components;
//! each retry starts with a k-means initialisation, at most three per component count with
//! the counts halving (`model::fallbacks`), so at most six initialisations at the first count.
//! Fits that converge take a fraction of it.

use super::params::GaussianMixtureParams;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};
use crate::detectors::shared_cost::{
    deviation_fit, scaled_sample, scaler_fit, FLOP_SECONDS, PASS_SECONDS,
};

/// k-means passes over the rows for one initialisation: linfa's 10 runs of at most 300
/// iterations.
const KMEANS_PASSES: f64 = 3000.0;
/// k-means initialisations of the worst case, in units of one at the first component count.
const KMEANS_RUNS: f64 = 6.0;
/// EM iterations of the worst case, in units of `max_iter` at the first component count.
const EM_RUNS: f64 = 2.0;
/// Seconds per row, component and feature of a k-means pass (on two cores: linfa's k-means
/// assigns rows in parallel).
const KMEANS_SECONDS: f64 = 0.35e-9;
/// Seconds per row, component and feature of an EM iteration besides the products (centered
/// copies of the rows, one per component).
const EM_VALUE_SECONDS: f64 = 9e-9;
/// Seconds per row and component of an EM iteration besides the products (exponentials,
/// logarithms, the responsibilities).
const RESPONSIBILITY_SECONDS: f64 = 40e-9;
/// Copies of the `rows x components` responsibilities EM holds at once.
const RESPONSIBILITY_COPIES: f64 = 6.0;
/// Copies of the `rows x columns` data EM holds at once besides the sample (centered rows,
/// their products).
const ROW_COPIES: f64 = 3.0;
/// Copies of the `components x columns^2` covariances EM holds at once (covariances,
/// precisions, their Cholesky factors, the best run's).
const COVARIANCE_COPIES: f64 = 8.0;

/// Fitting on `rows x columns`, and scoring with the model.
pub(super) fn fit_cost(params: &GaussianMixtureParams, rows: usize, columns: usize) -> FitCost {
    let sample = rows.min(params.max_samples);
    // Not capped by the rows: the first attempts factor every requested component's
    // covariance (`k x columns^3`) before a fit with too few rows falls back to fewer.
    let components = params.n_components.max(1);
    let (m, k, d) = (sample as f64, components as f64, columns as f64);
    let per_iteration = m * k * (d * d * FLOP_SECONDS + d * EM_VALUE_SECONDS)
        + m * k * RESPONSIBILITY_SECONDS
        + k * d * d * d * FLOP_SECONDS;
    let seconds = KMEANS_RUNS * KMEANS_PASSES * m * k * d * KMEANS_SECONDS
        + EM_RUNS * params.max_iter as f64 * per_iteration;
    let model = model_bytes(components, columns);
    let em = bytes_of::<f64>(
        RESPONSIBILITY_COPIES * m * k + ROW_COPIES * m * d + COVARIANCE_COPIES * k * d * d,
    );
    let fit = scaler_fit(rows, columns)
        .then(deviation_fit(rows, columns))
        .then(scaled_sample(rows, columns, params.max_samples))
        .then(WorkEstimate::new(seconds, em, 0.0))
        .with_model(model);
    FitCost {
        fit,
        scoring: score_cost(components, columns),
    }
}

/// Bytes of a mixture of `components` full-covariance components of `columns` features, with
/// its scaler and robust deviation.
fn model_bytes(components: usize, columns: usize) -> f64 {
    let (k, d) = (components as f64, columns as f64);
    bytes_of::<f64>(k * (1.0 + d + d * d) + 4.0 * d)
}

/// Scoring with `components` components of `columns` features: a scaled copy, then per
/// component the rows times its precision factor.
pub(super) fn score_cost(components: usize, columns: usize) -> ScoreCost {
    let (k, d) = (components as f64, columns as f64);
    ScoreCost {
        seconds_per_row: k * (d * d * FLOP_SECONDS + d * EM_VALUE_SECONDS + RESPONSIBILITY_SECONDS),
        explain_seconds_per_row: 3.0 * d * PASS_SECONDS,
        bytes_per_row: bytes_of::<f64>(3.0 * d + k + 1.0),
        fixed_seconds: 0.0,
        fixed_bytes: bytes_of::<f64>(d),
    }
}
