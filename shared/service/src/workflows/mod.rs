//! The use cases every function runs: train a model version, score rows, read models and jobs.
//! Each takes only the ports it needs.

pub mod body;
pub mod detect;
pub mod ids;
pub mod jobs;
pub mod latest;
pub mod manifest;
pub mod models;
pub mod names;
pub mod objects;
pub mod retention;
pub mod train;
