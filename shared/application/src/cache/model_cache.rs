//! The warm-container model cache: decoded models keyed by name and version, bounded in bytes and
//! evicting the least recently used, loaded only after the artifact's SHA-256 matches the registry.

use std::sync::Arc;

use detection::artifact;
use detection::model::Model;

use super::lru::{ByteLru, CacheStats};
use crate::checksum::sha256_hex;
use crate::domain::Tenant;
use crate::error::ServiceError;
use crate::metrics::{self, Counter};
use crate::ports::{ModelRegistry, ObjectStore, StoreError};

/// Decoded models kept across requests in one container.
pub struct ModelCache {
    models: ByteLru<(Tenant, String, u32), Arc<Model>>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ModelCache {
    /// A cache holding at most `capacity` bytes of models (by their decoded, in-memory size, which
    /// can be far above the artifact's; 0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            models: ByteLru::new(capacity),
        }
    }

    /// The cached model, marking it recently used.
    pub fn get(&self, tenant: &Tenant, name: &str, version: u32) -> Option<Arc<Model>> {
        self.models.get(&(tenant.clone(), name.to_owned(), version))
    }

    /// Adds a model taking `bytes` of memory, evicting least recently used ones to stay within capacity;
    /// a model larger than the whole capacity is not kept.
    pub fn insert(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
        model: Arc<Model>,
        bytes: usize,
    ) {
        self.models
            .insert((tenant.clone(), name.to_owned(), version), model, bytes);
    }

    /// Counts for metrics.
    pub fn stats(&self) -> CacheStats {
        self.models.stats()
    }

    /// The model `name`/`version` from memory, or loaded: registry item, artifact bytes, SHA-256
    /// check against the registry, decode. A missing version is
    /// [`ServiceError::VersionNotFound`]; a missing, altered or undecodable artifact is
    /// [`ServiceError::CorruptedModel`].
    pub async fn get_or_load(
        &self,
        tenant: &Tenant,
        name: &str,
        version: u32,
        registry: &dyn ModelRegistry,
        objects: &dyn ObjectStore,
    ) -> Result<Arc<Model>, ServiceError> {
        if let Some(model) = self.get(tenant, name, version) {
            metrics::count(Counter::ModelCacheHits, 1);
            return Ok(model);
        }
        metrics::count(Counter::ModelCacheMisses, 1);
        let record = registry
            .version(tenant, name, version)
            .await?
            .ok_or_else(|| ServiceError::VersionNotFound {
                name: name.to_owned(),
                version,
            })?;
        let object = match objects.get(&record.s3_key).await {
            Err(StoreError::Corrupted(reason)) => {
                return Err(ServiceError::corrupted(name, version, reason))
            }
            other => other?,
        };
        let object = object.ok_or_else(|| {
            ServiceError::corrupted(
                name,
                version,
                format!("its artifact '{}' is missing", record.s3_key),
            )
        })?;
        let actual = sha256_hex(&object.bytes);
        if actual != record.sha256 {
            return Err(ServiceError::corrupted(
                name,
                version,
                format!(
                    "artifact checksum mismatch (registered sha256 {}, stored bytes have {actual})",
                    record.sha256
                ),
            ));
        }
        let model = artifact::decode(&object.bytes)
            .map_err(|e| ServiceError::corrupted(name, version, e))?;
        if model.features() != record.features.as_slice() {
            return Err(ServiceError::corrupted(
                name,
                version,
                "artifact features differ from the registry's",
            ));
        }
        let held = model.heap_bytes();
        let model = Arc::new(model);
        self.insert(tenant, name, version, Arc::clone(&model), held);
        Ok(model)
    }
}
