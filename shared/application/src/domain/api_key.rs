//! API keys: a tenant's credentials with scopes. The secret is random (256 bits), shown once when
//! the key is created, and stored only as its SHA-256; the token a caller sends names the tenant
//! and the key id, so checking it is one item read.
//!
//! Token: `nmly_{tenant}.{key id}.{secret}` (key id 16 hex digits, secret 64). A fast hash is
//! enough here: the secret is 256 random bits, not a password, so nothing can be guessed from its
//! hash; the comparison runs in constant time all the same.

use std::collections::BTreeSet;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::keys::{api_key_sk, api_keys_pk};
use super::principal::{Principal, Scope};
use super::tenant::Tenant;
use crate::checksum::sha256_hex;

/// What every API key token starts with, so a key is told from a JWT (and found by secret
/// scanners).
pub const TOKEN_PREFIX: &str = "nmly_";

/// Longest key name accepted.
pub const MAX_KEY_NAME_LEN: usize = 128;

/// A stored API key: the `T#{tenant}#KEYS` / `KEY#{id}` item. Holds the secret's hash, never the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The tenant the key acts for.
    pub tenant: Tenant,
    /// Public id (16 hex digits), in the token and the key routes.
    pub id: String,
    /// A label for people (`ci`, `grafana`, ...).
    pub name: String,
    /// What the key may do.
    pub scopes: BTreeSet<Scope>,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Last successful use, milliseconds (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
    /// When it was revoked; a revoked key authenticates nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// The usage-plan key API Gateway meters this key's requests under (none locally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_key: Option<UsageKey>,
}

/// An API Gateway API key registered in the usage plan for one Nomaly key. Its value is not a
/// secret: callers never send it (the API takes its key from the authorizer), so it only names
/// whose rate, burst and quota a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageKey {
    /// The gateway key's id (to delete it on revocation).
    pub id: String,
    /// The value the authorizer answers as `usageIdentifierKey`.
    pub value: String,
}

impl ApiKey {
    /// The item's partition key.
    pub fn pk(&self) -> String {
        api_keys_pk(&self.tenant)
    }

    /// The item's sort key.
    pub fn sk(&self) -> String {
        api_key_sk(&self.id)
    }

    /// Whether `secret` is this key's, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        constant_time_eq(
            sha256_hex(secret.as_bytes()).as_bytes(),
            self.secret_sha256.as_bytes(),
        )
    }

    /// The caller this key authenticates.
    pub fn principal(&self) -> Principal {
        Principal {
            tenant: self.tenant.clone(),
            scopes: self.scopes.clone(),
            credential_id: self.id.clone(),
        }
    }
}

/// A new key and its secret: the secret exists only here and in the one answer that shows it.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The record to store.
    pub key: ApiKey,
    /// The token to hand to the caller once.
    pub token: String,
}

impl NewKey {
    /// A fresh key of `tenant` named `name` with `scopes`, created at `created_at`: 64 random
    /// bits of id and 256 of secret from the operating system's generator.
    pub fn generate(tenant: &Tenant, name: &str, scopes: BTreeSet<Scope>, created_at: u64) -> Self {
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let (id, secret) = (hex(&id), hex(&secret));
        let token = format!("{TOKEN_PREFIX}{tenant}.{id}.{secret}");
        Self {
            key: ApiKey {
                tenant: tenant.clone(),
                id,
                name: name.to_owned(),
                scopes,
                secret_sha256: sha256_hex(secret.as_bytes()),
                created_at,
                last_used_at: None,
                revoked_at: None,
                usage_key: None,
            },
            token,
        }
    }
}

/// An API key token as a caller sent it, split into what finds the key and what proves it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyToken {
    /// The tenant named in the token.
    pub tenant: Tenant,
    /// The key id.
    pub id: String,
    /// The secret, compared against the stored hash.
    pub secret: String,
}

impl std::fmt::Debug for KeyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyToken")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl KeyToken {
    /// Reads `nmly_{tenant}.{id}.{secret}`; `None` for anything else.
    pub fn parse(token: &str) -> Option<Self> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let mut parts = rest.split('.');
        let (tenant, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let hex_of =
            |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
        if parts.next().is_some() || !hex_of(id, 16) || !hex_of(secret, 64) {
            return None;
        }
        Some(Self {
            tenant: Tenant::parse(tenant).ok()?,
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

/// Whether a string could be a key id (16 hex digits), checked before any lookup.
pub fn is_plausible_key_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality whose time does not depend on where the inputs first differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::principal::parse_scopes;

    #[test]
    fn when_key_generated_should_parse_back_and_store_only_the_hash() {
        let tenant = Tenant::parse("acme").unwrap();
        let new = NewKey::generate(&tenant, "ci", parse_scopes("read detect"), 1);
        let parsed = KeyToken::parse(&new.token).unwrap();
        assert_eq!(parsed.tenant, tenant);
        assert_eq!(parsed.id, new.key.id);
        assert!(new.key.matches(&parsed.secret));
        assert!(!new.key.matches(&"0".repeat(64)));
        let stored = serde_json::to_string(&new.key).unwrap();
        assert!(!stored.contains(&parsed.secret), "{stored}");
        assert!(!format!("{parsed:?}").contains(&parsed.secret));
        let other = NewKey::generate(&tenant, "ci", parse_scopes("read"), 1);
        assert_ne!(other.token, new.token);
    }

    #[test]
    fn when_token_malformed_should_not_parse() {
        let secret = "a".repeat(64);
        for bad in [
            String::new(),
            "nmly_".into(),
            format!("nmly_acme.0123456789abcdef.{}", "a".repeat(63)),
            format!("nmly_ACME.0123456789abcdef.{secret}"),
            format!("nmly_acme.0123456789abcdeg.{secret}"),
            format!("nmly_acme.0123456789abcdef.{secret}.x"),
            format!("xmly_acme.0123456789abcdef.{secret}"),
        ] {
            assert!(KeyToken::parse(&bad).is_none(), "{bad}");
        }
        assert!(KeyToken::parse(&format!("nmly_acme.0123456789abcdef.{secret}")).is_some());
    }
}
