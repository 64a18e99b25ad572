//! A bounded summary of one training column's empirical CDF: the column's values at a fixed,
//! shared set of ranks (a uniform grid plus geometric levels dense in both tails), each with the
//! exact number of training values below and at-or-below it. It lets ECOD score new rows without
//! keeping the training set, in a model whose size grows only with `log n`.

/// Geometric tail levels per halving of the tail mass (levels `2^(-i/4)`), so two consecutive
/// tail knots differ in rank by a factor of about 1.19 down to the extreme value.
const TAIL_LEVELS_PER_OCTAVE: f64 = 4.0;

/// Ranks (0-based positions in a sorted column of `n` values) kept as knots, sorted and distinct.
///
/// Every rank is kept while `n <= 2 * n_quantiles`, so small training sets are summarised
/// exactly. Beyond that: the ranks of the `n_quantiles + 1` uniform levels `k / n_quantiles`,
/// plus ranks `round(g)` and `n - 1 - round(g)` for `g = 1, 2^(1/4), 2^(2/4), ... < n / 2`.
pub(crate) fn knot_ranks(n: usize, n_quantiles: usize) -> Vec<usize> {
    if n <= n_quantiles.saturating_mul(2) {
        return (0..n).collect();
    }
    let last = n - 1;
    let q = n_quantiles.max(1);
    let mut ranks: Vec<usize> = (0..=q)
        .map(|k| ((k as f64 / q as f64) * last as f64).round() as usize)
        .collect();
    let step = 2f64.powf(1.0 / TAIL_LEVELS_PER_OCTAVE);
    let mut g = 1.0_f64;
    while g < n as f64 / 2.0 {
        let r = (g.round() as usize).min(last);
        ranks.push(r);
        ranks.push(last - r);
        g *= step;
    }
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

/// Knots of one column: distinct values, strictly increasing, from the column minimum to its
/// maximum, each with exact counts of training values `< value` and `<= value`, so ties (common
/// in integer-valued columns) are counted exactly at every knot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnSketch {
    /// Knot values, strictly increasing.
    pub(crate) values: Vec<f64>,
    /// Number of training values strictly below each knot.
    pub(crate) count_lt: Vec<usize>,
    /// Number of training values at or below each knot.
    pub(crate) count_le: Vec<usize>,
}

impl ColumnSketch {
    /// Summarises `sorted` (ascending, finite) at `ranks` (ascending; ranks past the end are
    /// ignored). The minimum and maximum are always knots when rank 0 and `len - 1` are given.
    pub(crate) fn from_sorted(sorted: &[f64], ranks: &[usize]) -> Self {
        let mut sketch = Self {
            values: Vec::with_capacity(ranks.len()),
            count_lt: Vec::with_capacity(ranks.len()),
            count_le: Vec::with_capacity(ranks.len()),
        };
        for &v in ranks.iter().filter_map(|&r| sorted.get(r)) {
            if sketch.values.last().is_some_and(|&prev| prev >= v) {
                continue;
            }
            sketch.values.push(v);
            sketch.count_lt.push(sorted.partition_point(|&a| a < v));
            sketch.count_le.push(sorted.partition_point(|&a| a <= v));
        }
        sketch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_column_is_small_should_keep_every_rank() {
        assert_eq!(knot_ranks(5, 256), vec![0, 1, 2, 3, 4]);
        assert_eq!(knot_ranks(0, 256), Vec::<usize>::new());
    }

    #[test]
    fn when_column_is_large_should_keep_extremes_and_bounded_knots() {
        let n = 1_000_000;
        let ranks = knot_ranks(n, 256);
        assert_eq!(ranks.first(), Some(&0));
        assert_eq!(ranks.last(), Some(&(n - 1)));
        assert!(ranks.windows(2).all(|w| w[0] < w[1]));
        for r in [1, 2, 3, n - 2, n - 3, n - 4] {
            assert!(ranks.contains(&r), "rank {r} missing");
        }
        assert!(ranks.len() < 450, "{} knots", ranks.len());
    }

    #[test]
    fn when_values_tie_should_count_the_whole_run() {
        let sorted = [1.0, 2.0, 2.0, 2.0, 3.0];
        let sketch = ColumnSketch::from_sorted(&sorted, &knot_ranks(5, 256));
        assert_eq!(sketch.values, vec![1.0, 2.0, 3.0]);
        assert_eq!(sketch.count_lt, vec![0, 1, 4]);
        assert_eq!(sketch.count_le, vec![1, 4, 5]);
    }

    #[test]
    fn when_ranks_skip_values_should_still_count_exactly_at_knots() {
        let sorted: Vec<f64> = (0..100).map(|i| f64::from(i / 10)).collect();
        let sketch = ColumnSketch::from_sorted(&sorted, &[0, 55, 99, 500]);
        assert_eq!(sketch.values, vec![0.0, 5.0, 9.0]);
        assert_eq!(sketch.count_lt, vec![0, 50, 90]);
        assert_eq!(sketch.count_le, vec![10, 60, 100]);
    }
}
