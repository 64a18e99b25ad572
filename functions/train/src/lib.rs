//! The `train` Lambda function: `POST /api/v1/models`, `GET /api/v1/models`,
//! `GET /api/v1/models/{name}`.

#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod handler;
