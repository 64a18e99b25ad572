//! How a large file is cut for scoring in parallel: byte ranges, each owning the lines that start
//! inside it, and where each range's results and summary are kept until they are joined.

use serde::{Deserialize, Serialize};

use super::tenant::Tenant;

/// Most ranges of one job: S3 joins at most 10,000 parts into one object.
pub const MAX_RANGES: u64 = 10_000;

/// One share of a file: the lines whose first byte lies in `start..end` (a line crossing `end` is
/// read to its end; one starting before `start` belongs to the range before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    /// Position in the file's order, from 0.
    pub index: u32,
    /// First byte offset owned.
    pub start: u64,
    /// One past the last byte offset owned.
    pub end: u64,
}

/// Cuts `size` bytes into ranges of `range_bytes` (more when that would pass [`MAX_RANGES`]).
pub fn plan_ranges(size: u64, range_bytes: u64) -> Vec<ByteRange> {
    let width = range_bytes.max(1).max(size.div_ceil(MAX_RANGES));
    let count = size.div_ceil(width).max(1);
    (0..count)
        .map(|i| ByteRange {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            start: i * width,
            end: ((i + 1) * width).min(size),
        })
        .collect()
}

/// Where a split job keeps its plan and its ranges' results: `batch/{tenant}/{job}/` (expired by
/// a lifecycle rule; the joiner deletes what it joined).
pub fn batch_prefix(tenant: &Tenant, job_id: &str) -> String {
    format!("batch/{tenant}/{job_id}/")
}

/// The plan object: a JSON array of the job's [`ByteRange`]s.
pub fn plan_key(tenant: &Tenant, job_id: &str) -> String {
    format!("{}plan.json", batch_prefix(tenant, job_id))
}

/// The results rows of range `index` (CSV, without the header but for range 0).
pub fn part_key(tenant: &Tenant, job_id: &str, index: u32) -> String {
    format!("{}part-{index:06}.csv", batch_prefix(tenant, job_id))
}

/// The summary of range `index` (rows, anomalies): written after its part, so it marks the range
/// done.
pub fn summary_key(tenant: &Tenant, job_id: &str, index: u32) -> String {
    format!("{}part-{index:06}.json", batch_prefix(tenant, job_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_planned_should_cover_every_byte_once_in_order() {
        for (size, width) in [(0, 10), (1, 10), (10, 10), (101, 10), (1 << 40, 1 << 20)] {
            let ranges = plan_ranges(size, width);
            assert!(ranges.len() as u64 <= MAX_RANGES);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(size));
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(pair[0].index + 1, pair[1].index);
            }
        }
        assert_eq!(plan_ranges(101, 10).len(), 11);
        assert_eq!(plan_ranges(1 << 40, 1 << 20).len() as u64, MAX_RANGES);
    }
}
