//! Nomaly's Lambda edge: what turns an invocation into a workflow call and its answer. Triggers
//! are classified and dispatched in one place ([`dispatch`]), HTTP requests are matched, parsed
//! and answered with the JSON envelope ([`http`]), every invocation writes one EMF metrics
//! document ([`emf`]) and JSON logs ([`logging`]), and the composition root ([`startup`]) reads
//! the configuration ([`config`]) and builds the stores it selects.

pub mod access;
pub mod batch_response;
pub mod config;
pub mod dispatch;
pub mod emf;
pub mod http;
pub mod jwt;
pub mod logging;
pub mod startup;
pub mod trigger;

pub use config::Config;
