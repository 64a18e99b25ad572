//! What growing and walking an isolation forest costs, from its size alone: one set of formulas
//! for the estimate before a fit and for the fitted forest's own figures.

use super::model::{internal_nodes, leaves, BLOCK_ROWS, LANES};
use super::params::IsolationForestParams;
use super::tree::Node;
use crate::budget::{bytes_of, FitCost, ScoreCost, WorkEstimate};
use crate::detectors::shared_cost::PASS_SECONDS;

/// Seconds per sampled row and tree level when growing a tree (partitioning, range scans and
/// the random draws), measured in release mode.
const SPLIT_SECONDS: f64 = 6e-9;
/// Seconds per sampled value copied into a tree's columns while the sampled rows' cache
/// lines stay in the first-level cache (up to 512 rows); each further 512 rows add as much
/// again, up to 9 times, as the reads go further out to memory.
const COPY_SECONDS: f64 = 5e-9;
/// Seconds per tree level a row walks when scored, while the forest stays in cache; each MiB
/// of forest adds [`STEP_SECONDS_PER_MIB`], up to 20 MiB (memory latency).
const STEP_SECONDS: f64 = 2.5e-9;
/// See [`STEP_SECONDS`].
const STEP_SECONDS_PER_MIB: f64 = 0.9e-9;
/// Seconds per tree level a row walks when explained (one tree at a time, not eight), plus
/// [`EXPLAIN_STEP_SECONDS_PER_MIB`] per MiB of forest up to 20.
const EXPLAIN_STEP_SECONDS: f64 = 30e-9;
/// See [`EXPLAIN_STEP_SECONDS`].
const EXPLAIN_STEP_SECONDS_PER_MIB: f64 = 10e-9;
/// Forest size beyond which walking it costs no more (every step a miss to memory).
const CACHE_MIB: f64 = 20.0;

/// Depth of trees grown on `samples` rows: `ceil(log2(samples))`.
pub(super) fn depth(samples: usize) -> usize {
    samples.next_power_of_two().trailing_zeros() as usize
}

/// Bytes of a forest of `trees` complete trees of `depth` in memory (padded to whole groups).
pub(super) fn forest_bytes(trees: usize, depth: usize) -> f64 {
    let slots = trees.div_ceil(LANES) as f64 * LANES as f64;
    slots * (bytes_of::<Node>(internal_nodes(depth) as f64) + bytes_of::<f32>(leaves(depth) as f64))
}

/// Growing the forest on `rows x columns`, and scoring with it.
pub(super) fn fit_cost(params: &IsolationForestParams, rows: usize, columns: usize) -> FitCost {
    let samples = params.max_samples.min(rows);
    let depth = depth(samples);
    let tree_features = ((params.max_features * columns as f64) as usize).clamp(1, columns.max(1));
    let (m, n, trees) = (samples as f64, rows as f64, params.n_estimators as f64);
    // rand's index sampling shuffles an index of every row while the rows are fewer than about
    // `(10 + 1.6 m) m`, and draws `m` indices otherwise.
    let index = if n < (10.0 + 1.6 * m) * m { n } else { m };
    let seconds = trees
        * (index * PASS_SECONDS
            + m * tree_features as f64 * COPY_SECONDS * (1.0 + (m / 512.0).min(8.0))
            + m * depth.max(1) as f64 * SPLIT_SECONDS);
    let model = forest_bytes(params.n_estimators, depth);
    let grower = bytes_of::<f32>(m * tree_features as f64)
        + bytes_of::<u32>(m + index)
        + bytes_of::<Node>(internal_nodes(depth) as f64)
        + bytes_of::<f32>(leaves(depth) as f64);
    FitCost {
        fit: WorkEstimate::new(seconds, model + grower, model),
        scoring: score_cost(params.n_estimators, depth, columns),
    }
}

/// Scoring with a forest of `trees` trees of `depth` on `columns` features.
pub(super) fn score_cost(trees: usize, depth: usize, columns: usize) -> ScoreCost {
    let steps = trees as f64 * depth.max(1) as f64;
    let mib = (forest_bytes(trees, depth) / f64::from(1 << 20)).min(CACHE_MIB);
    ScoreCost {
        seconds_per_row: steps * (STEP_SECONDS + mib * STEP_SECONDS_PER_MIB)
            + columns as f64 * PASS_SECONDS,
        explain_seconds_per_row: steps
            * (EXPLAIN_STEP_SECONDS + mib * EXPLAIN_STEP_SECONDS_PER_MIB),
        bytes_per_row: bytes_of::<f64>(1.0),
        fixed_seconds: 0.0,
        fixed_bytes: bytes_of::<f32>((BLOCK_ROWS * columns) as f64)
            + bytes_of::<f64>(BLOCK_ROWS as f64),
    }
}
