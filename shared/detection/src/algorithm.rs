//! The catalogue of algorithms: their API names, their parameters and their fitted forms, so the
//! rest of the system can handle "a detector" without knowing which one.
//!
//! The `algorithms!` macro below holds the one list of algorithms: adding one is one entry there (plus
//! its folder under `detectors/`); the enums, names, artifact codes, parameter parsing, fitting,
//! the conformance suite and the checks against `openapi.yaml` and the README all follow it.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::budget::sizes::Size;
use crate::budget::{FitCost, ScoreCost};
use crate::detector::Detector;
use crate::detectors::params::DetectorParams;
use crate::detectors::{ecod, ensemble, gmm, hbos, isolation_forest, knn, pca};
use crate::error::{ArtifactError, DetectionError};

/// Generates [`Algorithm`], [`AlgorithmParams`] and [`FittedDetector`] from the list of
/// algorithms: `Variant = code, "api_name", ParamsType => FittedType`, in API order.
macro_rules! algorithms {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $name:literal, $params:ty => $fitted:ty;
    )*) => {
        /// An algorithm, by the name the API uses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Algorithm {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl Algorithm {
            /// Every algorithm, in API order.
            pub const ALL: [Algorithm; [$(Algorithm::$variant),*].len()] = [$(Self::$variant),*];

            /// The API name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The one-byte code in the artifact header.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// Whether fitting draws random numbers (and so takes a seed).
            pub fn is_randomized(self) -> bool {
                match self {
                    $(Self::$variant => <$params as DetectorParams>::RANDOMIZED,)*
                }
            }
        }

        /// The parameters of one algorithm, ready to fit.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AlgorithmParams {
            $(
                #[doc = concat!("Parameters of `", $name, "`.")]
                $variant($params),
            )*
        }

        impl AlgorithmParams {
            /// Parameters from the API's `algorithm` and optional `params` object; unknown or
            /// ill-typed fields are an error naming them, missing ones take their defaults.
            pub fn from_json(
                algorithm: Algorithm,
                params: Option<&serde_json::Value>,
            ) -> Result<Self, DetectionError> {
                let Some(value) = params.filter(|v| !v.is_null()) else {
                    return Ok(Self::default_for(algorithm));
                };
                Ok(match algorithm {
                    $(Algorithm::$variant => Self::$variant(parse(algorithm, value)?),)*
                })
            }

            /// Default parameters of an algorithm.
            pub fn default_for(algorithm: Algorithm) -> Self {
                match algorithm {
                    $(Algorithm::$variant => Self::$variant(Default::default()),)*
                }
            }

            /// Which algorithm these parameters are for.
            pub fn algorithm(&self) -> Algorithm {
                match self {
                    $(Self::$variant(_) => Algorithm::$variant,)*
                }
            }

            /// The random seed (0 for deterministic algorithms).
            pub fn seed(&self) -> u64 {
                let mut params = self.clone();
                params.seed_mut().map_or(0, |seed| *seed)
            }

            /// Sets the random seed of randomized algorithms (no effect on the others).
            pub fn with_seed(mut self, seed: u64) -> Self {
                if let Some(slot) = self.seed_mut() {
                    *slot = seed;
                }
                self
            }

            fn seed_mut(&mut self) -> Option<&mut u64> {
                match self {
                    $(Self::$variant(p) => p.seed_mut(),)*
                }
            }

            /// Fits the detector on `x` (rows are samples, finite values).
            pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<FittedDetector, DetectionError> {
                Ok(match self {
                    $(Self::$variant(p) => FittedDetector::$variant(p.check()?.fit(x)?),)*
                })
            }

            /// Checks every parameter's range, naming the first one out of range.
            pub fn check(&self) -> Result<(), DetectionError> {
                match self {
                    $(Self::$variant(p) => p.check_ranges(),)*
                }
            }

            /// What fitting on `rows x columns` costs, and scoring with the fitted detector.
            pub fn fit_cost(&self, rows: usize, columns: usize) -> FitCost {
                match self {
                    $(Self::$variant(p) => p.fit_cost(rows, columns),)*
                }
            }

            /// The whole-number parameters that size the work, for over-budget refusals.
            pub(crate) fn sizes(&self) -> Vec<Size> {
                match self {
                    $(Self::$variant(p) => p.sizes(),)*
                }
            }

            /// These parameters with the size `index` (of [`Self::sizes`]) set to `value`.
            pub(crate) fn with_size(&self, index: usize, value: usize) -> Self {
                match self {
                    $(Self::$variant(p) => Self::$variant(p.with_size(index, value)),)*
                }
            }

            /// The parameters as the API's `params` object, with every field present.
            pub fn to_json(&self) -> serde_json::Value {
                let value = match self {
                    $(Self::$variant(p) => serde_json::to_value(p),)*
                };
                value.unwrap_or_default()
            }
        }

        /// A fitted detector of any algorithm; what a model artifact stores.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum FittedDetector {
            $(
                #[doc = concat!("A fitted `", $name, "` detector.")]
                $variant($fitted),
            )*
        }

        impl FittedDetector {
            /// Which algorithm this is.
            pub fn algorithm(&self) -> Algorithm {
                match self {
                    $(Self::$variant(_) => Algorithm::$variant,)*
                }
            }

            fn inner(&self) -> &dyn Detector {
                match self {
                    $(Self::$variant(d) => d,)*
                }
            }
        }
    };
}

algorithms! {
    /// Isolation Forest (scikit-learn semantics).
    IsolationForest = 1, "isolation_forest",
        isolation_forest::IsolationForestParams => isolation_forest::IsolationForest;
    /// Empirical-CDF outlier detection (ECOD) on quantile sketches.
    Ecod = 2, "ecod", ecod::EcodParams => ecod::Ecod;
    /// Histogram-based outlier score.
    Hbos = 3, "hbos", hbos::HbosParams => hbos::Hbos;
    /// PCA reconstruction error.
    Pca = 4, "pca", pca::PcaReconstructionParams => pca::PcaReconstruction;
    /// Distance to the k-th nearest training row.
    Knn = 5, "knn", knn::KnnDistanceParams => knn::KnnDistance;
    /// Gaussian mixture negative log-likelihood.
    Gmm = 6, "gmm", gmm::GaussianMixtureParams => gmm::GaussianMixture;
    /// Average of standardized scores of several detectors.
    Ensemble = 7, "ensemble", ensemble::EnsembleParams => ensemble::Ensemble;
}

/// One algorithm's parameters from its JSON `params` object.
fn parse<T: for<'de> Deserialize<'de>>(
    algorithm: Algorithm,
    value: &serde_json::Value,
) -> Result<T, DetectionError> {
    serde_json::from_value(value.clone())
        .map_err(|e| DetectionError::param("params", format!("for {algorithm}: {e}")))
}

impl Algorithm {
    /// The algorithm of an artifact header code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DetectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                DetectionError::param(
                    "algorithm",
                    format!(
                        "unknown algorithm '{s}'; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

impl Detector for FittedDetector {
    fn n_features(&self) -> usize {
        self.inner().n_features()
    }

    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        self.inner().score(x)
    }

    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        self.inner().contributions(row)
    }

    fn calibration_scores(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        self.inner().calibration_scores(x)
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        self.inner().validate()
    }

    fn heap_bytes(&self) -> usize {
        self.inner().heap_bytes()
    }

    fn score_cost(&self) -> ScoreCost {
        self.inner().score_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_name_is_known_should_round_trip_through_code_and_text() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
            assert_eq!(Algorithm::from_code(a.code()), Some(a));
            assert_eq!(AlgorithmParams::default_for(a).algorithm(), a);
        }
        assert_eq!(Algorithm::from_code(0), None);
    }

    #[test]
    fn when_name_is_unknown_should_list_the_known_ones() {
        let err = "forest".parse::<Algorithm>().unwrap_err().to_string();
        assert!(err.contains("unknown algorithm 'forest'"), "{err}");
        assert!(err.contains("isolation_forest, ecod"), "{err}");
    }

    #[test]
    fn when_params_have_unknown_field_should_name_it() {
        let params = serde_json::json!({"n_estimators": 50, "trees": 3});
        let err = AlgorithmParams::from_json(Algorithm::IsolationForest, Some(&params))
            .unwrap_err()
            .to_string();
        assert!(err.contains("trees"), "{err}");
        let params = serde_json::json!({"n_estimators": 50});
        let ok = AlgorithmParams::from_json(Algorithm::IsolationForest, Some(&params)).unwrap();
        match ok {
            AlgorithmParams::IsolationForest(p) => assert_eq!(p.n_estimators, 50),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn when_seed_set_should_reach_randomized_algorithms_only() {
        for a in Algorithm::ALL {
            let p = AlgorithmParams::default_for(a).with_seed(9);
            assert_eq!(p.seed(), if a.is_randomized() { 9 } else { 0 }, "{a}");
        }
    }
}
