//! The one error every storage port reports, in terms every adapter can give and every workflow
//! can act on.

use thiserror::Error;

/// Why a storage operation failed, in terms every adapter can report and every workflow can act on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A conditional write lost: the object or item exists, or the expected state moved.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing store cannot be reached or failed; retrying later may succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data is unreadable (bad metadata, undecodable item).
    #[error("stored data is corrupted: {0}")]
    Corrupted(String),
    /// The caller passed a key or value the store refuses (a bug, not a user error).
    #[error("invalid storage request: {0}")]
    Invalid(String),
}
