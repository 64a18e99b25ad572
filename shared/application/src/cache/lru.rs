//! A map bounded in bytes that evicts the least recently used entry: what every warm-container
//! cache (decoded models, series detectors) is built on.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Hit and miss counts, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that had to load from storage.
    pub misses: u64,
    /// Entries currently held.
    pub entries: usize,
    /// Bytes currently accounted.
    pub bytes: usize,
}

struct Entry<V> {
    value: V,
    bytes: usize,
    last_used: u64,
}

struct Inner<K, V> {
    entries: HashMap<K, Entry<V>>,
    bytes: usize,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// Values by key, at most `capacity` bytes of them (as each insert declares).
pub(crate) struct ByteLru<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

impl<K: Eq + Hash + Clone, V: Clone> ByteLru<K, V> {
    /// An empty cache of `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
                tick: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// A copy of the value at `key`, marking it recently used.
    pub fn get(&self, key: &K) -> Option<V> {
        let mut inner = self.inner.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let found = inner.entries.get_mut(key).map(|entry| {
            entry.last_used = tick;
            entry.value.clone()
        });
        if found.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        found
    }

    /// Keeps `value` at `key` as `bytes`, evicting the least recently used entries to stay within
    /// capacity; a value larger than the whole capacity is not kept (and replaces nothing).
    pub fn insert(&self, key: K, value: V, bytes: usize) {
        if bytes > self.capacity {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.bytes;
        }
        while inner.bytes + bytes > self.capacity {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(entry) = inner.entries.remove(&oldest) {
                inner.bytes -= entry.bytes;
            }
        }
        inner.tick += 1;
        let last_used = inner.tick;
        inner.bytes += bytes;
        inner.entries.insert(
            key,
            Entry {
                value,
                bytes,
                last_used,
            },
        );
    }

    /// Counts for metrics.
    pub fn stats(&self) -> CacheStats {
        self.inner
            .lock()
            .map(|inner| CacheStats {
                hits: inner.hits,
                misses: inner.misses,
                entries: inner.entries.len(),
                bytes: inner.bytes,
            })
            .unwrap_or_default()
    }
}
