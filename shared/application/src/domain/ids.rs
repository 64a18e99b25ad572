//! Job ids and clock readings, in one place so every record uses the same scheme.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A new job id: creation milliseconds then 64 random bits, in hex, so ids sort by time and
/// never collide in practice.
pub fn new_job_id() -> String {
    format!("{:012x}{:016x}", now_millis(), rand::random::<u64>())
}

/// Whether `id` has the shape [`new_job_id`] gives (28 lowercase hex digits): the file name of
/// an upload whose job was recorded when its URL was given.
pub fn is_generated_job_id(id: &str) -> bool {
    id.len() == 28 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a string could be a job id (bounded, URL-safe), checked before any lookup.
pub fn is_plausible_job_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
