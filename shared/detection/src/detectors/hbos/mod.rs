//! HBOS (Histogram-Based Outlier Score, Goldstein & Dengel 2012) with the semantics of PyOD's
//! static-bin `HBOS`.
//!
//! Per feature: a histogram of `n_bins` equal-width bins over the training `[min, max]` (numpy's
//! `histogram(density=True)`: density = count / (n * bin width); a constant column uses
//! `[v - 0.5, v + 0.5]`), and per bin `out_score = log2(density + alpha)`. A value below the
//! first edge by at most `tol` bin widths takes the first bin's score, further out the minimum
//! score over bins; likewise on the right with the last bin. A row's score is
//! `-sum_j out_score_j`. Lookup is O(1): the bin index comes from arithmetic, then is corrected
//! against the stored edges so it matches numpy's `digitize` exactly.

mod cost;
mod model;
mod params;
#[cfg(test)]
mod tests;

pub use model::Hbos;
pub use params::{HbosParams, MAX_ALPHA, MAX_BINS, MAX_TOL};
