//! The `backup` Lambda function: `POST /api/v1/backups`, `GET /api/v1/backups`, the daily
//! schedule (`{"action":"backup"}`), and restore by direct invocation
//! (`{"action":"restore","backup_id":"..."}`).

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod handler;
