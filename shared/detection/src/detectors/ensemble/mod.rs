//! An ensemble of detectors on one scale: each member's score is standardized by the mean and
//! standard deviation of its training scores, and the ensemble score is their average.
//!
//! The default members ([`default_members`]) were chosen by measurement on the labelled
//! benchmark sets; rank, tail-probability, median/MAD and quantile scalings and taking the
//! largest member score instead of the average were measured too, and none ranked better on
//! average than the z-scores averaged.

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::{Ensemble, Member};
pub use params::{default_members, EnsembleParams, MemberSpec, MAX_CALIBRATION_ROWS, MAX_MEMBERS};
