//! Anomaly detectors, each in the linfa style and in a folder of its own: `params.rs` holds the
//! user-facing parameters and their checks into [`Checked`] parameters, `model.rs` the fitted
//! detector and how checked parameters fit it, `tests.rs` the tests specific to it. What every
//! detector must satisfy is tested once, over [`crate::algorithm::Algorithm::ALL`], in
//! `conformance.rs`.

pub mod ecod;
pub mod ensemble;
pub mod gmm;
pub mod hbos;
pub mod isolation_forest;
pub mod knn;
pub mod params;
pub mod pca;
pub(crate) mod shared;
pub(crate) mod shared_cost;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod test_support;

pub use params::{Checked, DetectorParams};
