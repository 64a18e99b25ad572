//! A short-lived memory of each model's `LATEST` version, so a warm container does not read the
//! registry on every request (at most once per TTL per model).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Tenant;
use crate::ports::{ModelRegistry, StoreError};

/// `LATEST` versions looked up within the last `ttl`.
#[derive(Debug)]
pub struct LatestCache {
    ttl: Duration,
    entries: Mutex<HashMap<(Tenant, String), (u32, Instant)>>,
}

impl LatestCache {
    /// A cache trusting a lookup for `ttl` (zero: always look up).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The latest version of `tenant`'s model, from memory when fresh, else from the registry.
    pub async fn resolve(
        &self,
        tenant: &Tenant,
        name: &str,
        registry: &dyn ModelRegistry,
    ) -> Result<Option<u32>, StoreError> {
        if !self.ttl.is_zero() {
            if let Ok(entries) = self.entries.lock() {
                if let Some((v, at)) = entries.get(&(tenant.clone(), name.to_owned())) {
                    if at.elapsed() < self.ttl {
                        return Ok(Some(*v));
                    }
                }
            }
        }
        let latest = registry.latest(tenant, name).await?;
        if let (Some(v), Ok(mut entries)) = (latest, self.entries.lock()) {
            entries.insert((tenant.clone(), name.to_owned()), (v, Instant::now()));
        }
        Ok(latest)
    }
}
