//! The use cases every function runs: train a model version, score rows, read models and jobs,
//! score and train from uploaded objects, back up, prune and restore.
//! Each takes only the ports it needs.

pub mod alerts;
pub mod api_keys;
pub mod authenticate;
pub mod backup;
pub mod batch;
pub mod batch_join;
pub mod batch_range;
pub mod budgets;
pub mod checkpoint;
pub mod content_store;
pub mod csv_stream;
pub mod deadline;
pub mod detect;
pub mod event_jobs;
pub mod idempotency;
pub mod job_failure;
pub mod jobs;
pub mod labels;
pub mod local_runner;
pub mod manifest;
pub mod models;
pub mod object_train;
pub mod range_lines;
pub mod restore;
pub mod retention;
pub mod series;
pub mod series_alerts;
pub mod series_request;
pub mod severity;
pub mod stream;
pub mod sweep;
pub mod table_dump;
pub mod train;
pub mod upgrade;
pub mod uploads;
