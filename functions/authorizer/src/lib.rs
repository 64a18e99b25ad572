//! The `authorizer` Lambda function: API Gateway's REST REQUEST authorizer. It checks the
//! `Authorization` header (an API key or a JWT) with the same [`Authenticator`] the functions
//! run under `cargo lambda watch`, and answers an `Allow` policy for the whole API (API Gateway
//! caches it per credential) with the tenant and scopes in its context; the functions read them
//! from there and check each route's scope. A missing or bad credential answers `Unauthorized`
//! (API Gateway's 401); a store it cannot read is an error (500), never an `Allow`.
//!
//! [`Authenticator`]: application::workflows::authenticate::Authenticator

pub mod handler;
