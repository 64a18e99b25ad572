//! The costs of the fitting steps several detectors share (standard scaling, robust
//! deviation, seeded row sampling, scaled copies), and the per-operation times they are made
//! of, measured in release mode on the development machine (`examples/budget_calibration.rs`).

use crate::budget::{bytes_of, log2, WorkEstimate};

/// Seconds per value of a simple pass over a matrix (a read, an arithmetic step, a write).
pub(crate) const PASS_SECONDS: f64 = 1.5e-9;
/// Seconds per value of a pass down the columns of a row-major matrix (a strided read).
pub(crate) const COLUMN_PASS_SECONDS: f64 = 8e-9;
/// Seconds per `value x log2(length)` of a comparison sort.
pub(crate) const SORT_SECONDS: f64 = 3e-9;
/// Seconds per multiply-add of a dense matrix product.
pub(crate) const FLOP_SECONDS: f64 = 0.3e-9;

/// Fitting a [`crate::preprocess::StandardScaler`] on `rows x columns`: two passes.
pub(crate) fn scaler_fit(rows: usize, columns: usize) -> WorkEstimate {
    let d = columns as f64;
    let model = bytes_of::<f64>(2.0 * d);
    WorkEstimate::new(
        2.0 * rows as f64 * d * COLUMN_PASS_SECONDS,
        2.0 * model,
        model,
    )
}

/// Fitting a [`crate::preprocess::RobustDeviation`] on `rows x columns`: two sorts of a copy of
/// every column, one column at a time.
pub(crate) fn deviation_fit(rows: usize, columns: usize) -> WorkEstimate {
    let (n, d) = (rows as f64, columns as f64);
    let model = bytes_of::<f64>(2.0 * d);
    WorkEstimate::new(
        d * n * (2.0 * log2(n) * SORT_SECONDS + 3.0 * COLUMN_PASS_SECONDS),
        bytes_of::<f64>(n) + model,
        model,
    )
}

/// Drawing at most `max_rows` of `rows x columns` into a row-major, standard-scaled copy
/// (`shared::sample_rows` then `shared::scale_bounded`): the sample, its row-major copy and
/// the scaled copy are held at once. The scaled copy is kept (`model_bytes`).
pub(crate) fn scaled_sample(rows: usize, columns: usize, max_rows: usize) -> WorkEstimate {
    let (n, m) = (rows as f64, rows.min(max_rows) as f64);
    let copy = bytes_of::<f64>(m * columns as f64);
    // rand's index sampling may shuffle an index of every row (see isolation_forest's cost).
    let index = if rows > max_rows {
        bytes_of::<u32>(n) + bytes_of::<usize>(m)
    } else {
        0.0
    };
    WorkEstimate::new(
        (n + 4.0 * m * columns as f64) * PASS_SECONDS,
        index.max(copy) + 2.0 * copy,
        copy,
    )
}
