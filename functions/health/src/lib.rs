//! The `health` Lambda function: `GET /health` (liveness) and `GET /health/ready` (readiness).

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod handler;
pub mod ready;
