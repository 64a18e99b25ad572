//! Tests specific to IsolationForest (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::tree::Node;
use crate::detector::Detector;
use ndarray::{s, Array2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0..1.0))
}

#[test]
fn when_n_is_small_should_match_hand_computed_average_path_lengths() {
    assert_eq!(average_path_length(0), 0.0);
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    // 2 (ln 2 + gamma) - 2 * 2 / 3
    assert!((average_path_length(3) - 1.207_392_357_589_623).abs() < 1e-12);
    // scikit-learn's _average_path_length([256])
    assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-9);
}

#[test]
fn when_n_is_large_should_approximate_exact_harmonic_numbers() {
    for n in [10usize, 100, 1000] {
        let exact: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
        let approx = (n as f64 - 1.0).ln() + EULER_GAMMA;
        assert!((exact - approx).abs() < 1.0 / (n - 1) as f64, "n={n}");
    }
}

#[test]
fn when_outlier_planted_should_score_above_0_6_inside_the_unit_interval() {
    let mut x = blob(500, 4, 1);
    x.row_mut(123)
        .assign(&ndarray::arr1(&[8.0, -7.0, 9.0, 6.0]));
    let forest = IsolationForest::params().seed(3).fit(x.view()).unwrap();
    let scores = forest.score(x.view());
    assert!(scores[123] > 0.6, "outlier score {}", scores[123]);
    assert!(scores.iter().all(|s| s.is_finite() && *s > 0.0 && *s < 1.0));
}

#[test]
fn when_same_seed_should_give_identical_forests_and_different_seed_should_not() {
    let x = blob(300, 3, 2);
    let a = IsolationForest::params().seed(7).fit(x.view()).unwrap();
    let b = IsolationForest::params().seed(7).fit(x.view()).unwrap();
    let c = IsolationForest::params().seed(8).fit(x.view()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn when_fitted_should_have_sklearn_depth_and_tree_count() {
    let x = blob(1000, 2, 3);
    let forest = IsolationForest::params().fit(x.view()).unwrap();
    assert_eq!(forest.n_trees(), 100);
    assert_eq!(forest.depth, 8);
    let small = IsolationForest::params()
        .fit(x.slice(s![..100, ..]))
        .unwrap();
    assert_eq!(small.depth, 7, "ceil(log2(100))");
    assert_eq!(small.max_samples, 100);
}

#[test]
fn when_all_rows_identical_should_score_every_row_the_same_finite_value() {
    let x = Array2::from_elem((50, 3), 4.2);
    let forest = IsolationForest::params().fit(x.view()).unwrap();
    let scores = forest.score(x.view());
    // Every tree is one leaf holding all 50 rows: path length c(50).
    let expected = 2f64.powf(-average_path_length(50) / average_path_length(50));
    assert!(scores.iter().all(|s| (s - expected).abs() < 1e-6));
}

#[test]
fn when_single_row_and_batch_scored_should_agree() {
    let x = blob(700, 5, 4);
    let forest = IsolationForest::params().seed(1).fit(x.view()).unwrap();
    let batch = forest.score(x.view());
    for i in [0, 63, 64, 65, 699] {
        let one = forest.score(x.slice(s![i..i + 1, ..]));
        assert_eq!(one[0], batch[i]);
    }
}

#[test]
fn when_max_features_is_a_fraction_should_split_only_on_a_subset_per_tree() {
    let x = blob(300, 10, 6);
    let forest = IsolationForest::params()
        .max_features(0.3)
        .fit(x.view())
        .unwrap();
    let used: std::collections::HashSet<u32> = (0..forest.slots())
        .map(|i| forest.node(0, i))
        .filter(|n| n.is_split())
        .map(|n| n.feature)
        .collect();
    assert!(used.len() <= 3, "tree 0 used {used:?}");
}

#[test]
fn when_params_out_of_range_should_name_the_parameter() {
    let x = blob(10, 2, 7);
    let err = IsolationForest::params()
        .n_estimators(0)
        .fit(x.view())
        .unwrap_err();
    assert!(err.to_string().contains("n_estimators"));
    let err = IsolationForest::params()
        .max_features(1.5)
        .fit(x.view())
        .unwrap_err();
    assert!(err.to_string().contains("max_features"));
    let err = IsolationForest::params()
        .fit(x.slice(s![..1, ..]))
        .unwrap_err();
    assert!(err.to_string().contains("at least 2 rows"));
}

#[test]
fn when_model_tampered_should_fail_validation() {
    let x = blob(100, 3, 8);
    let forest = IsolationForest::params().fit(x.view()).unwrap();
    assert!(forest.validate().is_ok());
    let mut bad = forest.clone();
    bad.set_node(
        0,
        0,
        Node {
            threshold: 0.5,
            feature: 3,
        },
    );
    assert!(bad.validate().is_err());
    let mut bad = forest.clone();
    bad.leaf_depths.pop();
    assert!(bad.validate().is_err());
    let mut bad = forest;
    bad.depth = 30;
    assert!(bad.validate().is_err());
}
