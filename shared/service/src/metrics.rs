//! CloudWatch Embedded Metric Format (EMF): every invocation writes exactly one JSON document to
//! stdout, which CloudWatch Logs turns into metrics in the `Nomaly` namespace without any API
//! call. Workflows add their counts to the current invocation through [`count`], which is a
//! no-op outside an invocation (unit tests, tools), so no signature has to carry a recorder.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every Nomaly metric.
pub const NAMESPACE: &str = "Nomaly";

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
}

impl Counter {
    const ALL: [Counter; 7] = [
        Counter::RowsScored,
        Counter::AnomaliesLow,
        Counter::AnomaliesMedium,
        Counter::AnomaliesHigh,
        Counter::ModelCacheHits,
        Counter::ModelCacheMisses,
        Counter::BackupsFailed,
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

    fn add(&mut self, counter: Counter, n: u64) {
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

static COLD: AtomicBool = AtomicBool::new(true);

/// True for the first invocation of this process (a cold start), false afterwards.
pub fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// What one invocation reports besides its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation<'a> {
    /// The function's short name (`detect`, `train`, ...), a dimension.
    pub function: &'a str,
    /// The HTTP status answered (`"200"`, ...), or for an event `"ok"`, `"failed"` (a job
    /// recorded as failed), `"duplicate"` (a redelivery) or `"error"` (returned `Err`), a
    /// dimension.
    pub status: &'a str,
    /// Wall time of the invocation in milliseconds.
    pub duration_ms: f64,
    /// Whether this was the container's first invocation.
    pub cold_start: bool,
}

/// The EMF document for one invocation: `Requests`, `Duration`, `ColdStart` and every counter,
/// published per `Function` and per `Function` + `Status`.
pub fn emf_document(invocation: &Invocation<'_>, counts: &InvocationCounts, at_ms: u64) -> Value {
    let mut definitions = vec![
        json!({"Name": "Requests", "Unit": "Count"}),
        json!({"Name": "Duration", "Unit": "Milliseconds"}),
        json!({"Name": "ColdStart", "Unit": "Count"}),
    ];
    definitions.extend(
        Counter::ALL
            .iter()
            .map(|c| json!({"Name": c.name(), "Unit": "Count"})),
    );
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"], ["Function", "Status"]],
                "Metrics": definitions,
            }]
        }),
    );
    document.insert("Function".into(), json!(invocation.function));
    document.insert("Status".into(), json!(invocation.status));
    document.insert("Requests".into(), json!(1));
    document.insert("Duration".into(), json!(invocation.duration_ms));
    document.insert("ColdStart".into(), json!(u8::from(invocation.cold_start)));
    for counter in Counter::ALL {
        document.insert(counter.name().into(), json!(counts.get(counter)));
    }
    Value::Object(document)
}

/// Whether this process runs under a Lambda runtime (AWS or `cargo lambda watch`), the only place
/// an EMF document means anything; handler tests and tools stay quiet.
fn under_lambda_runtime() -> bool {
    static UNDER: OnceLock<bool> = OnceLock::new();
    *UNDER.get_or_init(|| std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some())
}

/// Writes the invocation's EMF document as one line on stdout (where Lambda's log agent reads
/// it), when running under a Lambda runtime.
pub fn emit(invocation: &Invocation<'_>, counts: &InvocationCounts) {
    if !under_lambda_runtime() {
        return;
    }
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let line = emf_document(invocation, counts, at_ms).to_string();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
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

    #[test]
    fn when_rendered_should_declare_every_metric_it_carries() {
        let mut counts = InvocationCounts::default();
        counts.add(Counter::RowsScored, 1000);
        let doc = emf_document(
            &Invocation {
                function: "detect",
                status: "200",
                duration_ms: 2.5,
                cold_start: true,
            },
            &counts,
            1_700_000_000_000,
        );
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Nomaly");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 10);
        for name in &names {
            assert!(doc[*name].is_number(), "{name} declared but not set");
        }
        for dims in directive["Dimensions"].as_array().unwrap() {
            for dim in dims.as_array().unwrap() {
                assert!(doc[dim.as_str().unwrap()].is_string());
            }
        }
        assert_eq!(doc["RowsScored"], 1000);
        assert_eq!(doc["ColdStart"], 1);
        assert_eq!(doc["Status"], "200");
    }
}
