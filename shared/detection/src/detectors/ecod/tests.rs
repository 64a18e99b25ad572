//! Tests specific to Ecod (the checks every detector shares are in
//! `detectors::conformance`).

use super::model::*;
use super::params::*;
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};
use ndarray::{array, s, Array2};
use ndarray::{Array1, Axis};
use rand::Rng;

use crate::detectors::test_support::{normal, normal_matrix, rng, spearman};

fn fit(x: &Array2<f64>) -> Ecod {
    Ecod::params().fit(x.view()).expect("fit")
}

/// Exact PyOD-style ECOD of one value against a sorted training column.
fn exact_outlyingness(sorted: &[f64], skew: Skew, x: f64) -> f64 {
    let n = sorted.len() as f64;
    let le = sorted.partition_point(|&a| a <= x) as f64;
    let ge = n - sorted.partition_point(|&a| a < x) as f64;
    let left = -((le + 1.0) / (n + 1.0)).ln();
    let right = -((ge + 1.0) / (n + 1.0)).ln();
    let skewed = match skew {
        Skew::Left => left,
        Skew::Right => right,
        Skew::Symmetric => left + right,
    };
    left.max(right).max(skewed)
}

#[test]
fn when_value_beyond_training_max_should_score_right_tail_exactly() {
    let m = fit(&array![[1.0], [2.0], [3.0], [4.0]]);
    // Symmetric column: O = U_l + U_r; at 10, U_l = -ln(5/5) = 0, U_r = -ln(1/5).
    let s = m.score(array![[10.0], [0.0], [2.0], [2.5]].view());
    assert!((s[0] - 5f64.ln()).abs() < 1e-12, "{}", s[0]);
    assert!((s[1] - 5f64.ln()).abs() < 1e-12, "{}", s[1]);
    let at_2 = -(3.0f64 / 5.0).ln() - (4.0f64 / 5.0).ln();
    assert!((s[2] - at_2).abs() < 1e-12, "{}", s[2]);
    let at_2_5 = -2.0 * (3.0f64 / 5.0).ln();
    assert!((s[3] - at_2_5).abs() < 1e-12, "{}", s[3]);
}

#[test]
fn when_column_is_skewed_should_use_max_of_tails() {
    // Right-skewed: O = max(U_l, U_r, U_r).
    let m = fit(&array![[1.0], [1.0], [1.0], [2.0], [10.0]]);
    assert_eq!(m.features[0].skew, Skew::Right);
    let s = m.score(array![[1.0], [10.0]].view());
    // At 1: U_l = -ln(4/6), U_r = -ln(6/6) = 0.
    assert!((s[0] - -(4.0f64 / 6.0).ln()).abs() < 1e-12);
    // At 10: U_l = 0, U_r = -ln(2/6).
    assert!((s[1] - -(2.0f64 / 6.0).ln()).abs() < 1e-12);
}

#[test]
fn when_explained_should_split_the_score_exactly() {
    let mut x = normal_matrix(500, 6, 1);
    // Moderately far out in every feature, far out in feature 4.
    x.row_mut(123).fill(2.5);
    x[[123, 4]] = 8.0;
    let m = fit(&x);
    let s = m.score(x.view());
    let c = m.contributions(x.row(123));
    assert!((c.sum() - s[123]).abs() < 1e-9);
}

#[test]
fn when_training_is_large_should_stay_close_to_exact_ecdf() {
    let (n, d) = (20_000, 4);
    let mut r = rng(7);
    // Normal, exponential (skewed), integer-valued (ties), uniform.
    let x = Array2::from_shape_fn((n, d), |(_, j)| match j {
        0 => normal(&mut r),
        1 => -(1.0 - r.gen::<f64>()).ln(),
        2 => f64::from(r.gen_range(0..20)),
        _ => r.gen::<f64>(),
    });
    let m = fit(&x);
    assert!(m.features[0].knots.values().len() < 400);
    let queries = Array2::from_shape_fn((3_000, d), |(_, j)| match j {
        0 => 1.3 * normal(&mut r),
        1 => -(1.0 - r.gen::<f64>()).ln() * 1.3,
        2 => f64::from(r.gen_range(-2..22)),
        _ => r.gen::<f64>() * 1.2 - 0.1,
    });
    let mut exact = Array2::zeros(queries.dim());
    for (j, feature) in m.features.iter().enumerate() {
        let mut sorted = x.column(j).to_vec();
        sorted.sort_by(f64::total_cmp);
        for (e, &q) in exact.column_mut(j).iter_mut().zip(queries.column(j)) {
            *e = exact_outlyingness(&sorted, feature.skew, q);
        }
    }
    let approx = Array2::from_shape_fn(queries.dim(), |(i, j)| m.contributions(queries.row(i))[j]);
    let max_err = (&approx - &exact)
        .iter()
        .fold(0.0f64, |a, e| a.max(e.abs()));
    let mean_err = (&approx - &exact).mapv(f64::abs).mean().unwrap_or(f64::NAN);
    let s = m.score(queries.view()).to_vec();
    let exact_s = exact.sum_axis(Axis(1)).to_vec();
    let rho = spearman(&s, &exact_s);
    println!("max abs err {max_err:.4}, mean abs err {mean_err:.5}, spearman {rho:.6}");
    assert!(rho > 0.999, "spearman {rho}");
    assert!(max_err < 0.1, "max abs error {max_err}");
    assert!(mean_err < 0.005, "mean abs error {mean_err}");
    // Integer column: every value is a knot, so it is exact.
    let col2 = (&approx.column(2) - &exact.column(2))
        .iter()
        .fold(0.0f64, |a, e| a.max(e.abs()));
    assert!(col2 < 1e-12, "{col2}");
}

#[test]
fn when_training_has_a_million_rows_should_stay_under_one_megabyte() {
    let (n, d) = (1_000_000, 16);
    let mut r = rng(3);
    // Distinct values in every column (the worst case for the sketch): a random walk with
    // positive steps, scaled differently per column. Its columns are already in order,
    // which keeps this test's fit cheap in debug builds; the model size does not depend on
    // the row order.
    let mut walk = 0.0;
    let base: Array1<f64> = (0..n)
        .map(|_| {
            walk += r.gen::<f64>() + 1e-3;
            walk
        })
        .collect();
    let scales = Array1::from_shape_fn(d, |j| 1.0 + j as f64);
    let x = &base.insert_axis(Axis(1)) * &scales;
    let m = fit(&x);
    let bytes = bincode::serde::encode_to_vec(&m, bincode::config::standard()).expect("encode");
    println!("ECOD model for {n} x {d}: {} bytes", bytes.len());
    assert!(bytes.len() <= 1_000_000, "{} bytes", bytes.len());
    assert!(m.validate().is_ok());
    let s = m.score(x.slice(s![..1000, ..]));
    assert!(s.iter().all(|v| v.is_finite()));
}

#[test]
fn when_model_tampered_should_fail_validation() {
    let m = fit(&normal_matrix(100, 3, 5));
    assert!(m.validate().is_ok());
    let tampers: Vec<fn(&mut Ecod)> = vec![
        |m| m.n_train = 1,
        |m| m.features.clear(),
        |m| {
            m.features[1].knots.values_mut().pop();
        },
        |m| {
            m.features[0].knots.values_mut().clear();
            m.features[0].tails.clear();
        },
        |m| m.features[2].knots.values_mut()[3] = f64::NAN,
        |m| m.features[2].knots.values_mut().swap(3, 4),
        |m| m.features[0].tails[5].left_at = f64::INFINITY,
        |m| m.features[0].tails[5].right_at = -1.0,
        |m| m.features[0].tails[5].left_below = 0.0,
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
fn when_input_is_extreme_should_score_finite() {
    let m = fit(&array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]);
    let x = array![
        [f64::MAX, f64::MIN],
        [f64::MIN, f64::MAX],
        [1e300, 5.0],
        [f64::MIN_POSITIVE, 5.0 + 1e-9]
    ];
    assert!(m.score(x.view()).iter().all(|v| v.is_finite()));
    assert!(m
        .contributions(x.row(0))
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0));
    let wide = fit(&array![[f64::MIN], [0.0], [f64::MAX]]);
    let s = wide.score(array![[1e308], [-1e308], [f64::MAX], [0.5]].view());
    assert!(s.iter().all(|v| v.is_finite()), "{s}");
    // NaN is outside the contract but must not panic.
    let _ = m.score(array![[f64::NAN, f64::NAN]].view());
    // Wrong widths must not panic either.
    let _ = m.score(array![[1.0]].view());
    let _ = m.contributions(array![1.0, 2.0, 3.0].view());
}

#[test]
fn when_params_or_data_invalid_should_refuse_to_fit() {
    let x = normal_matrix(10, 2, 1);
    assert!(matches!(
        Ecod::params().n_quantiles(3).fit(x.view()),
        Err(DetectionError::InvalidParam { .. })
    ));
    assert!(matches!(
        Ecod::params().fit(x.slice(s![..1, ..])),
        Err(DetectionError::Fit { .. })
    ));
    assert!(matches!(
        Ecod::params().fit(array![[1.0], [f64::INFINITY]].view()),
        Err(DetectionError::Fit { .. })
    ));
    let p: EcodParams = serde_json::from_str("{}").expect("defaults");
    assert_eq!(p, EcodParams::default());
    assert!(serde_json::from_str::<EcodParams>(r#"{"bins": 3}"#).is_err());
}
