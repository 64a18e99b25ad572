//! Range novelty: a value beyond every value the series has shown, by more than a margin of the
//! range seen, is anomalous at once, whatever the forest has learned (as NAB's HTM detector
//! flags a "spatial anomaly"). A metric that breaks its all-time range is the anomaly people ask
//! about first, and the forest, judging shapes, can score it late.

use serde::{Deserialize, Serialize};

/// The margin, as a fraction of the range seen, a value may pass the range by.
const TOLERANCE: f64 = 0.05;
/// Points before the range is trusted.
const MINIMUM_POINTS: u32 = 100;

/// The range of every value seen: two numbers per value, whatever the series length.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RangeNovelty {
    seen: u32,
    minimum: Vec<f64>,
    maximum: Vec<f64>,
}

impl RangeNovelty {
    /// Whether any of `values` is outside the range seen plus the margin; then learns them.
    pub fn observe(&mut self, values: &[f64]) -> bool {
        if self.minimum.len() != values.len() {
            self.minimum = values.to_vec();
            self.maximum = values.to_vec();
        }
        let mut novel = false;
        for ((value, low), high) in values
            .iter()
            .zip(self.minimum.iter_mut())
            .zip(self.maximum.iter_mut())
        {
            let margin = (*high - *low) * TOLERANCE;
            if self.seen >= MINIMUM_POINTS
                && *high > *low
                && (*value > *high + margin || *value < *low - margin)
            {
                novel = true;
            }
            *low = low.min(*value);
            *high = high.max(*value);
        }
        self.seen = self.seen.saturating_add(1);
        novel
    }
}
