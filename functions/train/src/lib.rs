//! The `train` Lambda function: `POST /api/v1/models`, `GET /api/v1/models`,
//! `GET /api/v1/models/{name}`.

pub mod handler;
