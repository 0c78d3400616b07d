//! The two caches that make a view cheap: each image's snapshot (stale-while-revalidate, one build at a
//! time), and rendered responses keyed by the snapshot generations they show.
//!
//! A request for a fresh snapshot costs a read lock; a stale one is served while a single background
//! task rebuilds it; only a missing (or very old) snapshot makes the request wait, and concurrent
//! requests then wait for the same build instead of each starting one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;

use super::conditional::Tagged;
use super::snapshot::{self, SharedSnapshot};
use super::state::AppState;

/// One image's slot.
#[derive(Default)]
struct Slot {
    current: RwLock<Option<SharedSnapshot>>,
    refreshing: AtomicBool,
    /// Held while building, so only one build of an image runs at a time.
    build: tokio::sync::Mutex<()>,
}

impl Slot {
    fn current(&self) -> Option<SharedSnapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn store(&self, snapshot: SharedSnapshot) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    }
}

/// How a snapshot request was served, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub enum SnapshotLookup {
    Fresh,
    /// Served stale while a rebuild runs.
    Stale,
    /// Waited for a build.
    Built,
}

/// Per-image snapshots.
pub struct SnapshotCache {
    slots: Vec<Slot>,
    generation: AtomicU64,
    /// Lookups by kind: fresh, stale, built.
    pub lookups: [AtomicU64; 3],
    /// Sum of build times, in milliseconds, and the last one.
    pub build_millis_total: AtomicU64,
    pub last_build_millis: AtomicU64,
}

impl SnapshotCache {
    pub(crate) fn new(images: usize) -> SnapshotCache {
        SnapshotCache {
            slots: (0..images).map(|_| Slot::default()).collect(),
            generation: AtomicU64::new(0),
            lookups: Default::default(),
            build_millis_total: AtomicU64::new(0),
            last_build_millis: AtomicU64::new(0),
        }
    }

    fn count(&self, lookup: SnapshotLookup) {
        self.lookups[lookup as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Image `index`'s snapshot: fresh from the cache; stale (within `max_stale`) while a background
    /// rebuild runs; else built now, once for all waiting requests.
    pub(crate) async fn get(state: &AppState, index: usize) -> SharedSnapshot {
        let cache = &state.snapshots;
        let slot = &cache.slots[index];
        let settings = &state.settings;
        if let Some(snapshot) = slot.current() {
            let age = snapshot.built.elapsed();
            if age < settings.refresh {
                cache.count(SnapshotLookup::Fresh);
                return snapshot;
            }
            if age < settings.max_stale {
                cache.count(SnapshotLookup::Stale);
                if !slot.refreshing.swap(true, Ordering::AcqRel) {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let slot = &state.snapshots.slots[index];
                        let _building = slot.build.lock().await;
                        // A request that found no usable snapshot may have rebuilt it meanwhile.
                        let fresh = slot.current().is_some_and(|current| {
                            current.built.elapsed() < state.settings.refresh
                        });
                        if !fresh {
                            SnapshotCache::rebuild(&state, index).await;
                        }
                        slot.refreshing.store(false, Ordering::Release);
                    });
                }
                return snapshot;
            }
        }
        let _building = slot.build.lock().await;
        if let Some(snapshot) = slot.current()
            && snapshot.built.elapsed() < settings.refresh
        {
            cache.count(SnapshotLookup::Fresh);
            return snapshot;
        }
        cache.count(SnapshotLookup::Built);
        SnapshotCache::rebuild(state, index).await
    }

    /// Build image `index`'s snapshot and store it; the caller holds the slot's build lock.
    async fn rebuild(state: &AppState, index: usize) -> SharedSnapshot {
        let cache = &state.snapshots;
        let generation = cache.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let image = &state.images[index];
        let snapshot = Arc::new(snapshot::build(image, &state.registry, generation).await);
        cache
            .build_millis_total
            .fetch_add(snapshot.fetch_ms, Ordering::Relaxed);
        cache
            .last_build_millis
            .store(snapshot.fetch_ms, Ordering::Relaxed);
        tracing::info!(
            image = %image.name,
            generation,
            millis = snapshot.fetch_ms,
            registry = snapshot.registry.name(),
            tags = snapshot.registry.tags().len(),
            "snapshot built"
        );
        cache.slots[index].store(Arc::clone(&snapshot));
        snapshot
    }
}

/// A rendered response body.
#[derive(Clone)]
pub struct CachedPage {
    /// The snapshot generations it shows, in image order.
    generations: Vec<u64>,
    pub body: Tagged,
}

/// Rendered bodies by key (the path), valid while the snapshots they show are current.
#[derive(Default)]
pub struct PageCache {
    entries: RwLock<HashMap<String, CachedPage>>,
    /// Hits and misses.
    pub lookups: [AtomicU64; 2],
}

/// Keys kept at most; past that the cache starts over (keys are paths of known images and tags).
const MAX_PAGES: usize = 4096;

impl PageCache {
    /// The body rendered for `key` from exactly these snapshots, if any.
    pub fn get(&self, key: &str, snapshots: &[SharedSnapshot]) -> Option<Tagged> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = entries.get(key).filter(|page| {
            page.generations.len() == snapshots.len()
                && page
                    .generations
                    .iter()
                    .zip(snapshots)
                    .all(|(generation, snapshot)| *generation == snapshot.generation)
        });
        self.lookups[usize::from(found.is_none())].fetch_add(1, Ordering::Relaxed);
        found.map(|page| page.body.clone())
    }

    /// Remember `body` as the rendering of `key` from `snapshots`.
    pub fn insert(&self, key: &str, snapshots: &[SharedSnapshot], body: Tagged) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_PAGES && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(
            key.to_string(),
            CachedPage {
                generations: snapshots
                    .iter()
                    .map(|snapshot| snapshot.generation)
                    .collect(),
                body,
            },
        );
    }

    /// The cached body for `key`, or `render`'s, remembered with its ETag (hashed once per rendering,
    /// not per request).
    ///
    /// # Errors
    ///
    /// `render`'s.
    pub fn get_or_render<E>(
        &self,
        key: &str,
        snapshots: &[SharedSnapshot],
        render: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Tagged, E> {
        if let Some(body) = self.get(key, snapshots) {
            return Ok(body);
        }
        let body = Tagged::new(render()?);
        self.insert(key, snapshots, body.clone());
        Ok(body)
    }
}
