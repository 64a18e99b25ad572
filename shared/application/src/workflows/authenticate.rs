//! Who is calling: the one check of a request's credential, run by the API Gateway authorizer in
//! AWS and by the functions themselves under `cargo lambda watch`, so both answer alike.
//!
//! The credential is the `Authorization` header, `Bearer <credential>`: a Nomaly API key
//! (`nmly_...`, checked against its stored hash) or, when an issuer is configured, a JWT.

use std::sync::Arc;

use crate::domain::ids::now_millis;
use crate::domain::{ApiKey, KeyToken, Principal};
use crate::error::ServiceError;
use crate::ports::{KeyStore, TokenVerifier};

/// Longest `Authorization` header read (a JWT with many claims fits well within it).
pub const MAX_CREDENTIAL_BYTES: usize = 8192;

/// How often, at most, a key's `last_used_at` is written (milliseconds).
pub const TOUCH_INTERVAL_MS: u64 = 60_000;

/// Checks credentials: API keys in the key store, bearer tokens with the token verifier (if an
/// issuer is configured).
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<dyn KeyStore>,
    tokens: Option<Arc<dyn TokenVerifier>>,
    token_usage_key: Option<String>,
}

/// An authenticated caller and the usage-plan key API Gateway meters it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Who calls.
    pub principal: Principal,
    /// Its key's own metering key; for token callers, the one they share (if configured).
    pub usage_key: Option<String>,
}

impl Authenticator {
    /// An authenticator over `keys`, accepting JWTs only when `tokens` is given.
    pub fn new(keys: Arc<dyn KeyStore>, tokens: Option<Arc<dyn TokenVerifier>>) -> Self {
        Self {
            keys,
            tokens,
            token_usage_key: None,
        }
    }

    /// Meters JWT callers under the usage-plan key `value` (`NOMALY_JWT_USAGE_KEY`).
    pub fn with_token_usage_key(mut self, value: Option<String>) -> Self {
        self.token_usage_key = value;
        self
    }

    /// The caller an `Authorization` header value authenticates. A missing, malformed, unknown,
    /// revoked or refused credential is [`ServiceError::Unauthenticated`] (401); a store that
    /// cannot be read is [`ServiceError::Unavailable`] (503).
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, ServiceError> {
        Ok(self.admit(authorization).await?.principal)
    }

    /// [`authenticate`](Self::authenticate), with the usage-plan key the authorizer hands API
    /// Gateway.
    pub async fn admit(&self, authorization: Option<&str>) -> Result<Admitted, ServiceError> {
        let header = authorization
            .ok_or_else(|| unauthenticated("send 'Authorization: Bearer <API key or token>'"))?;
        if header.len() > MAX_CREDENTIAL_BYTES {
            return Err(unauthenticated("the Authorization header is too long"));
        }
        let credential = bearer(header).ok_or_else(|| {
            unauthenticated("the Authorization header must be 'Bearer <API key or token>'")
        })?;
        if credential.starts_with(crate::domain::api_key::TOKEN_PREFIX) {
            let key = self.api_key(credential).await?;
            return Ok(Admitted {
                principal: key.principal().confined(),
                usage_key: key.usage_key.map(|usage| usage.value),
            });
        }
        let Some(tokens) = &self.tokens else {
            return Err(unauthenticated(
                "the credential is not an API key, and this deployment accepts no bearer tokens",
            ));
        };
        let principal = tokens
            .verify(credential)
            .await
            .map(Principal::confined)
            .map_err(|e| unauthenticated(&format!("the bearer token is refused: {e}")))?;
        Ok(Admitted {
            principal,
            usage_key: self.token_usage_key.clone(),
        })
    }

    async fn api_key(&self, credential: &str) -> Result<ApiKey, ServiceError> {
        let token = KeyToken::parse(credential)
            .ok_or_else(|| unauthenticated("the API key is malformed"))?;
        let key = self
            .keys
            .get_key(&token.tenant, &token.id)
            .await?
            .filter(|key| key.matches(&token.secret))
            .ok_or_else(|| unauthenticated("the API key is not valid"))?;
        if key.revoked_at.is_some() {
            return Err(unauthenticated("the API key was revoked"));
        }
        let now = now_millis();
        if key
            .last_used_at
            .is_none_or(|at| now.saturating_sub(at) >= TOUCH_INTERVAL_MS)
        {
            if let Err(e) = self.keys.touch_key(&key.tenant, &key.id, now).await {
                tracing::warn!(key_id = %key.id, error = %e, "could not record the key's use");
            }
        }
        Ok(key)
    }
}

/// The credential of a `Bearer` header (scheme case-insensitive), if that is what it is.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, credential) = header.trim().split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

fn unauthenticated(message: &str) -> ServiceError {
    ServiceError::Unauthenticated(message.to_owned())
}
