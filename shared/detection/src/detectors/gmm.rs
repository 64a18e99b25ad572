//! Gaussian mixture density: a row is as anomalous as it is unlikely under a mixture of
//! full-covariance Gaussians fitted (by linfa-clustering's EM) to standard-scaled training rows.

use std::panic::{catch_unwind, AssertUnwindSafe};

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{GaussianMixtureModel, GmmCovarType};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, Axis, Zip};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{check_training_data, finite_contribution, finite_score, sample_rows, scale_bounded};
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};
use crate::preprocess::{RobustDeviation, StandardScaler};

const ALGORITHM: &str = "gmm";

/// Factors by which `reg_covar` is raised when a fit fails, before fewer components are tried.
const REG_COVAR_LADDER: [f64; 3] = [1.0, 10.0, 100.0];

/// Smallest weight a fitted component keeps: lighter ones are outliers that EM gave a component
/// of their own, which would make them look normal.
const MIN_COMPONENT_WEIGHT: f64 = 0.02;

/// Largest distance of the mixture weights' sum from 1 a valid model may have.
const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;

/// Hyperparameters of [`GaussianMixture`], as accepted from API callers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianMixtureParams {
    /// Number of Gaussian components (at least 1); fewer are used if the data cannot support
    /// them.
    pub n_components: usize,
    /// Most training rows EM runs on (at least 2); bounds fitting time.
    pub max_samples: usize,
    /// Added to every covariance diagonal (in scaled units, greater than 0): keeps covariances
    /// invertible when features are collinear or constant.
    pub reg_covar: f64,
    /// Most EM iterations per fit (at least 1).
    pub max_iter: u64,
    /// EM stops when the mean log-likelihood improves by less than this (greater than 0).
    pub tolerance: f64,
    /// Seed of the row sample and of the k-means initialisation.
    pub seed: u64,
}

impl Default for GaussianMixtureParams {
    fn default() -> Self {
        Self {
            n_components: 2,
            max_samples: 10_000,
            reg_covar: 0.1,
            max_iter: 200,
            tolerance: 1e-3,
            seed: 0,
        }
    }
}

impl GaussianMixtureParams {
    /// Sets the number of Gaussian components.
    pub fn n_components(mut self, n_components: usize) -> Self {
        self.n_components = n_components;
        self
    }

    /// Sets the most training rows EM runs on.
    pub fn max_samples(mut self, max_samples: usize) -> Self {
        self.max_samples = max_samples;
        self
    }

    /// Sets the covariance regularisation.
    pub fn reg_covar(mut self, reg_covar: f64) -> Self {
        self.reg_covar = reg_covar;
        self
    }

    /// Sets the most EM iterations.
    pub fn max_iter(mut self, max_iter: u64) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets the EM convergence tolerance.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fits the detector on training rows (at least 2, finite). When EM fails (singular
    /// covariance, empty component, no convergence), retries with a larger `reg_covar`, then
    /// with fewer components, before giving up.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<GaussianMixture, DetectionError> {
        self.check()?;
        check_training_data(ALGORITHM, x)?;
        let scaler = StandardScaler::fit(x);
        let deviation = RobustDeviation::fit(x);
        let z = scale_bounded(&scaler, sample_rows(x, self.max_samples, self.seed).view());
        let mut attempts = 0;
        let mut last_failure = String::new();
        for n_components in (1..=self.n_components.min(z.nrows())).rev() {
            for factor in REG_COVAR_LADDER {
                let reg_covar = self.reg_covar * factor;
                let fitted = if n_components == 1 {
                    single_gaussian(&z, reg_covar)
                } else {
                    self.fit_mixture(&z, n_components, reg_covar)
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

    fn check(&self) -> Result<(), DetectionError> {
        if self.n_components == 0 {
            return Err(DetectionError::param("n_components", "must be at least 1"));
        }
        if self.max_samples < 2 {
            return Err(DetectionError::param("max_samples", "must be at least 2"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar > 0.0) {
            return Err(DetectionError::param("reg_covar", "must be greater than 0"));
        }
        if self.max_iter == 0 {
            return Err(DetectionError::param("max_iter", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(DetectionError::param("tolerance", "must be greater than 0"));
        }
        Ok(())
    }

    /// One EM fit through linfa-clustering, converted to our plain parameters.
    fn fit_mixture(
        &self,
        z: &Array2<f64>,
        n_components: usize,
        reg_covar: f64,
    ) -> Result<Mixture, String> {
        let dataset = DatasetBase::from(z.view());
        let rng = Xoshiro256Plus::seed_from_u64(self.seed);
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            GaussianMixtureModel::params_with_rng(n_components, rng)
                .covariance_type(GmmCovarType::Full)
                .reg_covariance(reg_covar)
                .max_n_iterations(self.max_iter)
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

/// The one-component mixture in closed form (sample mean and regularised covariance): EM
/// would converge to the same, but linfa's EM can underflow to NaN on far-out rows.
fn single_gaussian(z: &Array2<f64>, reg_covar: f64) -> Result<Mixture, String> {
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
struct Mixture {
    /// Component weights (K, positive, summing to 1).
    weights: Array1<f64>,
    /// Component means in scaled space (K × d).
    means: Array2<f64>,
    /// Upper-triangular `P_k` with `P_k P_kᵀ` = precision of component k (K × d × d), so the
    /// Mahalanobis term is `|(x - μ_k) P_k|²` and `log det Σ_k^{-1/2}` is `Σ log diag(P_k)`.
    precision_chol: Array3<f64>,
}

impl Mixture {
    /// Converts covariances to precision Cholesky factors and checks the result.
    fn from_parts(
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
    fn log_likelihood(&self, z: ArrayView2<'_, f64>) -> Array1<f64> {
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

    fn validate(&self, d: usize) -> Result<(), ArtifactError> {
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
fn cholesky_lower(a: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
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
fn inverse_lower(l: &Array2<f64>) -> Array2<f64> {
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
    scaler: StandardScaler,
    deviation: RobustDeviation,
    mixture: Mixture,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::test_support::{argmax, assert_round_trip};
    use ndarray::array;
    use rand::Rng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |(i, _)| {
            let u: f64 = rng.gen();
            let v: f64 = rng.gen();
            let g = (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            // Two clusters, so a mixture has something to find.
            g + if i % 2 == 0 { 0.0 } else { 6.0 }
        })
    }

    fn planted(n: usize, d: usize) -> Array2<f64> {
        let mut x = blob(n, d, 7);
        // Halfway between the two clusters: near the overall mean, but unlikely under both.
        x.row_mut(42).fill(3.0);
        x
    }

    #[test]
    fn when_outlier_planted_should_rank_it_first() {
        let x = planted(600, 5);
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        assert_eq!(model.n_components(), 2);
        assert_eq!(argmax(&model.score(x.view())), 42);
    }

    #[test]
    fn when_outlier_planted_should_blame_planted_feature() {
        let mut x = blob(600, 5, 3);
        x[[42, 2]] = 20.0;
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        assert_eq!(argmax(&model.score(x.view())), 42);
        assert_eq!(argmax(&model.contributions(x.row(42))), 2);
    }

    #[test]
    fn when_log_likelihood_computed_should_match_closed_form() {
        // One standard normal component in 2 features: -log N(x) = log(2π) + |x|²/2.
        let mixture = Mixture {
            weights: array![1.0],
            means: Array2::zeros((1, 2)),
            precision_chol: Array3::from_shape_fn((1, 2, 2), |(_, i, j)| f64::from(i == j)),
        };
        let z = array![[0.0, 0.0], [1.0, 2.0]];
        let ll = mixture.log_likelihood(z.view());
        let two_pi_ln = (2.0 * std::f64::consts::PI).ln();
        assert!((ll[0] + two_pi_ln).abs() < 1e-12);
        assert!((ll[1] + two_pi_ln + 2.5).abs() < 1e-12);
    }

    #[test]
    fn when_cholesky_inverted_should_give_precision() {
        let cov = array![[4.0, 2.0, 0.4], [2.0, 3.0, 0.5], [0.4, 0.5, 1.0]];
        let l = cholesky_lower(cov.view()).unwrap();
        let p = inverse_lower(&l).reversed_axes();
        let identity = cov.dot(&p.dot(&p.t()));
        assert!(identity
            .indexed_iter()
            .all(|((i, j), v)| (v - f64::from(i == j)).abs() < 1e-12));
        assert!(cholesky_lower(array![[1.0, 2.0], [2.0, 1.0]].view()).is_none());
    }

    #[test]
    fn when_columns_constant_should_score_finite() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut x = Array2::zeros((300, 32));
        for mut row in x.rows_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                if j % 4 != 0 {
                    *v = f64::from(rng.gen_range(0..17u8));
                }
            }
        }
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        let mut test = x.select(Axis(0), &[0; 3]);
        test[[1, 0]] = 16.0;
        test[[2, 4]] = 1e300;
        let scores = model.score(test.view());
        assert!(scores.iter().all(|v| v.is_finite()), "{scores}");
        assert!(scores[1] > scores[0] && scores[2] > scores[1]);
        assert_eq!(argmax(&model.contributions(test.row(1))), 0);
    }

    #[test]
    fn when_features_outnumber_rows_should_still_fit() {
        let x = blob(40, 60, 4);
        let model = GaussianMixture::params()
            .n_components(3)
            .fit(x.view())
            .unwrap();
        assert!(model.validate().is_ok());
        assert!(model.score(x.view()).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn when_fitted_with_same_seed_should_be_deterministic() {
        let x = blob(400, 3, 2);
        let p = GaussianMixture::params().max_samples(200).seed(5);
        assert_eq!(p.fit(x.view()).unwrap(), p.fit(x.view()).unwrap());
    }

    #[test]
    fn when_params_out_of_range_should_reject() {
        let x = blob(20, 2, 1);
        for p in [
            GaussianMixture::params().n_components(0),
            GaussianMixture::params().max_samples(1),
            GaussianMixture::params().reg_covar(0.0),
            GaussianMixture::params().reg_covar(f64::INFINITY),
            GaussianMixture::params().max_iter(0),
            GaussianMixture::params().tolerance(-1.0),
        ] {
            assert!(matches!(
                p.fit(x.view()),
                Err(DetectionError::InvalidParam { .. })
            ));
        }
        assert!(matches!(
            GaussianMixture::params().fit(array![[1.0, 2.0]].view()),
            Err(DetectionError::Fit { .. })
        ));
        assert!(serde_json::from_str::<GaussianMixtureParams>(r#"{"k":3}"#).is_err());
    }

    #[test]
    fn when_round_tripped_should_score_equally() {
        let x = planted(300, 4);
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        assert_round_trip(&model, x.view());
    }

    #[test]
    fn when_tampered_should_fail_validation() {
        let x = planted(200, 4);
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        let mut bad = model.clone();
        bad.mixture.weights[0] = -0.1;
        assert!(bad.validate().is_err());
        let mut bad = model.clone();
        bad.mixture.precision_chol[[0, 1, 1]] = 0.0;
        assert!(bad.validate().is_err());
        let mut bad = model.clone();
        bad.mixture.precision_chol[[0, 2, 1]] = 1.0;
        assert!(bad.validate().is_err());
        let mut bad = model.clone();
        bad.mixture.means = Array2::zeros((2, 3));
        assert!(bad.validate().is_err());
        let mut bad = model;
        bad.mixture.means[[0, 0]] = f64::NAN;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn when_input_extreme_or_oddly_laid_out_should_not_panic() {
        let x = blob(200, 3, 9);
        let model = GaussianMixture::params().fit(x.view()).unwrap();
        let extreme = array![[f64::MAX, f64::MIN, 0.0], [1e308, -1e-308, 5.0]];
        assert!(model.score(extreme.view()).iter().all(|v| v.is_finite()));
        let transposed = x.t().to_owned();
        assert_eq!(model.score(transposed.t()), model.score(x.view()));
        assert_eq!(model.score(Array2::zeros((0, 3)).view()).len(), 0);
        assert!(model
            .score(Array2::zeros((2, 4)).view())
            .iter()
            .all(|&v| v == f64::MAX));
        let dupes = Array2::from_elem((50, 3), 1.0);
        let model = GaussianMixture::params().fit(dupes.view()).unwrap();
        assert!(model.score(dupes.view()).iter().all(|v| v.is_finite()));
    }
}
