//! What can go wrong when a series' detector is configured or fed a point, precise enough for the
//! service to answer a clear 4xx (or a 5xx for a detector fault).

use thiserror::Error;

/// A problem with a series' configuration, a point, or the detector's state.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SeriesError {
    /// A configuration value outside its documented bounds.
    #[error("invalid series configuration: {0}")]
    InvalidParams(String),
    /// A point with a different number of values than the series has.
    #[error("the point has {found} values; the series has {expected}")]
    WrongDimensions {
        /// How many values the series has.
        expected: usize,
        /// How many the point has.
        found: usize,
    },
    /// A value that is NaN or infinite.
    #[error("value {index} of the point is not a finite number")]
    NotFinite {
        /// Which value (from 0, in the series' value order).
        index: usize,
    },
    /// A value whose magnitude passes [`super::detector::MAX_ABS_VALUE`].
    #[error("value {index} of the point is beyond 1e30 in magnitude")]
    OutOfRange {
        /// Which value (from 0, in the series' value order).
        index: usize,
    },
    /// A point older than the last point learned: a series is learned in time order.
    #[error("timestamp {timestamp} is before the last point learned ({last})")]
    OutOfOrder {
        /// The point's timestamp (epoch milliseconds).
        timestamp: i64,
        /// The last learned point's timestamp (epoch milliseconds).
        last: i64,
    },
    /// The forest refused an operation: a fault of the detector, not of the caller.
    #[error("the random cut forest failed: {0}")]
    Forest(String),
}
