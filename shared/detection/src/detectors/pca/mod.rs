//! PCA reconstruction error: rows far from the principal subspace of the (standard-scaled)
//! training data are anomalous, and the per-feature residual explains why.

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::PcaReconstruction;
pub use params::{PcaReconstructionParams, MAX_COMPONENTS, MAX_VARIANCE};
