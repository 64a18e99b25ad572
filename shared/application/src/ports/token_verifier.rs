//! Checking bearer tokens from an identity provider (JWTs against the issuer's published keys).

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::Principal;

/// Why a bearer token was refused (a 401 naming the reason, never the token).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct TokenRejected(pub String);

/// Verifies a bearer token and says whom it authenticates. Implemented over an OIDC issuer's
/// JWKS (fetched, and fetched again when a token names a key it has not seen).
#[async_trait]
pub trait TokenVerifier: Send + Sync {
    /// The caller `token` authenticates, or why it is refused.
    async fn verify(&self, token: &str) -> Result<Principal, TokenRejected>;
}
