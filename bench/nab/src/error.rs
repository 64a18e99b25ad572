//! The one error type of the NAB scorer: every way loading or scoring can fail, named precisely
//! enough to fix the input without a debugger.

use std::path::PathBuf;

use thiserror::Error;

/// Why loading NAB's files or scoring a detector's output failed.
#[derive(Debug, Error)]
pub enum NabError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (windows, profiles, thresholds) does not have NAB's shape.
    #[error("{path}: not NAB's JSON: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV file is malformed: a missing column, a short row, a cell that is not a number.
    #[error("{path}, line {line}: {message}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The 1-based line (the header is line 1).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A timestamp that is not `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    #[error("invalid timestamp '{0}' (expected YYYY-MM-DD HH:MM:SS with optional .ffffff)")]
    Timestamp(String),
    /// A series whose timestamps and anomaly scores differ in number.
    #[error("{timestamps} timestamps but {scores} anomaly scores")]
    LengthMismatch {
        /// The number of timestamps.
        timestamps: usize,
        /// The number of anomaly scores.
        scores: usize,
    },
    /// A window limit that is not one of the series' timestamps (NAB's labeler refuses it too).
    #[error("window limit {0} is not a timestamp of the series")]
    WindowLimitMissing(String),
    /// An anomaly score that is not a number in [0, 1], which NAB's sweep assumes.
    #[error("anomaly score {score} at row {row} is not in [0, 1]")]
    ScoreOutOfRange {
        /// The 0-based row of the series.
        row: usize,
        /// The offending score.
        score: f64,
    },
    /// A corpus data file that the window labels do not mention.
    #[error("no windows are labelled for data file {0}")]
    UnlabelledFile(String),
    /// Window labels for a file the corpus does not hold.
    #[error("windows are labelled for {0}, which is not in the corpus")]
    UnknownLabelledFile(String),
    /// A detector's scores given for a different number of files than the corpus holds.
    #[error("{scores} score series for a corpus of {files} files")]
    FileCountMismatch {
        /// The number of corpus files.
        files: usize,
        /// The number of score series.
        scores: usize,
    },
    /// Normalisation over files that hold no window: perfect and null coincide.
    #[error("the files scored hold no anomaly window, so no score can be normalized")]
    NoWindows,
}
