//! ECOD (Empirical-Cumulative-distribution-based Outlier Detection, Li et al. 2022) with the
//! semantics of PyOD's `ECOD`, over a bounded model.
//!
//! Per feature, a value's left-tail outlyingness is `U_l = -ln F_left(x)` and its right-tail
//! outlyingness `U_r = -ln F_right(x)`, with `F_left(x) = (#train <= x + 1) / (n + 1)` and
//! `F_right(x) = (#train >= x + 1) / (n + 1)`: the scored value counts as if it joined the
//! sample, as PyOD does, which keeps every value finite. The sign of the training column's
//! skewness picks `U_skew` (negative: `U_l`, positive: `U_r`, zero: `U_l + U_r`); the feature's
//! outlyingness is `O_j = max(U_l, U_r, U_skew)` and the row's score `sum_j O_j`.
//!
//! PyOD keeps the whole training set and re-sorts it for every call. This model keeps, per
//! feature, a quantile sketch (exact while `n <= 2 * n_quantiles`, about 400 knots for a million
//! rows) with `-ln F` precomputed on both sides of every knot, and interpolates linearly between
//! knots: scoring is a bucketed search over a small contiguous array, with no logarithm in the
//! hot path. Ties are counted exactly at knots, so integer-valued columns stay exact.

mod cost;
mod knot_search;
mod model;
mod params;
mod quantile_sketch;
mod radix_sort;
#[cfg(test)]
mod tests;

pub use model::Ecod;
pub use params::{EcodParams, MAX_QUANTILES, MIN_QUANTILES};
