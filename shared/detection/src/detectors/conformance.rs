//! The conformance suite: what every algorithm of [`Algorithm::ALL`] must do, checked once for
//! all of them (a new algorithm is covered as soon as it is in the list), plus the checks that
//! `openapi.yaml` and the README list the same algorithms.

use ndarray::{arr1, Array2, Axis};

use rand::Rng;

use super::test_support::{argmax, rng};
use crate::algorithm::{Algorithm, AlgorithmParams, FittedDetector};
use crate::artifact;
use crate::detector::Detector;
use crate::model::{Model, ModelSpec};
use crate::table::Table;

/// Row of [`planted`] that is the outlier.
const OUTLIER_ROW: usize = 42;
/// Feature of [`OUTLIER_ROW`] that is far out.
const OUTLIER_FEATURE: usize = 3;

/// 400 rows of 4 independent uniform features in [-1, 1] (no long tails to compete with the
/// outlier); row [`OUTLIER_ROW`] is far out in [`OUTLIER_FEATURE`] and in the tails (but inside
/// the range) of the others, so detectors that add up per-feature evidence (ECOD, HBOS) rank it
/// first too. PCA's explanation is its reconstruction residual, which on independent features
/// depends on the kept subspace: the seed is one where it points at the planted feature.
fn planted() -> Array2<f64> {
    let mut r = rng(3);
    let mut x = Array2::from_shape_simple_fn((400, 4), || r.gen_range(-1.0..1.0));
    x.row_mut(OUTLIER_ROW).assign(&arr1(&[0.9, -0.9, 0.9, 0.0]));
    x[[OUTLIER_ROW, OUTLIER_FEATURE]] = 20.0;
    x
}

/// Every algorithm fitted with its default parameters on [`planted`].
fn fitted() -> Vec<(Algorithm, FittedDetector, Array2<f64>)> {
    let x = planted();
    Algorithm::ALL
        .into_iter()
        .map(|a| {
            let detector = AlgorithmParams::default_for(a)
                .fit(x.view())
                .unwrap_or_else(|e| panic!("{a}: {e}"));
            (a, detector, x.clone())
        })
        .collect()
}

// (5) Every fitted model can be shared between threads (scoring runs on a shared cache). An enum
// is `Send + Sync` only if every variant is, so this covers each algorithm of the list; the
// `DetectorParams::Fitted` bound checks each fitted type again where it is declared.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FittedDetector>();
    assert_send_sync::<Model>();
};

#[test]
fn when_outlier_planted_should_rank_it_first_for_every_algorithm() {
    for (a, detector, x) in fitted() {
        let scores = detector.score(x.view());
        assert!(scores.iter().all(|s| s.is_finite()), "{a}: {scores}");
        assert_eq!(argmax(&scores), OUTLIER_ROW, "{a}");
    }
}

#[test]
fn when_inputs_are_at_plus_minus_1e300_should_score_finite_for_every_algorithm() {
    let big = 1e300;
    let extreme = ndarray::array![
        [big, big, big, big],
        [-big, -big, -big, -big],
        [big, -big, big, -big],
        [0.0, 0.0, 0.0, big],
        [-big, 0.0, 0.0, 0.0],
    ];
    for (a, detector, _) in fitted() {
        let scores = detector.score(extreme.view());
        assert!(scores.iter().all(|s| s.is_finite()), "{a}: {scores}");
        for row in extreme.axis_iter(Axis(0)) {
            let c = detector.contributions(row);
            assert!(c.iter().all(|v| v.is_finite() && *v >= 0.0), "{a}: {c}");
        }
    }
}

#[test]
fn when_fitted_on_values_near_plus_minus_1e300_and_1e_minus_300_should_score_finite_for_every_algorithm(
) {
    let mut x = planted();
    let extremes = [1e300, -1e300, 1e-300, -1e-300, f64::MAX, f64::MIN_POSITIVE];
    for (i, v) in extremes.iter().enumerate() {
        for j in 0..x.ncols() {
            x[[10 * i + j, j]] = *v;
        }
    }
    // Two of the largest values: their sum overflows.
    x[[70, 0]] = f64::MAX;
    // A column holding only the extremes, and one that is tiny throughout.
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        row[1] = if i % 3 == 0 { 1e300 } else { -1e300 };
        row[2] *= 1e-300;
    }
    let names = (0..x.ncols()).map(|j| format!("f{j}")).collect();
    let table = Table::new(names, x.clone()).unwrap();
    for a in Algorithm::ALL {
        let model = Model::fit(&ModelSpec::new(AlgorithmParams::default_for(a)), &table)
            .unwrap_or_else(|e| panic!("{a}: {e}"));
        let scores = model.score(x.view()).unwrap();
        assert!(scores.iter().all(|s| s.is_finite()), "{a}: {scores}");
        for row in x.rows().into_iter().take(80) {
            let c = model.detector().contributions(row);
            assert!(c.iter().all(|v| v.is_finite() && *v >= 0.0), "{a}: {c}");
        }
        let back = artifact::decode(&artifact::encode(&model).unwrap())
            .unwrap_or_else(|e| panic!("{a}: {e}"));
        assert_eq!(back, model, "{a}");
    }
}

#[test]
fn when_artifact_round_trips_should_score_bit_for_bit_for_every_algorithm() {
    let x = planted();
    let names = (0..x.ncols()).map(|j| format!("f{j}")).collect();
    let table = Table::new(names, x.clone()).unwrap();
    for a in Algorithm::ALL {
        let model = Model::fit(&ModelSpec::new(AlgorithmParams::default_for(a)), &table).unwrap();
        let bytes = artifact::encode(&model).unwrap();
        let back = artifact::decode(&bytes).unwrap();
        assert_eq!(back, model, "{a}");
        let (before, after) = (
            model.score(x.view()).unwrap(),
            back.score(x.view()).unwrap(),
        );
        assert!(
            before
                .iter()
                .zip(&after)
                .all(|(b, a)| b.to_bits() == a.to_bits()),
            "{a}: scores changed"
        );
        let row = x.row(OUTLIER_ROW);
        let (before, after) = (
            model.detector().contributions(row),
            back.detector().contributions(row),
        );
        assert!(
            before
                .iter()
                .zip(&after)
                .all(|(b, a)| b.to_bits() == a.to_bits()),
            "{a}: contributions changed"
        );
    }
}

#[test]
fn when_outlier_planted_should_blame_the_planted_feature_for_every_algorithm() {
    for (a, detector, x) in fitted() {
        let c = detector.contributions(x.row(OUTLIER_ROW));
        assert_eq!(c.len(), x.ncols(), "{a}");
        assert!(c.iter().all(|v| v.is_finite() && *v >= 0.0), "{a}: {c}");
        assert_eq!(argmax(&c), OUTLIER_FEATURE, "{a}: {c}");
        // Also for a row that is ordinary but in that feature.
        let lone = arr1(&[0.0, 0.0, 0.0, 20.0]);
        assert_eq!(
            argmax(&detector.contributions(lone.view())),
            OUTLIER_FEATURE,
            "{a}"
        );
    }
}

/// The algorithm names, in API order.
fn names() -> Vec<&'static str> {
    Algorithm::ALL.iter().map(|a| a.as_str()).collect()
}

/// A file of the repository, relative to this crate.
fn repository_file(path: &str) -> String {
    let full = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn when_openapi_lists_algorithms_should_match_the_algorithm_list() {
    let spec = repository_file("openapi.yaml");
    // The schema is `    Algorithm:` then `type: string` and `enum: [a, b, ...]`.
    let schema = spec
        .split_once("\n    Algorithm:\n")
        .map(|(_, rest)| rest)
        .expect("openapi.yaml has no components.schemas.Algorithm");
    let listed = schema
        .lines()
        .take_while(|l| l.starts_with("      "))
        .find_map(|l| l.trim().strip_prefix("enum:"))
        .expect("the Algorithm schema has no enum");
    let listed: Vec<&str> = listed
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(listed, names(), "openapi.yaml's Algorithm enum");
}

/// The `openapi.yaml` schema of each algorithm's `params`.
fn params_schema(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::IsolationForest => "IsolationForestParams",
        Algorithm::Ecod => "EcodParams",
        Algorithm::Hbos => "HbosParams",
        Algorithm::Pca => "PcaParams",
        Algorithm::Knn => "KnnParams",
        Algorithm::Gmm => "GmmParams",
        Algorithm::Ensemble => "EnsembleParams",
    }
}

/// Every numeric parameter's range, `(algorithm, parameter, minimum, maximum)`, from the
/// constants the range checks use (for `members`, its item counts).
fn parameter_ranges() -> Vec<(Algorithm, &'static str, f64, f64)> {
    use super::params::MAX_SEED;
    use super::{ecod, ensemble, gmm, hbos, isolation_forest as iforest, knn, pca};
    let seed = MAX_SEED as f64;
    vec![
        (
            Algorithm::IsolationForest,
            "n_estimators",
            1.0,
            iforest::MAX_ESTIMATORS as f64,
        ),
        (
            Algorithm::IsolationForest,
            "max_samples",
            2.0,
            iforest::MAX_SAMPLES_LIMIT as f64,
        ),
        (
            Algorithm::IsolationForest,
            "max_features",
            0.0,
            iforest::MAX_FEATURES_FRACTION,
        ),
        (Algorithm::IsolationForest, "seed", 0.0, seed),
        (
            Algorithm::Ecod,
            "n_quantiles",
            ecod::MIN_QUANTILES as f64,
            ecod::MAX_QUANTILES as f64,
        ),
        (Algorithm::Hbos, "n_bins", 2.0, hbos::MAX_BINS as f64),
        (Algorithm::Hbos, "alpha", 0.0, hbos::MAX_ALPHA),
        (Algorithm::Hbos, "tol", 0.0, hbos::MAX_TOL),
        (Algorithm::Pca, "variance", 0.0, pca::MAX_VARIANCE),
        (
            Algorithm::Pca,
            "n_components",
            1.0,
            pca::MAX_COMPONENTS as f64,
        ),
        (Algorithm::Knn, "k", 1.0, knn::MAX_K as f64),
        (Algorithm::Knn, "max_samples", 2.0, knn::MAX_SAMPLES as f64),
        (Algorithm::Knn, "seed", 0.0, seed),
        (
            Algorithm::Gmm,
            "n_components",
            1.0,
            gmm::MAX_COMPONENTS as f64,
        ),
        (Algorithm::Gmm, "max_samples", 2.0, gmm::MAX_SAMPLES as f64),
        (Algorithm::Gmm, "reg_covar", 0.0, gmm::MAX_REG_COVAR),
        (Algorithm::Gmm, "max_iter", 1.0, gmm::MAX_ITER as f64),
        (Algorithm::Gmm, "tolerance", 0.0, gmm::MAX_TOLERANCE),
        (Algorithm::Gmm, "seed", 0.0, seed),
        (
            Algorithm::Ensemble,
            "members",
            1.0,
            ensemble::MAX_MEMBERS as f64,
        ),
        (Algorithm::Ensemble, "seed", 0.0, seed),
        (
            Algorithm::Ensemble,
            "calibration_rows",
            2.0,
            ensemble::MAX_CALIBRATION_ROWS as f64,
        ),
    ]
}

/// The properties of one `openapi.yaml` schema, each with its keywords (`maximum` -> `64`),
/// from inline maps (`name: { type: integer, maximum: 64 }`) or nested lines.
fn schema_properties(spec: &str, schema: &str) -> Vec<(String, Vec<(String, String)>)> {
    let block = spec
        .split_once(&format!("\n    {schema}:\n"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("openapi.yaml has no schema {schema}"));
    let mut properties: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in block.lines().take_while(|l| l.starts_with("      ")) {
        let keyword = |text: &str| {
            text.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        };
        if let Some(property) = line
            .strip_prefix("        ")
            .filter(|l| !l.starts_with(' '))
        {
            let (name, rest) = keyword(property).unwrap();
            let inline = rest.trim_start_matches('{').trim_end_matches('}');
            let keywords = inline.split(", ").filter_map(keyword).collect();
            properties.push((name, keywords));
        } else if let Some(nested) = line
            .strip_prefix("          ")
            .filter(|l| !l.starts_with(' '))
        {
            if let (Some((_, keywords)), Some(pair)) = (properties.last_mut(), keyword(nested)) {
                keywords.push(pair);
            }
        }
    }
    properties
}

#[test]
fn when_openapi_lists_parameter_ranges_should_match_the_constants_of_every_parameter() {
    let spec = repository_file("openapi.yaml");
    let ranges = parameter_ranges();
    for a in Algorithm::ALL {
        let properties = schema_properties(&spec, params_schema(a));
        // Every parameter is in the schema, and every numeric one has its range there.
        let defaults = AlgorithmParams::default_for(a).to_json();
        let fields = defaults.as_object().unwrap();
        let listed: Vec<&str> = properties.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            listed,
            fields.keys().map(String::as_str).collect::<Vec<_>>(),
            "{a}"
        );
        for (name, keywords) in &properties {
            let get = |key: &str| {
                keywords
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.parse::<f64>().unwrap())
            };
            let is_boolean = keywords.iter().any(|(k, v)| k == "type" && v == "boolean");
            let range = ranges
                .iter()
                .find(|(alg, param, _, _)| *alg == a && param == name)
                .map(|(_, _, min, max)| (*min, *max));
            match range {
                None => assert!(is_boolean, "{a}.{name} has no documented range"),
                Some((min, max)) => {
                    let (lo, hi) = (
                        get("minimum").or(get("minItems")),
                        get("maximum").or(get("maxItems")),
                    );
                    assert_eq!(hi, Some(max), "openapi.yaml maximum of {a}.{name}");
                    assert_eq!(lo, Some(min), "openapi.yaml minimum of {a}.{name}");
                }
            }
        }
    }
}

#[test]
fn when_parameters_exceed_their_documented_maximum_should_be_refused_naming_them() {
    // Every 64-bit seed is accepted: a larger one is not a number of the seed's type.
    for (a, name, _, max) in parameter_ranges().into_iter().filter(|r| r.1 != "seed") {
        let default = AlgorithmParams::default_for(a).to_json()[name].clone();
        let above = match default {
            serde_json::Value::Array(_) => {
                serde_json::json!(vec![
                    serde_json::json!({"algorithm": "ecod"});
                    max as usize + 1
                ])
            }
            v if v.is_u64() || v.is_null() => serde_json::json!(max as u64 + 1),
            _ => serde_json::json!(max * 2.0),
        };
        let params = serde_json::json!({ name: above });
        let err = AlgorithmParams::from_json(a, Some(&params))
            .and_then(|p| p.check())
            .unwrap_err()
            .to_string();
        assert!(err.contains(name), "{a}.{name}: {err}");
    }
}

#[test]
fn when_readme_tabulates_algorithms_should_match_the_algorithm_list() {
    let readme = repository_file("README.md");
    // The table after "Algorithms (`algorithm` in the API": one `| `name` | ... |` row each.
    let table = readme
        .split_once("Algorithms (`algorithm` in the API")
        .map(|(_, rest)| rest)
        .expect("README.md has no algorithm table");
    let listed: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name))
        .collect();
    assert_eq!(listed, names(), "README.md's algorithm table");
}
