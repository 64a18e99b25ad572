//! Tenants: who owns a model, a job or an uploaded file. Validated once, since a tenant becomes
//! part of every table key and object key.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A tenant name that cannot be used; the message says why (a 400 at the edge).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidTenant(String);

/// Longest tenant name accepted.
pub const MAX_TENANT_LEN: usize = 32;

/// The tenant that owns everything written before tenancy (and restored from older backups).
pub const DEFAULT_TENANT: &str = "default";

/// The tenant of the people who run the deployment: operator keys and backup jobs live here.
pub const SYSTEM_TENANT: &str = "nomaly-system";

/// A validated tenant name, `^[a-z0-9][a-z0-9-]{0,31}$`: safe in DynamoDB keys (no `#`), object
/// keys and IAM prefix conditions (no `/`, `*` or `?`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tenant(String);

impl Tenant {
    /// Checks `name` and wraps it.
    pub fn parse(name: &str) -> Result<Self, InvalidTenant> {
        let bytes = name.as_bytes();
        let Some(first) = bytes.first() else {
            return Err(InvalidTenant("tenant is empty".into()));
        };
        let lower_or_digit = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid = bytes.len() <= MAX_TENANT_LEN
            && lower_or_digit(first)
            && bytes.iter().all(|b| lower_or_digit(b) || *b == b'-');
        if !valid {
            return Err(InvalidTenant(format!(
                "tenant '{}' is invalid: use 1 to {MAX_TENANT_LEN} lowercase letters, digits and '-', starting with a letter or digit",
                name.chars().take(64).collect::<String>().escape_default()
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// The [`SYSTEM_TENANT`].
    pub fn system() -> Self {
        Self(SYSTEM_TENANT.to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tenant {
    /// The [`DEFAULT_TENANT`], which owns records written before tenancy.
    fn default() -> Self {
        Self(DEFAULT_TENANT.to_owned())
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Tenant {
    type Error = InvalidTenant;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<Tenant> for String {
    fn from(tenant: Tenant) -> Self {
        tenant.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_tenant_bad_should_refuse_with_reason() {
        let long = "a".repeat(33);
        for bad in ["", "A", "a#b", "a/b", "-a", "a_b", "a*", long.as_str()] {
            let e = Tenant::parse(bad).unwrap_err();
            assert!(e.to_string().contains("tenant"), "{bad}: {e}");
        }
        assert!(serde_json::from_str::<Tenant>("\"x/y\"").is_err());
    }

    #[test]
    fn when_tenant_good_should_round_trip() {
        for good in ["a", "acme", "team-7", &"b".repeat(32)] {
            let t = Tenant::parse(good).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{good}\""));
        }
        assert_eq!(Tenant::default().as_str(), DEFAULT_TENANT);
    }
}
