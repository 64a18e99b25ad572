//! Who is calling: an authenticated tenant and the scopes its credential grants. The edge builds
//! one per request (from the API Gateway authorizer's context, or by checking the credential
//! itself under `cargo lambda watch`), and every tenant route requires one scope.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::tenant::{Tenant, SYSTEM_TENANT};

/// What a credential may do. Tenant scopes act within the caller's own tenant; `operator` is for
/// the people who run the deployment (backups of the whole system) and no tenant admin can grant
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// List and read models and jobs.
    Read,
    /// Score rows with a model.
    Detect,
    /// Train model versions.
    Train,
    /// Manage the tenant's API keys.
    Admin,
    /// Back up the whole system.
    Operator,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Detect,
        Scope::Train,
        Scope::Admin,
        Scope::Operator,
    ];

    /// The scopes a tenant admin may grant over HTTP (all but `operator`).
    pub const TENANT: [Scope; 4] = [Scope::Read, Scope::Detect, Scope::Train, Scope::Admin];

    /// The scope's name in keys, tokens and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Detect => "detect",
            Scope::Train => "train",
            Scope::Admin => "admin",
            Scope::Operator => "operator",
        }
    }

    /// The scope named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A scope a request needed and its credential does not grant (a 403 `insufficient_scope`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("this request needs the '{}' scope, which the credential does not grant", .0.as_str())]
pub struct MissingScope(pub Scope);

/// An authenticated caller: its tenant, its scopes, and the id of its credential (an API key id
/// or a token's subject) for logs and last-used times. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant every read and write of the request is confined to.
    pub tenant: Tenant,
    /// What the credential grants.
    pub scopes: BTreeSet<Scope>,
    /// The credential's id (API key id, or `jwt:{sub}`).
    pub credential_id: String,
}

impl Principal {
    /// Ok when the credential grants `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), MissingScope> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(MissingScope(scope))
        }
    }

    /// The principal with `operator` dropped unless its tenant is the system's: whatever a
    /// credential claims (a JWT's scopes come from an identity provider), no tenant acts for the
    /// whole system.
    pub fn confined(mut self) -> Self {
        if self.tenant.as_str() != SYSTEM_TENANT {
            self.scopes.remove(&Scope::Operator);
        }
        self
    }

    /// The scopes as one space-separated string (the authorizer context's form, OAuth's too).
    pub fn scope_string(&self) -> String {
        self.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Reads a space- or comma-separated scope list; unknown names are ignored (a token may carry
/// scopes of other services), so the result holds only scopes Nomaly knows.
pub fn parse_scopes(list: &str) -> BTreeSet<Scope> {
    list.split([' ', ','])
        .filter_map(|name| Scope::parse(name.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_scope_missing_should_name_it() {
        let p = Principal {
            tenant: Tenant::default(),
            scopes: parse_scopes("read detect bogus"),
            credential_id: "k".into(),
        };
        assert!(p.require(Scope::Read).is_ok());
        let e = p.require(Scope::Train).unwrap_err();
        assert!(e.to_string().contains("'train'"), "{e}");
        assert_eq!(p.scope_string(), "read detect");
        assert!(!Scope::TENANT.contains(&Scope::Operator));
        let claims_operator = Principal {
            tenant: Tenant::parse("acme").unwrap(),
            scopes: parse_scopes("read operator"),
            credential_id: "jwt:x".into(),
        };
        assert_eq!(claims_operator.confined().scope_string(), "read");
        let system = Principal {
            tenant: Tenant::system(),
            scopes: parse_scopes("operator"),
            credential_id: "k".into(),
        };
        assert_eq!(system.confined().scope_string(), "operator");
    }
}
