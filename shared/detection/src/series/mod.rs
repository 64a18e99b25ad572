//! Online detectors over time series: each point is scored from the past only, then learned,
//! and the whole state serializes so a series resumes between invocations exactly where it was.
//! A Random Cut Forest with AWS's semantics (shingling, time decay, sample size, adaptive
//! threshold and grade, attribution, expected value), an anomaly-likelihood layer over its
//! scores and a range-novelty check, measured on NAB.

pub mod cost;
pub mod detector;
pub mod error;
pub mod forest;
pub mod likelihood;
pub mod params;
pub mod range_novelty;
pub mod seasonal;
pub mod severity;
pub mod state;
pub mod thresholder;
pub mod value_level;

pub use detector::{PointVerdict, SeriesDetector, ENSEMBLE_THRESHOLD};
pub use error::SeriesError;
pub use params::{SeriesDetectorKind, SeriesOrdering, SeriesParams, SeriesSettings};
pub use state::{decode_state, encode_state, MAX_STATE_BYTES};

#[cfg(test)]
mod tests;
