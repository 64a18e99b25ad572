//! Isolation Forest with scikit-learn's semantics, stored as compact complete trees.
//!
//! Fitting follows `sklearn.ensemble.IsolationForest`: `n_estimators` extremely randomized trees,
//! each grown on `min(max_samples, n)` rows drawn without replacement, on a random subset of
//! `max_features` of the columns, with random splits (a feature that is not constant in the node,
//! a threshold uniform between its minimum and maximum) down to depth
//! `ceil(log2(max_samples))`. A row's path length is the depth of its leaf plus `c(leaf size)`,
//! and its score is `2^(-mean path length / c(max_samples))`: higher is more anomalous, as in the
//! original paper (scikit-learn's `score_samples` is the negative of it).
//!
//! Every tree is stored as a complete binary tree of that depth in flat arrays (children of node
//! `i` are `2i+1` and `2i+2`): a leaf above the last level is padded with "always go left" nodes
//! (threshold `+inf`). Scoring is then branch-free, a fixed number of steps per tree, run for a
//! block of rows at once so the independent paths overlap in the CPU. Values are compared as
//! `f32`, as scikit-learn's trees do.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::forest_codec::StoredForest;
use crate::detector::Detector;
use crate::error::{ArtifactError, DetectionError};

/// Euler-Mascheroni constant, for the harmonic-number approximation in [`average_path_length`].
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Largest supported `max_samples`: trees of depth 12 (4,095 split slots) at most.
pub const MAX_SAMPLES_LIMIT: usize = 4096;

/// Most features a forest can split on (the stored form keeps feature indices in 16 bits).
pub const MAX_FEATURES: usize = 65_534;

/// Trees walked in lockstep by one row (the interleaving width of the stored trees).
const LANES: usize = 8;

/// Rows that walk one group of trees before the next group is loaded.
const BLOCK_ROWS: usize = 64;

/// `c(n)`: the average path length of an unsuccessful search in a binary search tree of `n`
/// points, which normalizes path lengths (Liu et al. 2008; scikit-learn's `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Hyper-parameters of an Isolation Forest; defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub n_estimators: usize,
    /// Rows drawn (without replacement) to grow each tree; capped by the number of rows.
    pub max_samples: usize,
    /// Fraction of the features each tree may split on, in (0, 1].
    pub max_features: f64,
    /// Seed of the random generator: the same seed and data give the same forest.
    pub seed: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self {
            n_estimators: 100,
            max_samples: 256,
            max_features: 1.0,
            seed: 0,
        }
    }
}

impl IsolationForestParams {
    /// Sets the number of trees.
    pub fn n_estimators(mut self, n: usize) -> Self {
        self.n_estimators = n;
        self
    }

    /// Sets the rows drawn per tree.
    pub fn max_samples(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// Sets the fraction of features per tree.
    pub fn max_features(mut self, fraction: f64) -> Self {
        self.max_features = fraction;
        self
    }

    /// Sets the random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self) -> Result<(), DetectionError> {
        if !(1..=10_000).contains(&self.n_estimators) {
            return Err(DetectionError::param(
                "n_estimators",
                "must be between 1 and 10000",
            ));
        }
        if !(2..=MAX_SAMPLES_LIMIT).contains(&self.max_samples) {
            return Err(DetectionError::param(
                "max_samples",
                format!("must be between 2 and {MAX_SAMPLES_LIMIT}"),
            ));
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return Err(DetectionError::param(
                "max_features",
                "must be a fraction in (0, 1]",
            ));
        }
        Ok(())
    }

    /// Grows the forest on `x` (rows are samples; at least 2 rows, at most 65,534 features).
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<IsolationForest, DetectionError> {
        self.check()?;
        let (n_rows, n_features) = x.dim();
        if n_rows < 2 {
            return Err(fit_error("needs at least 2 rows"));
        }
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(fit_error("needs between 1 and 65534 features"));
        }
        let max_samples = self.max_samples.min(n_rows);
        let depth = max_samples.next_power_of_two().trailing_zeros() as usize;
        let tree_features = ((self.max_features * n_features as f64) as usize).clamp(1, n_features);
        let mut forest = IsolationForest::empty(n_features, depth, max_samples, self.n_estimators);
        let mut seeds = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut grower = TreeGrower::new(depth, max_samples, tree_features);
        for tree in 0..self.n_estimators {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seeds.gen());
            grower.grow(x, &mut rng);
            for (i, node) in grower.nodes.iter().enumerate() {
                forest.set_node(tree, i, *node);
            }
            for (j, length) in grower.leaf_depths.iter().enumerate() {
                forest.set_leaf(tree, j, *length);
            }
        }
        Ok(forest)
    }
}

fn fit_error(reason: &str) -> DetectionError {
    DetectionError::Fit {
        algorithm: "isolation_forest",
        reason: reason.into(),
    }
}

fn internal_nodes(depth: usize) -> usize {
    (1 << depth) - 1
}

fn leaves(depth: usize) -> usize {
    1 << depth
}

/// Reusable buffers that grow one tree at a time.
struct TreeGrower {
    depth: usize,
    max_samples: usize,
    tree_features: usize,
    /// The tree's sampled rows, column-major: `columns[f * max_samples + i]`.
    columns: Vec<f32>,
    /// Global feature index of each local column.
    column_features: Vec<u16>,
    /// Row positions of the node being split, partitioned in place.
    rows: Vec<u32>,
    /// Candidate order of features at the node being split.
    order: Vec<usize>,
    nodes: Vec<Node>,
    leaf_depths: Vec<f32>,
}

impl TreeGrower {
    fn new(depth: usize, max_samples: usize, tree_features: usize) -> Self {
        Self {
            depth,
            max_samples,
            tree_features,
            columns: vec![0.0; max_samples * tree_features],
            column_features: Vec::with_capacity(tree_features),
            rows: Vec::with_capacity(max_samples),
            order: Vec::with_capacity(tree_features),
            nodes: vec![Node::PADDING; internal_nodes(depth)],
            leaf_depths: vec![0.0; leaves(depth)],
        }
    }

    fn grow(&mut self, x: ArrayView2<'_, f64>, rng: &mut Xoshiro256PlusPlus) {
        let (n_rows, n_features) = x.dim();
        let picked = sample(rng, n_rows, self.max_samples).into_vec();
        self.column_features.clear();
        if self.tree_features == n_features {
            self.column_features
                .extend((0..n_features).map(|f| f as u16));
        } else {
            let mut chosen = sample(rng, n_features, self.tree_features).into_vec();
            chosen.sort_unstable();
            self.column_features
                .extend(chosen.into_iter().map(|f| f as u16));
        }
        for (local, &feature) in self.column_features.iter().enumerate() {
            let column = x.column(usize::from(feature));
            let out = &mut self.columns[local * self.max_samples..(local + 1) * self.max_samples];
            for (slot, &row) in out.iter_mut().zip(&picked) {
                *slot = column[row] as f32;
            }
        }
        self.nodes.fill(Node::PADDING);
        self.leaf_depths.fill(0.0);
        self.rows.clear();
        self.rows.extend(0..self.max_samples as u32);
        let all = self.rows.len();
        self.split(0, 0, 0, all, rng);
    }

    /// Splits node `node` (at `depth`) holding `rows[start..end]`, recursively.
    fn split(
        &mut self,
        node: usize,
        depth: usize,
        start: usize,
        end: usize,
        rng: &mut Xoshiro256PlusPlus,
    ) {
        let count = end - start;
        if depth < self.depth && count > 1 {
            if let Some((local, threshold)) = self.pick_split(start, end, rng) {
                let column =
                    &self.columns[local * self.max_samples..(local + 1) * self.max_samples];
                let node_rows = &mut self.rows[start..end];
                let mut left = 0;
                for i in 0..node_rows.len() {
                    if column[node_rows[i] as usize] <= threshold {
                        node_rows.swap(i, left);
                        left += 1;
                    }
                }
                self.nodes[node] = Node {
                    threshold,
                    feature: u32::from(self.column_features[local]),
                };
                self.split(2 * node + 1, depth + 1, start, start + left, rng);
                self.split(2 * node + 2, depth + 1, start + left, end, rng);
                return;
            }
        }
        // A leaf: the padding nodes below it keep threshold +inf (always left), so every path
        // through it ends at the leftmost leaf slot of its subtree.
        let below = self.depth - depth;
        let slot = (node << below) + (1 << below) - 1 - internal_nodes(self.depth);
        self.leaf_depths[slot] = (depth as f64 + average_path_length(count)) as f32;
    }

    /// Draws features in random order until one is not constant in the node, and a threshold
    /// uniform in its range (scikit-learn's random splitter). `None` when every feature is constant.
    fn pick_split(
        &mut self,
        start: usize,
        end: usize,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Option<(usize, f32)> {
        self.order.clear();
        self.order.extend(0..self.column_features.len());
        let mut remaining = self.order.len();
        while remaining > 0 {
            let pick = rng.gen_range(0..remaining);
            let local = self.order[pick];
            remaining -= 1;
            self.order.swap(pick, remaining);
            let column = &self.columns[local * self.max_samples..(local + 1) * self.max_samples];
            let (lo, hi) = self.rows[start..end].iter().fold(
                (f32::INFINITY, f32::NEG_INFINITY),
                |(lo, hi), &r| {
                    let v = column[r as usize];
                    (lo.min(v), hi.max(v))
                },
            );
            if f64::from(hi) - f64::from(lo) <= 1e-7 {
                continue;
            }
            let mut threshold = rng.gen_range(f64::from(lo)..f64::from(hi)) as f32;
            if threshold >= hi {
                threshold = lo;
            }
            return Some((local, threshold));
        }
        None
    }
}

/// A split of a complete tree: rows with `value > threshold` go right. Padding below an early
/// leaf has threshold `+inf` (every row goes left) and feature 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    pub(crate) threshold: f32,
    pub(crate) feature: u32,
}

impl Node {
    /// The "always go left" node that pads an early leaf down to the last level.
    pub(crate) const PADDING: Node = Node {
        threshold: f32::INFINITY,
        feature: 0,
    };

    /// Whether this is a real split rather than padding.
    pub(crate) fn is_split(&self) -> bool {
        self.threshold.is_finite()
    }
}

/// A fitted Isolation Forest. Stored compactly (only real nodes, see [`super::forest_codec`]) and
/// expanded to complete trees when loaded.
///
/// In memory, trees are interleaved in groups of [`LANES`]: slot `i` of the group's trees lies
/// at `(group * slots + i) * LANES + lane`, so one row walks the eight trees of a group in
/// lockstep with every lane's position in a register and a constant offset per lane. A last
/// group that is not full is padded with empty trees (path length 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredForest", into = "StoredForest")]
pub struct IsolationForest {
    n_features: usize,
    /// Depth of every (complete) tree: `ceil(log2(max_samples))`.
    depth: u8,
    /// Rows each tree was grown on.
    max_samples: usize,
    /// Number of real trees.
    n_trees: usize,
    /// The `2^depth - 1` split slots of every tree, interleaved by group.
    nodes: Vec<Node>,
    /// The path length (depth + `c(leaf size)`) of the `2^depth` leaf slots, interleaved by group.
    leaf_depths: Vec<f32>,
}

impl IsolationForest {
    /// Default parameters (scikit-learn's), to be adjusted and fitted.
    pub fn params() -> IsolationForestParams {
        IsolationForestParams::default()
    }

    /// A forest of `n_trees` empty trees (every slot padding, every leaf 0), to be filled.
    pub(crate) fn empty(
        n_features: usize,
        depth: usize,
        max_samples: usize,
        n_trees: usize,
    ) -> Self {
        let groups = n_trees.div_ceil(LANES);
        Self {
            n_features,
            depth: depth as u8,
            max_samples,
            n_trees,
            nodes: vec![Node::PADDING; groups * internal_nodes(depth) * LANES],
            leaf_depths: vec![0.0; groups * leaves(depth) * LANES],
        }
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }

    /// Number of features.
    pub(crate) fn features(&self) -> usize {
        self.n_features
    }

    /// Depth of every tree.
    pub(crate) fn depth(&self) -> usize {
        usize::from(self.depth)
    }

    /// Rows each tree was grown on.
    pub(crate) fn max_samples(&self) -> usize {
        self.max_samples
    }

    fn slots(&self) -> usize {
        internal_nodes(self.depth())
    }

    fn at(&self, tree: usize, slot: usize, per_tree: usize) -> usize {
        ((tree / LANES) * per_tree + slot) * LANES + tree % LANES
    }

    /// Split slot `i` of tree `tree`.
    pub(crate) fn node(&self, tree: usize, i: usize) -> Node {
        self.nodes[self.at(tree, i, self.slots())]
    }

    /// Sets split slot `i` of tree `tree`.
    pub(crate) fn set_node(&mut self, tree: usize, i: usize, node: Node) {
        let at = self.at(tree, i, self.slots());
        self.nodes[at] = node;
    }

    /// Leaf slot `j` of tree `tree`.
    pub(crate) fn leaf(&self, tree: usize, j: usize) -> f32 {
        self.leaf_depths[self.at(tree, j, leaves(self.depth()))]
    }

    /// Sets leaf slot `j` of tree `tree`.
    pub(crate) fn set_leaf(&mut self, tree: usize, j: usize, length: f32) {
        let at = self.at(tree, j, leaves(self.depth()));
        self.leaf_depths[at] = length;
    }

    /// Score from the sum of path lengths over all trees.
    fn score_from_total(&self, total: f64) -> f64 {
        let mean = total / self.n_trees as f64;
        2f64.powf(-mean / average_path_length(self.max_samples))
    }

    /// Adds, for every row of `block` (row-major, `n_features` values each), its path length in
    /// every tree to `totals`. Group by group: a group's nodes (16 KB for depth 8) stay in L1
    /// cache while every row of the block walks them, each row walking the group's eight trees
    /// in lockstep, as independent branch-free chains of `2i + 1 + (value > threshold)`. Path
    /// lengths are added tree after tree, so a row's total does not depend on its block.
    fn accumulate_block(&self, block: &[f32], totals: &mut [f64]) {
        let d = self.n_features;
        assert_eq!(block.len(), totals.len() * d, "block width");
        let (slots, depth) = (self.slots(), self.depth());
        let group_nodes = self.nodes.chunks_exact(slots * LANES);
        let group_leaves = self.leaf_depths.chunks_exact(leaves(depth) * LANES);
        for (nodes, leaf_depths) in group_nodes.zip(group_leaves) {
            for (row, total) in block.chunks_exact(d).zip(totals.iter_mut()) {
                // Each lane's slot `i`, kept as `i * LANES` so a node is one indexed load away.
                let mut at = [0usize; LANES];
                for _ in 0..depth {
                    for (lane, at) in at.iter_mut().enumerate() {
                        // SAFETY: `*at / LANES` is a slot of this tree (it starts at the root and
                        // takes `depth` steps down a complete tree of that depth), so
                        // `*at + lane` is within the group's `slots * LANES` nodes; `validate`
                        // has checked that every split feature is below `d`, the row's width.
                        let (node, value) = unsafe {
                            let node = *nodes.get_unchecked(*at + lane);
                            (node, *row.get_unchecked(node.feature as usize))
                        };
                        // Slot 2i + 1 (left) or 2i + 2 (right), times LANES.
                        *at = 2 * *at + LANES + LANES * usize::from(value > node.threshold);
                    }
                }
                for (lane, &at) in at.iter().enumerate() {
                    *total += f64::from(leaf_depths[at - slots * LANES + lane]);
                }
            }
        }
    }
}

impl Detector for IsolationForest {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<'_, f64>) -> Array1<f64> {
        let d = self.n_features;
        let mut scores = Vec::with_capacity(x.nrows());
        let mut block = vec![0f32; x.nrows().min(BLOCK_ROWS) * d];
        let mut totals = vec![0f64; x.nrows().min(BLOCK_ROWS)];
        for chunk in x.axis_chunks_iter(ndarray::Axis(0), BLOCK_ROWS) {
            let (block, totals) = (
                &mut block[..chunk.nrows() * d],
                &mut totals[..chunk.nrows()],
            );
            for (slot, v) in block.iter_mut().zip(chunk.iter()) {
                *slot = *v as f32;
            }
            totals.fill(0.0);
            self.accumulate_block(block, totals);
            scores.extend(totals.iter().map(|&t| self.score_from_total(t)));
        }
        Array1::from(scores)
    }

    /// Path-based attribution: every real split on a row's path credits its feature with
    /// `1 / path length` of that tree, so features that isolate the row early and often weigh most.
    fn contributions(&self, row: ArrayView1<'_, f64>) -> Array1<f64> {
        let mut credit = Array1::zeros(self.n_features);
        let (slots, depth) = (self.slots(), self.depth());
        let values: Vec<f32> = row.iter().map(|v| *v as f32).collect();
        let mut path = Vec::with_capacity(depth);
        for tree in 0..self.n_trees {
            let mut i = 0;
            path.clear();
            for _ in 0..depth {
                let node = self.node(tree, i);
                let feature = node.feature as usize;
                if node.is_split() {
                    path.push(feature);
                }
                i = 2 * i + 1 + usize::from(values[feature] > node.threshold);
            }
            let length = f64::from(self.leaf(tree, i - slots)).max(1.0);
            for &feature in &path {
                credit[feature] += 1.0 / length;
            }
        }
        credit
    }

    fn validate(&self) -> Result<(), ArtifactError> {
        let invalid = |m: &str| Err(ArtifactError::Invalid(format!("isolation forest: {m}")));
        let depth = self.depth();
        if depth == 0 || depth > 12 || (1usize << depth) < self.max_samples {
            return invalid("depth does not match max_samples");
        }
        if self.max_samples < 2 || self.n_features == 0 || self.n_features > MAX_FEATURES {
            return invalid("needs at least 2 samples and 1 to 65534 features");
        }
        let groups = self.n_trees.div_ceil(LANES);
        if self.n_trees == 0
            || self.nodes.len() != groups * self.slots() * LANES
            || self.leaf_depths.len() != groups * leaves(depth) * LANES
        {
            return invalid("node arrays do not form whole trees");
        }
        if self
            .nodes
            .iter()
            .any(|n| n.feature as usize >= self.n_features)
        {
            return invalid("a split names a feature out of range");
        }
        if self.nodes.iter().any(|n| n.threshold.is_nan())
            || self.leaf_depths.iter().any(|l| !l.is_finite() || *l < 0.0)
        {
            return invalid("non-finite threshold or path length");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};
    use rand::Rng;

    fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0..1.0))
    }

    #[test]
    fn when_n_is_small_should_match_hand_computed_average_path_lengths() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2 (ln 2 + gamma) - 2 * 2 / 3
        assert!((average_path_length(3) - 1.207_392_357_589_623).abs() < 1e-12);
        // scikit-learn's _average_path_length([256])
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-9);
    }

    #[test]
    fn when_n_is_large_should_approximate_exact_harmonic_numbers() {
        for n in [10usize, 100, 1000] {
            let exact: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
            let approx = (n as f64 - 1.0).ln() + EULER_GAMMA;
            assert!((exact - approx).abs() < 1.0 / (n - 1) as f64, "n={n}");
        }
    }

    #[test]
    fn when_outlier_planted_should_rank_it_first() {
        let mut x = blob(500, 4, 1);
        x.row_mut(123)
            .assign(&ndarray::arr1(&[8.0, -7.0, 9.0, 6.0]));
        let forest = IsolationForest::params().seed(3).fit(x.view()).unwrap();
        let scores = forest.score(x.view());
        let top = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 123);
        assert!(scores[123] > 0.6, "outlier score {}", scores[123]);
        assert!(scores.iter().all(|s| s.is_finite() && *s > 0.0 && *s < 1.0));
    }

    #[test]
    fn when_same_seed_should_give_identical_forests_and_different_seed_should_not() {
        let x = blob(300, 3, 2);
        let a = IsolationForest::params().seed(7).fit(x.view()).unwrap();
        let b = IsolationForest::params().seed(7).fit(x.view()).unwrap();
        let c = IsolationForest::params().seed(8).fit(x.view()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn when_fitted_should_have_sklearn_depth_and_tree_count() {
        let x = blob(1000, 2, 3);
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        assert_eq!(forest.n_trees(), 100);
        assert_eq!(forest.depth, 8);
        let small = IsolationForest::params()
            .fit(x.slice(s![..100, ..]))
            .unwrap();
        assert_eq!(small.depth, 7, "ceil(log2(100))");
        assert_eq!(small.max_samples, 100);
    }

    #[test]
    fn when_all_rows_identical_should_score_every_row_the_same_finite_value() {
        let x = Array2::from_elem((50, 3), 4.2);
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        let scores = forest.score(x.view());
        // Every tree is one leaf holding all 50 rows: path length c(50).
        let expected = 2f64.powf(-average_path_length(50) / average_path_length(50));
        assert!(scores.iter().all(|s| (s - expected).abs() < 1e-6));
    }

    #[test]
    fn when_single_row_and_batch_scored_should_agree() {
        let x = blob(700, 5, 4);
        let forest = IsolationForest::params().seed(1).fit(x.view()).unwrap();
        let batch = forest.score(x.view());
        for i in [0, 63, 64, 65, 699] {
            let one = forest.score(x.slice(s![i..i + 1, ..]));
            assert_eq!(one[0], batch[i]);
        }
    }

    #[test]
    fn when_one_feature_isolates_the_row_should_credit_it_most() {
        let mut x = blob(400, 4, 5);
        x[[17, 2]] = 25.0;
        let forest = IsolationForest::params().seed(2).fit(x.view()).unwrap();
        let credit = forest.contributions(x.row(17));
        let top = credit
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 2, "credit {credit:?}");
        assert!(credit.iter().all(|c| c.is_finite() && *c >= 0.0));
    }

    #[test]
    fn when_max_features_is_a_fraction_should_split_only_on_a_subset_per_tree() {
        let x = blob(300, 10, 6);
        let forest = IsolationForest::params()
            .max_features(0.3)
            .fit(x.view())
            .unwrap();
        let used: std::collections::HashSet<u32> = (0..forest.slots())
            .map(|i| forest.node(0, i))
            .filter(|n| n.is_split())
            .map(|n| n.feature)
            .collect();
        assert!(used.len() <= 3, "tree 0 used {used:?}");
    }

    #[test]
    fn when_params_out_of_range_should_name_the_parameter() {
        let x = blob(10, 2, 7);
        let err = IsolationForest::params()
            .n_estimators(0)
            .fit(x.view())
            .unwrap_err();
        assert!(err.to_string().contains("n_estimators"));
        let err = IsolationForest::params()
            .max_features(1.5)
            .fit(x.view())
            .unwrap_err();
        assert!(err.to_string().contains("max_features"));
        let err = IsolationForest::params()
            .fit(x.slice(s![..1, ..]))
            .unwrap_err();
        assert!(err.to_string().contains("at least 2 rows"));
    }

    #[test]
    fn when_model_tampered_should_fail_validation() {
        let x = blob(100, 3, 8);
        let forest = IsolationForest::params().fit(x.view()).unwrap();
        assert!(forest.validate().is_ok());
        let mut bad = forest.clone();
        bad.set_node(
            0,
            0,
            Node {
                threshold: 0.5,
                feature: 3,
            },
        );
        assert!(bad.validate().is_err());
        let mut bad = forest.clone();
        bad.leaf_depths.pop();
        assert!(bad.validate().is_err());
        let mut bad = forest;
        bad.depth = 30;
        assert!(bad.validate().is_err());
    }
}
