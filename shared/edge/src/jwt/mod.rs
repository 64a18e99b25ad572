//! Bearer JWTs from an organisation's identity provider (Cognito or any OIDC issuer): the
//! verifier of one issuer's tokens ([`verifier`]), its keys fetched from the issuer's JWKS and
//! fetched again on rotation ([`jwks`]), behind the application's
//! [`TokenVerifier`](application::ports::TokenVerifier) port.

pub mod jwks;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use jwks::{fetch_jwks, JwksSource, JwksVerifier};
pub use verifier::{JwtConfigError, JwtError, JwtSettings, JwtVerifier};
