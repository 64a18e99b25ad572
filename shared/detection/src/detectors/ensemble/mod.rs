//! An ensemble of detectors on one scale: each member's score is standardized by the mean and
//! standard deviation of its training scores, and the ensemble score is their average.

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::{Ensemble, Member};
pub use params::{EnsembleParams, MemberSpec, MAX_CALIBRATION_ROWS, MAX_MEMBERS};
