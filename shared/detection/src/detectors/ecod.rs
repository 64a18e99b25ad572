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

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::knot_search::KnotSearch;
use super::quantile_sketch::{knot_ranks, ColumnSketch};
use super::radix_sort::sort_f64;
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};

/// Name used in fit errors.
const ALGORITHM: &str = "ECOD";
/// Rows per block when fitting and scoring: a block stays in cache while it is read column by
/// column, and one feature's knots stay hot across it.
const BLOCK_ROWS: usize = 256;
/// Largest training set whose counts are exactly representable in an `f64`.
const MAX_TRAIN_ROWS: u64 = 1 << 53;
/// Columns copied out of the row-major input per pass when fitting (one cache line of a row).
const COLUMN_GROUP: usize = 8;

/// Hyper-parameters of [`Ecod`]; ECOD itself has none, these only size the quantile sketch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EcodParams {
    /// Resolution of the uniform quantile grid (levels `k / n_quantiles`); geometric levels are
    /// added in both tails. Training sets of at most `2 * n_quantiles` rows are kept exactly.
    pub n_quantiles: usize,
}

impl Default for EcodParams {
    fn default() -> Self {
        Self { n_quantiles: 256 }
    }
}

impl EcodParams {
    /// Sets the uniform quantile grid resolution (16 to 4096): more means a closer
    /// approximation of the exact ECDF and a larger model.
    pub fn n_quantiles(mut self, n_quantiles: usize) -> Self {
        self.n_quantiles = n_quantiles;
        self
    }

    /// Checks every parameter's range.
    pub fn check(&self) -> Result<(), DetectionError> {
        if !(16..=4096).contains(&self.n_quantiles) {
            return Err(DetectionError::param(
                "n_quantiles",
                "must be between 16 and 4096",
            ));
        }
        Ok(())
    }

    /// Fits the per-feature sketches on `x` (rows = samples; at least 2 rows and 1 column, all
    /// values finite). Costs one radix sort per column.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Ecod, DetectionError> {
        self.check()?;
        let n = x.nrows();
        if n < 2 {
            return Err(fit_error(format!("needs at least 2 rows, got {n}")));
        }
        if x.ncols() == 0 {
            return Err(fit_error("needs at least 1 feature, got 0".into()));
        }
        if n as u64 > MAX_TRAIN_ROWS {
            return Err(fit_error(format!("at most {MAX_TRAIN_ROWS} rows")));
        }
        let ranks = knot_ranks(n, self.n_quantiles);
        let ln_n1 = ((n + 1) as f64).ln();
        let mut features = Vec::with_capacity(x.ncols());
        // Columns are copied out a group at a time: one pass over the rows per group instead of
        // one strided pass per column, with memory for only a group of columns.
        let mut columns: Vec<Vec<f64>> = (0..COLUMN_GROUP.min(x.ncols()))
            .map(|_| Vec::with_capacity(n))
            .collect();
        let (mut keys, mut scratch) = (Vec::new(), Vec::new());
        for (g, group) in x.axis_chunks_iter(Axis(1), COLUMN_GROUP).enumerate() {
            copy_columns(group, &mut columns);
            for (k, column) in columns.iter_mut().take(group.ncols()).enumerate() {
                let j = g * COLUMN_GROUP + k;
                if column.iter().any(|v| !v.is_finite()) {
                    return Err(fit_error(format!("feature {j} has a non-finite value")));
                }
                let skew = Skew::of(column);
                sort_f64(column, &mut keys, &mut scratch);
                let sketch = ColumnSketch::from_sorted(column, &ranks);
                features.push(FeatureTails::from_sketch(&sketch, n, ln_n1, skew));
            }
        }
        Ok(Ecod {
            n_train: n as u64,
            features,
        })
    }
}

/// Copies the columns of `group` into the first `group.ncols()` buffers, a block of rows at a
/// time so each block is read from memory once.
fn copy_columns(group: ArrayView2<'_, f64>, columns: &mut [Vec<f64>]) {
    columns.iter_mut().for_each(Vec::clear);
    for rows in group.axis_chunks_iter(Axis(0), BLOCK_ROWS) {
        for (c, column) in columns.iter_mut().zip(rows.axis_iter(Axis(1))) {
            c.extend(column.iter().copied());
        }
    }
}

fn fit_error(reason: String) -> DetectionError {
    DetectionError::Fit {
        algorithm: ALGORITHM,
        reason,
    }
}

/// Which tail ECOD's skewness correction uses for a feature (the sign of its skewness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Skew {
    /// Negative skewness: `U_skew = U_l`.
    Left,
    /// Positive skewness: `U_skew = U_r`.
    Right,
    /// Zero skewness (including constant columns): `U_skew = U_l + U_r`.
    Symmetric,
}

impl Skew {
    /// Sign of the (biased, as scipy's `skew`) sample skewness of finite values; columns with
    /// no spread count as symmetric.
    fn of(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), &v| {
            let d = v - mean;
            (m2 + d * d, m3 + d * d * d)
        });
        let resolution = 1e-15 * mean.abs();
        if m2 / n <= resolution * resolution || !m3.is_finite() {
            Self::Symmetric
        } else if m3 < 0.0 {
            Self::Left
        } else if m3 > 0.0 {
            Self::Right
        } else {
            Self::Symmetric
        }
    }
}

/// `-ln F` on both sides of one knot. A knot holds a training value, so with ties the ECDF
/// jumps there: "at" is the value at the knot, "below"/"above" the limit just beside it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct KnotTails {
    /// `U_l` at the knot: `-ln((#train <= v + 1) / (n + 1))`.
    left_at: f64,
    /// `U_l` just below the knot: `-ln((#train < v + 1) / (n + 1))`.
    left_below: f64,
    /// `U_r` at the knot: `-ln((#train >= v + 1) / (n + 1))`.
    right_at: f64,
    /// `U_r` just above the knot: `-ln((#train > v + 1) / (n + 1))`.
    right_above: f64,
}

/// One feature's knots and skewness: everything needed to score its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FeatureTails {
    /// Knot values, strictly increasing; the first is the training minimum, the last the maximum.
    knots: KnotSearch,
    /// Tail outlyingness around each knot, parallel to `values`.
    tails: Vec<KnotTails>,
    /// Skewness sign of the training column.
    skew: Skew,
}

impl FeatureTails {
    fn from_sketch(sketch: &ColumnSketch, n: usize, ln_n1: f64, skew: Skew) -> Self {
        // -ln((c + 1) / (n + 1)) for a count c in 0..=n.
        let u = |c: usize| ln_n1 - ((c.min(n) + 1) as f64).ln();
        let tails = sketch
            .count_lt
            .iter()
            .zip(&sketch.count_le)
            .map(|(&lt, &le)| KnotTails {
                left_at: u(le),
                left_below: u(lt),
                right_at: u(n.saturating_sub(lt)),
                right_above: u(n.saturating_sub(le)),
            })
            .collect();
        Self {
            knots: KnotSearch::new(sketch.values.clone()),
            tails,
            skew,
        }
    }

    /// `(U_l, U_r)` of `x`: exact at knots, linear between them, exact beyond the extremes.
    #[inline(always)]
    fn tails(&self, x: f64, ln_n1: f64) -> (f64, f64) {
        let values = self.knots.values();
        let above = self.knots.upper_bound(x);
        let Some(i) = above.checked_sub(1) else {
            // Below the training minimum (or NaN): nothing at or below, everything at or above.
            return (ln_n1, 0.0);
        };
        let (Some(&v), Some(t)) = (values.get(i), self.tails.get(i)) else {
            return (ln_n1, 0.0);
        };
        if x == v {
            return (t.left_at, t.right_at);
        }
        match (values.get(i + 1), self.tails.get(i + 1)) {
            (Some(&next_v), Some(next)) => {
                // In [0, 1] given v < x < next_v; the guard only matters when a difference
                // overflows (inf / inf), for knots near +-f64::MAX.
                let f = (x - v) / (next_v - v);
                let f = if f.is_nan() { 0.0 } else { f.clamp(0.0, 1.0) };
                (
                    t.left_at + f * (next.left_below - t.left_at),
                    t.right_above + f * (next.right_at - t.right_above),
                )
            }
            // Above the training maximum: everything at or below, nothing at or above.
            _ => (t.left_at, t.right_above),
        }
    }

    /// ECOD's per-dimension outlyingness `O_j = max(U_l, U_r, U_skew)` of `x`.
    #[inline]
    fn outlyingness(&self, x: f64, ln_n1: f64) -> f64 {
        let (left, right) = self.tails(x, ln_n1);
        let skewed = match self.skew {
            Skew::Left => left,
            Skew::Right => right,
            Skew::Symmetric => left + right,
        };
        left.max(right).max(skewed)
    }

    fn validate(&self, j: usize, ln_n1: f64) -> Result<(), ArtifactError> {
        let invalid = |what: &str| Err(ArtifactError::Invalid(format!("ECOD feature {j}: {what}")));
        self.knots
            .validate()
            .map_err(|e| ArtifactError::Invalid(format!("ECOD feature {j}: {e}")))?;
        if self.knots.values().len() != self.tails.len() {
            return invalid("knot arrays have different lengths");
        }
        // The slack absorbs rounding in ln(n + 1) - ln(c + 1).
        let in_range = |u: f64| (0.0..=ln_n1 + 1e-9).contains(&u);
        if !self.tails.iter().all(|t| {
            in_range(t.left_at)
                && in_range(t.left_below)
                && in_range(t.right_at)
                && in_range(t.right_above)
                && t.left_below >= t.left_at
                && t.right_above >= t.right_at
        }) {
            return invalid("tail values are out of range");
        }
        if self
            .tails
            .windows(2)
            .any(|w| w[1].left_below > w[0].left_at || w[1].right_at < w[0].right_above)
        {
            return invalid("tail values are not monotone");
        }
        Ok(())
    }
}

/// A fitted ECOD model: per feature, a bounded sketch of the training ECDF with precomputed tail
/// outlyingness, so scoring costs `O(log knots)` per value and the model stays small whatever
/// the number of training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ecod {
    /// Number of training rows `n`.
    n_train: u64,
    /// One entry per feature, in training order.
    features: Vec<FeatureTails>,
}

impl Ecod {
    /// Default parameters, to configure and then fit.
    pub fn params() -> EcodParams {
        EcodParams::default()
    }

    /// Number of training rows the model summarises.
    pub fn n_train(&self) -> u64 {
        self.n_train
    }

    fn ln_n1(&self) -> f64 {
        (self.n_train as f64 + 1.0).ln()
    }
}

impl Detector for Ecod {
    fn n_features(&self) -> usize {
        self.features.len()
    }

    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        let ln_n1 = self.ln_n1();
        let mut out = Array1::zeros(x.nrows());
        for (rows, mut scores) in x
            .axis_chunks_iter(Axis(0), BLOCK_ROWS)
            .zip(out.axis_chunks_iter_mut(Axis(0), BLOCK_ROWS))
        {
            for (column, feature) in rows.axis_iter(Axis(1)).zip(&self.features) {
                for (s, &v) in scores.iter_mut().zip(column.iter()) {
                    *s += feature.outlyingness(v, ln_n1);
                }
            }
        }
        out
    }

    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        let ln_n1 = self.ln_n1();
        let mut out = Array1::zeros(self.features.len());
        for ((o, feature), &v) in out.iter_mut().zip(&self.features).zip(row.iter()) {
            *o = feature.outlyingness(v, ln_n1);
        }
        out
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        if !(2..=MAX_TRAIN_ROWS).contains(&self.n_train) {
            return Err(ArtifactError::Invalid(format!(
                "ECOD has {} training rows; expected 2 to {MAX_TRAIN_ROWS}",
                self.n_train
            )));
        }
        if self.features.is_empty() {
            return Err(ArtifactError::Invalid("ECOD has no features".into()));
        }
        let ln_n1 = self.ln_n1();
        self.features
            .iter()
            .enumerate()
            .try_for_each(|(j, f)| f.validate(j, ln_n1))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, s, Array2};
    use rand::Rng;

    use super::*;
    use crate::detectors::test_support::{normal, normal_matrix, rng, spearman};

    fn fit(x: &Array2<f64>) -> Ecod {
        Ecod::params().fit(x.view()).expect("fit")
    }

    /// Exact PyOD-style ECOD of one value against a sorted training column.
    fn exact_outlyingness(sorted: &[f64], skew: Skew, x: f64) -> f64 {
        let n = sorted.len() as f64;
        let le = sorted.partition_point(|&a| a <= x) as f64;
        let ge = n - sorted.partition_point(|&a| a < x) as f64;
        let left = -((le + 1.0) / (n + 1.0)).ln();
        let right = -((ge + 1.0) / (n + 1.0)).ln();
        let skewed = match skew {
            Skew::Left => left,
            Skew::Right => right,
            Skew::Symmetric => left + right,
        };
        left.max(right).max(skewed)
    }

    #[test]
    fn when_value_beyond_training_max_should_score_right_tail_exactly() {
        let m = fit(&array![[1.0], [2.0], [3.0], [4.0]]);
        // Symmetric column: O = U_l + U_r; at 10, U_l = -ln(5/5) = 0, U_r = -ln(1/5).
        let s = m.score(array![[10.0], [0.0], [2.0], [2.5]].view());
        assert!((s[0] - 5f64.ln()).abs() < 1e-12, "{}", s[0]);
        assert!((s[1] - 5f64.ln()).abs() < 1e-12, "{}", s[1]);
        let at_2 = -(3.0f64 / 5.0).ln() - (4.0f64 / 5.0).ln();
        assert!((s[2] - at_2).abs() < 1e-12, "{}", s[2]);
        let at_2_5 = -2.0 * (3.0f64 / 5.0).ln();
        assert!((s[3] - at_2_5).abs() < 1e-12, "{}", s[3]);
    }

    #[test]
    fn when_column_is_skewed_should_use_max_of_tails() {
        // Right-skewed: O = max(U_l, U_r, U_r).
        let m = fit(&array![[1.0], [1.0], [1.0], [2.0], [10.0]]);
        assert_eq!(m.features[0].skew, Skew::Right);
        let s = m.score(array![[1.0], [10.0]].view());
        // At 1: U_l = -ln(4/6), U_r = -ln(6/6) = 0.
        assert!((s[0] - -(4.0f64 / 6.0).ln()).abs() < 1e-12);
        // At 10: U_l = 0, U_r = -ln(2/6).
        assert!((s[1] - -(2.0f64 / 6.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn when_outlier_planted_should_rank_it_first() {
        let mut x = normal_matrix(500, 6, 1);
        // Moderately far out in every feature, far out in feature 4.
        x.row_mut(123).fill(2.5);
        x[[123, 4]] = 8.0;
        let m = fit(&x);
        let s = m.score(x.view());
        let top = s
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert_eq!(top, Some(123));
        let c = m.contributions(x.row(123));
        let top_feature = c
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert_eq!(top_feature, Some(4));
        assert!(c.iter().all(|&v| v >= 0.0));
        assert!((c.sum() - s[123]).abs() < 1e-9);
    }

    #[test]
    fn when_training_is_large_should_stay_close_to_exact_ecdf() {
        let (n, d) = (20_000, 4);
        let mut r = rng(7);
        // Normal, exponential (skewed), integer-valued (ties), uniform.
        let x = Array2::from_shape_fn((n, d), |(_, j)| match j {
            0 => normal(&mut r),
            1 => -(1.0 - r.gen::<f64>()).ln(),
            2 => f64::from(r.gen_range(0..20)),
            _ => r.gen::<f64>(),
        });
        let m = fit(&x);
        assert!(m.features[0].knots.values().len() < 400);
        let queries = Array2::from_shape_fn((3_000, d), |(_, j)| match j {
            0 => 1.3 * normal(&mut r),
            1 => -(1.0 - r.gen::<f64>()).ln() * 1.3,
            2 => f64::from(r.gen_range(-2..22)),
            _ => r.gen::<f64>() * 1.2 - 0.1,
        });
        let mut exact = Array2::zeros(queries.dim());
        for (j, feature) in m.features.iter().enumerate() {
            let mut sorted = x.column(j).to_vec();
            sorted.sort_by(f64::total_cmp);
            for (e, &q) in exact.column_mut(j).iter_mut().zip(queries.column(j)) {
                *e = exact_outlyingness(&sorted, feature.skew, q);
            }
        }
        let approx =
            Array2::from_shape_fn(queries.dim(), |(i, j)| m.contributions(queries.row(i))[j]);
        let max_err = (&approx - &exact)
            .iter()
            .fold(0.0f64, |a, e| a.max(e.abs()));
        let mean_err = (&approx - &exact).mapv(f64::abs).mean().unwrap_or(f64::NAN);
        let s = m.score(queries.view()).to_vec();
        let exact_s = exact.sum_axis(Axis(1)).to_vec();
        let rho = spearman(&s, &exact_s);
        println!("max abs err {max_err:.4}, mean abs err {mean_err:.5}, spearman {rho:.6}");
        assert!(rho > 0.999, "spearman {rho}");
        assert!(max_err < 0.1, "max abs error {max_err}");
        assert!(mean_err < 0.005, "mean abs error {mean_err}");
        // Integer column: every value is a knot, so it is exact.
        let col2 = (&approx.column(2) - &exact.column(2))
            .iter()
            .fold(0.0f64, |a, e| a.max(e.abs()));
        assert!(col2 < 1e-12, "{col2}");
    }

    #[test]
    fn when_training_has_a_million_rows_should_stay_under_one_megabyte() {
        let (n, d) = (1_000_000, 16);
        let mut r = rng(3);
        // Distinct values in every column (the worst case for the sketch): a random walk with
        // positive steps, scaled differently per column. Its columns are already in order,
        // which keeps this test's fit cheap in debug builds; the model size does not depend on
        // the row order.
        let mut walk = 0.0;
        let base: Array1<f64> = (0..n)
            .map(|_| {
                walk += r.gen::<f64>() + 1e-3;
                walk
            })
            .collect();
        let scales = Array1::from_shape_fn(d, |j| 1.0 + j as f64);
        let x = &base.insert_axis(Axis(1)) * &scales;
        let m = fit(&x);
        let bytes = bincode::serde::encode_to_vec(&m, bincode::config::standard()).expect("encode");
        println!("ECOD model for {n} x {d}: {} bytes", bytes.len());
        assert!(bytes.len() <= 1_000_000, "{} bytes", bytes.len());
        assert!(m.validate().is_ok());
        let s = m.score(x.slice(s![..1000, ..]));
        assert!(s.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn when_round_tripped_should_score_identically() {
        let x = normal_matrix(2_000, 5, 11);
        let m = fit(&x);
        let bytes = bincode::serde::encode_to_vec(&m, bincode::config::standard()).expect("encode");
        let (back, _): (Ecod, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).expect("decode");
        assert_eq!(back, m);
        assert!(back.validate().is_ok());
        assert_eq!(back.score(x.view()), m.score(x.view()));
    }

    #[test]
    fn when_model_tampered_should_fail_validation() {
        let m = fit(&normal_matrix(100, 3, 5));
        assert!(m.validate().is_ok());
        let tampers: Vec<fn(&mut Ecod)> = vec![
            |m| m.n_train = 1,
            |m| m.features.clear(),
            |m| {
                m.features[1].knots.values_mut().pop();
            },
            |m| {
                m.features[0].knots.values_mut().clear();
                m.features[0].tails.clear();
            },
            |m| m.features[2].knots.values_mut()[3] = f64::NAN,
            |m| m.features[2].knots.values_mut().swap(3, 4),
            |m| m.features[0].tails[5].left_at = f64::INFINITY,
            |m| m.features[0].tails[5].right_at = -1.0,
            |m| m.features[0].tails[5].left_below = 0.0,
        ];
        for (i, tamper) in tampers.iter().enumerate() {
            let mut bad = m.clone();
            tamper(&mut bad);
            assert!(
                matches!(bad.validate(), Err(ArtifactError::Invalid(_))),
                "tamper {i} accepted"
            );
        }
    }

    #[test]
    fn when_input_is_extreme_should_score_finite() {
        let m = fit(&array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]);
        let x = array![
            [f64::MAX, f64::MIN],
            [f64::MIN, f64::MAX],
            [1e300, 5.0],
            [f64::MIN_POSITIVE, 5.0 + 1e-9]
        ];
        assert!(m.score(x.view()).iter().all(|v| v.is_finite()));
        assert!(m
            .contributions(x.row(0))
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0));
        let wide = fit(&array![[f64::MIN], [0.0], [f64::MAX]]);
        let s = wide.score(array![[1e308], [-1e308], [f64::MAX], [0.5]].view());
        assert!(s.iter().all(|v| v.is_finite()), "{s}");
        // NaN is outside the contract but must not panic.
        let _ = m.score(array![[f64::NAN, f64::NAN]].view());
        // Wrong widths must not panic either.
        let _ = m.score(array![[1.0]].view());
        let _ = m.contributions(array![1.0, 2.0, 3.0].view());
    }

    #[test]
    fn when_params_or_data_invalid_should_refuse_to_fit() {
        let x = normal_matrix(10, 2, 1);
        assert!(matches!(
            Ecod::params().n_quantiles(3).fit(x.view()),
            Err(DetectionError::InvalidParam { .. })
        ));
        assert!(matches!(
            Ecod::params().fit(x.slice(s![..1, ..])),
            Err(DetectionError::Fit { .. })
        ));
        assert!(matches!(
            Ecod::params().fit(array![[1.0], [f64::INFINITY]].view()),
            Err(DetectionError::Fit { .. })
        ));
        let p: EcodParams = serde_json::from_str("{}").expect("defaults");
        assert_eq!(p, EcodParams::default());
        assert!(serde_json::from_str::<EcodParams>(r#"{"bins": 3}"#).is_err());
    }
}
