//! Our own retry for partial batch writes (`UnprocessedItems`): the SDK retries failed requests,
//! but a successful `BatchWriteItem` may still hand items back, which we resend with exponential
//! backoff and full jitter, a bounded number of times.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use application::ports::StoreError;

/// Exponential backoff with full jitter: the n-th delay is uniform in
/// `[0, min(max_delay, base * 2^n)]`, and there are at most `max_retries` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay envelope of the first retry.
    pub base: Duration,
    /// Largest delay.
    pub max_delay: Duration,
    /// Most retries after the first attempt.
    pub max_retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            max_retries: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (from 0), or `None` once retries are used up.
    pub fn delay(&self, retry: u32) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let envelope = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let nanos = u64::try_from(envelope.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(
            rand::thread_rng().gen_range(0..=nanos),
        ))
    }
}

/// The retries of the entries a sink's batch call reports failed (EventBridge `PutEvents`, SQS
/// `SendMessageBatch`): three, soon after, as a stream's invocation waits on them and is itself
/// retried when they still fail.
pub const SINK_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    max_delay: Duration::from_millis(400),
    max_retries: 3,
};

/// Sends `items` with `send`, which returns the items the service handed back unprocessed, and
/// resends those after a backoff delay until none are left; [`StoreError::Unavailable`] when some
/// are still unprocessed after `backoff.max_retries` retries.
pub async fn send_until_processed<T, F, Fut>(
    items: Vec<T>,
    backoff: &Backoff,
    mut send: F,
) -> Result<(), StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut pending = items;
    let mut retry = 0u32;
    while !pending.is_empty() {
        let left = send(pending).await?;
        if left.is_empty() {
            return Ok(());
        }
        let Some(delay) = backoff.delay(retry) else {
            return Err(StoreError::Unavailable(format!(
                "{} items still unprocessed after {} retries",
                left.len(),
                backoff.max_retries
            )));
        };
        tokio::time::sleep(delay).await;
        retry += 1;
        pending = left;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn fast(max_retries: u32) -> Backoff {
        Backoff {
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_retries,
        }
    }

    #[test]
    fn when_delays_drawn_should_stay_within_the_exponential_envelope_and_stop() {
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            max_retries: 6,
        };
        for _ in 0..200 {
            for (retry, cap) in [(0, 10), (1, 20), (2, 40), (3, 80), (4, 100), (5, 100)] {
                let d = backoff.delay(retry).unwrap();
                assert!(d <= Duration::from_millis(cap), "retry {retry}: {d:?}");
            }
        }
        assert_eq!(backoff.delay(6), None);
        // Jitter: the draws are not all equal.
        let draws: std::collections::HashSet<Duration> =
            (0..50).filter_map(|_| backoff.delay(3)).collect();
        assert!(draws.len() > 1);
    }

    #[tokio::test]
    async fn when_items_come_back_unprocessed_should_resend_only_those_until_done() {
        let calls = RefCell::new(Vec::new());
        send_until_processed(vec![1, 2, 3, 4], &fast(5), |batch: Vec<i32>| {
            calls.borrow_mut().push(batch.clone());
            let left: Vec<i32> = batch.into_iter().skip(2).collect();
            async move { Ok(left) }
        })
        .await
        .unwrap();
        assert_eq!(calls.into_inner(), vec![vec![1, 2, 3, 4], vec![3, 4]]);
    }

    #[tokio::test]
    async fn when_items_stay_unprocessed_should_give_up_unavailable_after_bounded_retries() {
        let mut sends = 0;
        let err = send_until_processed(vec![1], &fast(3), |batch: Vec<i32>| {
            sends += 1;
            async move { Ok(batch) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert_eq!(sends, 4, "one attempt and three retries");
    }

    #[tokio::test]
    async fn when_send_fails_should_return_its_error() {
        let err = send_until_processed(vec![1], &fast(3), |_: Vec<i32>| async {
            Err::<Vec<i32>, _>(StoreError::Unavailable("down".into()))
        })
        .await
        .unwrap_err();
        assert_eq!(err, StoreError::Unavailable("down".into()));
    }
}
