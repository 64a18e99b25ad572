//! What judging and learning a run of points costs a series' detector, estimated from the
//! settings and the point count before any work, so one request cannot exhaust a function. The
//! forest dominates: every point is scored and learned by every tree, along a path of about
//! `log2(sample_size)` nodes whose bounding boxes are as wide as the shingled point. Calibrated on
//! the development machine (`examples/budget_calibration.rs -- series`), rounded up.

use super::params::SeriesSettings;
use crate::budget::{WorkBudget, WorkEstimate};
use crate::error::DetectionError;

/// Seconds per tree and point, whatever the point's width.
const SECONDS_PER_TREE_POINT: f64 = 1.5e-6;
/// Seconds per tree, point, path node and shingled dimension.
const SECONDS_PER_TREE_NODE_DIMENSION: f64 = 6.0e-8;
/// Bytes per tree and sampled point of the forest, beside the point's values.
const BYTES_PER_SAMPLED_POINT: f64 = 96.0;
/// Bytes of the detector beyond its forest (likelihood history, season, thresholds).
const FIXED_STATE_BYTES: f64 = 256.0 * 1024.0;
/// Bytes held per point judged: its verdict (score, grade, expected value, bounds, attribution).
const BYTES_PER_VERDICT: f64 = 128.0;

impl SeriesSettings {
    /// Numbers of one shingled point, the width of the forest's boxes.
    fn shingled_dimensions(&self) -> usize {
        self.forest_dimensions() * self.params.shingle_size
    }

    /// The estimated cost of judging and learning `points` points with a detector of these
    /// settings, the detector's own state counted as the model.
    pub fn estimate(&self, points: usize) -> WorkEstimate {
        let trees = self.number_of_trees as f64;
        let dimensions = self.shingled_dimensions() as f64;
        let sample = self.params.sample_size as f64;
        let depth = sample.log2().max(1.0);
        let per_point =
            trees * (SECONDS_PER_TREE_POINT + SECONDS_PER_TREE_NODE_DIMENSION * depth * dimensions);
        let state = FIXED_STATE_BYTES
            + trees * sample * (BYTES_PER_SAMPLED_POINT + 8.0 * dimensions)
            + self.params.seasonality.unwrap_or(0) as f64 * 8.0 * self.dimensions as f64;
        let verdict = BYTES_PER_VERDICT + 32.0 * self.dimensions as f64;
        WorkEstimate::new(
            points as f64 * per_point,
            state + points as f64 * verdict,
            0.0,
        )
        .with_model(state)
    }

    /// Refuses `points` points when their estimate passes `budget`, naming how many would fit.
    pub fn check_work(&self, points: usize, budget: &WorkBudget) -> Result<(), DetectionError> {
        let fits = |n: usize| {
            let estimate = self.estimate(n);
            estimate.seconds <= budget.seconds && estimate.peak_bytes <= budget.memory_bytes
        };
        if fits(points) {
            return Ok(());
        }
        let (mut low, mut high) = (0, points);
        while low + 1 < high {
            let middle = low + (high - low) / 2;
            if fits(middle) {
                low = middle;
            } else {
                high = middle;
            }
        }
        let estimate = self.estimate(points);
        Err(DetectionError::OverBudget {
            parameter: "points".into(),
            limit: low.to_string(),
            message: format!(
                "{points} points with {} trees over {} shingled values are estimated at {:.1} s \
                 and {} MiB, above this function's budget of {:.1} s and {} MiB: send at most \
                 {low} points per request, or use fewer trees or a shorter shingle",
                self.number_of_trees,
                self.shingled_dimensions(),
                estimate.seconds,
                estimate.peak_bytes / (1024 * 1024),
                budget.seconds,
                budget.memory_bytes / (1024 * 1024),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::SeriesParams;

    fn settings(params: SeriesParams, dimensions: usize) -> SeriesSettings {
        params.check(dimensions).unwrap()
    }

    #[test]
    fn when_points_fit_the_budget_should_admit_them() {
        let budget = WorkBudget {
            seconds: 10.0,
            memory_bytes: 512 * 1024 * 1024,
        };
        settings(SeriesParams::default(), 1)
            .check_work(10_000, &budget)
            .unwrap();
    }

    #[test]
    fn when_the_widest_forest_judges_many_points_should_refuse_naming_the_points_that_fit() {
        let wide = SeriesParams {
            number_of_trees: Some(100),
            shingle_size: 8,
            ..SeriesParams::default()
        };
        let budget = WorkBudget {
            seconds: 1.0,
            memory_bytes: 512 * 1024 * 1024,
        };
        let settings = settings(wide, 16);
        let Err(DetectionError::OverBudget {
            parameter, limit, ..
        }) = settings.check_work(10_000, &budget)
        else {
            panic!("10,000 points through 100 trees of 128 values fit one second");
        };
        assert_eq!(parameter, "points");
        let limit: usize = limit.parse().unwrap();
        assert!(limit > 0 && limit < 10_000);
        settings.check_work(limit, &budget).unwrap();
        assert!(settings.check_work(limit + 1, &budget).is_err());
    }

    #[test]
    fn when_the_forest_is_wider_should_estimate_more() {
        let narrow = settings(SeriesParams::default(), 1).estimate(1_000);
        let wide = settings(
            SeriesParams {
                shingle_size: 8,
                ..SeriesParams::default()
            },
            4,
        )
        .estimate(1_000);
        assert!(wide.seconds > narrow.seconds && wide.peak_bytes > narrow.peak_bytes);
    }
}
