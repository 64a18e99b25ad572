//! The `health` Lambda function: `GET /health` (liveness) and `GET /health/ready` (readiness).

pub mod handler;
pub mod ready;
