//! Series detectors kept warm in a container: each as its last write left it, keyed by tenant
//! and series and tagged with the state's object key, so a detector is used only while the
//! series record still names that state (another container's append moves it on).

use detection::series::SeriesDetector;

use super::lru::{ByteLru, CacheStats};
use crate::domain::Tenant;

/// Warm series detectors, bounded in bytes (by their stored size).
pub struct SeriesCache {
    detectors: ByteLru<(Tenant, String), (String, SeriesDetector)>,
}

impl std::fmt::Debug for SeriesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl SeriesCache {
    /// A cache of at most `capacity` bytes of stored state (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            detectors: ByteLru::new(capacity),
        }
    }

    /// A copy of `name`'s detector if the cached one is the state at `state_key`.
    pub fn get(&self, tenant: &Tenant, name: &str, state_key: &str) -> Option<SeriesDetector> {
        self.detectors
            .get(&(tenant.clone(), name.to_owned()))
            .filter(|(key, _)| key == state_key)
            .map(|(_, detector)| detector)
    }

    /// Keeps `detector` as the state at `state_key`, whose stored form takes `bytes`.
    pub fn insert(
        &self,
        tenant: &Tenant,
        name: &str,
        state_key: &str,
        detector: SeriesDetector,
        bytes: usize,
    ) {
        self.detectors.insert(
            (tenant.clone(), name.to_owned()),
            (state_key.to_owned(), detector),
            bytes,
        );
    }

    /// Counts for metrics.
    pub fn stats(&self) -> CacheStats {
        self.detectors.stats()
    }
}
