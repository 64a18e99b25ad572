//! k-nearest-neighbour distance: a row is as anomalous as it is far from its k-th nearest
//! neighbour among a seeded sample of (standard-scaled) training rows (PyOD's `largest`).

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::KnnDistance;
pub use params::{KnnDistanceParams, MAX_K, MAX_SAMPLES};
