//! The server's typed state: the images it shows, the registry client, the lock check, the caches and
//! the counters.
//! Handlers name [`AppState`]; nothing is attached through untyped extensions.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cache::{PageCache, SnapshotCache};
use super::check::CheckService;
use super::metrics::Metrics;
use super::snapshot::SharedSnapshot;
use crate::registry::{RegistryClient, Repository};

/// One image the server shows.
#[derive(Debug, Clone)]
pub struct ServedImage {
    /// The image's name in `fave-lock.toml` (or on the command line).
    pub name: String,
    /// Where it is published, if anywhere.
    pub repository: Option<Repository>,
    /// Its lock folder on disk.
    pub lock_dir: PathBuf,
    /// The lock folder as shown (relative to the config's folder).
    pub lock_dir_display: String,
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// How long a snapshot is served as is; after that the next request refreshes it in the background.
    pub refresh: Duration,
    /// How long a stale snapshot may still be served while a fresh one is built; past it a request waits.
    pub max_stale: Duration,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
}

impl Default for ServeSettings {
    fn default() -> ServeSettings {
        ServeSettings {
            refresh: Duration::from_secs(30),
            max_stale: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything the handlers share.
pub struct App {
    pub images: Vec<ServedImage>,
    pub registry: RegistryClient,
    /// `None` when the server runs without a config (images from `--image` only): nothing to check.
    pub check: Option<CheckService>,
    pub settings: ServeSettings,
    pub snapshots: SnapshotCache,
    pub pages: PageCache,
    pub metrics: Metrics,
}

/// The state every handler receives: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    /// State for `images`, in the order the dashboard lists them.
    pub fn new(
        images: Vec<ServedImage>,
        registry: RegistryClient,
        check: Option<CheckService>,
        settings: ServeSettings,
    ) -> AppState {
        let snapshots = SnapshotCache::new(images.len());
        AppState(Arc::new(App {
            images,
            registry,
            check,
            settings,
            snapshots,
            pages: PageCache::default(),
            metrics: Metrics::default(),
        }))
    }

    /// The index of the image called `name`.
    pub fn image_index(&self, name: &str) -> Option<usize> {
        self.images.iter().position(|image| image.name == name)
    }

    /// The current snapshot of image `index` (see [`SnapshotCache::get`]).
    pub async fn snapshot(&self, index: usize) -> SharedSnapshot {
        SnapshotCache::get(self, index).await
    }

    /// Every image's snapshot, in order, gathered concurrently.
    pub async fn all_snapshots(&self) -> Vec<SharedSnapshot> {
        futures::future::join_all((0..self.images.len()).map(|index| self.snapshot(index))).await
    }
}
