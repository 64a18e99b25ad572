//! Nomaly's application layer: the ports (one small trait per capability the workflows need from
//! storage), the domain records (`Job`, `ModelVersion`, their keys), the workflows every function
//! runs (train, detect, batch scoring, object training, backup, restore), their one error type,
//! the model cache and the invocation counters. It does no I/O of its own: adapters implement the
//! ports, and the Lambda edge turns triggers into workflow calls.

pub mod cache;
pub mod checksum;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod ports;
pub mod workflows;

pub use error::ServiceError;
