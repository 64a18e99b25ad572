//! Seasonal differencing: with a known season (points per day, per week), each value is paired
//! with its difference from the value one season before, so a broken daily pattern, whose values
//! are each ordinary but fall where the season says otherwise, stands out to the forest. Keeps
//! one season of values, bounded by the largest season allowed.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The last season of points, to difference the next point against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeasonalDifference {
    period: usize,
    past: VecDeque<Vec<f64>>,
}

impl SeasonalDifference {
    /// Differencing over a season of `period` points.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            past: VecDeque::with_capacity(period),
        }
    }

    /// The forest's input for `values`: each value followed by its difference from one season
    /// before (0 until a whole season has been seen). Learns `values`.
    pub fn pair(&mut self, values: &[f64]) -> Vec<f64> {
        let season_ago = if self.past.len() == self.period {
            self.past.pop_front()
        } else {
            None
        };
        let paired = values
            .iter()
            .enumerate()
            .flat_map(|(index, &value)| {
                let before = season_ago
                    .as_ref()
                    .and_then(|past| past.get(index))
                    .map_or(value, |&past| past);
                [value, value - before]
            })
            .collect();
        self.past.push_back(values.to_vec());
        paired
    }
}
