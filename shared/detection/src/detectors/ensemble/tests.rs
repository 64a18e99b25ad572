//! Tests specific to Ensemble (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::algorithm::Algorithm;
use crate::detector::Detector;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn blob_with_outlier() -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut x = Array2::from_shape_fn((400, 3), |_| rng.gen_range(-1.0..1.0));
    x.row_mut(42).assign(&ndarray::arr1(&[0.0, 9.0, 0.0]));
    x
}

#[test]
fn when_explained_should_give_shares_summing_to_one() {
    let x = blob_with_outlier();
    let model = Ensemble::params().seed(1).fit(x.view()).unwrap();
    let c = model.contributions(x.row(42));
    assert!((c.sum() - 1.0).abs() < 1e-9);
}

#[test]
fn when_members_standardized_should_center_training_scores_near_zero() {
    let x = blob_with_outlier();
    let model = Ensemble::params()
        .members(vec![
            MemberSpec::new(Algorithm::Ecod),
            MemberSpec::new(Algorithm::Hbos),
        ])
        .fit(x.view())
        .unwrap();
    let mean = model.calibration_scores(x.view()).mean().unwrap();
    assert!(mean.abs() < 1e-9, "mean {mean}");
    assert_eq!(model.algorithms(), vec![Algorithm::Ecod, Algorithm::Hbos]);
}

#[test]
fn when_members_invalid_should_say_so() {
    let x = blob_with_outlier();
    let nested = Ensemble::params().members(vec![MemberSpec::new(Algorithm::Ensemble)]);
    assert!(nested
        .fit(x.view())
        .unwrap_err()
        .to_string()
        .contains("cannot contain"));
    let empty = Ensemble::params().members(vec![]);
    assert!(empty
        .fit(x.view())
        .unwrap_err()
        .to_string()
        .contains("members"));
    let bad = Ensemble::params().members(vec![MemberSpec {
        algorithm: Algorithm::IsolationForest,
        params: Some(serde_json::json!({"n_estimators": 0})),
    }]);
    assert!(bad
        .fit(x.view())
        .unwrap_err()
        .to_string()
        .contains("n_estimators"));
}

#[test]
fn when_defaulted_should_hold_valid_members_of_different_kinds() {
    let params = EnsembleParams::default();
    assert_eq!(params.members, default_members());
    for member in &params.members {
        member.params().unwrap().check().unwrap();
    }
    let mut kinds: Vec<Algorithm> = params.members.iter().map(|m| m.algorithm).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), params.members.len());
    let model = Ensemble::params()
        .seed(3)
        .fit(blob_with_outlier().view())
        .unwrap();
    assert_eq!(
        model.algorithms(),
        vec![Algorithm::Hbos, Algorithm::IsolationForest, Algorithm::Knn]
    );
    let scores = model.score(blob_with_outlier().view());
    let top = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(top, 42);
}
