//! What an invocation counts: workflows add rows scored, anomalies by severity, cache hits and
//! failed backups to the current invocation through [`count`], which is a no-op outside one
//! (unit tests, tools), so no signature has to carry a recorder. The edge publishes the counts
//! (as CloudWatch EMF).

use std::cell::RefCell;
use std::future::Future;

/// A count a workflow contributes to the current invocation's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Rows scored (synchronous or batch).
    RowsScored,
    /// Rows labelled anomalous with low severity.
    AnomaliesLow,
    /// Rows labelled anomalous with medium severity.
    AnomaliesMedium,
    /// Rows labelled anomalous with high severity.
    AnomaliesHigh,
    /// A model served from the warm-container cache.
    ModelCacheHits,
    /// A model loaded from the store (a cache miss): the dashboard's "models loaded".
    ModelCacheMisses,
    /// A backup that did not complete (the failed-backup alarm's metric).
    BackupsFailed,
    /// A backup that completed (the backup-age alarm fires when a day passes without one).
    BackupsSucceeded,
    /// A job whose invocation died, failed by the sweep when its lease ended (the jobs-left-
    /// running alarm's metric).
    JobsExpired,
    /// Stream or queue records scored.
    RecordsScored,
    /// Stream or queue records that could not be scored (set aside as dead letters).
    RecordsFailed,
    /// Alert events published.
    AlertsPublished,
    /// Alerts suppressed (within the window of their model and entity's last alert).
    AlertsSuppressed,
}

impl Counter {
    /// Every counter, in the order metrics documents list them.
    pub const ALL: [Counter; 13] = [
        Counter::RowsScored,
        Counter::AnomaliesLow,
        Counter::AnomaliesMedium,
        Counter::AnomaliesHigh,
        Counter::ModelCacheHits,
        Counter::ModelCacheMisses,
        Counter::BackupsFailed,
        Counter::BackupsSucceeded,
        Counter::JobsExpired,
        Counter::RecordsScored,
        Counter::RecordsFailed,
        Counter::AlertsPublished,
        Counter::AlertsSuppressed,
    ];

    /// The metric name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Counter::RowsScored => "RowsScored",
            Counter::AnomaliesLow => "AnomaliesLow",
            Counter::AnomaliesMedium => "AnomaliesMedium",
            Counter::AnomaliesHigh => "AnomaliesHigh",
            Counter::ModelCacheHits => "ModelCacheHits",
            Counter::ModelCacheMisses => "ModelCacheMisses",
            Counter::BackupsFailed => "BackupsFailed",
            Counter::BackupsSucceeded => "BackupsSucceeded",
            Counter::JobsExpired => "JobsExpired",
            Counter::RecordsScored => "RecordsScored",
            Counter::RecordsFailed => "RecordsFailed",
            Counter::AlertsPublished => "AlertsPublished",
            Counter::AlertsSuppressed => "AlertsSuppressed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one invocation recorded: its counters and the model it used, for the metrics document
/// and the request's summary log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationCounts {
    counters: [u64; Counter::ALL.len()],
    model: Option<(String, u32)>,
}

impl InvocationCounts {
    /// The value of one counter.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters.get(counter.index()).copied().unwrap_or(0)
    }

    /// Anomalies of every severity.
    pub fn anomalies(&self) -> u64 {
        self.get(Counter::AnomaliesLow)
            + self.get(Counter::AnomaliesMedium)
            + self.get(Counter::AnomaliesHigh)
    }

    /// The model name and version the invocation used, when it used one.
    pub fn model(&self) -> Option<(&str, u32)> {
        self.model.as_ref().map(|(n, v)| (n.as_str(), *v))
    }

    /// Adds `n` to one counter (saturating).
    pub fn add(&mut self, counter: Counter, n: u64) {
        if let Some(slot) = self.counters.get_mut(counter.index()) {
            *slot = slot.saturating_add(n);
        }
    }
}

tokio::task_local! {
    static CURRENT: RefCell<InvocationCounts>;
}

/// Adds `n` to `counter` for the invocation in progress; outside one, does nothing.
pub fn count(counter: Counter, n: u64) {
    let _ = CURRENT.try_with(|counts| counts.borrow_mut().add(counter, n));
}

/// Notes the model (and version) the invocation in progress uses; outside one, does nothing.
pub fn note_model(name: &str, version: u32) {
    let _ = CURRENT.try_with(|counts| counts.borrow_mut().model = Some((name.to_owned(), version)));
}

/// Runs `work` as one invocation and returns its output with the counts it recorded.
pub async fn measure<F: Future>(work: F) -> (F::Output, InvocationCounts) {
    CURRENT
        .scope(RefCell::new(InvocationCounts::default()), async move {
            let output = work.await;
            let counts = CURRENT.with(|c| c.borrow().clone());
            (output, counts)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn when_workflows_count_inside_an_invocation_should_sum_only_that_invocation() {
        count(Counter::RowsScored, 99); // outside: ignored
        let ((), first) = measure(async {
            count(Counter::RowsScored, 3);
            count(Counter::RowsScored, 4);
            count(Counter::AnomaliesHigh, 1);
        })
        .await;
        let ((), second) = measure(async {
            count(Counter::ModelCacheHits, 1);
            note_model("payments", 3);
        })
        .await;
        assert_eq!(first.get(Counter::RowsScored), 7);
        assert_eq!(first.anomalies(), 1);
        assert_eq!(first.model(), None);
        assert_eq!(second.model(), Some(("payments", 3)));
        assert_eq!(first.get(Counter::ModelCacheHits), 0);
        assert_eq!(second.get(Counter::RowsScored), 0);
        assert_eq!(second.get(Counter::ModelCacheHits), 1);
    }
}
