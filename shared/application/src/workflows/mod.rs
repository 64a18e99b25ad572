//! The use cases every function runs: train a model version, score rows, read models and jobs,
//! score and train from uploaded objects, back up, prune and restore.
//! Each takes only the ports it needs.

pub mod api_keys;
pub mod authenticate;
pub mod backup;
pub mod batch;
pub mod budgets;
pub mod csv_stream;
pub mod detect;
pub mod event_jobs;
pub mod idempotency;
pub mod jobs;
pub mod manifest;
pub mod models;
pub mod object_train;
pub mod restore;
pub mod retention;
pub mod severity;
pub mod sweep;
pub mod table_dump;
pub mod train;
pub mod upgrade;
