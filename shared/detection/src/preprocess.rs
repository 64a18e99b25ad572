//! Preprocessing fitted with a detector and stored inside it.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::ArtifactError;

/// Standard scaling (zero mean, unit variance) per feature. Constant or near-constant columns get
/// a unit scale, so they never divide by zero: on training data they become all zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Array1<f64>,
    scale: Array1<f64>,
}

impl StandardScaler {
    /// Fits means and standard deviations on `x` (at least one row).
    pub fn fit(x: ArrayView2<'_, f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mut mean = x.sum_axis(Axis(0)) / n;
        if mean.iter().any(|m| !m.is_finite()) {
            // Sums of values near f64::MAX overflow: add the values divided by n instead.
            mean = x.fold_axis(Axis(0), 0.0, |acc, v| acc + v / n);
        }
        let scale = x
            .axis_iter(Axis(1))
            .zip(mean.iter())
            .map(|(col, &m)| {
                let var = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
                guard_scale(var.sqrt(), m)
            })
            .collect();
        Self { mean, scale }
    }

    /// Scales a matrix.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        (&x - &self.mean) / &self.scale
    }

    /// Scales one row.
    pub fn transform_row(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        (&row - &self.mean) / &self.scale
    }

    /// The per-feature scales (standard deviations, 1 for constant columns).
    pub fn scales(&self) -> &Array1<f64> {
        &self.scale
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Bytes of its arrays in memory, for the model's size.
    pub fn heap_bytes(&self) -> usize {
        (self.mean.len() + self.scale.len()) * std::mem::size_of::<f64>()
    }

    /// Checks lengths and that every scale is finite and positive.
    pub fn validate(&self, n_features: usize) -> Result<(), ArtifactError> {
        check_len("scaler", self.mean.len(), n_features)?;
        check_len("scaler", self.scale.len(), n_features)?;
        if self.mean.iter().any(|v| !v.is_finite())
            || self.scale.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(ArtifactError::Invalid(
                "scaler has non-finite or zero scale".into(),
            ));
        }
        Ok(())
    }
}

/// Robust per-feature deviation, `|x - median| / MAD`: the explanation used by detectors that
/// have no per-feature decomposition of their own (k-NN, Gaussian mixture).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustDeviation {
    median: Array1<f64>,
    mad: Array1<f64>,
}

impl RobustDeviation {
    /// Fits medians and median absolute deviations on `x`.
    pub fn fit(x: ArrayView2<'_, f64>) -> Self {
        let (median, mad): (Vec<f64>, Vec<f64>) = x
            .axis_iter(Axis(1))
            .map(|col| {
                let med = median(col.iter().copied().collect());
                let mad = median(col.iter().map(|v| (v - med).abs()).collect());
                let spread = if mad > 0.0 {
                    mad * 1.4826
                } else {
                    let n = col.len().max(1) as f64;
                    (col.iter().map(|v| (v - med).abs()).sum::<f64>() / n).max(0.0)
                };
                (med, guard_scale(spread, med))
            })
            .unzip();
        Self {
            median: median.into(),
            mad: mad.into(),
        }
    }

    /// Bytes of its arrays in memory, for the model's size.
    pub fn heap_bytes(&self) -> usize {
        (self.median.len() + self.mad.len()) * std::mem::size_of::<f64>()
    }

    /// Per-feature deviations of one row.
    pub fn deviations(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        ((&row - &self.median) / &self.mad).mapv(f64::abs)
    }

    /// Checks lengths and that every spread is finite and positive.
    pub fn validate(&self, n_features: usize) -> Result<(), ArtifactError> {
        check_len("deviation", self.median.len(), n_features)?;
        check_len("deviation", self.mad.len(), n_features)?;
        if self.median.iter().any(|v| !v.is_finite())
            || self.mad.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(ArtifactError::Invalid(
                "deviation has non-finite or zero spread".into(),
            ));
        }
        Ok(())
    }
}

/// A scale that is safe to divide by: tiny or non-finite spreads become 1.
fn guard_scale(spread: f64, center: f64) -> f64 {
    if spread.is_finite() && spread > 1e-12 * center.abs().max(1.0) {
        spread
    } else {
        1.0
    }
}

/// Median of a vector of finite values (0 for an empty one).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    let upper = v.get(m).copied().unwrap_or(0.0);
    if v.len() % 2 == 1 {
        upper
    } else {
        (v.get(m - 1).copied().unwrap_or(0.0) + upper) / 2.0
    }
}

/// Fails with [`ArtifactError::Invalid`] unless a decoded part has the expected length.
pub fn check_len(what: &str, found: usize, expected: usize) -> Result<(), ArtifactError> {
    if found == expected {
        Ok(())
    } else {
        Err(ArtifactError::Invalid(format!(
            "{what} has {found} features; expected {expected}"
        )))
    }
}
