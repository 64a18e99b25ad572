//! Fast rank lookup in a small sorted array of knots: a uniform bucket table over the knots'
//! range narrows the search to a few knots, which are then counted with a fixed-width,
//! branch-free scan. A plain binary search costs a mispredicted branch per step (the compiler
//! turns its conditional moves back into branches), which made it the bottleneck of ECOD.

use serde::{Deserialize, Serialize};

use crate::error::ArtifactError;

/// Knots scanned at once when a bucket holds few enough of them.
const WINDOW: usize = 8;
/// Buckets per knot: enough that most buckets hold fewer than [`WINDOW`] knots.
pub(super) const BUCKETS_PER_KNOT: usize = 2;

/// Strictly increasing finite knots with a bucket table: `bucket_starts[b]` is the number of
/// knots whose bucket is below `b`, where a value's bucket is `floor((v - first) * scale)`
/// clamped to the table. That map is monotone in `v`, so knots in lower buckets are below any
/// value of bucket `b` and knots in higher ones above it, whatever the rounding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KnotSearch {
    /// Knot values, finite and strictly increasing.
    values: Vec<f64>,
    /// Buckets per unit of value: `n_buckets / (last - first)`, or 0 when that is not finite.
    scale: f64,
    /// `n_buckets + 1` cumulative knot counts, from 0 to `values.len()`.
    bucket_starts: Vec<u32>,
}

impl KnotSearch {
    /// Indexes `values`, which must be finite and strictly increasing (checked by `validate`).
    pub(crate) fn new(values: Vec<f64>) -> Self {
        let (scale, bucket_starts) = bucket_table(&values);
        Self {
            values,
            scale,
            bucket_starts,
        }
    }

    /// The knot values.
    pub(crate) fn values(&self) -> &[f64] {
        &self.values
    }

    /// Mutable knots, for tests that tamper with a model.
    #[cfg(test)]
    pub(crate) fn values_mut(&mut self) -> &mut Vec<f64> {
        &mut self.values
    }

    /// Number of knots `<= x` (0 for NaN).
    #[inline(always)]
    pub(crate) fn upper_bound(&self, x: f64) -> usize {
        let first = self.values.first().copied().unwrap_or(0.0);
        let b = bucket(first, self.scale, self.bucket_starts.len(), x);
        let (Some(&start), Some(&end)) = (self.bucket_starts.get(b), self.bucket_starts.get(b + 1))
        else {
            return binary_upper_bound(&self.values, x);
        };
        let (start, end) = (start as usize, end as usize);
        if end - start <= WINDOW {
            // Knots past this bucket are all above `x`, so scanning a few extra is harmless.
            if let Some(window) = self.values.get(start..start + WINDOW) {
                return start + window.iter().map(|&v| usize::from(v <= x)).sum::<usize>();
            }
        }
        match self.values.get(start..end) {
            Some(range) => start + binary_upper_bound(range, x),
            None => binary_upper_bound(&self.values, x),
        }
    }

    /// Checks that the knots are finite, strictly increasing, and that the bucket table is the
    /// one they imply.
    pub(crate) fn validate(&self) -> Result<(), ArtifactError> {
        if self.values.is_empty() || self.values.len() > u32::MAX as usize {
            return Err(ArtifactError::Invalid("knot count out of range".into()));
        }
        if self.values.iter().any(|v| !v.is_finite())
            || self
                .values
                .windows(2)
                .any(|w| matches!(w, [a, b] if a >= b))
        {
            return Err(ArtifactError::Invalid(
                "knots are not finite and strictly increasing".into(),
            ));
        }
        let (scale, bucket_starts) = bucket_table(&self.values);
        if self.scale.to_bits() != scale.to_bits() || self.bucket_starts != bucket_starts {
            return Err(ArtifactError::Invalid(
                "knot bucket table does not match the knots".into(),
            ));
        }
        Ok(())
    }
}

/// Bucket of `x` for a table of `n_starts - 1` buckets starting at `first`: monotone
/// non-decreasing in `x` and always below the table's last entry (NaN and values below `first`
/// give 0), so it is a valid index of `bucket_starts` together with its successor.
#[inline(always)]
fn bucket(first: f64, scale: f64, n_starts: usize, x: f64) -> usize {
    // `as` saturates: negative and NaN give 0.
    (((x - first) * scale) as usize).min(n_starts.saturating_sub(2))
}

/// The scale and bucket table of `values`: [`BUCKETS_PER_KNOT`] buckets per knot, uniform over
/// `[values[0], values[last]]`. A single knot or an overflowing range gets scale 0 (one bucket
/// holds everything).
#[allow(clippy::indexing_slicing)] // `b` runs over 1..starts.len().
fn bucket_table(values: &[f64]) -> (f64, Vec<u32>) {
    let n_buckets = (values.len() * BUCKETS_PER_KNOT).max(1);
    let (first, last) = match (values.first(), values.last()) {
        (Some(&first), Some(&last)) => (first, last),
        _ => (0.0, 0.0),
    };
    let scale = n_buckets as f64 / (last - first);
    let scale = if scale.is_finite() { scale } else { 0.0 };
    let mut starts = vec![0u32; n_buckets + 1];
    for &v in values {
        if let Some(s) = starts.get_mut(bucket(first, scale, n_buckets + 1, v) + 1) {
            *s += 1;
        }
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    (scale, starts)
}

/// Number of elements of the ascending `values` that are `<= x`.
#[inline]
fn binary_upper_bound(values: &[f64], x: f64) -> usize {
    values.partition_point(|&v| v <= x)
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;
    use crate::detectors::test_support::{normal, rng};

    #[test]
    fn when_searching_should_match_partition_point() {
        let mut r = rng(1);
        for len in [1, 2, 3, 7, 8, 9, 50, 400] {
            for spread in [1.0, 1e-6, 1e6] {
                let mut values: Vec<f64> =
                    (0..len).map(|_| normal(&mut r).exp() * spread).collect();
                values.sort_by(f64::total_cmp);
                values.dedup();
                let s = KnotSearch::new(values.clone());
                assert!(s.validate().is_ok());
                let mut queries: Vec<f64> =
                    (0..2000).map(|_| normal(&mut r).exp() * spread).collect();
                queries.extend(&values);
                queries.extend([f64::MIN, f64::MAX, -0.0, 0.0, values[0] - 1e-300]);
                for q in queries {
                    assert_eq!(s.upper_bound(q), values.partition_point(|&v| v <= q), "{q}");
                }
                assert_eq!(s.upper_bound(f64::NAN), 0);
            }
        }
    }

    #[test]
    fn when_knots_are_clustered_should_fall_back_correctly() {
        // Almost all knots in the first bucket: the window is too small, binary search is used.
        let mut values: Vec<f64> = (0..100).map(|i| f64::from(i) * 1e-9).collect();
        values.push(1.0);
        let s = KnotSearch::new(values.clone());
        let mut r = rng(2);
        for _ in 0..1000 {
            let q = r.gen::<f64>() * 1e-7;
            assert_eq!(s.upper_bound(q), values.partition_point(|&v| v <= q));
        }
        let huge = KnotSearch::new(vec![f64::MIN, 0.0, f64::MAX]);
        assert!(huge.validate().is_ok());
        assert_eq!(huge.upper_bound(1.0), 2);
        assert_eq!(huge.upper_bound(f64::MAX), 3);
    }

    #[test]
    fn when_tampered_should_fail_validation() {
        let good = KnotSearch::new(vec![1.0, 2.0, 3.0]);
        let mut bad = good.clone();
        bad.bucket_starts[2] += 1;
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.bucket_starts.pop();
        assert!(bad.validate().is_err());
        let mut bad = good.clone();
        bad.values.swap(0, 1);
        assert!(bad.validate().is_err());
        let mut bad = good;
        bad.values[2] = f64::INFINITY;
        assert!(bad.validate().is_err());
        assert!(KnotSearch::new(Vec::new()).validate().is_err());
    }
}
