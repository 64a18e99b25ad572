//! The fitted PcaReconstruction and how it is fitted.

use std::panic::{catch_unwind, AssertUnwindSafe};

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_reduction::Pca;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::cost::score_cost;
use super::params::PcaReconstructionParams;
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::detectors::shared::{
    bound, check_training_data, finite_contribution, finite_score, scale_bounded,
};
use crate::error::{ArtifactError, DetectionError};
use crate::preprocess::{check_len, StandardScaler};

pub(super) const ALGORITHM: &str = "pca";

/// Largest deviation of `components · componentsᵀ` from the identity a valid model may have.
pub(super) const ORTHONORMAL_TOLERANCE: f64 = 1e-6;

crate::detectors::params::params_of!(PcaReconstructionParams => PcaReconstruction);

impl Checked<PcaReconstructionParams> {
    /// Fits the detector on training rows (at least 2, finite).
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<PcaReconstruction, DetectionError> {
        if let Some(n) = self.n_components {
            if n >= x.ncols() {
                return Err(DetectionError::param(
                    "n_components",
                    format!("must be less than the number of features ({})", x.ncols()),
                ));
            }
        }
        check_training_data(ALGORITHM, x)?;

        let scaler = StandardScaler::fit(x);
        let z = scale_bounded(&scaler, x);
        let components = self.principal_components(z);
        Ok(PcaReconstruction { scaler, components })
    }

    /// The kept components (rows, orthonormal) of scaled training data; none when the data has
    /// no variance, a single feature, or PCA fails (the score is then the squared norm).
    pub(super) fn principal_components(&self, z: Array2<f64>) -> Array2<f64> {
        let (n, d) = z.dim();
        let none = Array2::zeros((0, d));
        // Keeping every direction would reconstruct every row perfectly.
        let max_keep = d - 1;
        let total_variance: f64 = z
            .axis_iter(Axis(1))
            .map(|col| {
                let m = col.sum() / n as f64;
                col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
            })
            .sum();
        if max_keep == 0 || total_variance.is_nan() || total_variance <= 1e-12 {
            return none;
        }
        let dataset = DatasetBase::from(z);
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            Pca::params(n.min(d)).fit(&dataset).ok()
        }));
        let Ok(Some(pca)) = fitted else {
            return none;
        };
        let eigenvalues = pca.singular_values().mapv(|s| s * s / n as f64);
        let keep = match self.n_components {
            Some(k) => k,
            None => {
                let target = self.variance * total_variance * (1.0 - 1e-12);
                let mut explained = 0.0;
                eigenvalues
                    .iter()
                    .position(|ev| {
                        explained += ev;
                        explained >= target
                    })
                    .map_or(eigenvalues.len(), |i| i + 1)
            }
        };
        let keep = keep.min(max_keep).min(pca.components().nrows());
        orthonormalize(pca.components().rows().into_iter().take(keep), d)
    }
}

/// Modified Gram-Schmidt over candidate directions: returns orthonormal rows, dropping
/// directions that are (numerically) dependent on earlier ones or not finite.
pub(super) fn orthonormalize<'a>(
    rows: impl Iterator<Item = ArrayView1<'a, f64>>,
    d: usize,
) -> Array2<f64> {
    let mut basis: Vec<Array1<f64>> = Vec::new();
    for row in rows {
        let mut v = row.to_owned();
        for b in &basis {
            let p = v.dot(b);
            v.scaled_add(-p, b);
        }
        let norm = v.dot(&v).sqrt();
        if norm.is_finite() && norm > 1e-6 {
            v /= norm;
            basis.push(v);
        }
    }
    let mut out = Array2::zeros((basis.len(), d));
    for (mut dst, src) in out.rows_mut().into_iter().zip(&basis) {
        dst.assign(src);
    }
    out
}

/// Fitted PCA reconstruction detector: standard scaler plus the kept principal directions,
/// stored as plain arrays so the artifact format is ours and scoring is two matrix products.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaReconstruction {
    pub(super) scaler: StandardScaler,
    /// Kept principal directions in scaled space, one orthonormal row each (k × d, k < d).
    pub(super) components: Array2<f64>,
}

impl PcaReconstruction {
    /// Default hyperparameters, to adjust with the builder methods and then fit.
    pub fn params() -> PcaReconstructionParams {
        PcaReconstructionParams::default()
    }

    /// Number of principal components kept (0 means the score is the squared scaled norm).
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// Residuals (scaled row minus its reconstruction) of every row, in place over `z`.
    pub(super) fn residuals_in_place(&self, z: &mut Array2<f64>) {
        if self.components.nrows() == 0 {
            return;
        }
        let projection = z.dot(&self.components.t());
        general_mat_mul(-1.0, &projection, &self.components, 1.0, z);
    }
}

impl Detector for PcaReconstruction {
    fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    /// Squared reconstruction error in scaled space. A matrix with the wrong number of columns
    /// (a caller bug) scores `f64::MAX` for every row rather than panicking.
    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        if x.ncols() != self.n_features() {
            return Array1::from_elem(x.nrows(), f64::MAX);
        }
        let mut z = scale_bounded(&self.scaler, x);
        self.residuals_in_place(&mut z);
        z.map_axis(Axis(1), |r| finite_score(r.dot(&r)))
    }

    /// Squared residual per feature; they sum to the row's score.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        let d = self.n_features();
        if row.len() != d {
            return Array1::zeros(d);
        }
        let mut z = self
            .scaler
            .transform_row(row)
            .mapv(bound)
            .insert_axis(Axis(0));
        self.residuals_in_place(&mut z);
        z.index_axis(Axis(0), 0)
            .mapv(|r| finite_contribution(r * r))
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        let d = self.n_features();
        if d == 0 {
            return Err(ArtifactError::Invalid("pca model has no features".into()));
        }
        self.scaler.validate(d)?;
        check_len("pca components", self.components.ncols(), d)?;
        let k = self.components.nrows();
        if k >= d && k > 0 {
            return Err(ArtifactError::Invalid(format!(
                "pca model keeps {k} components of {d} features; at most {} allowed",
                d - 1
            )));
        }
        if self.components.iter().any(|v| !v.is_finite()) {
            return Err(ArtifactError::Invalid(
                "pca components have non-finite values".into(),
            ));
        }
        let gram = self.components.dot(&self.components.t());
        let off = gram
            .indexed_iter()
            .map(|((i, j), g)| (g - if i == j { 1.0 } else { 0.0 }).abs())
            .fold(0.0, f64::max);
        if off.is_nan() || off > ORTHONORMAL_TOLERANCE {
            return Err(ArtifactError::Invalid(
                "pca components are not orthonormal".into(),
            ));
        }
        Ok(())
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.scaler.heap_bytes()
            + self.components.len() * std::mem::size_of::<f64>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.n_components(), self.n_features())
    }
}
