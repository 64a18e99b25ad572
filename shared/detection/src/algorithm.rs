//! The catalogue of algorithms: their API names, their parameters and their fitted forms, so the
//! rest of the system can handle "a detector" without knowing which one.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::detector::Detector;
use crate::detectors::ecod::{Ecod, EcodParams};
use crate::detectors::ensemble::{Ensemble, EnsembleParams};
use crate::detectors::gmm::{GaussianMixture, GaussianMixtureParams};
use crate::detectors::hbos::{Hbos, HbosParams};
use crate::detectors::isolation_forest::{IsolationForest, IsolationForestParams};
use crate::detectors::knn::{KnnDistance, KnnDistanceParams};
use crate::detectors::pca::{PcaReconstruction, PcaReconstructionParams};
use crate::error::{ArtifactError, DetectionError};

/// An algorithm, by the name the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Isolation Forest (scikit-learn semantics).
    IsolationForest,
    /// Empirical-CDF outlier detection (ECOD) on quantile sketches.
    Ecod,
    /// Histogram-based outlier score.
    Hbos,
    /// PCA reconstruction error.
    Pca,
    /// Distance to the k-th nearest training row.
    Knn,
    /// Gaussian mixture negative log-likelihood.
    Gmm,
    /// Average of standardized scores of several detectors.
    Ensemble,
}

impl Algorithm {
    /// Every algorithm, in API order.
    pub const ALL: [Algorithm; 7] = [
        Self::IsolationForest,
        Self::Ecod,
        Self::Hbos,
        Self::Pca,
        Self::Knn,
        Self::Gmm,
        Self::Ensemble,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IsolationForest => "isolation_forest",
            Self::Ecod => "ecod",
            Self::Hbos => "hbos",
            Self::Pca => "pca",
            Self::Knn => "knn",
            Self::Gmm => "gmm",
            Self::Ensemble => "ensemble",
        }
    }

    /// The one-byte code in the artifact header.
    pub fn code(self) -> u8 {
        match self {
            Self::IsolationForest => 1,
            Self::Ecod => 2,
            Self::Hbos => 3,
            Self::Pca => 4,
            Self::Knn => 5,
            Self::Gmm => 6,
            Self::Ensemble => 7,
        }
    }

    /// The algorithm of an artifact header code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Whether fitting draws random numbers (and so takes a seed).
    pub fn is_randomized(self) -> bool {
        !matches!(self, Self::Ecod | Self::Hbos | Self::Pca)
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

/// The parameters of one algorithm, ready to fit.
#[derive(Debug, Clone, PartialEq)]
pub enum AlgorithmParams {
    /// See [`IsolationForestParams`].
    IsolationForest(IsolationForestParams),
    /// See [`EcodParams`].
    Ecod(EcodParams),
    /// See [`HbosParams`].
    Hbos(HbosParams),
    /// See [`PcaReconstructionParams`].
    Pca(PcaReconstructionParams),
    /// See [`KnnDistanceParams`].
    Knn(KnnDistanceParams),
    /// See [`GaussianMixtureParams`].
    Gmm(GaussianMixtureParams),
    /// See [`EnsembleParams`].
    Ensemble(EnsembleParams),
}

impl AlgorithmParams {
    /// Parameters from the API's `algorithm` and optional `params` object; unknown or ill-typed
    /// fields are an error naming them, missing ones take their defaults.
    pub fn from_json(
        algorithm: Algorithm,
        params: Option<&serde_json::Value>,
    ) -> Result<Self, DetectionError> {
        fn parse<T: for<'de> Deserialize<'de>>(
            algorithm: Algorithm,
            value: &serde_json::Value,
        ) -> Result<T, DetectionError> {
            serde_json::from_value(value.clone())
                .map_err(|e| DetectionError::param("params", format!("for {algorithm}: {e}")))
        }
        let Some(value) = params.filter(|v| !v.is_null()) else {
            return Ok(Self::default_for(algorithm));
        };
        Ok(match algorithm {
            Algorithm::IsolationForest => Self::IsolationForest(parse(algorithm, value)?),
            Algorithm::Ecod => Self::Ecod(parse(algorithm, value)?),
            Algorithm::Hbos => Self::Hbos(parse(algorithm, value)?),
            Algorithm::Pca => Self::Pca(parse(algorithm, value)?),
            Algorithm::Knn => Self::Knn(parse(algorithm, value)?),
            Algorithm::Gmm => Self::Gmm(parse(algorithm, value)?),
            Algorithm::Ensemble => Self::Ensemble(parse(algorithm, value)?),
        })
    }

    /// Default parameters of an algorithm.
    pub fn default_for(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::IsolationForest => Self::IsolationForest(Default::default()),
            Algorithm::Ecod => Self::Ecod(Default::default()),
            Algorithm::Hbos => Self::Hbos(Default::default()),
            Algorithm::Pca => Self::Pca(Default::default()),
            Algorithm::Knn => Self::Knn(Default::default()),
            Algorithm::Gmm => Self::Gmm(Default::default()),
            Algorithm::Ensemble => Self::Ensemble(Default::default()),
        }
    }

    /// Which algorithm these parameters are for.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::IsolationForest(_) => Algorithm::IsolationForest,
            Self::Ecod(_) => Algorithm::Ecod,
            Self::Hbos(_) => Algorithm::Hbos,
            Self::Pca(_) => Algorithm::Pca,
            Self::Knn(_) => Algorithm::Knn,
            Self::Gmm(_) => Algorithm::Gmm,
            Self::Ensemble(_) => Algorithm::Ensemble,
        }
    }

    /// The random seed (0 for deterministic algorithms).
    pub fn seed(&self) -> u64 {
        match self {
            Self::IsolationForest(p) => p.seed,
            Self::Knn(p) => p.seed,
            Self::Gmm(p) => p.seed,
            Self::Ensemble(p) => p.seed,
            Self::Ecod(_) | Self::Hbos(_) | Self::Pca(_) => 0,
        }
    }

    /// Sets the random seed of randomized algorithms (no effect on the others).
    pub fn with_seed(mut self, seed: u64) -> Self {
        match &mut self {
            Self::IsolationForest(p) => p.seed = seed,
            Self::Knn(p) => p.seed = seed,
            Self::Gmm(p) => p.seed = seed,
            Self::Ensemble(p) => p.seed = seed,
            Self::Ecod(_) | Self::Hbos(_) | Self::Pca(_) => {}
        }
        self
    }

    /// Fits the detector on `x` (rows are samples, finite values).
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<FittedDetector, DetectionError> {
        Ok(match self {
            Self::IsolationForest(p) => FittedDetector::IsolationForest(p.fit(x)?),
            Self::Ecod(p) => FittedDetector::Ecod(p.fit(x)?),
            Self::Hbos(p) => FittedDetector::Hbos(p.fit(x)?),
            Self::Pca(p) => FittedDetector::Pca(p.fit(x)?),
            Self::Knn(p) => FittedDetector::Knn(p.fit(x)?),
            Self::Gmm(p) => FittedDetector::Gmm(p.fit(x)?),
            Self::Ensemble(p) => FittedDetector::Ensemble(p.fit(x)?),
        })
    }
}

/// A fitted detector of any algorithm; what a model artifact stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FittedDetector {
    /// A fitted [`IsolationForest`].
    IsolationForest(IsolationForest),
    /// A fitted [`Ecod`].
    Ecod(Ecod),
    /// A fitted [`Hbos`].
    Hbos(Hbos),
    /// A fitted [`PcaReconstruction`].
    Pca(PcaReconstruction),
    /// A fitted [`KnnDistance`].
    Knn(KnnDistance),
    /// A fitted [`GaussianMixture`].
    Gmm(GaussianMixture),
    /// A fitted [`Ensemble`].
    Ensemble(Ensemble),
}

impl FittedDetector {
    /// Which algorithm this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::IsolationForest(_) => Algorithm::IsolationForest,
            Self::Ecod(_) => Algorithm::Ecod,
            Self::Hbos(_) => Algorithm::Hbos,
            Self::Pca(_) => Algorithm::Pca,
            Self::Knn(_) => Algorithm::Knn,
            Self::Gmm(_) => Algorithm::Gmm,
            Self::Ensemble(_) => Algorithm::Ensemble,
        }
    }

    fn inner(&self) -> &dyn Detector {
        match self {
            Self::IsolationForest(d) => d,
            Self::Ecod(d) => d,
            Self::Hbos(d) => d,
            Self::Pca(d) => d,
            Self::Knn(d) => d,
            Self::Gmm(d) => d,
            Self::Ensemble(d) => d,
        }
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
