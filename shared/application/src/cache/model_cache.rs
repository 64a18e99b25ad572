//! The warm-container model cache: decoded models keyed by name and version, bounded in bytes and
//! evicting the least recently used, loaded only after the artifact's SHA-256 matches the registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use detection::artifact;
use detection::model::Model;

use crate::checksum::sha256_hex;
use crate::domain::Tenant;
use crate::error::ServiceError;
use crate::metrics::{self, Counter};
use crate::ports::{ModelRegistry, ObjectStore, StoreError};

/// Hit and miss counts, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that loaded from storage.
    pub misses: u64,
    /// Models currently held.
    pub entries: usize,
    /// Bytes currently accounted.
    pub bytes: usize,
}

struct Entry {
    model: Arc<Model>,
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(Tenant, String, u32), Entry>,
    bytes: usize,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// Decoded models kept across requests in one container.
pub struct ModelCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ModelCache {
    /// A cache holding at most `capacity` bytes of models (by their decoded, in-memory size, which
    /// can be far above the artifact's; 0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cached model, marking it recently used.
    pub fn get(&self, tenant: &Tenant, name: &str, version: u32) -> Option<Arc<Model>> {
        let mut inner = self.inner.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let found = inner
            .entries
            .get_mut(&(tenant.clone(), name.to_owned(), version))
            .map(|e| {
                e.last_used = tick;
                Arc::clone(&e.model)
            });
        if found.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        found
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
        if bytes > self.capacity {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let key = (tenant.clone(), name.to_owned(), version);
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.bytes;
        }
        while inner.bytes + bytes > self.capacity {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.bytes;
            }
        }
        inner.tick += 1;
        let last_used = inner.tick;
        inner.bytes += bytes;
        inner.entries.insert(
            key,
            Entry {
                model,
                bytes,
                last_used,
            },
        );
    }

    /// Counts for metrics.
    pub fn stats(&self) -> CacheStats {
        self.inner
            .lock()
            .map(|i| CacheStats {
                hits: i.hits,
                misses: i.misses,
                entries: i.entries.len(),
                bytes: i.bytes,
            })
            .unwrap_or_default()
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
