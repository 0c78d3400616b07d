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
    /// What a client may hold: connections, their timeouts and request sizes.
    pub limits: ConnectionLimits,
}

/// What the server grants one client, so that slow or hostile clients cannot hold it up: every
/// connection is bounded in time whatever its client does, and the number of connections is capped.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections served at once. One more is answered 503 and closed at once (the
    /// connections already open are bounded in time, so the slots come back).
    pub max_connections: usize,
    /// A request's head (request line and headers) must arrive within this, counted from the moment
    /// the connection waits for it: a client trickling its headers (slowloris) is cut off.
    pub header_timeout: Duration,
    /// A kept-alive connection that sends no byte of a next request within this is closed. The header
    /// timeout counts from the same moment, so only a shorter idle timeout changes anything.
    pub idle_timeout: Duration,
    /// An answer the client does not take (it stops reading) is abandoned after this.
    pub send_timeout: Duration,
    /// Largest request head (request line and headers), in bytes; more is answered 431. At least
    /// 8 KiB (hyper's minimum read buffer).
    pub max_header_bytes: usize,
    /// Largest request body, in bytes: every route is a GET, so anything sizeable is abuse. A larger
    /// `Content-Length` is answered 413 without reading the body.
    pub max_body_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024,
        }
    }
}

impl Default for ServeSettings {
    fn default() -> ServeSettings {
        ServeSettings {
            refresh: Duration::from_secs(30),
            max_stale: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
            limits: ConnectionLimits::default(),
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
