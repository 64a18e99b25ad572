//! Tests specific to PcaReconstruction (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::detector::Detector;
use crate::detectors::shared::scale_bounded;
use crate::detectors::test_support::argmax;
use crate::error::DetectionError;
use crate::preprocess::StandardScaler;
use ndarray::array;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Correlated Gaussian blob (feature 1 ≈ feature 0, feature 2 ≈ -feature 0, rest
/// independent), so the principal subspace is informative.
fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = Array2::zeros((n, d));
    for mut row in x.rows_mut() {
        let base: f64 = normal(&mut rng);
        for (j, v) in row.iter_mut().enumerate() {
            let noise = 0.1 * normal(&mut rng);
            *v = match j {
                0 | 1 => base + noise,
                2 => -base + noise,
                _ => normal(&mut rng),
            };
        }
    }
    x
}

fn normal(rng: &mut impl Rng) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm finite.
    let u: f64 = rng.gen();
    let v: f64 = rng.gen();
    (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn planted() -> Array2<f64> {
    let mut x = blob(300, 6, 7);
    // Breaks the correlation of features 0 and 1 without being extreme in either.
    x[[42, 0]] = 1.5;
    x[[42, 1]] = -1.5;
    x
}

#[test]
fn when_outlier_breaks_a_correlation_should_rank_it_first() {
    let x = planted();
    let model = PcaReconstruction::params()
        .variance(0.9)
        .fit(x.view())
        .unwrap();
    assert!(model.n_components() >= 1);
    assert_eq!(argmax(&model.score(x.view())), 42);
}

#[test]
fn when_outlier_breaks_a_correlation_should_blame_the_pair_and_sum_to_the_score() {
    let x = planted();
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    let c = model.contributions(x.row(42));
    let top = argmax(&c);
    assert!(top == 0 || top == 1, "top feature {top}: {c}");
    let total: f64 = c.sum();
    assert!((total - model.score(x.slice(ndarray::s![42..43, ..]))[0]).abs() < 1e-9);
}

#[test]
fn when_columns_constant_should_score_finite() {
    let mut x = blob(200, 8, 3);
    x.column_mut(2).fill(0.0);
    x.column_mut(5).fill(7.0);
    x.column_mut(6).fill(1e-300);
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    let mut test = x.select(Axis(0), &[0; 5]);
    test[[0, 2]] = 16.0;
    test[[1, 5]] = -3.0;
    test[[2, 6]] = 1e300;
    let s = model.score(test.view());
    assert!(s.iter().all(|v| v.is_finite()), "{s}");
    assert!(s[0] > s[3] && s[1] > s[3] && s[2] > s[3]);
    assert!(model
        .contributions(test.row(2))
        .iter()
        .all(|v| v.is_finite()));
}

#[test]
fn when_digits_like_data_should_flag_pixels_constant_in_training() {
    // 64 "pixels", a quarter of them always 0 in training, the rest small integers.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut x = Array2::zeros((400, 64));
    for mut row in x.rows_mut() {
        for (j, v) in row.iter_mut().enumerate() {
            if j % 4 != 0 {
                *v = f64::from(rng.gen_range(0..17u8));
            }
        }
    }
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    let mut test = x.select(Axis(0), &[0; 3]);
    test[[1, 0]] = 16.0;
    test[[2, 8]] = 1.0;
    let s = model.score(test.view());
    assert!(s.iter().all(|v| v.is_finite()), "{s}");
    assert!(s[1] > s[0] && s[2] > s[0]);
    assert_eq!(argmax(&model.contributions(test.row(1))), 0);
}

#[test]
fn when_all_columns_constant_or_single_feature_should_fit_without_components() {
    let x = Array2::from_elem((10, 3), 2.0);
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    assert_eq!(model.n_components(), 0);
    assert!(model.score(x.view()).iter().all(|&v| v == 0.0));
    let one = array![[1.0], [2.0], [3.0], [10.0]];
    let model = PcaReconstruction::params().fit(one.view()).unwrap();
    assert_eq!(argmax(&model.score(one.view())), 3);
}

#[test]
fn when_fitted_should_keep_the_fewest_components_explaining_the_variance() {
    let x = blob(400, 8, 21);
    let z = scale_bounded(&StandardScaler::fit(x.view()), x.view());
    let total: f64 = z.var_axis(Axis(0), 0.0).sum();
    let explained =
        |m: &PcaReconstruction| z.dot(&m.components.t()).var_axis(Axis(0), 0.0).sum() / total;
    for variance in [0.5, 0.8, 0.95] {
        let m = PcaReconstruction::params()
            .variance(variance)
            .fit(x.view())
            .unwrap();
        assert!(
            explained(&m) >= variance - 1e-9,
            "{variance}: {}",
            explained(&m)
        );
        let fewer = PcaReconstruction::params()
            .n_components(m.n_components() - 1)
            .fit(x.view());
        if let Ok(fewer) = fewer {
            assert!(explained(&fewer) < variance);
        }
    }
}

#[test]
fn when_fitted_twice_should_be_deterministic() {
    let x = planted();
    let a = PcaReconstruction::params().fit(x.view()).unwrap();
    let b = PcaReconstruction::params().fit(x.view()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn when_n_components_given_should_keep_that_many() {
    let x = blob(100, 6, 5);
    let model = PcaReconstruction::params()
        .n_components(2)
        .fit(x.view())
        .unwrap();
    assert_eq!(model.n_components(), 2);
    assert!(model.validate().is_ok());
}

#[test]
fn when_params_out_of_range_should_reject() {
    let x = blob(20, 4, 1);
    for p in [
        PcaReconstruction::params().variance(0.0),
        PcaReconstruction::params().variance(1.5),
        PcaReconstruction::params().variance(f64::NAN),
        PcaReconstruction::params().n_components(0),
        PcaReconstruction::params().n_components(4),
    ] {
        assert!(matches!(
            p.fit(x.view()),
            Err(DetectionError::InvalidParam { .. })
        ));
    }
    let one_row = array![[1.0, 2.0]];
    assert!(matches!(
        PcaReconstruction::params().fit(one_row.view()),
        Err(DetectionError::Fit { .. })
    ));
}

#[test]
fn when_params_json_has_unknown_field_should_reject() {
    let p: PcaReconstructionParams = serde_json::from_str(r#"{"variance":0.8}"#).unwrap();
    assert_eq!(p, PcaReconstruction::params().variance(0.8));
    assert!(serde_json::from_str::<PcaReconstructionParams>(r#"{"k":3}"#).is_err());
}

#[test]
fn when_tampered_should_fail_validation() {
    let x = planted();
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    let mut bad = model.clone();
    bad.components[[0, 0]] += 0.5;
    assert!(bad.validate().is_err());
    let mut bad = model.clone();
    bad.components = Array2::zeros((1, 5));
    assert!(bad.validate().is_err());
    let mut bad = model.clone();
    bad.components[[0, 1]] = f64::NAN;
    assert!(bad.validate().is_err());
    let mut bad = model;
    bad.components = Array2::eye(6);
    assert!(bad.validate().is_err());
}

#[test]
fn when_input_extreme_or_oddly_laid_out_should_not_panic() {
    let x = blob(50, 3, 9);
    let model = PcaReconstruction::params().fit(x.view()).unwrap();
    let extreme = array![[f64::MAX, f64::MIN, 0.0], [1e308, -1e-308, 5.0]];
    assert!(model.score(extreme.view()).iter().all(|v| v.is_finite()));
    let transposed = x.t().to_owned();
    assert_eq!(model.score(transposed.t()), model.score(x.view()));
    assert_eq!(model.score(Array2::zeros((0, 3)).view()).len(), 0);
    assert!(model
        .score(Array2::zeros((2, 4)).view())
        .iter()
        .all(|&v| v == f64::MAX));
    let huge = array![[1e300, 1.0], [-1e300, 2.0], [1e300, 3.0]];
    let model = PcaReconstruction::params().fit(huge.view()).unwrap();
    assert!(model.score(huge.view()).iter().all(|v| v.is_finite()));
}
