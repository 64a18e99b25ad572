//! The fitted GaussianMixture and how it is fitted.

use std::panic::{catch_unwind, AssertUnwindSafe};

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{GaussianMixtureModel, GmmCovarType};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, Axis, Zip};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::cost::score_cost;
use super::params::GaussianMixtureParams;
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::detectors::shared::{
    check_training_data, finite_contribution, finite_score, sample_rows, scale_bounded,
};
use crate::error::{ArtifactError, DetectionError};
use crate::preprocess::{RobustDeviation, StandardScaler};

pub(super) const ALGORITHM: &str = "gmm";

/// Factors by which `reg_covar` is raised when a fit fails, before fewer components are tried.
pub(super) const REG_COVAR_LADDER: [f64; 3] = [1.0, 10.0, 100.0];

/// Smallest weight a fitted component keeps: lighter ones are outliers that EM gave a component
/// of their own, which would make them look normal.
pub(super) const MIN_COMPONENT_WEIGHT: f64 = 0.02;

/// Largest distance of the mixture weights' sum from 1 a valid model may have.
pub(super) const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;

crate::detectors::params::params_of!(GaussianMixtureParams => GaussianMixture, seeded by seed);

impl Checked<GaussianMixtureParams> {
    /// Fits the detector on training rows (at least 2, finite). When EM fails (singular
    /// covariance, empty component, no convergence), retries with a larger `reg_covar`, then
    /// with half the components ([`fallbacks`]), before giving up. Each retry may run half as
    /// many EM iterations as the one before ([`iterations`]), so all of them together run at
    /// most twice `max_iter`: the bound the cost estimate relies on.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<GaussianMixture, DetectionError> {
        check_training_data(ALGORITHM, x)?;
        let scaler = StandardScaler::fit(x);
        let deviation = RobustDeviation::fit(x);
        let z = scale_bounded(&scaler, sample_rows(x, self.max_samples, self.seed).view());
        let mut attempts = 0;
        let mut last_failure = String::new();
        for n_components in fallbacks(self.n_components.min(z.nrows())) {
            for factor in REG_COVAR_LADDER {
                let reg_covar = self.reg_covar * factor;
                let fitted = if n_components == 1 {
                    single_gaussian(&z, reg_covar)
                } else {
                    let max_iter = iterations(self.max_iter, attempts);
                    self.fit_mixture(&z, n_components, reg_covar, max_iter)
                };
                match fitted {
                    Ok(mixture) => {
                        return Ok(GaussianMixture {
                            scaler,
                            deviation,
                            mixture,
                        })
                    }
                    Err(why) => {
                        attempts += 1;
                        last_failure =
                            format!("{n_components} component(s), reg_covar {reg_covar:e}: {why}");
                    }
                }
            }
        }
        Err(DetectionError::Fit {
            algorithm: ALGORITHM,
            reason: format!(
                "no Gaussian mixture fits the data after {attempts} attempts with larger \
                 reg_covar and fewer components; last: {last_failure}"
            ),
        })
    }

    /// One EM fit of at most `max_iter` iterations through linfa-clustering, converted to our
    /// plain parameters.
    pub(super) fn fit_mixture(
        &self,
        z: &Array2<f64>,
        n_components: usize,
        reg_covar: f64,
        max_iter: u64,
    ) -> Result<Mixture, String> {
        let dataset = DatasetBase::from(z.view());
        let rng = Xoshiro256Plus::seed_from_u64(self.seed);
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            GaussianMixtureModel::params_with_rng(n_components, rng)
                .covariance_type(GmmCovarType::Full)
                .reg_covariance(reg_covar)
                .max_n_iterations(max_iter)
                .tolerance(self.tolerance)
                .n_runs(1)
                .fit(&dataset)
                .map_err(|e| e.to_string())
        }))
        .map_err(|_| "linfa-clustering panicked".to_string())??;
        // Components that hold a few rows are outliers the mixture learned as "normal": drop them.
        let keep: Vec<usize> = (0..fitted.weights().len())
            .filter(|&c| fitted.weights()[c] >= MIN_COMPONENT_WEIGHT)
            .collect();
        if keep.is_empty() {
            return Err("every component holds less than 2% of the rows".into());
        }
        let weights = fitted.weights().select(Axis(0), &keep);
        Mixture::from_parts(
            &weights / weights.sum(),
            fitted.means().select(Axis(0), &keep),
            fitted.covariances().select(Axis(0), &keep).view(),
        )
    }
}

/// EM iterations allowed after `failed` failed attempts: `max_iter`, then half as many each
/// time (at least 1), so every attempt together runs at most `2 x max_iter` (plus one per
/// attempt once the halving reaches 1).
pub(super) fn iterations(max_iter: u64, failed: u32) -> u64 {
    max_iter.checked_shr(failed).unwrap_or(0).max(1)
}

/// The component counts tried, most first: `components`, then half as many (rounded up) down
/// to 1. Halving bounds the work of every retry together by twice the first count's.
pub(super) fn fallbacks(components: usize) -> impl Iterator<Item = usize> {
    std::iter::successors(Some(components.max(1)), |&k| (k > 1).then(|| k.div_ceil(2)))
}

/// The one-component mixture in closed form (sample mean and regularised covariance): EM
/// would converge to the same, but linfa's EM can underflow to NaN on far-out rows.
pub(super) fn single_gaussian(z: &Array2<f64>, reg_covar: f64) -> Result<Mixture, String> {
    let (n, d) = z.dim();
    let mean = z.sum_axis(Axis(0)) / n as f64;
    let centered = z - &mean;
    let mut covariance = centered.t().dot(&centered) / n as f64;
    covariance.diag_mut().mapv_inplace(|v| v + reg_covar);
    Mixture::from_parts(
        Array1::ones(1),
        mean.insert_axis(Axis(0)),
        covariance
            .into_shape_with_order((1, d, d))
            .map_err(|e| e.to_string())?
            .view(),
    )
}

/// Mixture parameters in the form scoring needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Mixture {
    /// Component weights (K, positive, summing to 1).
    pub(super) weights: Array1<f64>,
    /// Component means in scaled space (K × d).
    pub(super) means: Array2<f64>,
    /// Upper-triangular `P_k` with `P_k P_kᵀ` = precision of component k (K × d × d), so the
    /// Mahalanobis term is `|(x - μ_k) P_k|²` and `log det Σ_k^{-1/2}` is `Σ log diag(P_k)`.
    pub(super) precision_chol: Array3<f64>,
}

impl Mixture {
    /// Converts covariances to precision Cholesky factors and checks the result.
    pub(super) fn from_parts(
        weights: Array1<f64>,
        means: Array2<f64>,
        covariances: ArrayView3<'_, f64>,
    ) -> Result<Self, String> {
        let (k, d, _) = covariances.dim();
        let mut precision_chol = Array3::zeros((k, d, d));
        for (cov, mut p) in covariances
            .outer_iter()
            .zip(precision_chol.outer_iter_mut())
        {
            let l = cholesky_lower(cov).ok_or("a covariance is not positive definite")?;
            p.assign(&inverse_lower(&l).t());
        }
        let mixture = Self {
            weights,
            means,
            precision_chol,
        };
        mixture.validate(d).map_err(|e| e.to_string())?;
        Ok(mixture)
    }

    /// Log-likelihood of every scaled row, by log-sum-exp over components.
    pub(super) fn log_likelihood(&self, z: ArrayView2<'_, f64>) -> Array1<f64> {
        let (n, d) = z.dim();
        let half_log_2pi = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
        let mut log_prob = Array2::zeros((n, self.weights.len()));
        for (((w, mean), p), mut col) in self
            .weights
            .iter()
            .zip(self.means.rows())
            .zip(self.precision_chol.outer_iter())
            .zip(log_prob.columns_mut())
        {
            let log_det: f64 = p.diag().iter().map(|v| v.ln()).sum();
            let constant = w.ln() + log_det - half_log_2pi;
            let mut y = z.dot(&p);
            y -= &mean.dot(&p);
            Zip::from(&mut col)
                .and(y.rows())
                .for_each(|c, r| *c = constant - 0.5 * r.dot(&r));
        }
        log_prob.map_axis(Axis(1), |row| {
            let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !top.is_finite() {
                return top;
            }
            top + row.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
        })
    }

    pub(super) fn validate(&self, d: usize) -> Result<(), ArtifactError> {
        let k = self.weights.len();
        if k == 0 {
            return Err(ArtifactError::Invalid("gmm has no components".into()));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w > 0.0))
            || (self.weights.sum() - 1.0).abs() > WEIGHT_SUM_TOLERANCE
        {
            return Err(ArtifactError::Invalid(
                "gmm weights must be positive and sum to 1".into(),
            ));
        }
        if self.means.dim() != (k, d) || self.precision_chol.dim() != (k, d, d) {
            return Err(ArtifactError::Invalid(format!(
                "gmm parameter shapes do not match {k} components of {d} features"
            )));
        }
        if self.means.iter().any(|v| !v.is_finite()) {
            return Err(ArtifactError::Invalid("gmm means are not finite".into()));
        }
        for p in self.precision_chol.outer_iter() {
            let triangular = p
                .indexed_iter()
                .all(|((i, j), v)| v.is_finite() && (i <= j || *v == 0.0));
            let positive = p.diag().iter().all(|v| *v > 0.0 && v.ln().is_finite());
            if !(triangular && positive) {
                return Err(ArtifactError::Invalid(
                    "gmm precision factors must be finite, upper triangular, positive diagonal"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Lower-triangular Cholesky factor of a symmetric matrix; `None` unless positive definite.
#[allow(clippy::indexing_slicing)] // square `d x d` matrices indexed below `d`; a rewrite would slow the factorization.
pub(super) fn cholesky_lower(a: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let d = a.nrows();
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let diag = a[[j, j]] - (0..j).map(|p| l[[j, p]] * l[[j, p]]).sum::<f64>();
        if !(diag.is_finite() && diag > 0.0) {
            return None;
        }
        let ljj = diag.sqrt();
        l[[j, j]] = ljj;
        for i in j + 1..d {
            let dot: f64 = (0..j).map(|p| l[[i, p]] * l[[j, p]]).sum();
            l[[i, j]] = (a[[i, j]] - dot) / ljj;
        }
    }
    Some(l)
}

/// Inverse of an invertible lower-triangular matrix (lower-triangular), by forward substitution.
#[allow(clippy::indexing_slicing)] // square `d x d` matrices indexed below `d`; a rewrite would slow the inversion.
pub(super) fn inverse_lower(l: &Array2<f64>) -> Array2<f64> {
    let d = l.nrows();
    let mut m = Array2::<f64>::zeros((d, d));
    for c in 0..d {
        m[[c, c]] = 1.0 / l[[c, c]];
        for i in c + 1..d {
            let s: f64 = (c..i).map(|p| l[[i, p]] * m[[p, c]]).sum();
            m[[i, c]] = -s / l[[i, i]];
        }
    }
    m
}

/// Fitted Gaussian mixture detector: scaler, robust deviation for explanations, and the
/// mixture's weights, means and precision Cholesky factors as plain arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianMixture {
    pub(super) scaler: StandardScaler,
    pub(super) deviation: RobustDeviation,
    pub(super) mixture: Mixture,
}

impl GaussianMixture {
    /// Default hyperparameters, to adjust with the builder methods and then fit.
    pub fn params() -> GaussianMixtureParams {
        GaussianMixtureParams::default()
    }

    /// Number of components actually fitted (may be fewer than requested).
    pub fn n_components(&self) -> usize {
        self.mixture.weights.len()
    }
}

impl Detector for GaussianMixture {
    fn n_features(&self) -> usize {
        self.scaler.n_features()
    }

    /// Negative log-likelihood in scaled space. A matrix with the wrong number of columns (a
    /// caller bug) scores `f64::MAX` for every row.
    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        if x.ncols() != self.n_features() {
            return Array1::from_elem(x.nrows(), f64::MAX);
        }
        let z = scale_bounded(&self.scaler, x);
        self.mixture
            .log_likelihood(z.view())
            .mapv_into(|ll| finite_score(-ll))
    }

    /// Robust per-feature deviation from the training medians.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        if row.len() != self.n_features() {
            return Array1::zeros(self.n_features());
        }
        self.deviation
            .deviations(row)
            .mapv_into(finite_contribution)
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        let d = self.n_features();
        if d == 0 {
            return Err(ArtifactError::Invalid("gmm model has no features".into()));
        }
        self.scaler.validate(d)?;
        self.deviation.validate(d)?;
        self.mixture.validate(d)
    }

    fn heap_bytes(&self) -> usize {
        let m = &self.mixture;
        std::mem::size_of::<Self>()
            + self.scaler.heap_bytes()
            + self.deviation.heap_bytes()
            + (m.weights.len() + m.means.len() + m.precision_chol.len())
                * std::mem::size_of::<f64>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.n_components(), self.n_features())
    }
}
