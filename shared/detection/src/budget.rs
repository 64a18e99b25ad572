//! Work budgets: what one fit or one scoring call may use, and what it is estimated to cost
//! before any work, so no single request can exhaust a function's memory or time.
//!
//! Estimates are formulas of the row and column counts and the parameters (each detector's
//! `cost.rs`), calibrated on the development machine (`examples/budget_calibration.rs`) and
//! rounded up: they may over-estimate, and on the measured cases never under-estimate by more
//! than about 2x. Estimating and checking only take numbers: nothing proportional to the data
//! is allocated. [`crate::model::ModelSpec::check_fit`] and [`crate::model::Model::check_score`]
//! compare them with a [`WorkBudget`]; an over-budget call is refused by [`sizes::refuse`] with
//! the parameter to lower and how far.

pub(crate) mod sizes;

/// What one fit or one scoring call may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkBudget {
    /// Seconds of wall time on the machine the estimates were calibrated on (2 cores; only
    /// the Gaussian mixture's k-means uses both).
    pub seconds: f64,
    /// Bytes allocated at once beyond the input rows the caller already holds (the model
    /// being built or scored with included).
    pub memory_bytes: u64,
}

/// What a fit or scoring call is estimated to cost, before any work.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WorkEstimate {
    /// Seconds of wall time (see [`WorkBudget::seconds`]).
    pub seconds: f64,
    /// Most bytes allocated at once beyond the input rows (the model included).
    pub peak_bytes: u64,
    /// Bytes of the fitted model in memory (what [`crate::model::Model::heap_bytes`] will say).
    pub model_bytes: u64,
}

impl WorkEstimate {
    /// An estimate from counts computed in floating point (so products of large counts cannot
    /// overflow); byte counts are rounded up and saturate at `u64::MAX`.
    pub(crate) fn new(seconds: f64, peak_bytes: f64, model_bytes: f64) -> Self {
        Self {
            seconds: seconds.max(0.0),
            peak_bytes: peak_bytes.max(0.0).ceil() as u64,
            model_bytes: model_bytes.max(0.0).ceil() as u64,
        }
    }

    /// This step, then `next` while what this step built is kept: times add up, models add
    /// up, and the peak is this step's or `next`'s on top of this step's model.
    pub(crate) fn then(self, next: Self) -> Self {
        Self {
            seconds: self.seconds + next.seconds,
            peak_bytes: self
                .peak_bytes
                .max(self.model_bytes.saturating_add(next.peak_bytes)),
            model_bytes: self.model_bytes.saturating_add(next.model_bytes),
        }
    }

    /// This step, leaving a model of `bytes` (what it builds and keeps, where that is not all
    /// it held at its end).
    pub(crate) fn with_model(self, bytes: f64) -> Self {
        Self {
            model_bytes: bytes.max(0.0).ceil() as u64,
            ..self
        }
    }

    /// This step while `bytes` more are held throughout.
    pub(crate) fn holding(self, bytes: f64) -> Self {
        Self {
            peak_bytes: self.peak_bytes.saturating_add(bytes.max(0.0).ceil() as u64),
            ..self
        }
    }

    /// Whether this fits `budget`, and its model is at most `max_model_bytes`.
    pub(crate) fn fits(&self, budget: &WorkBudget, max_model_bytes: u64) -> bool {
        self.seconds <= budget.seconds
            && self.peak_bytes <= budget.memory_bytes
            && self.model_bytes <= max_model_bytes
    }
}

/// What scoring with one fitted detector costs: per row scored or explained, and whatever the
/// rows. The same numbers describe a fitted model ([`crate::Detector::score_cost`]) and the
/// model a fit will produce (for the calibration scoring a fit includes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScoreCost {
    /// Seconds to score one row.
    pub seconds_per_row: f64,
    /// Seconds to explain one row (its per-feature contributions).
    pub explain_seconds_per_row: f64,
    /// Bytes held per row scored in one call (scaled copies, intermediate products, scores).
    pub bytes_per_row: f64,
    /// Seconds per call whatever the rows (a search index built for the call).
    pub fixed_seconds: f64,
    /// Bytes per call whatever the rows (fixed-size blocks, a search index).
    pub fixed_bytes: f64,
}

impl ScoreCost {
    /// Scoring `rows` rows in one call, explaining each one too when `explain`; the model
    /// itself is not counted.
    pub fn for_rows(&self, rows: usize, explain: bool) -> WorkEstimate {
        let rows = rows as f64;
        let explain_seconds = if explain {
            self.explain_seconds_per_row
        } else {
            0.0
        };
        WorkEstimate::new(
            self.fixed_seconds + rows * (self.seconds_per_row + explain_seconds),
            self.fixed_bytes + rows * self.bytes_per_row,
            0.0,
        )
    }

    /// Both costs, one call after the other (an ensemble scores every member).
    pub(crate) fn plus(self, other: Self) -> Self {
        Self {
            seconds_per_row: self.seconds_per_row + other.seconds_per_row,
            explain_seconds_per_row: self.explain_seconds_per_row + other.explain_seconds_per_row,
            bytes_per_row: self.bytes_per_row.max(other.bytes_per_row),
            fixed_seconds: self.fixed_seconds + other.fixed_seconds,
            fixed_bytes: self.fixed_bytes.max(other.fixed_bytes),
        }
    }
}

/// What fitting costs, and what scoring with the detector it produces will cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FitCost {
    /// The fit itself (its row sampling included).
    pub fit: WorkEstimate,
    /// Scoring with the fitted detector.
    pub scoring: ScoreCost,
}

/// Bytes of `count` values of type `T`.
pub(crate) fn bytes_of<T>(count: f64) -> f64 {
    count * std::mem::size_of::<T>() as f64
}

/// `log2(n)`, at least 1: the depth of a search or sort over `n` items.
pub(crate) fn log2(n: f64) -> f64 {
    n.max(2.0).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_steps_follow_each_other_should_add_times_and_models_and_stack_the_peak() {
        let fit = WorkEstimate::new(2.0, 100.0, 40.0);
        let score = WorkEstimate::new(1.0, 80.0, 0.0);
        let both = fit.then(score);
        assert_eq!(both, WorkEstimate::new(3.0, 120.0, 40.0));
        assert_eq!(both.holding(10.0).peak_bytes, 130);
    }

    #[test]
    fn when_counts_overflow_should_saturate() {
        let huge = WorkEstimate::new(1.0, 1e30, 1e30);
        assert_eq!(huge.peak_bytes, u64::MAX);
        assert_eq!(huge.then(huge).model_bytes, u64::MAX);
    }

    #[test]
    fn when_compared_with_a_budget_should_check_time_memory_and_model_size() {
        let budget = WorkBudget {
            seconds: 10.0,
            memory_bytes: 1000,
        };
        assert!(WorkEstimate::new(10.0, 1000.0, 10.0).fits(&budget, 10));
        assert!(!WorkEstimate::new(10.5, 1000.0, 10.0).fits(&budget, 10));
        assert!(!WorkEstimate::new(1.0, 1001.0, 10.0).fits(&budget, 10));
        assert!(!WorkEstimate::new(1.0, 10.0, 11.0).fits(&budget, 10));
    }

    #[test]
    fn when_rows_are_scored_should_scale_per_row_costs_and_add_fixed_ones() {
        let cost = ScoreCost {
            seconds_per_row: 1e-6,
            explain_seconds_per_row: 1e-5,
            bytes_per_row: 16.0,
            fixed_seconds: 0.5,
            fixed_bytes: 1000.0,
        };
        let plain = cost.for_rows(1000, false);
        assert!((plain.seconds - 0.501).abs() < 1e-12);
        assert_eq!(plain.peak_bytes, 17_000);
        assert!((cost.for_rows(1000, true).seconds - 0.511).abs() < 1e-12);
    }
}
