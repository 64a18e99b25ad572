//! How much one request or one event may spend, derived from the function's memory and timeout,
//! so fits and scoring calls are checked against what the function has before they start.

use detection::WorkBudget;

/// Memory at which Lambda gives a function one full vCPU, in MB; below it, CPU time shrinks in
/// proportion.
pub const FULL_VCPU_MB: u64 = 1769;

/// Seconds of one full core an HTTP request's fit or scoring may be estimated to take: API
/// Gateway answers 504 at 29 s, and measured work has run up to about twice its estimate on a
/// loaded machine, so 12 s keeps it inside with room for parsing, storing and answering.
pub const REQUEST_SECONDS: u64 = 12;

/// Seconds an event keeps in hand before its function's timeout (reading, writing, recording
/// the job).
pub const EVENT_MARGIN_SECONDS: u64 = 60;

/// The share of the function's memory one fit or scoring call may use; the rest holds the
/// runtime, the request and its parsed rows, and the warm model cache.
pub const WORK_MEMORY_SHARE: f64 = 0.5;

/// The budgets of one function: for a request answered over HTTP, and for an event's work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkBudgets {
    /// What one HTTP request's fit or scoring may use.
    pub request: WorkBudget,
    /// What one event's fit may use (the function's whole timeout, less a margin).
    pub event: WorkBudget,
}

impl WorkBudgets {
    /// The budgets of a function of `memory_mb` MB and `timeout_secs` seconds. Estimates are in
    /// seconds of one full core, so wall seconds are scaled by the vCPU share Lambda gives
    /// that memory.
    pub fn for_function(memory_mb: u64, timeout_secs: u64) -> Self {
        let cpu_share = (memory_mb as f64 / FULL_VCPU_MB as f64).min(1.0);
        let memory_bytes = (memory_mb as f64 * 1024.0 * 1024.0 * WORK_MEMORY_SHARE) as u64;
        let request_secs = REQUEST_SECONDS.min(timeout_secs.saturating_sub(5).max(1));
        let event_secs = timeout_secs.saturating_sub(EVENT_MARGIN_SECONDS).max(10);
        Self {
            request: WorkBudget {
                seconds: request_secs as f64 * cpu_share,
                memory_bytes,
            },
            event: WorkBudget {
                seconds: event_secs as f64 * cpu_share,
                memory_bytes,
            },
        }
    }
}

/// A function of 1,024 MB and 900 s (what tests and tools run with unless they say otherwise).
impl Default for WorkBudgets {
    fn default() -> Self {
        Self::for_function(1024, 900)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_memory_and_timeout_grow_should_grow_the_budgets() {
        let small = WorkBudgets::for_function(512, 29);
        let large = WorkBudgets::for_function(3008, 900);
        assert!(small.request.seconds < large.request.seconds);
        assert!(small.request.memory_bytes < large.request.memory_bytes);
        assert_eq!(
            large.request.seconds, REQUEST_SECONDS as f64,
            "one full vCPU, 12 s"
        );
        assert_eq!(large.event.seconds, 840.0);
        assert_eq!(small.request.memory_bytes, 256 * 1024 * 1024);
        assert!(small.request.seconds <= 24.0 * 512.0 / 1769.0 + 1e-9);
    }
}
