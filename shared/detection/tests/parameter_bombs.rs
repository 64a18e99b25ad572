//! Parameter bombs: parameters at (or beyond) their maxima on large tables are refused by
//! `ModelSpec::check_fit` before any work, naming a parameter to lower and how far, while the
//! defaults on 100,000 rows x 50 columns pass; and scoring too many rows is refused by
//! `Model::check_score`.
#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

use detection::algorithm::{Algorithm, AlgorithmParams};
use detection::model::{Model, ModelSpec};
use detection::{DetectionError, Table, WorkBudget};
use ndarray::Array2;
use serde_json::{json, Value};

/// The budget of one request in these tests.
const BUDGET: WorkBudget = WorkBudget {
    seconds: 20.0,
    memory_bytes: 768 << 20,
};

fn spec(algorithm: Algorithm, params: Value) -> ModelSpec {
    ModelSpec::new(AlgorithmParams::from_json(algorithm, Some(&params)).unwrap())
}

/// The over-budget refusal of `params` on `rows x columns`: (parameter, limit, message).
fn refusal(
    algorithm: Algorithm,
    params: Value,
    rows: usize,
    columns: usize,
) -> (String, usize, String) {
    match spec(algorithm, params.clone()).check_fit(rows, columns, &BUDGET) {
        Err(DetectionError::OverBudget {
            parameter,
            limit,
            message,
        }) => {
            assert_eq!(
                DetectionError::OverBudget {
                    parameter: parameter.clone(),
                    limit: limit.clone(),
                    message: message.clone()
                }
                .to_string(),
                message
            );
            (parameter, limit.parse().unwrap(), message)
        }
        other => panic!("{algorithm} {params} on {rows}x{columns}: {other:?}"),
    }
}

/// Checks that the named size, set to the limit, fits the budget (the limit is a real answer).
fn assert_limit_fits(
    algorithm: Algorithm,
    mut params: Value,
    rows: usize,
    columns: usize,
    parameter: &str,
    limit: usize,
) {
    let (rows, columns) = match parameter {
        "rows" => (limit, columns),
        "columns" => (rows, limit),
        name => {
            params[name] = json!(limit);
            (rows, columns)
        }
    };
    let fits = spec(algorithm, params).check_fit(rows, columns, &BUDGET);
    assert!(fits.is_ok(), "{algorithm}: {parameter} = {limit}: {fits:?}");
}

#[test]
fn when_defaults_train_on_100000_rows_of_50_columns_should_fit_the_budget() {
    for algorithm in Algorithm::ALL {
        let spec = ModelSpec::new(AlgorithmParams::default_for(algorithm));
        let estimate = spec.check_fit(100_000, 50, &BUDGET);
        assert!(estimate.is_ok(), "{algorithm}: {estimate:?}");
    }
}

#[test]
fn when_isolation_forest_has_10000_trees_of_4096_samples_should_refuse_the_model_size() {
    let params = json!({"n_estimators": 10_000, "max_samples": 4096});
    let (parameter, limit, message) =
        refusal(Algorithm::IsolationForest, params.clone(), 100_000, 50);
    assert_eq!(parameter, "n_estimators");
    // The model alone would allow about 2,700 trees; the calibration's scoring time fewer.
    assert!((1_000..3_000).contains(&limit), "{limit}");
    assert!(message.contains("a model of 4"), "{message}");
    assert!(
        message.contains("lower n_estimators to at most"),
        "{message}"
    );
    assert_limit_fits(
        Algorithm::IsolationForest,
        params,
        100_000,
        50,
        &parameter,
        limit,
    );
}

#[test]
fn when_ecod_has_the_finest_grid_on_a_million_wide_rows_should_refuse() {
    let params = json!({"n_quantiles": 4096});
    let (parameter, limit, _) = refusal(Algorithm::Ecod, params.clone(), 1_000_000, 1_555);
    assert!(
        ["n_quantiles", "rows", "columns"].contains(&parameter.as_str()),
        "{parameter}"
    );
    assert_limit_fits(Algorithm::Ecod, params, 1_000_000, 1_555, &parameter, limit);
}

#[test]
fn when_hbos_has_1000_bins_on_10000_columns_should_refuse_the_model_size() {
    let params = json!({"n_bins": 1000});
    let (parameter, limit, message) = refusal(Algorithm::Hbos, params.clone(), 10_000, 10_000);
    assert_eq!(parameter, "n_bins");
    assert!(message.contains("or send at most"), "{message}");
    assert_limit_fits(Algorithm::Hbos, params, 10_000, 10_000, &parameter, limit);
}

#[test]
fn when_pca_keeps_every_component_of_2000_columns_should_refuse() {
    let params = json!({"variance": 1.0});
    let (parameter, limit, _) = refusal(Algorithm::Pca, params.clone(), 5_000, 2_000);
    assert!(
        ["rows", "columns"].contains(&parameter.as_str()),
        "{parameter}"
    );
    assert_limit_fits(Algorithm::Pca, params, 5_000, 2_000, &parameter, limit);
}

#[test]
fn when_knn_keeps_50000_samples_should_refuse_naming_max_samples() {
    let params = json!({"k": 1000, "max_samples": 50_000});
    let (parameter, limit, message) = refusal(Algorithm::Knn, params.clone(), 100_000, 50);
    assert_eq!(parameter, "max_samples", "{message}");
    assert!(limit < 50_000);
    assert_limit_fits(Algorithm::Knn, params, 100_000, 50, &parameter, limit);
}

#[test]
fn when_gmm_has_64_components_on_100000_samples_should_refuse_naming_n_components() {
    let params = json!({"n_components": 64, "max_samples": 100_000});
    let (parameter, limit, message) = refusal(Algorithm::Gmm, params.clone(), 100_000, 1);
    assert_eq!(parameter, "n_components", "{message}");
    assert!(message.starts_with("training gmm on 100000 rows x 1 columns is estimated to need"));
    assert!(
        message.contains("lower n_components to at most"),
        "{message}"
    );
    assert_limit_fits(Algorithm::Gmm, params, 100_000, 1, &parameter, limit);
}

#[test]
fn when_gmm_asks_for_50000_components_should_refuse_the_parameter_itself() {
    let params = json!({"n_components": 50_000, "max_samples": 50_000});
    let err = spec(Algorithm::Gmm, params)
        .check_fit(50_000, 1, &BUDGET)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parameter 'n_components': must be between 1 and 64"
    );
}

#[test]
fn when_an_ensemble_member_is_a_bomb_should_name_the_member_parameter() {
    let bomb = json!({"algorithm": "knn", "params": {"k": 1000, "max_samples": 50_000}});
    let params = json!({"members": [{"algorithm": "ecod"}, bomb]});
    let (parameter, limit, message) = refusal(Algorithm::Ensemble, params.clone(), 100_000, 50);
    assert_eq!(parameter, "members[1].max_samples", "{message}");
    let mut fixed = params;
    fixed["members"][1]["params"]["max_samples"] = json!(limit);
    assert!(spec(Algorithm::Ensemble, fixed)
        .check_fit(100_000, 50, &BUDGET)
        .is_ok());
}

#[test]
fn when_every_ensemble_member_is_a_bomb_should_ask_for_fewer_rows() {
    let member = json!({"algorithm": "knn", "params": {"max_samples": 50_000}});
    let params = json!({"members": vec![member; 16], "calibration_rows": 100_000});
    let (parameter, limit, message) = refusal(Algorithm::Ensemble, params.clone(), 100_000, 50);
    assert_eq!(parameter, "rows", "{message}");
    assert_limit_fits(Algorithm::Ensemble, params, 100_000, 50, &parameter, limit);
}

#[test]
fn when_estimates_are_taken_should_grow_with_every_size() {
    let cases = [
        (
            Algorithm::IsolationForest,
            json!({}),
            ["n_estimators", "max_samples"].as_slice(),
        ),
        (Algorithm::Ecod, json!({}), &["n_quantiles"]),
        (Algorithm::Hbos, json!({}), &["n_bins"]),
        (Algorithm::Pca, json!({}), &[]),
        (Algorithm::Knn, json!({}), &["k", "max_samples"]),
        (
            Algorithm::Gmm,
            json!({}),
            &["n_components", "max_samples", "max_iter"],
        ),
        (Algorithm::Ensemble, json!({}), &["calibration_rows"]),
    ];
    for (algorithm, base, sizes) in cases {
        let mut previous = None;
        for scale in [1usize, 2, 4, 8, 16] {
            let mut params = base.clone();
            for size in sizes {
                let default = AlgorithmParams::default_for(algorithm).to_json()[size]
                    .as_u64()
                    .unwrap();
                params[size] = json!(default as usize * scale);
            }
            let estimate = spec(algorithm, params).estimate_fit(10_000 * scale, 10 * scale);
            if let Some((seconds, peak, model)) = previous {
                assert!(
                    estimate.seconds >= seconds,
                    "{algorithm} x{scale}: {estimate:?}"
                );
                assert!(
                    estimate.peak_bytes >= peak,
                    "{algorithm} x{scale}: {estimate:?}"
                );
                assert!(
                    estimate.model_bytes >= model,
                    "{algorithm} x{scale}: {estimate:?}"
                );
            }
            previous = Some((estimate.seconds, estimate.peak_bytes, estimate.model_bytes));
        }
    }
}

#[test]
fn when_scoring_too_many_rows_should_refuse_naming_the_rows_that_fit() {
    let x = Array2::from_shape_fn((3_000, 8), |(i, j)| ((i * 31 + j * 7) % 101) as f64);
    let table = Table::new((0..8).map(|j| format!("f{j}")).collect(), x).unwrap();
    let model = Model::fit(&spec(Algorithm::Knn, json!({"max_samples": 3_000})), &table).unwrap();
    assert!(model.check_score(10_000, true, &BUDGET).is_ok());
    match model.check_score(100_000_000, false, &BUDGET) {
        Err(DetectionError::OverBudget {
            parameter,
            limit,
            message,
        }) => {
            assert_eq!(parameter, "rows");
            let limit: usize = limit.parse().unwrap();
            assert!(model.check_score(limit, false, &BUDGET).is_ok());
            assert!(model.check_score(limit + 1, false, &BUDGET).is_err());
            assert!(
                message.starts_with("scoring 100000000 rows with a knn model is estimated to need"),
                "{message}"
            );
            assert!(
                message.ends_with(&format!("send at most {limit} rows")),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
