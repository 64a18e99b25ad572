//! What every detector's parameters offer: range checks into a [`Checked`] form (linfa's
//! `ParamGuard` pattern), so fitting never meets an out-of-range parameter, the seed of
//! randomized detectors, and the cost of a fit before any work (with the whole-number
//! parameters an over-budget refusal may ask to lower).

use std::fmt::Display;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::budget::FitCost;
use crate::detector::Detector;
use crate::error::DetectionError;

/// Largest seed of a randomized detector: any 64-bit value.
pub const MAX_SEED: u64 = u64::MAX;

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

    /// What fitting on `rows x columns` costs, and what scoring with the fitted detector will
    /// cost, from the counts alone, so a fit can be refused before it starts.
    fn fit_cost(&self, rows: usize, columns: usize) -> FitCost;

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

            fn fit_cost(&self, rows: usize, columns: usize) -> $crate::budget::FitCost {
                super::cost::fit_cost(self, rows, columns)
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

/// The whole-number parameters that size a fit (`Params { field: smallest accepted value }`),
/// as the [`crate::budget::sizes::Size`]s an over-budget refusal may ask to lower: generates
/// `sizes()` (in the listed order) and `with_size(index, value)`.
macro_rules! sizes {
    ($params:ident { $( $field:ident: $min:expr ),* $(,)? }) => {
        impl $params {
            /// The parameters that size the work, with their values and defaults.
            pub(crate) fn sizes(&self) -> Vec<$crate::budget::sizes::Size> {
                let default = Self::default();
                vec![$(
                    $crate::budget::sizes::Size::parameter(
                        stringify!($field),
                        usize::try_from(self.$field).unwrap_or(usize::MAX),
                        $min,
                        usize::try_from(default.$field).unwrap_or(usize::MAX),
                    ),
                )*]
            }

            /// These parameters with the size `index` (of [`Self::sizes`]) set to `value`.
            pub(crate) fn with_size(&self, index: usize, value: usize) -> Self {
                let setters: &[fn(&mut Self, usize)] = &[$(
                    |p, v| p.$field = v.try_into().unwrap_or(p.$field),
                )*];
                let mut params = self.clone();
                if let Some(set) = setters.get(index) {
                    set(&mut params, value);
                }
                params
            }
        }
    };
}

pub(crate) use sizes;

/// Fails unless `min <= value <= max`, naming the parameter and both limits (NaN fails).
pub(crate) fn check_between<T: PartialOrd + Display>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), DetectionError> {
    if min <= value && value <= max {
        Ok(())
    } else {
        Err(DetectionError::param(
            name,
            format!("must be between {min} and {max}"),
        ))
    }
}

/// Fails unless `0 < value <= max`, naming the parameter and the limit (NaN fails).
pub(crate) fn check_positive(name: &str, value: f64, max: f64) -> Result<(), DetectionError> {
    if value > 0.0 && value <= max {
        Ok(())
    } else {
        Err(DetectionError::param(
            name,
            format!("must be greater than 0 and at most {max}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_value_is_out_of_range_should_name_the_parameter_and_both_limits() {
        assert!(check_between("k", 5usize, 1, 1000).is_ok());
        let err = check_between("n_components", 65usize, 1, 64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid parameter 'n_components': must be between 1 and 64"
        );
        assert!(check_between("tol", f64::NAN, 0.0, 1.0).is_err());
    }

    #[test]
    fn when_value_is_not_positive_or_too_large_should_name_the_limit() {
        assert!(check_positive("alpha", 0.1, 1e6).is_ok());
        for bad in [0.0, -1.0, 2e6, f64::NAN, f64::INFINITY] {
            let err = check_positive("alpha", bad, 1e6).unwrap_err().to_string();
            assert!(err.contains("greater than 0 and at most 1000000"), "{err}");
        }
    }
}
