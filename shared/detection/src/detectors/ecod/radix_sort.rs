//! Sorting of large float columns by LSD radix sort on order-preserving integer keys: a few
//! linear passes instead of a comparison sort's `n log n`, which made sorting the bulk of
//! fitting ECOD on large training sets.

/// Below this length a comparison sort is as fast and needs no scratch memory.
const RADIX_MIN_LEN: usize = 2048;
/// Bits per radix digit.
const DIGIT_BITS: u32 = 11;
/// Buckets per digit.
const BUCKETS: usize = 1 << DIGIT_BITS;
/// Digits per 64-bit key.
const DIGITS: usize = u64::BITS.div_ceil(DIGIT_BITS) as usize;

/// Sorts `values` ascending in IEEE total order (`f64::total_cmp`: `-0.0` before `0.0`, NaNs at
/// the ends by sign). `keys` and `scratch` are reusable buffers.
#[allow(clippy::indexing_slicing)] // hot loop: `digit` is below 256, the histogram length.
pub(crate) fn sort_f64(values: &mut [f64], keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    // Already-ordered columns (time stamps, counters, row ids) cost one comparison pass.
    if values.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
        return;
    }
    if values.len() < RADIX_MIN_LEN {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    keys.clear();
    keys.reserve(values.len());
    let mut counts = [[0usize; BUCKETS]; DIGITS];
    for &v in values.iter() {
        let k = key(v);
        for (d, c) in counts.iter_mut().enumerate() {
            c[digit(k, d)] += 1;
        }
        keys.push(k);
    }
    scratch.clear();
    scratch.resize(keys.len(), 0);
    let (mut src, mut dst) = (keys, scratch);
    for (d, c) in counts.iter().enumerate() {
        // A digit shared by every key leaves the order unchanged.
        if c.contains(&src.len()) {
            continue;
        }
        let mut offsets = [0usize; BUCKETS];
        let mut total = 0;
        for (o, &n) in offsets.iter_mut().zip(c) {
            *o = total;
            total += n;
        }
        for &k in src.iter() {
            let o = &mut offsets[digit(k, d)];
            if let Some(slot) = dst.get_mut(*o) {
                *slot = k;
            }
            *o += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    for (v, &k) in values.iter_mut().zip(src.iter()) {
        *v = from_key(k);
    }
}

/// Digit `d` (least significant first) of a key.
#[inline(always)]
fn digit(k: u64, d: usize) -> usize {
    ((k >> (d as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)
}

/// A key whose unsigned order is the total order of floats: flip every bit of negatives, only
/// the sign bit of positives.
#[inline(always)]
fn key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Inverse of [`key`].
#[inline(always)]
fn from_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;
    use crate::detectors::test_support::{normal, rng};

    #[test]
    fn when_sorting_should_match_total_order_sort() {
        let mut r = rng(4);
        for n in [0, 1, 5, 3000, 20_000] {
            let mut v: Vec<f64> = (0..n)
                .map(|i| match i % 5 {
                    0 => normal(&mut r) * 1e300,
                    1 => f64::from(r.gen_range(-3..3)),
                    2 => -0.0,
                    3 => r.gen::<f64>() * 1e-310,
                    _ => normal(&mut r),
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_by(f64::total_cmp);
            sort_f64(&mut v, &mut Vec::new(), &mut Vec::new());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v), bits(&expected));
        }
    }

    #[test]
    fn when_keyed_should_round_trip() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -1.5,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(from_key(key(v)).to_bits(), v.to_bits());
        }
        assert!(key(-1.0) < key(-0.0) && key(-0.0) < key(0.0) && key(0.0) < key(1.0));
    }
}
