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
    /// A cell that is not a number. The cell itself is not repeated: errors reach logs and
    /// job records, and cells may hold anything.
    #[error("row {row}, column '{column}': the value is not a number")]
    NotNumeric {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
    },
    /// A cell that is NaN or infinite (or too large for a 64-bit float).
    #[error("row {row}, column '{column}': the value is not a finite number")]
    NotFinite {
        /// Data row, counted from 1.
        row: usize,
        /// Name of the column.
        column: String,
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
    /// More rows, columns or values than the configured limit.
    #[error("too many {what}: more than {limit}")]
    TooLarge {
        /// What there is too much of (rows, columns, values).
        what: &'static str,
        /// The configured limit.
        limit: usize,
    },
    /// A CSV record, the header or a column name longer in bytes than the configured limit;
    /// refused after reading about that many bytes of it.
    #[error("{what} is longer than {limit} bytes")]
    TooLong {
        /// What is too long: `row 3` (data rows counted from 1), `the header`, `the name of
        /// column 2`.
        what: String,
        /// The configured limit, in bytes.
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
    /// A model larger in memory than an artifact may hold, refused when encoding (so every
    /// registered model loads) and when decoding, before the large parts are allocated.
    #[error(
        "{algorithm} model takes {bytes} bytes in memory, more than the {limit} bytes a model may \
         take; train it with smaller size parameters or fewer columns"
    )]
    ModelTooLarge {
        /// The model's algorithm.
        algorithm: String,
        /// Bytes the model takes (or would take) in memory.
        bytes: u64,
        /// The most a model may take.
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
    /// A fit or scoring call estimated, before any work, to need more time or memory than its
    /// budget (or a larger model than an artifact may hold).
    #[error("{message}")]
    OverBudget {
        /// The parameter (or `rows`, `columns`) that dominates the cost.
        parameter: String,
        /// The largest value of it that fits, the others unchanged.
        limit: String,
        /// What was estimated, what the budget is, and what to lower.
        message: String,
    },
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
