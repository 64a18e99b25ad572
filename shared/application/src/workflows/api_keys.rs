//! Managing API keys: a tenant admin creates, lists and revokes its own tenant's keys over HTTP;
//! an operator issues a tenant's first admin key (or an operator key) by direct invocation only.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::api_key::{is_plausible_key_id, MAX_KEY_NAME_LEN};
use crate::domain::ids::now_millis;
use crate::domain::tenant::SYSTEM_TENANT;
use crate::domain::{ApiKey, NewKey, Principal, Scope, Tenant};
use crate::error::ServiceError;
use crate::ports::{KeyStore, StoreError, UsagePlan};

/// Most active (not revoked) keys a tenant may hold.
pub const MAX_ACTIVE_KEYS_PER_TENANT: usize = 100;

/// Most keys, revoked ones included, a tenant may hold, so listing stays one bounded read.
pub const MAX_KEYS_PER_TENANT: usize = 1000;

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A label for people.
    pub name: String,
    /// Scopes to grant: `read`, `detect`, `train`, `admin`.
    pub scopes: Vec<String>,
}

/// `{"action": "issue_key", ...}`: a key for any tenant, by direct invocation only.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueKeyRequest {
    /// The tenant (created by its first key).
    pub tenant: String,
    /// A label for people; `admin` when absent.
    #[serde(default = "default_issue_name")]
    pub name: String,
    /// Scopes; `["admin"]` when absent. `operator` only in the `nomaly-system` tenant.
    #[serde(default = "default_issue_scopes")]
    pub scopes: Vec<String>,
}

fn default_issue_name() -> String {
    "admin".to_owned()
}

fn default_issue_scopes() -> Vec<String> {
    vec![Scope::Admin.as_str().to_owned()]
}

/// A key as listed: everything but its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    /// Key id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Granted scopes.
    pub scopes: BTreeSet<Scope>,
    /// Creation time (ms).
    pub created_at: u64,
    /// Last use (ms), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<u64>,
    /// Revocation time (ms), if revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

impl From<&ApiKey> for KeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// The 201 answer: the key and, this once, its secret token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    /// The tenant it acts for.
    pub tenant: Tenant,
    /// The key as it will be listed.
    #[serde(flatten)]
    pub view: KeyView,
    /// The token to send as `Authorization: Bearer ...`; shown only here.
    pub key: String,
}

/// `GET /api/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The tenant's keys, by id.
    pub keys: Vec<KeyView>,
}

/// Creates, lists and revokes keys, each with its metering key in the usage plan.
#[derive(Clone)]
pub struct ApiKeyAdmin {
    keys: Arc<dyn KeyStore>,
    usage: Arc<dyn UsagePlan>,
}

impl ApiKeyAdmin {
    /// Key management over `keys`, registering each key's metering key in `usage`.
    pub fn new(keys: Arc<dyn KeyStore>, usage: Arc<dyn UsagePlan>) -> Self {
        Self { keys, usage }
    }

    /// A new key in the caller's tenant with tenant scopes only (no `operator`: 403).
    pub async fn create(
        &self,
        caller: &Principal,
        request: CreateKeyRequest,
    ) -> Result<IssuedKey, ServiceError> {
        let scopes = parse_scope_list(&request.scopes)?;
        if !scopes.iter().all(|scope| Scope::TENANT.contains(scope)) {
            return Err(ServiceError::InsufficientScope(
                "the 'operator' scope is issued only by direct invocation, never over HTTP".into(),
            ));
        }
        self.store(&caller.tenant, &request.name, scopes).await
    }

    /// A key for any tenant (its first admin key creates it); direct invocation only.
    pub async fn issue(&self, request: IssueKeyRequest) -> Result<IssuedKey, ServiceError> {
        let tenant = Tenant::parse(&request.tenant)?;
        let scopes = parse_scope_list(&request.scopes)?;
        if scopes.contains(&Scope::Operator) != (tenant.as_str() == SYSTEM_TENANT) {
            return Err(ServiceError::BadRequest(format!(
                "the 'operator' scope belongs to keys of the '{SYSTEM_TENANT}' tenant, and only there"
            )));
        }
        self.store(&tenant, &request.name, scopes).await
    }

    /// The tenant's keys.
    pub async fn list(&self, tenant: &Tenant) -> Result<KeyList, ServiceError> {
        Ok(KeyList {
            keys: self
                .keys
                .list_keys(tenant)
                .await?
                .iter()
                .map(KeyView::from)
                .collect(),
        })
    }

    /// Revokes one of the tenant's keys (revoking twice keeps the first time) and removes its
    /// metering key; 404 when the tenant has no such key. The key is refused from the moment it
    /// is marked revoked; a metering key that could not be removed is logged (it meters nothing
    /// once its key is refused).
    pub async fn revoke(&self, tenant: &Tenant, id: &str) -> Result<KeyView, ServiceError> {
        let not_found = || {
            ServiceError::KeyNotFound(
                id.chars()
                    .take(64)
                    .collect::<String>()
                    .escape_default()
                    .to_string(),
            )
        };
        if !is_plausible_key_id(id) || !self.keys.revoke_key(tenant, id, now_millis()).await? {
            return Err(not_found());
        }
        let key = self.keys.get_key(tenant, id).await?.ok_or_else(not_found)?;
        if let Some(usage) = &key.usage_key {
            if let Err(e) = self.usage.deregister(usage).await {
                tracing::warn!(key_id = %key.id, error = %e, "could not remove the key's usage-plan key");
            }
        }
        Ok(KeyView::from(&key))
    }

    async fn store(
        &self,
        tenant: &Tenant,
        name: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<IssuedKey, ServiceError> {
        validate_key_name(name)?;
        let held = self.keys.list_keys(tenant).await?;
        let active = held.iter().filter(|k| k.revoked_at.is_none()).count();
        if active >= MAX_ACTIVE_KEYS_PER_TENANT || held.len() >= MAX_KEYS_PER_TENANT {
            return Err(ServiceError::InvalidInput(format!(
                "tenant '{tenant}' holds {active} active keys (limit {MAX_ACTIVE_KEYS_PER_TENANT}) and {} in all (limit {MAX_KEYS_PER_TENANT}); revoke keys it no longer uses",
                held.len()
            )));
        }
        let mut new = NewKey::generate(tenant, name, scopes, now_millis());
        new.key.usage_key = self.usage.register(tenant, &new.key.id).await?;
        if let Err(e) = self.keys.put_key_if_absent(&new.key).await {
            if let Some(usage) = &new.key.usage_key {
                if let Err(cleanup) = self.usage.deregister(usage).await {
                    tracing::warn!(usage_key_id = %usage.id, error = %cleanup, "could not remove an unused usage-plan key");
                }
            }
            return Err(match e {
                // 64 random bits of id colliding: a retry draws another.
                StoreError::Conflict(m) => ServiceError::Conflict(m),
                other => other.into(),
            });
        }
        tracing::info!(tenant = %tenant, key_id = %new.key.id, scopes = ?new.key.scopes, "API key created");
        Ok(IssuedKey {
            tenant: tenant.clone(),
            view: KeyView::from(&new.key),
            key: new.token,
        })
    }
}

/// Scope names into scopes: at least one, each known.
fn parse_scope_list(names: &[String]) -> Result<BTreeSet<Scope>, ServiceError> {
    if names.is_empty() {
        return Err(ServiceError::BadRequest("give at least one scope".into()));
    }
    names
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or_else(|| {
                ServiceError::BadRequest(format!(
                    "unknown scope '{}'; use read, detect, train or admin",
                    name.chars().take(32).collect::<String>().escape_default()
                ))
            })
        })
        .collect()
}

fn validate_key_name(name: &str) -> Result<(), ServiceError> {
    let length = name.chars().count();
    if !(1..=MAX_KEY_NAME_LEN).contains(&length) || name.chars().any(char::is_control) {
        return Err(ServiceError::BadRequest(format!(
            "key name must be 1 to {MAX_KEY_NAME_LEN} characters without control characters"
        )));
    }
    Ok(())
}
