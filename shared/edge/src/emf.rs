//! CloudWatch Embedded Metric Format (EMF): every invocation writes exactly one JSON document to
//! stdout, which CloudWatch Logs turns into metrics in the `Nomaly` namespace without any API
//! call. The counts come from the workflows, through [`application::metrics`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use application::metrics::{Counter, InvocationCounts};
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every Nomaly metric.
pub const NAMESPACE: &str = "Nomaly";

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
        assert_eq!(names.len(), 3 + Counter::ALL.len());
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
