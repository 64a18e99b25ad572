//! Readiness: one cheap read against each dependency, timed, so an operator sees which one is
//! down and how slow each is.

use std::sync::Arc;
use std::time::Instant;

use application::domain::Tenant;
use application::ports::{ModelRegistry, ObjectStore, StoreError};
use serde::Serialize;

/// Object key read by the probe; it never exists, so the read is a cheap miss.
pub const PROBE_KEY: &str = "health/probe";
/// Model name looked up by the probe; it never exists, so the read is a cheap miss.
pub const PROBE_MODEL: &str = "health-probe";

/// The result of probing one dependency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `ok` or `error`.
    pub status: &'static str,
    /// How long the probe took, in milliseconds.
    pub latency_ms: f64,
    /// Why the probe failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    fn timed(started: Instant, outcome: Result<(), StoreError>) -> Self {
        // Microsecond resolution is all a probe needs, and keeps the JSON readable.
        let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1000.0;
        match outcome {
            Ok(()) => Self {
                status: "ok",
                latency_ms,
                error: None,
            },
            Err(e) => {
                // The store's text names buckets, tables and roles: logged, never answered.
                tracing::warn!(error = %e, "readiness probe failed");
                Self {
                    status: "error",
                    latency_ms,
                    error: Some(probe_failure(&e).to_owned()),
                }
            }
        }
    }

    /// Whether the dependency answered.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// What a failed probe tells the caller: the kind of failure, no adapter text.
fn probe_failure(e: &StoreError) -> &'static str {
    match e {
        StoreError::Unavailable(_) => "unavailable",
        StoreError::Conflict(_) => "conflict",
        StoreError::Corrupted(_) => "corrupted",
        StoreError::Invalid(_) => "invalid request",
    }
}

/// The checks of every dependency, by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checks {
    /// The model object store (S3 or the local directory).
    pub object_store: Check,
    /// The registry and job table (DynamoDB or SQLite).
    pub table: Check,
}

/// The body of `GET /health/ready`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    /// `ok` when every check passed, else `unavailable`.
    pub status: &'static str,
    /// Each dependency's check.
    pub checks: Checks,
}

impl Readiness {
    /// Whether every dependency answered.
    pub fn is_ready(&self) -> bool {
        self.checks.object_store.is_ok() && self.checks.table.is_ok()
    }
}

/// Probes both dependencies.
pub async fn probe(objects: &Arc<dyn ObjectStore>, registry: &Arc<dyn ModelRegistry>) -> Readiness {
    let started = Instant::now();
    let object_store = Check::timed(started, objects.get(PROBE_KEY).await.map(|_| ()));
    let started = Instant::now();
    let table = Check::timed(
        started,
        registry
            .latest(&Tenant::system(), PROBE_MODEL)
            .await
            .map(|_| ()),
    );
    let ready = object_store.is_ok() && table.is_ok();
    Readiness {
        status: if ready { "ok" } else { "unavailable" },
        checks: Checks {
            object_store,
            table,
        },
    }
}
