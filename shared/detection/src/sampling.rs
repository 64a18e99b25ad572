//! Seeded row sampling, so fitting on large data stays bounded in time and memory and
//! reproducible for a given seed.

use ndarray::{ArrayView2, Axis, CowArray, Ix2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// At most `max_rows` rows of `x`, drawn without replacement with `seed` and kept in their
/// original order; `x` itself (borrowed) when it is small enough.
pub fn sample_rows<'a>(
    x: ArrayView2<'a, f64>,
    max_rows: usize,
    seed: u64,
) -> CowArray<'a, f64, Ix2> {
    if x.nrows() <= max_rows {
        return CowArray::from(x);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = sample(&mut rng, x.nrows(), max_rows).into_vec();
    rows.sort_unstable();
    CowArray::from(x.select(Axis(0), &rows))
}

/// A seeded uniform sample of at most `capacity` rows from a stream of rows of `width` values
/// (Vitter's algorithm R), so training on a file larger than memory keeps `capacity x width`
/// values whatever the file's length. Every row offered has the same chance to be kept; the
/// sample comes out in stream order, and the same stream and seed give the same sample.
#[derive(Debug, Clone)]
pub struct Reservoir {
    capacity: usize,
    width: usize,
    seen: u64,
    /// Stream index of the row in each slot.
    order: Vec<u64>,
    /// Row-major values, `width` per slot.
    values: Vec<f64>,
    rng: Xoshiro256PlusPlus,
}

impl Reservoir {
    /// An empty reservoir of `capacity` rows (at least 1) of `width` values.
    pub fn new(capacity: usize, width: usize, seed: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            width,
            seen: 0,
            order: Vec::new(),
            values: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Offers one row of `width` values; rows of another width are ignored (the caller checks
    /// widths).
    pub fn offer(&mut self, row: &[f64]) {
        if row.len() != self.width {
            return;
        }
        let index = self.seen;
        self.seen += 1;
        if self.order.len() < self.capacity {
            self.order.push(index);
            self.values.extend_from_slice(row);
            return;
        }
        let j = self.rng.gen_range(0..=index);
        if let Ok(slot) = usize::try_from(j) {
            if slot < self.capacity {
                if let Some(order) = self.order.get_mut(slot) {
                    *order = index;
                }
                let start = slot * self.width;
                if let Some(values) = self.values.get_mut(start..start + self.width) {
                    values.copy_from_slice(row);
                }
            }
        }
    }

    /// Offers every row of a row-major matrix of `width` columns.
    pub fn offer_rows(&mut self, x: ArrayView2<'_, f64>) {
        let mut row = Vec::with_capacity(self.width);
        for r in x.rows() {
            row.clear();
            row.extend(r.iter().copied());
            self.offer(&row);
        }
    }

    /// Rows offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Rows kept.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no row was kept.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The kept rows in stream order, row-major (`len() x width` values).
    pub fn into_row_major(self) -> Vec<f64> {
        let mut slots: Vec<usize> = (0..self.order.len()).collect();
        slots.sort_unstable_by_key(|&s| self.order.get(s).copied().unwrap_or(u64::MAX));
        let mut out = Vec::with_capacity(self.values.len());
        for slot in slots {
            let start = slot * self.width;
            if let Some(values) = self.values.get(start..start + self.width) {
                out.extend_from_slice(values);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn when_data_is_small_should_borrow_it_whole() {
        let x = Array2::<f64>::zeros((5, 2));
        let s = sample_rows(x.view(), 10, 1);
        assert!(s.is_view());
        assert_eq!(s.nrows(), 5);
    }

    #[test]
    fn when_data_is_large_should_draw_distinct_rows_in_order_reproducibly() {
        let x = Array2::from_shape_fn((1000, 1), |(i, _)| i as f64);
        let a = sample_rows(x.view(), 100, 4);
        let b = sample_rows(x.view(), 100, 4);
        assert_eq!(a, b);
        assert_eq!(a.nrows(), 100);
        let col: Vec<f64> = a.column(0).to_vec();
        assert!(col.windows(2).all(|w| w[0] < w[1]));
    }

    fn reservoir_of(n: usize, capacity: usize, seed: u64) -> Vec<f64> {
        let mut r = Reservoir::new(capacity, 2, seed);
        for i in 0..n {
            r.offer(&[i as f64, -(i as f64)]);
        }
        assert_eq!(r.seen(), n as u64);
        r.into_row_major()
    }

    #[test]
    fn when_stream_fits_should_keep_every_row_in_order() {
        assert_eq!(reservoir_of(3, 10, 1), [0.0, -0.0, 1.0, -1.0, 2.0, -2.0]);
    }

    #[test]
    fn when_stream_is_longer_should_keep_capacity_distinct_rows_in_order_reproducibly() {
        let a = reservoir_of(10_000, 100, 7);
        assert_eq!(a, reservoir_of(10_000, 100, 7));
        assert_ne!(a, reservoir_of(10_000, 100, 8));
        assert_eq!(a.len(), 200);
        let firsts: Vec<f64> = a.chunks(2).map(|r| r[0]).collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        assert!(a.chunks(2).all(|r| r[1] == -r[0]));
    }

    #[test]
    fn when_many_streams_are_sampled_should_keep_each_row_about_equally_often() {
        // 200 rows into 20 slots: each row is kept with probability 0.1.
        let mut kept = vec![0u32; 200];
        for seed in 0..2_000 {
            for row in reservoir_of(200, 20, seed).chunks(2) {
                kept[row[0] as usize] += 1;
            }
        }
        // Expected 200 per row; a binomial(2000, 0.1) stays within 200 +- 60 (4.5 sigma).
        assert!(kept.iter().all(|&k| (140..=260).contains(&k)), "{kept:?}");
        let first_half: u32 = kept[..100].iter().sum();
        let second_half: u32 = kept[100..].iter().sum();
        assert!(
            first_half.abs_diff(second_half) < 1_500,
            "{first_half} vs {second_half}"
        );
    }

    #[test]
    fn when_row_has_the_wrong_width_should_ignore_it() {
        let mut r = Reservoir::new(4, 2, 0);
        r.offer(&[1.0]);
        assert!(r.is_empty());
        assert_eq!(r.seen(), 0);
    }
}
