//! Helpers shared by the detectors: bounded scaling (so no scaled value can overflow a distance
//! or a matrix product), seeded row sampling, finite-score guards and the fitting precondition.
//! Helpers that serve a single detector live in that detector's folder.

use ndarray::{Array2, ArrayView2};

use crate::error::ArtifactError;
use crate::preprocess::StandardScaler;

/// Largest magnitude of a scaled value. Honest training data never comes near it (a z-score is
/// at most the square root of the row count); it only stops extreme inputs (around 1e300) from
/// overflowing squared distances and matrix products to infinity or NaN.
pub(crate) const SCALED_LIMIT: f64 = 1e12;

/// Clamps one scaled value into `[-SCALED_LIMIT, SCALED_LIMIT]` (NaN, impossible for finite
/// input, becomes 0).
pub(crate) fn bound(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-SCALED_LIMIT, SCALED_LIMIT)
    }
}

/// Scales `x` into a new standard-layout (row-major, contiguous rows) matrix of bounded values.
pub(crate) fn scale_bounded(scaler: &StandardScaler, x: ArrayView2<'_, f64>) -> Array2<f64> {
    let z = scaler.transform(x);
    let mut z = if z.is_standard_layout() {
        z
    } else {
        z.as_standard_layout().into_owned()
    };
    z.mapv_inplace(bound);
    z
}

/// [`crate::sampling::sample_rows`] as an owned, row-major matrix.
pub(crate) fn sample_rows(x: ArrayView2<'_, f64>, max_rows: usize, seed: u64) -> Array2<f64> {
    crate::sampling::sample_rows(x, max_rows, seed)
        .as_standard_layout()
        .into_owned()
}

/// A finite version of a score: NaN and +inf become `f64::MAX`, -inf becomes `f64::MIN`.
pub(crate) fn finite_score(v: f64) -> f64 {
    if v.is_nan() {
        f64::MAX
    } else {
        v.clamp(f64::MIN, f64::MAX)
    }
}

/// A finite, non-negative contribution (non-finite values become `f64::MAX`).
pub(crate) fn finite_contribution(v: f64) -> f64 {
    if v.is_finite() {
        v.max(0.0)
    } else {
        f64::MAX
    }
}

/// Fails with [`ArtifactError::Invalid`] unless every value is finite and within
/// [`SCALED_LIMIT`] in magnitude.
pub(crate) fn check_bounded<'a>(
    what: &str,
    values: impl IntoIterator<Item = &'a f64>,
) -> Result<(), ArtifactError> {
    if values
        .into_iter()
        .all(|v| v.is_finite() && v.abs() <= SCALED_LIMIT)
    {
        Ok(())
    } else {
        Err(ArtifactError::Invalid(format!(
            "{what} has non-finite or out-of-range values"
        )))
    }
}

/// The fitting precondition shared by every detector: at least two rows, at least one
/// feature, and only finite values.
pub(crate) fn check_training_data(
    algorithm: &'static str,
    x: ArrayView2<'_, f64>,
) -> Result<(), crate::error::DetectionError> {
    let reason = if x.nrows() < 2 {
        Some(format!("needs at least 2 rows, got {}", x.nrows()))
    } else if x.ncols() == 0 {
        Some("needs at least 1 feature, got 0".to_string())
    } else if x.iter().any(|v| !v.is_finite()) {
        Some("training data contains NaN or infinite values".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(crate::error::DetectionError::Fit { algorithm, reason }),
        None => Ok(()),
    }
}
