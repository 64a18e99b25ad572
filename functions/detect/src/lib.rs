//! The `detect` Lambda function: `POST /api/v1/detect` and `GET /api/v1/jobs/{id}`.

pub mod csv_request;
pub mod handler;
pub mod job_steps;
