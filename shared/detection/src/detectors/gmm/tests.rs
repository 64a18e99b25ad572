//! Tests specific to GaussianMixture (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::detector::Detector;
use crate::detectors::test_support::argmax;
use crate::error::DetectionError;
use ndarray::array;
use ndarray::{Array2, Array3, Axis};
use rand::Rng;
use rand::SeedableRng;
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
fn when_outlier_lies_between_clusters_should_rank_it_first() {
    let x = planted(600, 5);
    let model = GaussianMixture::params().fit(x.view()).unwrap();
    assert_eq!(model.n_components(), 2);
    assert_eq!(argmax(&model.score(x.view())), 42);
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
