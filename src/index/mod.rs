//! The package index client: PEP 691 JSON simple API with PEP 503 HTML fallback, core metadata from
//! PEP 658/714 `.metadata` files, HTTP range reads of a wheel's zip directory, or a full download, and a
//! disk cache that keeps repeat runs fast although the index sends no validators.
//!
//! It returns what the index says and knows nothing of resolving.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use jiff::Timestamp;
use pep508_rs::PackageName;

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL (relative links are resolved against the page URL).
    pub url: String,
    /// Lower-case hex SHA-256, when the index gives one.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// PEP 700 `upload-time`.
    pub upload_time: Option<Timestamp>,
    /// `requires-python` (`data-requires-python`) as written.
    pub requires_python: Option<String>,
    /// PEP 592: `Some(reason)` when yanked (an empty reason when none was given).
    pub yanked: Option<String>,
    /// Whether the index advertises a PEP 658 `.metadata` file.
    pub core_metadata: bool,
}

/// A project's page: every file the index lists for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProjectPage {
    pub name: PackageName,
    pub files: Vec<DistFile>,
}

/// The outcome of asking for a project: a missing project is an answer, not an error.
#[derive(Debug, Clone)]
pub enum ProjectResponse {
    Found(Arc<ProjectPage>),
    NotFound,
}

/// The fields of a distribution's core metadata (`METADATA` / `PKG-INFO`) that fave-lock uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CoreMetadata {
    pub name: String,
    pub version: String,
    /// `Requires-Dist` entries as written; parsed by the resolver so that a bad one can be reported.
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub provides_extra: Vec<String>,
    /// PEP 639 `License-Expression`.
    pub license_expression: Option<String>,
    /// Legacy `License` field.
    pub license: Option<String>,
    pub classifiers: Vec<String>,
}

/// Settings for [`IndexClient`].
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Simple API root, e.g. `https://pypi.org/simple`.
    pub index_url: String,
    /// Cache folder (default `$XDG_CACHE_HOME/fave-lock`, `~/.cache/fave-lock`).
    pub cache_dir: PathBuf,
    /// Never touch the network; answer from the cache or fail.
    pub offline: bool,
    /// Ignore cached project pages (metadata is immutable and stays cached).
    pub refresh: bool,
    /// How long a cached project page counts as fresh.
    pub page_ttl: Duration,
    /// Most requests in flight at once.
    pub concurrency: usize,
}

/// Counters the CLI reads to draw progress.
#[derive(Debug, Default)]
pub struct IndexStats {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    pub bytes: AtomicU64,
}

/// Errors talking to the index. An expected absence (a project that does not exist) is a
/// [`ProjectResponse::NotFound`], not an error.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("request to `{url}` failed after {retries} retries")]
    Request {
        url: String,
        retries: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("`{url}` answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("`{url}` sent a response fave-lock cannot read: {message}")]
    Malformed { url: String, message: String },
    #[error("`{what}` is not in the cache and --offline forbids fetching it; run once without --offline")]
    Offline { what: String },
    #[error("cache error at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Client for one index, shared across tasks.
pub struct IndexClient {
    settings: IndexSettings,
    pub stats: Arc<IndexStats>,
}

impl IndexClient {
    pub fn new(settings: IndexSettings) -> Result<IndexClient, IndexError> {
        Ok(IndexClient { settings, stats: Arc::default() })
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// Every file the index lists for `name`.
    pub async fn project(&self, name: &PackageName) -> Result<ProjectResponse, IndexError> {
        todo!("{name}")
    }

    /// The core metadata of `file` (a wheel).
    pub async fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        todo!("{file:?}")
    }
}
