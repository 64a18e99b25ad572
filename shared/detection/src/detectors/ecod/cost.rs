//! What fitting and scoring ECOD costs, from the counts alone: one set of formulas for the
//! estimate before a fit and for the fitted model's own figures.

use super::knot_search::BUCKETS_PER_KNOT;
use super::model::{FeatureTails, KnotTails, COLUMN_GROUP};
use super::params::EcodParams;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};

/// Seconds per training value: its copy, the skewness pass, the radix sort and the sketch.
const FIT_SECONDS: f64 = 120e-9;
/// Seconds per value scored (a bucketed knot search and an interpolation, a feature's knots
/// at a time).
const SCORE_SECONDS: f64 = 80e-9;
/// Seconds per value explained (one row's values, each in another feature's knots).
const EXPLAIN_SECONDS: f64 = 150e-9;
/// Geometric tail levels kept per halving of the rows, on each side (`quantile_sketch`).
const TAIL_KNOTS_PER_OCTAVE: f64 = 4.0;

/// Most knots a sketch of `rows` training values keeps with `n_quantiles` uniform levels.
fn knots(rows: usize, n_quantiles: usize) -> f64 {
    if rows <= n_quantiles.saturating_mul(2) {
        return rows as f64;
    }
    let octaves = (rows as f64 / 2.0).log2().ceil().max(0.0);
    n_quantiles as f64 + 1.0 + 2.0 * TAIL_KNOTS_PER_OCTAVE * octaves
}

/// Bytes of one feature's tails with `knots` knots (values, tails and the bucket table).
pub(super) fn feature_bytes(knots: f64) -> f64 {
    std::mem::size_of::<FeatureTails>() as f64
        + bytes_of::<f64>(knots)
        + bytes_of::<KnotTails>(knots)
        + bytes_of::<u32>(BUCKETS_PER_KNOT as f64 * knots + 1.0)
}

/// Fitting on `rows x columns`, and scoring with the model.
pub(super) fn fit_cost(params: &EcodParams, rows: usize, columns: usize) -> FitCost {
    let (n, d) = (rows as f64, columns as f64);
    let knots = knots(rows, params.n_quantiles);
    let model = d * feature_bytes(knots);
    // A group of columns copied out, the radix sort's keys and scratch, the knot ranks.
    let working = bytes_of::<f64>(n * (COLUMN_GROUP.min(columns) as f64 + 2.0) + knots);
    FitCost {
        fit: WorkEstimate::new(n * d * FIT_SECONDS, model + working, model),
        scoring: score_cost(columns),
    }
}

/// Scoring with a model of `columns` features.
pub(super) fn score_cost(columns: usize) -> ScoreCost {
    let d = columns as f64;
    ScoreCost {
        seconds_per_row: d * SCORE_SECONDS,
        explain_seconds_per_row: d * EXPLAIN_SECONDS,
        bytes_per_row: bytes_of::<f64>(1.0),
        fixed_seconds: 0.0,
        fixed_bytes: bytes_of::<f64>(d),
    }
}
