//! Splitting a sink's entries into the batches a service accepts in one call (EventBridge
//! `PutEvents`, SQS `SendMessageBatch`: at most 10 entries and 256 KiB), in order, refusing an
//! entry no batch can hold.

use application::ports::StoreError;

/// Most entries of one `PutEvents` or `SendMessageBatch` call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Most bytes of one `PutEvents` or `SendMessageBatch` call, and so of one entry (256 KiB).
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// `items` in order, in batches of at most `max_count` items whose `size`s add up to at most
/// `max_bytes`; [`StoreError::Invalid`] naming the item when one alone is larger than `max_bytes`
/// (the service would refuse it whatever the batch).
pub fn pack<T>(
    items: Vec<T>,
    max_count: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Result<Vec<Vec<T>>, StoreError> {
    let mut batches: Vec<Vec<T>> = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut current_bytes = 0usize;
    for (index, item) in items.into_iter().enumerate() {
        let bytes = size(&item);
        if bytes > max_bytes {
            return Err(StoreError::Invalid(format!(
                "entry {index} is {bytes} bytes, over the {max_bytes} bytes one call accepts"
            )));
        }
        if current.len() == max_count || current_bytes + bytes > max_bytes {
            batches.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += bytes;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_entries_are_many_should_cut_batches_at_the_count() {
        let batches = pack((0..25).collect(), 10, 1000, |_| 1).unwrap();
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        assert_eq!(batches.concat(), (0..25).collect::<Vec<_>>());
    }

    #[test]
    fn when_entries_are_large_should_cut_batches_at_the_bytes_keeping_order() {
        let sizes = [60, 50, 10, 90, 100, 1];
        let batches = pack(sizes.to_vec(), 10, 100, |s| *s).unwrap();
        assert_eq!(
            batches,
            vec![vec![60], vec![50, 10], vec![90], vec![100], vec![1]]
        );
        assert!(pack(Vec::<usize>::new(), 10, 100, |s| *s)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn when_one_entry_is_over_the_limit_should_be_invalid() {
        let err = pack(vec![1, 101, 1], 10, 100, |s| *s).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("entry 1")),
            "{err:?}"
        );
    }
}
