//! Seeded row sampling, so fitting on large data stays bounded in time and memory and
//! reproducible for a given seed.

use ndarray::{ArrayView2, Axis, CowArray, Ix2};
use rand::seq::index::sample;
use rand::SeedableRng;
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
}
