//! Gaussian mixture density: a row is as anomalous as it is unlikely under a mixture of
//! full-covariance Gaussians fitted (by linfa-clustering's EM) to standard-scaled training rows.

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::GaussianMixture;
pub use params::{
    GaussianMixtureParams, MAX_COMPONENTS, MAX_ITER, MAX_REG_COVAR, MAX_SAMPLES, MAX_TOLERANCE,
};
