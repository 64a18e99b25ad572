//! The stored form of an Isolation Forest: only the real nodes of each tree, in preorder, so the
//! artifact stays small (about a third of the complete trees) and loads fast.
//!
//! Each node is 6 bytes, little-endian: a `u16` tag then an `f32`. A tag below `0xFFFF` is a
//! split on that feature and the `f32` its threshold, followed by the left then the right
//! subtree; the tag `0xFFFF` is a leaf and the `f32` its path length. Loading expands the nodes
//! into the complete trees scoring uses, checking every field on the way, so malformed bytes are
//! an error, never a panic or an unbounded allocation: a few stored leaves can stand for
//! complete trees thousands of times larger, so the expanded size is checked against
//! [`MAX_MODEL_HEAP_BYTES`] before anything is allocated.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::cost::forest_bytes;
use super::model::IsolationForest;
use super::tree::{Node, MAX_FEATURES};
use crate::artifact::MAX_MODEL_HEAP_BYTES;
use crate::error::ArtifactError;

/// Tag of a leaf node.
const LEAF: u16 = u16::MAX;
/// Bytes per stored node.
const NODE_BYTES: usize = 6;
/// Deepest tree a stored forest may describe (`max_samples` 4096).
const MAX_DEPTH: u8 = 12;

/// What an artifact holds of an Isolation Forest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredForest {
    n_features: u32,
    depth: u8,
    max_samples: u32,
    n_trees: u32,
    #[serde(with = "serde_bytes")]
    nodes: Vec<u8>,
}

impl From<IsolationForest> for StoredForest {
    fn from(forest: IsolationForest) -> Self {
        let mut nodes = Vec::new();
        for tree in 0..forest.n_trees() {
            write_subtree(&forest, tree, 0, 0, &mut nodes);
        }
        Self {
            n_features: forest.features() as u32,
            depth: forest.depth() as u8,
            max_samples: forest.max_samples() as u32,
            n_trees: forest.n_trees() as u32,
            nodes,
        }
    }
}

#[cfg(test)]
impl StoredForest {
    /// A forest of `trees` one-leaf trees claiming `depth`: a few bytes per tree that load
    /// as complete trees, for tests of the decoded-size check.
    pub(crate) fn leaves_only(n_features: u32, depth: u8, max_samples: u32, trees: u32) -> Self {
        Self {
            n_features,
            depth,
            max_samples,
            n_trees: trees,
            nodes: [0xFF, 0xFF, 0, 0, 0, 0].repeat(trees as usize),
        }
    }
}

/// An [`IsolationForest`] is serialized as its `StoredForest`.
impl Serialize for IsolationForest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredForest::from(self.clone()).serialize(serializer)
    }
}

/// An [`IsolationForest`] is deserialized from a `StoredForest`, every field checked.
impl<'de> Deserialize<'de> for IsolationForest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredForest::deserialize(deserializer)?;
        IsolationForest::try_from(stored).map_err(serde::de::Error::custom)
    }
}

/// The leaf slot reached from slot `i` at `level` by always going left.
fn leftmost_leaf(i: usize, level: usize, depth: usize) -> usize {
    let below = depth - level;
    (i << below) + (1 << below) - 1 - ((1 << depth) - 1)
}

/// Appends the subtree of `tree` rooted at slot `i` (at `level`) in preorder.
fn write_subtree(forest: &IsolationForest, tree: usize, i: usize, level: usize, out: &mut Vec<u8>) {
    let depth = forest.depth();
    let node = if level < depth {
        Some(forest.node(tree, i))
    } else {
        None
    };
    match node.filter(Node::is_split) {
        Some(node) => {
            out.extend_from_slice(&(node.feature as u16).to_le_bytes());
            out.extend_from_slice(&node.threshold.to_le_bytes());
            write_subtree(forest, tree, 2 * i + 1, level + 1, out);
            write_subtree(forest, tree, 2 * i + 2, level + 1, out);
        }
        None => {
            // The leaf's value sits in the leftmost leaf slot below it.
            let length = forest.leaf(tree, leftmost_leaf(i, level, depth));
            out.extend_from_slice(&LEAF.to_le_bytes());
            out.extend_from_slice(&length.to_le_bytes());
        }
    }
}

impl TryFrom<StoredForest> for IsolationForest {
    type Error = String;

    fn try_from(stored: StoredForest) -> Result<Self, String> {
        let depth = stored.depth;
        if depth == 0 || depth > MAX_DEPTH {
            return Err(format!(
                "isolation forest depth {depth} is not in 1..={MAX_DEPTH}"
            ));
        }
        let n_features = stored.n_features as usize;
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(format!("isolation forest has {n_features} features"));
        }
        let max_samples = stored.max_samples as usize;
        if max_samples < 2 || max_samples > 1 << depth {
            return Err(format!(
                "max_samples {max_samples} does not fit depth {depth}"
            ));
        }
        let trees = stored.n_trees as usize;
        // Every tree has at least one node: refuse counts the bytes cannot back before allocating.
        if trees == 0 || trees > stored.nodes.len() / NODE_BYTES {
            return Err(format!(
                "{trees} trees in {} node bytes",
                stored.nodes.len()
            ));
        }
        let expanded = forest_bytes(trees, usize::from(depth));
        if expanded > MAX_MODEL_HEAP_BYTES as f64 {
            return Err(ArtifactError::ModelTooLarge {
                algorithm: format!("isolation_forest ({trees} trees of depth {depth})"),
                bytes: expanded as u64,
                limit: MAX_MODEL_HEAP_BYTES as u64,
            }
            .to_string());
        }
        let mut forest = IsolationForest::empty(n_features, usize::from(depth), max_samples, trees);
        let mut reader = NodeReader {
            bytes: &stored.nodes,
            n_features,
        };
        for tree in 0..trees {
            reader.read_subtree(&mut forest, tree, 0, 0)?;
        }
        if !reader.bytes.is_empty() {
            return Err(format!("{} bytes after the last tree", reader.bytes.len()));
        }
        Ok(forest)
    }
}

/// Reads stored nodes into complete trees, checking each one.
struct NodeReader<'a> {
    bytes: &'a [u8],
    n_features: usize,
}

impl NodeReader<'_> {
    fn next(&mut self) -> Result<(u16, f32), String> {
        let Some((node, rest)) = self.bytes.split_first_chunk::<NODE_BYTES>() else {
            return Err("isolation forest nodes end inside a tree".into());
        };
        self.bytes = rest;
        let tag = u16::from_le_bytes([node[0], node[1]]);
        let value = f32::from_le_bytes([node[2], node[3], node[4], node[5]]);
        Ok((tag, value))
    }

    fn read_subtree(
        &mut self,
        forest: &mut IsolationForest,
        tree: usize,
        i: usize,
        level: usize,
    ) -> Result<(), String> {
        let depth = forest.depth();
        let (tag, value) = self.next()?;
        if tag == LEAF {
            if !value.is_finite() || value < 0.0 {
                return Err(format!(
                    "leaf path length {value} is not a finite non-negative number"
                ));
            }
            forest.set_leaf(tree, leftmost_leaf(i, level, depth), value);
            return Ok(());
        }
        if level == depth {
            return Err(format!("a split below the tree depth {depth}"));
        }
        if usize::from(tag) >= self.n_features || !value.is_finite() {
            return Err(format!(
                "split on feature {tag} at threshold {value} is out of range"
            ));
        }
        let node = Node {
            threshold: value,
            feature: u32::from(tag),
        };
        forest.set_node(tree, i, node);
        self.read_subtree(forest, tree, 2 * i + 1, level + 1)?;
        self.read_subtree(forest, tree, 2 * i + 2, level + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Detector;
    use ndarray::Array2;

    fn forest() -> IsolationForest {
        let x = Array2::from_shape_fn((500, 3), |(i, j)| ((i * 31 + j * 17) % 97) as f64);
        IsolationForest::params().seed(4).fit(x.view()).unwrap()
    }

    #[test]
    fn when_stored_and_loaded_should_be_identical_and_smaller() {
        let f = forest();
        let stored = StoredForest::from(f.clone());
        let complete_bytes = f.n_trees() * ((1 << f.depth()) * 12 - 8);
        assert!(
            stored.nodes.len() * 2 < complete_bytes,
            "{} vs {complete_bytes}",
            stored.nodes.len()
        );
        let back = IsolationForest::try_from(stored).unwrap();
        assert_eq!(back, f);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn when_nodes_are_cut_or_padded_should_refuse() {
        let stored = StoredForest::from(forest());
        let mut cut = stored.clone();
        cut.nodes.truncate(cut.nodes.len() - 3);
        assert!(IsolationForest::try_from(cut)
            .unwrap_err()
            .contains("end inside"));
        let mut padded = stored.clone();
        padded.nodes.extend_from_slice(&[0xFF, 0xFF, 0, 0, 0, 0]);
        assert!(IsolationForest::try_from(padded)
            .unwrap_err()
            .contains("after the last tree"));
        let mut many = stored;
        many.n_trees = u32::MAX;
        assert!(IsolationForest::try_from(many)
            .unwrap_err()
            .contains("trees in"));
    }

    #[test]
    fn when_a_few_leaves_claim_a_huge_forest_should_refuse_before_allocating_it() {
        // 10,000 trees of depth 12 in 60 KB: about 490 MB once expanded.
        let stored = StoredForest::leaves_only(1, 12, 4096, 10_000);
        let (result, peak) = crate::test_alloc::peak_during(|| IsolationForest::try_from(stored));
        let err = result.unwrap_err();
        assert!(
            err.contains("isolation_forest (10000 trees of depth 12) model takes 491"),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "more than the {} bytes a model may take",
                crate::artifact::MAX_MODEL_HEAP_BYTES
            )),
            "{err}"
        );
        assert!(peak < 1 << 20, "allocated {peak} bytes");
    }

    #[test]
    fn when_a_node_is_out_of_range_should_refuse() {
        let stored = StoredForest::from(forest());
        let mut bad_feature = stored.clone();
        bad_feature.nodes[0..2].copy_from_slice(&7u16.to_le_bytes());
        assert!(IsolationForest::try_from(bad_feature)
            .unwrap_err()
            .contains("feature 7"));
        let mut bad_depth = stored.clone();
        bad_depth.depth = 40;
        assert!(IsolationForest::try_from(bad_depth).is_err());
        // A chain of splits deeper than the tree: every node a split on feature 0.
        let mut too_deep = stored;
        too_deep.n_trees = 1;
        too_deep.nodes = [0u8, 0, 0, 0, 0x80, 0x3F].repeat(20);
        assert!(IsolationForest::try_from(too_deep)
            .unwrap_err()
            .contains("below the tree depth"));
    }
}
