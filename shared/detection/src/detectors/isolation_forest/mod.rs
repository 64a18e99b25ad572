//! Isolation Forest with scikit-learn's semantics, stored as compact complete trees.
//!
//! Fitting follows `sklearn.ensemble.IsolationForest`: `n_estimators` extremely randomized trees,
//! each grown on `min(max_samples, n)` rows drawn without replacement, on a random subset of
//! `max_features` of the columns, with random splits (a feature that is not constant in the node,
//! a threshold uniform between its minimum and maximum) down to depth
//! `ceil(log2(max_samples))`. A row's path length is the depth of its leaf plus `c(leaf size)`,
//! and its score is `2^(-mean path length / c(max_samples))`: higher is more anomalous, as in the
//! original paper (scikit-learn's `score_samples` is the negative of it).
//!
//! Every tree is stored as a complete binary tree of that depth in flat arrays (children of node
//! `i` are `2i+1` and `2i+2`): a leaf above the last level is padded with "always go left" nodes
//! (threshold `+inf`). Scoring is then branch-free, a fixed number of steps per tree, run for a
//! block of rows at once so the independent paths overlap in the CPU. Values are compared as
//! `f32`, as scikit-learn's trees do.

mod codec;
mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;
mod tree;

#[cfg(test)]
pub(crate) use codec::StoredForest;
pub use model::{average_path_length, IsolationForest};
pub use params::{IsolationForestParams, MAX_ESTIMATORS, MAX_FEATURES_FRACTION, MAX_SAMPLES_LIMIT};
pub use tree::MAX_FEATURES;
