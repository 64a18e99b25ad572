//! The fitted Hbos and how it is fitted.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::cost::{histogram_bytes, score_cost};
use super::params::HbosParams;
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::detectors::params::DetectorParams;
use crate::error::{ArtifactError, DetectionError};
use crate::model::MAX_FEATURES;
use crate::preprocess::StandardScaler;

/// Name used in fit errors.
pub(super) const ALGORITHM: &str = "HBOS";
/// Rows per block when fitting and scoring: a block stays in cache while it is read column by
/// column, and one feature's histogram stays hot across it.
pub(super) const BLOCK_ROWS: usize = 256;

crate::detectors::params::params_of!(HbosParams => Hbos);

impl Checked<HbosParams> {
    /// Fits one histogram per feature on `x` (rows = samples; at least 2 rows and 1 column,
    /// all values finite). Costs two passes over the rows.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Hbos, DetectionError> {
        let n = x.nrows();
        if n < 2 {
            return Err(fit_error(format!("needs at least 2 rows, got {n}")));
        }
        if x.ncols() == 0 {
            return Err(fit_error("needs at least 1 feature, got 0".into()));
        }
        // Two passes over blocks of rows (ranges, then counts) rather than two strided passes
        // over the whole input per column: each block stays in cache while its columns are read.
        let d = x.ncols();
        let mut ranges = vec![Range::EMPTY; d];
        for rows in x.axis_chunks_iter(Axis(0), BLOCK_ROWS) {
            for (r, column) in ranges.iter_mut().zip(rows.axis_iter(Axis(1))) {
                column.iter().for_each(|&v| r.include(v));
            }
        }
        let edges = ranges
            .iter()
            .enumerate()
            .map(|(j, r)| {
                r.edges(n, self.n_bins)
                    .map_err(|reason| fit_error(format!("feature {j}: {reason}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = vec![vec![0usize; self.n_bins]; d];
        let bins: Vec<Bins<'_>> = edges.iter().map(|e| Bins::new(e)).collect();
        for rows in x.axis_chunks_iter(Axis(0), BLOCK_ROWS) {
            for ((c, bins), column) in counts.iter_mut().zip(&bins).zip(rows.axis_iter(Axis(1))) {
                for &v in column {
                    // numpy's histogram puts the last edge into the last bin; edges cover the
                    // data.
                    let b = if v == bins.last {
                        self.n_bins - 1
                    } else {
                        bins.bin(v).unwrap_or(0)
                    };
                    if let Some(c) = c.get_mut(b) {
                        *c += 1;
                    }
                }
            }
        }
        let units: Vec<f64> = if self.standardize {
            StandardScaler::fit(x).scales().to_vec()
        } else {
            vec![1.0; d]
        };
        let features = edges
            .into_iter()
            .zip(&counts)
            .zip(units)
            .enumerate()
            .map(|(j, ((e, c), unit))| {
                Histogram::new(e, c, n, unit, self.alpha).ok_or_else(|| {
                    fit_error(format!("feature {j}: alpha too large for finite scores"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Hbos {
            params: (**self).clone(),
            features,
        })
    }
}

/// Running minimum and maximum of a column, and whether every value was finite.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) finite: bool,
}

impl Range {
    pub(super) const EMPTY: Self = Self {
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
        finite: true,
    };

    #[inline]
    pub(super) fn include(&mut self, v: f64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
        self.finite &= v.is_finite();
    }

    /// numpy's `n_bins + 1` edges for this range (`[v - 0.5, v + 0.5]` for a constant column).
    /// Where numpy's edges would collapse (ranges of a few ulps, or huge constants where
    /// `v +- 0.5` rounds back to `v`) or its densities overflow, the range is widened instead,
    /// so every bin has a usable width.
    pub(super) fn edges(&self, n: usize, n_bins: usize) -> Result<Vec<f64>, String> {
        if !self.finite {
            return Err("has a non-finite value".into());
        }
        let (lo, hi) = (self.lo, self.hi);
        let numpy = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        let mid = lo / 2.0 + hi / 2.0;
        let half = 0.5f64.max(mid.abs() * 1e-9);
        [numpy, (mid - half, mid + half)]
            .into_iter()
            .filter(|&(first, last)| first <= lo && hi <= last)
            .find_map(|range| linspace_edges(range, n, n_bins))
            .ok_or_else(|| "range too degenerate to histogram".into())
    }
}

/// `numpy.linspace(first, last, n_bins + 1)`, or `None` unless the edges are finite, strictly
/// increasing, and every bin is wide enough that a density (at most `n / width / n`) is finite.
/// Ranges wider than `f64::MAX` (where numpy's step overflows) are split by interpolation.
pub(super) fn linspace_edges(
    (first, last): (f64, f64),
    n: usize,
    n_bins: usize,
) -> Option<Vec<f64>> {
    let step = (last - first) / n_bins as f64;
    let mut edges: Vec<f64> = if step.is_finite() {
        (0..=n_bins).map(|k| k as f64 * step + first).collect()
    } else {
        (0..=n_bins)
            .map(|k| {
                let t = k as f64 / n_bins as f64;
                first * (1.0 - t) + last * t
            })
            .collect()
    };
    *edges.last_mut()? = last;
    let usable = edges.iter().all(|e| e.is_finite())
        && edges
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b && (n as f64 / (b - a)).is_finite()));
    usable.then_some(edges)
}

pub(super) fn fit_error(reason: String) -> DetectionError {
    DetectionError::Fit {
        algorithm: ALGORITHM,
        reason,
    }
}

/// One feature's histogram: bin edges and the per-bin log-density scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Histogram {
    /// `n_bins + 1` edges, finite and strictly increasing.
    pub(super) edges: Vec<f64>,
    /// `log2(density + alpha)` per bin.
    pub(super) out_scores: Vec<f64>,
    /// Minimum of `out_scores`: the score of values far outside the training range.
    pub(super) min_score: f64,
    /// Maximum of `out_scores`: contributions are measured down from it.
    pub(super) max_score: f64,
}

impl Histogram {
    /// The histogram of `counts` (of `n` values) over `edges`, with densities per `unit` of the
    /// feature; `None` if a score is not finite.
    pub(super) fn new(
        edges: Vec<f64>,
        counts: &[usize],
        n: usize,
        unit: f64,
        alpha: f64,
    ) -> Option<Self> {
        let n = n as f64;
        // numpy's density: count / width / total, the width measured in units.
        let out_scores: Vec<f64> = counts
            .iter()
            .zip(edges.iter().zip(edges.iter().skip(1)))
            .map(|(&c, (lo, hi))| (c as f64 / ((hi - lo) / unit) / n + alpha).log2())
            .collect();
        if out_scores.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let min_score = out_scores.iter().copied().fold(f64::INFINITY, f64::min);
        let max_score = out_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Self {
            edges,
            out_scores,
            min_score,
            max_score,
        })
    }

    /// `out_score` of `x` with PyOD's out-of-range rule; `bins` must be this histogram's.
    #[inline]
    pub(super) fn out_score(&self, bins: &Bins<'_>, x: f64, tol: f64) -> f64 {
        if let Some(b) = bins.bin(x) {
            return self.out_scores.get(b).copied().unwrap_or(self.min_score);
        }
        let (edge_score, dist, width) = if x < bins.first {
            (self.out_scores.first(), bins.first - x, bins.first_width)
        } else if x >= bins.last {
            (self.out_scores.last(), x - bins.last, bins.last_width)
        } else {
            // NaN: outside the contract; any finite score will do.
            return self.min_score;
        };
        match edge_score {
            Some(&s) if dist <= width * tol => s,
            _ => self.min_score,
        }
    }

    pub(super) fn validate(&self, j: usize, n_bins: usize) -> Result<(), ArtifactError> {
        let invalid = |what: &str| Err(ArtifactError::Invalid(format!("HBOS feature {j}: {what}")));
        if self.edges.len() != n_bins + 1 || self.out_scores.len() != n_bins {
            return invalid("edges or scores do not match n_bins");
        }
        if self.edges.iter().any(|e| !e.is_finite())
            || self
                .edges
                .windows(2)
                .any(|w| !matches!(w, [a, b] if a < b && (b - a).is_finite()))
        {
            return invalid("edges are not finite and strictly increasing");
        }
        if self.out_scores.iter().any(|s| !s.is_finite()) {
            return invalid("scores are not finite");
        }
        let min = self
            .out_scores
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self
            .out_scores
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if self.min_score != min || self.max_score != max {
            return invalid("minimum or maximum score is inconsistent");
        }
        Ok(())
    }
}

/// Constants for locating a value's bin in one feature's edges, computed once per feature and
/// block of rows so the per-value work is a subtraction, a multiplication and two comparisons.
pub(super) struct Bins<'a> {
    pub(super) edges: &'a [f64],
    pub(super) first: f64,
    pub(super) last: f64,
    pub(super) first_width: f64,
    pub(super) last_width: f64,
    /// Bins per unit of value (numpy's `norm`), or 0 if that is not finite.
    pub(super) norm: f64,
    pub(super) n_bins: usize,
}

impl<'a> Bins<'a> {
    pub(super) fn new(edges: &'a [f64]) -> Self {
        let n_bins = edges.len().saturating_sub(1);
        let at = |i: usize| edges.get(i).copied().unwrap_or(0.0);
        let (first, last) = (at(0), at(n_bins));
        let norm = n_bins as f64 / (last - first);
        Self {
            edges,
            first,
            last,
            first_width: at(1) - first,
            last_width: last - at(n_bins.saturating_sub(1)),
            norm: if norm.is_finite() { norm } else { 0.0 },
            n_bins,
        }
    }

    /// Bin `b` with `edges[b] <= x < edges[b + 1]` for `first <= x < last` (numpy's
    /// `digitize` minus one), `None` outside. The arithmetic guess is off by at most one bin
    /// from rounding; the edge comparisons fix it.
    #[inline]
    pub(super) fn bin(&self, x: f64) -> Option<usize> {
        if !(self.first <= x && x < self.last) {
            return None;
        }
        let guess = ((x - self.first) * self.norm) as usize;
        let mut b = guess.min(self.n_bins.saturating_sub(1));
        while b > 0 && self.edges.get(b).is_some_and(|&e| x < e) {
            b -= 1;
        }
        while b + 1 < self.n_bins && self.edges.get(b + 1).is_some_and(|&e| x >= e) {
            b += 1;
        }
        Some(b)
    }
}

/// A fitted HBOS model: one small histogram per feature, so the model is `O(features x bins)`
/// and scoring is O(1) per value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hbos {
    /// Parameters the model was fitted with (`tol` is used when scoring).
    pub(super) params: HbosParams,
    /// One histogram per feature, in training order.
    #[serde(deserialize_with = "crate::serde_bounded::at_most::<_, _, MAX_FEATURES>")]
    pub(super) features: Vec<Histogram>,
}

impl Hbos {
    /// Default parameters (PyOD's), to configure and then fit.
    pub fn params() -> HbosParams {
        HbosParams::default()
    }
}

impl Detector for Hbos {
    fn n_features(&self) -> usize {
        self.features.len()
    }

    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        let tol = self.params.tol;
        let mut out = Array1::zeros(x.nrows());
        for (rows, mut scores) in x
            .axis_chunks_iter(Axis(0), BLOCK_ROWS)
            .zip(out.axis_chunks_iter_mut(Axis(0), BLOCK_ROWS))
        {
            for (column, feature) in rows.axis_iter(Axis(1)).zip(&self.features) {
                let bins = Bins::new(&feature.edges);
                for (s, &v) in scores.iter_mut().zip(column.iter()) {
                    *s -= feature.out_score(&bins, v, tol);
                }
            }
        }
        out
    }

    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        let tol = self.params.tol;
        let mut out = Array1::zeros(self.features.len());
        for ((o, feature), &v) in out.iter_mut().zip(&self.features).zip(row.iter()) {
            *o = feature.max_score - feature.out_score(&Bins::new(&feature.edges), v, tol);
        }
        out
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        self.params
            .check_ranges()
            .map_err(|e| ArtifactError::Invalid(format!("HBOS: {e}")))?;
        if self.features.is_empty() {
            return Err(ArtifactError::Invalid("HBOS has no features".into()));
        }
        self.features
            .iter()
            .enumerate()
            .try_for_each(|(j, f)| f.validate(j, self.params.n_bins))
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .features
                .iter()
                .map(|f| histogram_bytes(f.out_scores.len()) as usize)
                .sum::<usize>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.features.len())
    }
}
