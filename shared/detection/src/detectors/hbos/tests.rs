//! Tests specific to Hbos (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};
use crate::preprocess::StandardScaler;
use ndarray::{array, s, Array2};

use crate::detectors::test_support::normal_matrix;

fn fit(x: &Array2<f64>) -> Hbos {
    Hbos::params().fit(x.view()).expect("fit")
}

#[test]
fn when_histogram_is_known_should_match_numpy_densities() {
    // 4 bins over [0, 4] (width 1): counts [2, 1, 0, 3] (4.0 falls in the last bin).
    let x = array![[0.0], [0.5], [1.0], [3.0], [3.5], [4.0]];
    let m = Hbos::params()
        .n_bins(4)
        .standardize(false)
        .fit(x.view())
        .expect("fit");
    let h = &m.features[0];
    assert_eq!(h.edges, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    let expected: Vec<f64> = [2.0, 1.0, 0.0, 3.0]
        .iter()
        .map(|c: &f64| (c / 6.0 + 0.1).log2())
        .collect();
    assert_eq!(h.out_scores, expected);
    // Standardized, the same counts are densities per standard deviation of the column.
    let std = StandardScaler::fit(x.view()).scales()[0];
    let standardized = Hbos::params().n_bins(4).fit(x.view()).expect("fit");
    let per_std: Vec<f64> = [2.0, 1.0, 0.0, 3.0]
        .iter()
        .map(|c: &f64| (c / 6.0 * std + 0.1).log2())
        .collect();
    for (got, want) in standardized.features[0].out_scores.iter().zip(&per_std) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    let s = m.score(array![[0.2], [1.0], [2.5], [4.0], [4.4], [4.6], [-0.5], [-0.6]].view());
    let want = [
        -expected[0],
        -expected[1],
        -expected[2],
        -expected[3],
        -expected[3], // 0.4 widths beyond: last bin
        -expected[2], // 0.6 widths beyond: minimum
        -expected[0], // 0.5 widths below: first bin
        -expected[2],
    ];
    for (got, want) in s.iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    let c = m.contributions(array![2.5].view());
    assert!((c[0] - (expected[3] - expected[2])).abs() < 1e-12);
}

#[test]
fn when_column_is_constant_should_use_unit_range() {
    let m = fit(&array![[3.0, 1.0], [3.0, 2.0], [3.0, 3.0]]);
    let h = &m.features[0];
    assert_eq!(h.edges.first(), Some(&2.5));
    assert_eq!(h.edges.last(), Some(&3.5));
    // All 3 values in bin 5 ([3.0, 3.1)), width 0.1: density 3 / 3 / 0.1 = 10.
    assert!((h.out_scores[5] - (10.0f64 + 0.1).log2()).abs() < 1e-9);
    let s = m.score(array![[3.0, 2.0], [1e300, 2.0], [-1e300, -1e300]].view());
    assert!(s.iter().all(|v| v.is_finite()));
    assert!(s[1] > s[0]);
}

#[test]
fn when_range_is_degenerate_should_still_fit_finitely() {
    let tiny = 1.0 + f64::EPSILON;
    for col in [
        vec![1.0, tiny, 1.0],
        vec![1e20, 1e20, 1e20],
        vec![0.0, 5e-324, 0.0],
    ] {
        let x = Array2::from_shape_vec((3, 1), col).expect("shape");
        let m = fit(&x);
        assert!(m.validate().is_ok());
        assert!(m.score(x.view()).iter().all(|v| v.is_finite()));
    }
    let huge = array![[f64::MAX], [f64::MIN], [0.0]];
    let m = fit(&huge);
    assert!(m.validate().is_ok());
    let s = m.score(array![[f64::MAX], [1e300], [-1e300], [f64::MIN]].view());
    assert!(s.iter().all(|v| v.is_finite()), "{s}");
}

#[test]
fn when_value_sits_on_an_edge_should_match_digitize() {
    let edges: Vec<f64> = (0..=10).map(|k| f64::from(k) * 0.1).collect();
    let bins = Bins::new(&edges);
    for (k, &e) in edges.iter().enumerate().take(10) {
        assert_eq!(bins.bin(e), Some(k));
    }
    assert_eq!(bins.bin(1.0), None);
    assert_eq!(bins.bin(-0.0), Some(0));
    assert_eq!(bins.bin(f64::NAN), None);
    assert_eq!(bins.bin(0.999_999), Some(9));
    assert_eq!(bins.bin(0.3 - 1e-17), Some(2));
}

#[test]
fn when_model_tampered_should_fail_validation() {
    let m = fit(&normal_matrix(100, 3, 5));
    assert!(m.validate().is_ok());
    let tampers: Vec<fn(&mut Hbos)> = vec![
        |m| m.params.n_bins = 1,
        |m| m.params.tol = f64::NAN,
        |m| m.params.n_bins = 11,
        |m| m.features.clear(),
        |m| {
            m.features[1].edges.pop();
        },
        |m| m.features[0].edges[3] = m.features[0].edges[2],
        |m| m.features[0].edges[10] = f64::INFINITY,
        |m| m.features[2].out_scores[4] = f64::NAN,
        |m| m.features[2].min_score = -1e9,
        |m| m.features[2].max_score += 1.0,
    ];
    for (i, tamper) in tampers.iter().enumerate() {
        let mut bad = m.clone();
        tamper(&mut bad);
        assert!(
            matches!(bad.validate(), Err(ArtifactError::Invalid(_))),
            "tamper {i} accepted"
        );
    }
}

#[test]
fn when_params_or_data_invalid_should_refuse_to_fit() {
    let x = normal_matrix(10, 2, 1);
    for p in [
        Hbos::params().n_bins(1),
        Hbos::params().n_bins(10_001),
        Hbos::params().alpha(0.0),
        Hbos::params().tol(-1.0),
    ] {
        assert!(matches!(
            p.fit(x.view()),
            Err(DetectionError::InvalidParam { .. })
        ));
    }
    assert!(matches!(
        Hbos::params().fit(x.slice(s![..1, ..])),
        Err(DetectionError::Fit { .. })
    ));
    assert!(matches!(
        Hbos::params().fit(array![[1.0], [f64::NAN]].view()),
        Err(DetectionError::Fit { .. })
    ));
    let p: HbosParams = serde_json::from_str(r#"{"n_bins": 20}"#).expect("partial");
    assert_eq!(p, Hbos::params().n_bins(20));
    assert!(serde_json::from_str::<HbosParams>(r#"{"bins": 3}"#).is_err());
}

#[test]
fn when_input_is_extreme_should_score_finite() {
    let m = fit(&normal_matrix(50, 2, 9));
    let x = array![[f64::MAX, f64::MIN], [f64::MIN, f64::MAX], [0.0, 0.0]];
    assert!(m.score(x.view()).iter().all(|v| v.is_finite()));
    let wide = fit(&array![[-1e308], [0.0], [1e308]]);
    let s = wide.score(array![[f64::MAX], [f64::MIN], [1e308], [0.5]].view());
    assert!(s.iter().all(|v| v.is_finite()), "{s}");
    let _ = m.score(array![[f64::NAN, f64::NAN]].view());
    let _ = m.score(array![[1.0]].view());
    let _ = m.contributions(array![1.0, 2.0, 3.0].view());
}
