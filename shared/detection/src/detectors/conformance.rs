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
