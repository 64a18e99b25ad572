//! Error types of the detection core. Every variant names the problem precisely enough for an
//! API caller to fix their request; the service maps them once to HTTP statuses.

use thiserror::Error;

/// A problem with tabular input (CSV or JSON), naming the row and column where it is.
///
/// Rows are counted from 1 over data rows (the CSV header is not a row).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InputError {
    /// There is nothing to work with: no columns or no rows.
    #[error("input is empty: {0}")]
    Empty(String),
    /// A row has a different number of values than the header.
    #[error("row {row} has {found} values; expected {expected}")]
    RaggedRow {
        /// Data row, counted from 1.
        row: usize,
        /// How many were found.
        found: usize,
        /// How many were expected.
        expected: usize,
    },
    /// A cell that is not a number.
    #[error("row {row}, column '{column}': '{value}' is not a number")]
    NotNumeric {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
        /// The offending cell, as written.
        value: String,
    },
    /// A cell that is NaN or infinite.
    #[error("row {row}, column '{column}': {value} is not a finite number")]
    NotFinite {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
        /// The offending cell, as written.
        value: String,
    },
    /// A JSON record lacks a key that the first record has (records must all have the same keys).
    #[error("row {row} has no key '{column}' (every record needs the first record's keys)")]
    MissingKey {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
    },
    /// A JSON record has a key that the first record does not have.
    #[error("row {row} has key '{column}', which the first record does not have")]
    UnexpectedKey {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
    },
    /// Two columns share a name.
    #[error("column '{0}' appears more than once")]
    DuplicateColumn(String),
    /// A column has an empty name.
    #[error("column {0} has an empty name")]
    EmptyColumnName(usize),
    /// A column the model needs is absent.
    #[error("missing column '{0}'")]
    MissingColumn(String),
    /// A column the model does not know (and extra columns were not allowed).
    #[error("unexpected column '{0}' (the model does not use it)")]
    UnexpectedColumn(String),
    /// More rows, columns or bytes than the configured limit.
    #[error("too many {what}: more than {limit}")]
    TooLarge {
        /// What there is too much of (rows, columns, bytes).
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },
    /// Bytes that are not valid CSV or JSON of an accepted shape.
    #[error("malformed {format}: {message}")]
    Malformed {
        /// The format being read (CSV or JSON).
        format: &'static str,
        /// The parser's description of the problem.
        message: String,
    },
}

/// A model artifact that cannot be loaded, by cause.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ArtifactError {
    /// Fewer bytes than the header or the payload length announce.
    #[error("model artifact is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// How many were expected.
        expected: usize,
        /// How many were found.
        found: usize,
    },
    /// The bytes do not start with the Nomaly magic: not a model artifact.
    #[error("not a Nomaly model artifact (bad magic bytes)")]
    Foreign,
    /// Written by a newer Nomaly than this one.
    #[error(
        "model artifact format version {found} is newer than the supported version {supported}"
    )]
    NewerVersion {
        /// The artifact's format version.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// A format version this build never wrote.
    #[error("model artifact format version {0} is not supported")]
    UnsupportedVersion(u16),
    /// The payload is larger than loading allows.
    #[error("model artifact payload of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The payload's length in bytes.
        len: u64,
        /// The largest payload accepted, in bytes.
        limit: u64,
    },
    /// The payload's SHA-256 differs from the header's.
    #[error("model artifact is corrupted: payload checksum mismatch")]
    Corrupted,
    /// Bytes after the payload.
    #[error("model artifact has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// The header names an algorithm code this build does not know, or one the payload contradicts.
    #[error("model artifact algorithm mismatch: {0}")]
    Algorithm(String),
    /// The payload does not decode.
    #[error("model artifact payload does not decode: {0}")]
    Malformed(String),
    /// The payload decodes but describes an impossible model.
    #[error("model artifact is invalid: {0}")]
    Invalid(String),
}

/// Every failure of the detection core.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DetectionError {
    /// Bad tabular input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A detector or threshold parameter out of range, or unknown.
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParam {
        /// The parameter.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The data cannot be fitted by this algorithm (for example too few rows).
    #[error("cannot fit {algorithm}: {reason}")]
    Fit {
        /// The algorithm that could not fit.
        algorithm: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A model artifact that cannot be loaded.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl DetectionError {
    /// Shorthand for [`DetectionError::InvalidParam`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParam {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
