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

/// Declares `$params` as the parameters of the fitted detector `$fitted`: the [`DetectorParams`]
/// impl (range checks from the params' own `validate_ranges`, and the seed field of a randomized
/// detector) and the `fit` shorthand that checks, then fits. One line per detector, so the seven
/// detectors cannot drift apart in how their parameters are checked.
macro_rules! params_of {
    ($params:ident => $fitted:ty $(, seeded by $seed:ident)?) => {
        impl $crate::detectors::params::DetectorParams for $params {
            type Fitted = $fitted;
            const RANDOMIZED: bool = $crate::detectors::params::params_of!(@randomized $($seed)?);

            fn check_ranges(&self) -> Result<(), $crate::error::DetectionError> {
                self.validate_ranges()
            }

            $crate::detectors::params::params_of!(@seed_mut $($seed)?);
        }

        impl $params {
            /// Checks the parameters, then fits on `x`.
            pub fn fit(
                &self,
                x: ndarray::ArrayView2<'_, f64>,
            ) -> Result<$fitted, $crate::error::DetectionError> {
                $crate::detectors::params::DetectorParams::check(self)?.fit(x)
            }
        }
    };
    (@randomized) => { false };
    (@randomized $seed:ident) => { true };
    (@seed_mut) => {
        fn seed_mut(&mut self) -> Option<&mut u64> {
            None
        }
    };
    (@seed_mut $seed:ident) => {
        fn seed_mut(&mut self) -> Option<&mut u64> {
            Some(&mut self.$seed)
        }
    };
}

pub(crate) use params_of;

/// The builder methods of a parameters struct, one per listed field (with its doc comment):
/// `params.n_bins(20)` sets `n_bins` and returns the parameters.
macro_rules! setters {
    ($params:ident { $( $(#[$doc:meta])* $field:ident: $ty:ty ),* $(,)? }) => {
        impl $params {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

pub(crate) use setters;
