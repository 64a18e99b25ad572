//! What every detector's parameters offer: range checks into a [`Checked`] form (linfa's
//! `ParamGuard` pattern), so fitting never meets an out-of-range parameter, and the seed of
//! randomized detectors.

use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::detector::Detector;
use crate::error::DetectionError;

/// Parameters that passed their detector's range checks. Only [`DetectorParams::check`] builds
/// one, so a fit from it cannot meet an out-of-range value; it reads like the parameters it
/// wraps.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<P>(P);

impl<P> Checked<P> {
    /// The parameters, checked no longer.
    pub fn into_inner(self) -> P {
        self.0
    }
}

impl<P> Deref for Checked<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.0
    }
}

/// The user-facing parameters of one detector, as the API accepts them (unknown fields are an
/// error, missing ones take their defaults).
pub trait DetectorParams:
    Clone + Default + PartialEq + Serialize + DeserializeOwned + Send + Sync
{
    /// The detector these parameters fit.
    type Fitted: Detector + Send + Sync;

    /// Whether fitting draws random numbers (and so takes a seed).
    const RANDOMIZED: bool;

    /// Checks every parameter's range, naming the first one out of range. Checks that need the
    /// training data happen when fitting.
    fn check_ranges(&self) -> Result<(), DetectionError>;

    /// The seed of a randomized detector; `None` for deterministic ones.
    fn seed_mut(&mut self) -> Option<&mut u64>;

    /// These parameters in checked form, or the first range error.
    fn check(&self) -> Result<Checked<Self>, DetectionError> {
        self.check_ranges()?;
        Ok(Checked(self.clone()))
    }
}
