//! The plain data the index client hands out: project pages, files, core metadata, settings, counters.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use jiff::Timestamp;
use pep508_rs::PackageName;

use super::page_files::PageFiles;

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL (relative links are resolved against the page URL), without the `#sha256=` fragment.
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
    /// Whether the index advertises a PEP 658 `.metadata` file. fave-lock asks for the file even when
    /// this is false, because PyPI serves `.metadata` files without advertising them.
    pub core_metadata: bool,
}

/// A project's page: every file the index lists for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPage {
    pub name: PackageName,
    /// Held compactly (see [`PageFiles`]): a run keeps every page it reads.
    pub files: PageFiles,
}

/// The outcome of asking for a project: a missing project is an answer, not an error.
#[derive(Debug, Clone)]
pub enum ProjectResponse {
    /// The index lists the project (possibly with no files).
    Found(Arc<ProjectPage>),
    /// The index answered 404 for the project.
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
    /// Legacy `License` field; continuation lines are joined with `\n`.
    pub license: Option<String>,
    pub classifiers: Vec<String>,
}

/// Settings for [`IndexClient`](super::IndexClient).
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Simple API root, e.g. `https://pypi.org/simple`.
    pub index_url: String,
    /// Cache folder (default: [`default_cache_dir`](super::default_cache_dir)).
    pub cache_dir: PathBuf,
    /// Never touch the network; answer from the cache or fail.
    pub offline: bool,
    /// Ignore cached project pages (metadata is immutable and stays cached).
    pub refresh: bool,
    /// How long a cached project page counts as fresh. PyPI sends neither `ETag` nor `Cache-Control`, so
    /// this is the only thing that lets a repeat run skip the request.
    pub page_ttl: Duration,
    /// Most requests in flight at once (at least one is always allowed).
    pub concurrency: usize,
}

impl Default for IndexSettings {
    /// PyPI, the XDG cache folder, 10-minute pages (pip's page lifetime), 16 requests in flight.
    fn default() -> IndexSettings {
        IndexSettings {
            index_url: "https://pypi.org/simple".to_string(),
            cache_dir: super::default_cache_dir(),
            offline: false,
            refresh: false,
            page_ttl: Duration::from_secs(600),
            concurrency: 16,
        }
    }
}

/// Counters the CLI reads to draw progress.
#[derive(Debug, Default)]
pub struct IndexStats {
    /// HTTP requests sent, retries included.
    pub requests: AtomicU64,
    /// Pages and metadata answered from the disk cache without a request.
    pub cache_hits: AtomicU64,
    /// Response body bytes received.
    pub bytes: AtomicU64,
    /// Requests repeated after a transient failure (5xx, 429, reset, timeout).
    pub retries: AtomicU64,
}
