//! The use cases every function runs: train a model version, score rows, read models and jobs,
//! back up, prune and restore.
//! Each takes only the ports it needs.

pub mod backup;
pub mod body;
pub mod detect;
pub mod ids;
pub mod jobs;
pub mod latest;
pub mod manifest;
pub mod models;
pub mod names;
pub mod objects;
pub mod restore;
pub mod retention;
pub mod table_dump;
pub mod train;
