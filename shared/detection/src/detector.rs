//! The capability every fitted detector offers.

use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::budget::ScoreCost;
use crate::error::ArtifactError;

/// A fitted anomaly detector: scores rows (higher = more anomalous) and explains one row.
///
/// Callers guarantee that matrices have exactly [`Detector::n_features`] columns, in training
/// order, with finite values; [`crate::model::Model`] checks this before calling.
pub trait Detector {
    /// Number of features the detector was fitted on.
    fn n_features(&self) -> usize;

    /// Raw anomaly score of every row, in row order; always finite.
    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64>;

    /// Non-negative per-feature contributions to one row's score (one per feature; higher means
    /// more responsible for the row looking anomalous).
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64>;

    /// Scores of training rows, used to calibrate thresholds. Detectors whose training rows are
    /// part of the model (k-NN) override this to leave each row's own copy out.
    fn calibration_scores(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        self.score(x)
    }

    /// Checks the invariants scoring relies on, for models decoded from untrusted bytes.
    fn validate(&self) -> Result<(), ArtifactError>;

    /// Bytes the fitted detector takes in memory (decoded), so a model too large to store or
    /// to load is refused.
    fn heap_bytes(&self) -> usize;

    /// What scoring with this detector costs, so a scoring call can be refused before it
    /// starts.
    fn score_cost(&self) -> ScoreCost;
}
