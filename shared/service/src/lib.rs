//! What every Nomaly Lambda function shares: ports (traits) for model storage and the job table,
//! the local adapter, configuration, the error envelope, the model cache and the workflows.

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod aws;
pub mod cache;
pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod invoke;
pub mod local;
pub mod metrics;
pub mod ports;
pub mod startup;
pub mod workflows;

pub use config::Config;
pub use error::ServiceError;
