//! The fitted Ecod and how it is fitted.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::cost::{feature_bytes, score_cost};
use super::knot_search::KnotSearch;
use super::params::EcodParams;
use super::quantile_sketch::{knot_ranks, ColumnSketch};
use super::radix_sort::sort_f64;
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::error::{ArtifactError, DetectionError};
use crate::model::MAX_FEATURES;

/// Name used in fit errors.
pub(super) const ALGORITHM: &str = "ECOD";
/// Rows per block when fitting and scoring: a block stays in cache while it is read column by
/// column, and one feature's knots stay hot across it.
pub(super) const BLOCK_ROWS: usize = 256;
/// Largest training set whose counts are exactly representable in an `f64`.
pub(super) const MAX_TRAIN_ROWS: u64 = 1 << 53;
/// Columns copied out of the row-major input per pass when fitting (one cache line of a row).
pub(super) const COLUMN_GROUP: usize = 8;

crate::detectors::params::params_of!(EcodParams => Ecod);

impl Checked<EcodParams> {
    /// Fits the per-feature sketches on `x` (rows = samples; at least 2 rows and 1 column, all
    /// values finite). Costs one radix sort per column.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Ecod, DetectionError> {
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
pub(super) fn copy_columns(group: ArrayView2<'_, f64>, columns: &mut [Vec<f64>]) {
    columns.iter_mut().for_each(Vec::clear);
    for rows in group.axis_chunks_iter(Axis(0), BLOCK_ROWS) {
        for (c, column) in columns.iter_mut().zip(rows.axis_iter(Axis(1))) {
            c.extend(column.iter().copied());
        }
    }
}

pub(super) fn fit_error(reason: String) -> DetectionError {
    DetectionError::Fit {
        algorithm: ALGORITHM,
        reason,
    }
}

/// Which tail ECOD's skewness correction uses for a feature (the sign of its skewness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Skew {
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
    pub(super) fn of(values: &[f64]) -> Self {
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
pub(super) struct KnotTails {
    /// `U_l` at the knot: `-ln((#train <= v + 1) / (n + 1))`.
    pub(super) left_at: f64,
    /// `U_l` just below the knot: `-ln((#train < v + 1) / (n + 1))`.
    pub(super) left_below: f64,
    /// `U_r` at the knot: `-ln((#train >= v + 1) / (n + 1))`.
    pub(super) right_at: f64,
    /// `U_r` just above the knot: `-ln((#train > v + 1) / (n + 1))`.
    pub(super) right_above: f64,
}

/// One feature's knots and skewness: everything needed to score its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct FeatureTails {
    /// Knot values, strictly increasing; the first is the training minimum, the last the maximum.
    pub(super) knots: KnotSearch,
    /// Tail outlyingness around each knot, parallel to `values`.
    pub(super) tails: Vec<KnotTails>,
    /// Skewness sign of the training column.
    pub(super) skew: Skew,
}

impl FeatureTails {
    pub(super) fn from_sketch(sketch: &ColumnSketch, n: usize, ln_n1: f64, skew: Skew) -> Self {
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
    pub(super) fn tails(&self, x: f64, ln_n1: f64) -> (f64, f64) {
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
    pub(super) fn outlyingness(&self, x: f64, ln_n1: f64) -> f64 {
        let (left, right) = self.tails(x, ln_n1);
        let skewed = match self.skew {
            Skew::Left => left,
            Skew::Right => right,
            Skew::Symmetric => left + right,
        };
        left.max(right).max(skewed)
    }

    pub(super) fn validate(&self, j: usize, ln_n1: f64) -> Result<(), ArtifactError> {
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
            .any(|w| matches!(w, [a, b] if b.left_below > a.left_at || b.right_at < a.right_above))
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
    pub(super) n_train: u64,
    /// One entry per feature, in training order.
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_FEATURES>")]
    pub(super) features: Vec<FeatureTails>,
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

    pub(super) fn ln_n1(&self) -> f64 {
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

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .features
                .iter()
                .map(|f| feature_bytes(f.tails.len() as f64) as usize)
                .sum::<usize>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.features.len())
    }
}
