//! Nomaly's detection core: tabular input and its validation, anomaly detectors, thresholds,
//! explanations and the model artifact format. Pure: no AWS, no async runtime, no I/O beyond
//! byte slices and readers, so every function and test can share it.

pub mod algorithm;
pub mod artifact;
pub mod budget;
pub mod detector;
pub mod detectors;
pub mod error;
pub mod evaluation;
pub mod feedback;
pub mod model;
pub mod preprocess;
pub mod sampling;
mod serde_bounded;
pub mod series;
pub mod significance;
pub mod table;
pub mod tabular;
pub mod threshold;

#[cfg(test)]
mod test_alloc;

pub use budget::{WorkBudget, WorkEstimate};
pub use detector::Detector;
pub use error::{ArtifactError, DetectionError, InputError};
pub use table::{Limits, Table};
