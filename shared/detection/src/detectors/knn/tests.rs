//! Tests specific to KnnDistance (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::detector::Detector;
use crate::detectors::shared::scale_bounded;
use crate::detectors::test_support::argmax;
use crate::error::DetectionError;
use ndarray::array;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| {
        let u: f64 = rng.gen();
        let v: f64 = rng.gen();
        (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    })
}

fn planted(n: usize, d: usize) -> Array2<f64> {
    let mut x = blob(n, d, 7);
    x[[42, 3]] = 8.0;
    x
}

#[test]
fn when_outlier_planted_should_rank_it_first_in_both_searches_and_calibration() {
    for d in [4, 20] {
        let x = planted(500, d);
        let model = KnnDistance::params().fit(x.view()).unwrap();
        assert_eq!(argmax(&model.score(x.view())), 42);
        assert_eq!(argmax(&model.calibration_scores(x.view())), 42);
    }
}

#[test]
fn when_searching_should_agree_between_tree_and_brute_force() {
    let x = blob(300, 5, 3);
    let model = KnnDistance::params()
        .max_samples(120)
        .fit(x.view())
        .unwrap();
    let z = scale_bounded(&model.scaler, x.view());
    for leave_self_out in [false, true] {
        let tree = model.kth_distances_with(&z, leave_self_out, Search::Tree);
        let brute = model.kth_distances_with(&z, leave_self_out, Search::Brute);
        assert!(tree.iter().zip(&brute).all(|(a, b)| (a - b).abs() < 1e-9));
    }
}

#[test]
fn when_calibrating_should_leave_own_copy_out() {
    let x = blob(50, 3, 5);
    let model = KnnDistance::params().k(1).fit(x.view()).unwrap();
    assert!(model.score(x.view()).iter().all(|&v| v == 0.0));
    assert!(model.calibration_scores(x.view()).iter().all(|&v| v > 0.0));
}

#[test]
fn when_k_exceeds_sample_should_clamp() {
    let x = blob(4, 2, 1);
    let model = KnnDistance::params().k(10).fit(x.view()).unwrap();
    assert_eq!(model.k(), 3);
    assert!(model.validate().is_ok());
    assert!(model
        .calibration_scores(x.view())
        .iter()
        .all(|v| v.is_finite()));
}

#[test]
fn when_columns_constant_should_score_finite() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut x = Array2::zeros((300, 64));
    for mut row in x.rows_mut() {
        for (j, v) in row.iter_mut().enumerate() {
            if j % 4 != 0 {
                *v = f64::from(rng.gen_range(0..17u8));
            }
        }
    }
    let model = KnnDistance::params().fit(x.view()).unwrap();
    let mut test = x.select(Axis(0), &[0; 3]);
    test[[1, 0]] = 16.0;
    test[[2, 4]] = 1e300;
    let scores = model.score(test.view());
    assert!(scores.iter().all(|v| v.is_finite()), "{scores}");
    assert!(scores[1] > scores[0] && scores[2] > scores[1]);
    assert_eq!(argmax(&model.contributions(test.row(1))), 0);
    assert!(model
        .contributions(test.row(2))
        .iter()
        .all(|v| v.is_finite()));
}

#[test]
fn when_fitted_with_same_seed_should_be_deterministic() {
    let x = blob(500, 3, 2);
    let p = KnnDistance::params().max_samples(100).seed(9);
    let a = p.fit(x.view()).unwrap();
    assert_eq!(a, p.fit(x.view()).unwrap());
    assert_eq!(a.sample_size(), 100);
    assert_ne!(a, p.clone().seed(10).fit(x.view()).unwrap());
}

#[test]
fn when_params_out_of_range_should_reject() {
    let x = blob(20, 2, 1);
    for p in [
        KnnDistance::params().k(0),
        KnnDistance::params().max_samples(1),
    ] {
        assert!(matches!(
            p.fit(x.view()),
            Err(DetectionError::InvalidParam { .. })
        ));
    }
    assert!(matches!(
        KnnDistance::params().fit(array![[1.0, 2.0]].view()),
        Err(DetectionError::Fit { .. })
    ));
    assert!(serde_json::from_str::<KnnDistanceParams>(r#"{"kk":3}"#).is_err());
    let p: KnnDistanceParams = serde_json::from_str(r#"{"k":3}"#).unwrap();
    assert_eq!(p, KnnDistance::params().k(3));
}

#[test]
fn when_tampered_should_fail_validation() {
    let x = planted(100, 4);
    let model = KnnDistance::params().fit(x.view()).unwrap();
    let mut bad = model.clone();
    bad.k = bad.sample.nrows();
    assert!(bad.validate().is_err());
    let mut bad = model.clone();
    bad.k = 0;
    assert!(bad.validate().is_err());
    let mut bad = model.clone();
    bad.sample[[0, 0]] = f64::INFINITY;
    assert!(bad.validate().is_err());
    let mut bad = model.clone();
    bad.sample = Array2::zeros((10, 3));
    assert!(bad.validate().is_err());
}

#[test]
fn when_input_extreme_or_oddly_laid_out_should_not_panic() {
    let x = blob(200, 3, 9);
    let model = KnnDistance::params().fit(x.view()).unwrap();
    let extreme = array![[f64::MAX, f64::MIN, 0.0], [1e308, -1e-308, 5.0]];
    assert!(model.score(extreme.view()).iter().all(|v| v.is_finite()));
    let many = Array2::from_shape_fn(
        (100, 3),
        |(i, j)| if j == 0 { 1e300 * i as f64 } else { 0.0 },
    );
    assert!(model.score(many.view()).iter().all(|v| v.is_finite()));
    let transposed = x.t().to_owned();
    assert_eq!(model.score(transposed.t()), model.score(x.view()));
    assert_eq!(model.score(Array2::zeros((0, 3)).view()).len(), 0);
    assert!(model
        .score(Array2::zeros((2, 4)).view())
        .iter()
        .all(|&v| v == f64::MAX));
    let dupes = Array2::from_elem((100, 3), 1.0);
    let model = KnnDistance::params().fit(dupes.view()).unwrap();
    assert!(model
        .calibration_scores(dupes.view())
        .iter()
        .all(|&v| v == 0.0));
}
