//! The `detect` Lambda function: `POST /api/v1/detect` and `GET /api/v1/jobs/{id}`.

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod csv_request;
pub mod handler;
