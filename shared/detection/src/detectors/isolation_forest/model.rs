//! The fitted IsolationForest and how it is fitted.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::cost::score_cost;
use super::params::IsolationForestParams;
use super::tree::{Node, MAX_FEATURES};
use crate::budget::ScoreCost;
use crate::detector::Detector;
use crate::detectors::params::Checked;
use crate::error::{ArtifactError, DetectionError};

/// Euler-Mascheroni constant, for the harmonic-number approximation in [`average_path_length`].
pub(super) const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Trees walked in lockstep by one row (the interleaving width of the stored trees).
pub(super) const LANES: usize = 8;

/// Rows that walk one group of trees before the next group is loaded.
pub(super) const BLOCK_ROWS: usize = 64;

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

crate::detectors::params::params_of!(IsolationForestParams => IsolationForest, seeded by seed);

impl Checked<IsolationForestParams> {
    /// Grows the forest on `x` (rows are samples; at least 2 rows, at most 65,534 features).
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<IsolationForest, DetectionError> {
        let (n_rows, n_features) = x.dim();
        if n_rows < 2 {
            return Err(fit_error("needs at least 2 rows"));
        }
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(fit_error("needs between 1 and 65534 features"));
        }
        let max_samples = self.max_samples.min(n_rows);
        let depth = super::cost::depth(max_samples);
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

/// A value as the trees compare it: `f32`, with values beyond its range (|v| > 3.4e38, which
/// `as` turns into infinities) held at its largest finite values, so split ranges stay finite.
/// Scoring compares plain `as f32` values: an infinity falls on the same side of every finite
/// threshold as the largest finite value.
pub(super) fn to_f32(v: f64) -> f32 {
    (v as f32).clamp(f32::MIN, f32::MAX)
}

pub(super) fn fit_error(reason: &str) -> DetectionError {
    DetectionError::Fit {
        algorithm: "isolation_forest",
        reason: reason.into(),
    }
}

pub(super) fn internal_nodes(depth: usize) -> usize {
    (1 << depth) - 1
}

pub(super) fn leaves(depth: usize) -> usize {
    1 << depth
}

/// Reusable buffers that grow one tree at a time.
pub(super) struct TreeGrower {
    pub(super) depth: usize,
    pub(super) max_samples: usize,
    pub(super) tree_features: usize,
    /// The tree's sampled rows, column-major: `columns[f * max_samples + i]`.
    pub(super) columns: Vec<f32>,
    /// Global feature index of each local column.
    pub(super) column_features: Vec<u16>,
    /// Row positions of the node being split, partitioned in place.
    pub(super) rows: Vec<u32>,
    /// Candidate order of features at the node being split.
    pub(super) order: Vec<usize>,
    pub(super) nodes: Vec<Node>,
    pub(super) leaf_depths: Vec<f32>,
}

#[allow(clippy::indexing_slicing)] // hot fitting loop: rows, columns and node slots are sized by `new` for this depth.
impl TreeGrower {
    pub(super) fn new(depth: usize, max_samples: usize, tree_features: usize) -> Self {
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

    pub(super) fn grow(&mut self, x: ArrayView2<'_, f64>, rng: &mut Xoshiro256PlusPlus) {
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
                *slot = to_f32(column[row]);
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
    pub(super) fn split(
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
    pub(super) fn pick_split(
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

/// A fitted Isolation Forest. Stored compactly (only real nodes: the `codec` module implements
/// its `Serialize` and `Deserialize` through `StoredForest`) and expanded to complete trees when
/// loaded.
///
/// In memory, trees are interleaved in groups of `LANES` (8): slot `i` of the group's trees lies
/// at `(group * slots + i) * LANES + lane`, so one row walks the eight trees of a group in
/// lockstep with every lane's position in a register and a constant offset per lane. A last
/// group that is not full is padded with empty trees (path length 0).
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    pub(super) n_features: usize,
    /// Depth of every (complete) tree: `ceil(log2(max_samples))`.
    pub(super) depth: u8,
    /// Rows each tree was grown on.
    pub(super) max_samples: usize,
    /// Number of real trees.
    pub(super) n_trees: usize,
    /// The `2^depth - 1` split slots of every tree, interleaved by group.
    pub(super) nodes: Vec<Node>,
    /// The path length (depth + `c(leaf size)`) of the `2^depth` leaf slots, interleaved by group.
    pub(super) leaf_depths: Vec<f32>,
}

#[allow(clippy::indexing_slicing)] // hot scoring loop: slots are below `2^depth` by construction and checked by `validate`.
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

    pub(super) fn slots(&self) -> usize {
        internal_nodes(self.depth())
    }

    pub(super) fn at(&self, tree: usize, slot: usize, per_tree: usize) -> usize {
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
    pub(super) fn score_from_total(&self, total: f64) -> f64 {
        let mean = total / self.n_trees as f64;
        2f64.powf(-mean / average_path_length(self.max_samples))
    }

    /// Adds, for every row of `block` (row-major, `n_features` values each), its path length in
    /// every tree to `totals`. Group by group: a group's nodes (16 KB for depth 8) stay in L1
    /// cache while every row of the block walks them, each row walking the group's eight trees
    /// in lockstep, as independent branch-free chains of `2i + 1 + (value > threshold)`. Path
    /// lengths are added tree after tree, so a row's total does not depend on its block.
    pub(super) fn accumulate_block(&self, block: &[f32], totals: &mut [f64]) {
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

#[allow(clippy::indexing_slicing)] // hot scoring loop: slots are below `2^depth` and features below `n_features` (`validate`).
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

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.nodes.len() * std::mem::size_of::<Node>()
            + self.leaf_depths.len() * std::mem::size_of::<f32>()
    }

    fn score_cost(&self) -> ScoreCost {
        score_cost(self.n_trees, self.depth(), self.n_features)
    }
}
