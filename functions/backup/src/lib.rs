//! The `backup` Lambda function: `POST /api/v1/backups`, `GET /api/v1/backups`, the daily
//! schedule (`{"action":"backup"}`), and restore by direct invocation
//! (`{"action":"restore","backup_id":"..."}`).

pub mod handler;
