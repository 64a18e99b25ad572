//! The plain pieces of a complete isolation tree that both the fitted forest (`model`) and its
//! stored form (`codec`) use: the split node and the feature-count limit.

/// Most features a forest can split on (the stored form keeps feature indices in 16 bits).
pub const MAX_FEATURES: usize = 65_534;

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
