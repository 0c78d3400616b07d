//! In-memory caches of the client: immutable objects by digest (kept until the cache is full), and
//! mutable answers (tag lists, tag → digest) for a short time.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Values that never change for their key (content addressed), up to `capacity` entries. When full it
/// starts over: simpler than LRU, and a dashboard's working set is far below the bound.
#[derive(Debug)]
pub(crate) struct ImmutableCache<K, V> {
    entries: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> ImmutableCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        ImmutableCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        lock(&self.entries).get(key).cloned()
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, value);
    }
}

/// Values that are reused for `ttl` after they were fetched.
#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = lock(&self.entries);
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Forget `key` (its answer just changed).
    pub(crate) fn remove(&self, key: &K) {
        lock(&self.entries).remove(key);
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

/// A poisoned lock only means another thread panicked mid-insert; the map is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_cache_starts_over_when_full() {
        let cache = ImmutableCache::new(2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        assert_eq!(cache.get(&1), Some("a"));
        cache.insert(3, "c");
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.get(&3), Some("c"));
    }

    #[test]
    fn ttl_cache_expires() {
        let cache = TtlCache::new(Duration::from_millis(30), 10);
        cache.insert("k", 1);
        assert_eq!(cache.get(&"k"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&"k"), None);
    }
}
