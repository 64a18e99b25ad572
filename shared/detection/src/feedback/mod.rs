//! Feedback: what a model learns from rows an analyst labelled as anomalies or as normal.
//!
//! The detector stays unsupervised; the feedback layer moves its scores. A row's score rises by
//! `anomaly_weight` times its closeness to the nearest labelled anomaly and sinks by
//! `normal_weight` times its closeness to the nearest labelled normal row, both in units of the
//! detector's score spread (median to 99th percentile of its training scores). Closeness is a
//! Gaussian kernel in robustly standardized feature space whose width, per labelled row, is the
//! distance to its `neighbours`-th nearest training row. Rows like a confirmed anomaly rise, rows
//! like a rejected alarm sink, and rows far from every label keep their score. Adding in score
//! units (not ranks) keeps the detector's order in the tail, where anomalies are; the weights
//! were chosen on `../shared/datasets` with the 20 top-scored rows labelled (`make accuracy`).

mod model;
mod params;
#[cfg(test)]
mod tests;

pub(crate) use model::seconds_per_row;
pub use model::{Feedback, LabelledRows};
pub use params::{FeedbackParams, MAX_LABELS, MAX_REFERENCE_ROWS};
