//! The disk cache: parsed project pages with their fetch time, and parsed core metadata.
//!
//! PyPI sends neither `ETag` nor `Cache-Control`, so a page cannot be revalidated cheaply: a page younger
//! than `page_ttl` is used as is, an older one is fetched again. Core metadata never changes for a given
//! file URL, so it is kept forever.
//!
//! Layout under the cache folder (bump a `-vN` when the stored shape changes; old entries then read as
//! misses and are fetched again):
//!
//! ```text
//! simple-v2/<sha256(index url)[..16]>/<normalized name>.bin    CachedPage (binary, see page_codec.rs)
//! metadata-v2/<h[..2]>/<h = sha256(file url)>.json              CoreMetadata
//! ```
//!
//! Writes go through [`crate::fs::write_atomic`] (temp file + rename), so a concurrent fave-lock process
//! sees either the old entry or the new one, never half of one. Any entry that does not read back (missing,
//! truncated, corrupt, from another shape) is a miss, never an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use pep508_rs::PackageName;
use sha2::{Digest, Sha256};

use super::error::IndexError;
use super::model::{CoreMetadata, ProjectPage};

/// The default cache folder: `$FAVE_LOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/fave-lock`, else
/// `~/.cache/fave-lock` (XDG Base Directory Specification); the system temp folder as a last resort.
pub fn default_cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("FAVE_LOCK_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(dir) = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return dir.join("fave-lock");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".cache").join("fave-lock"),
        None => std::env::temp_dir().join("fave-lock"),
    }
}

/// A project page as stored: the page, where it came from, and when.
#[derive(Debug)]
pub(crate) struct CachedPage {
    /// The index the page came from, checked on read so a hash collision cannot mix indexes.
    pub(crate) index_url: String,
    /// When the index sent the page; its age decides freshness.
    pub(crate) fetched_at: Timestamp,
    pub(crate) page: ProjectPage,
}

/// The cache folder of one client.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

impl Cache {
    pub(crate) fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    /// Where the page of `name` from `index_url` is stored.
    pub(crate) fn page_path(&self, index_url: &str, name: &PackageName) -> PathBuf {
        let index = &sha256_hex(index_url.as_bytes())[..16];
        self.root
            .join("simple-v2")
            .join(index)
            .join(format!("{name}.bin"))
    }

    /// Where the core metadata of the file at `file_url` is stored.
    pub(crate) fn metadata_path(&self, file_url: &str) -> PathBuf {
        let hash = sha256_hex(file_url.as_bytes());
        self.root
            .join("metadata-v2")
            .join(&hash[..2])
            .join(format!("{hash}.json"))
    }

    /// The stored page of `name`, if one reads back and belongs to `index_url`.
    pub(crate) async fn read_page(
        &self,
        index_url: &str,
        name: &PackageName,
    ) -> Option<CachedPage> {
        let path = self.page_path(index_url, name);
        let read = move || super::page_codec::decode(&std::fs::read(&path).ok()?);
        let cached = tokio::task::spawn_blocking(read).await.ok().flatten()?;
        (cached.index_url == index_url && &cached.page.name == name).then_some(cached)
    }

    /// Store `page` as fetched from `index_url` at `fetched_at`.
    pub(crate) async fn write_page(
        &self,
        index_url: &str,
        page: Arc<ProjectPage>,
        fetched_at: Timestamp,
    ) -> Result<(), IndexError> {
        let path = self.page_path(index_url, &page.name);
        let index_url = index_url.to_string();
        blocking(path, move |path| {
            let bytes = super::page_codec::encode(&index_url, fetched_at, &page);
            write_bytes(path, &bytes)
        })
        .await
    }

    /// The stored core metadata of the file at `file_url`.
    pub(crate) async fn read_metadata(&self, file_url: &str) -> Option<CoreMetadata> {
        read_json(self.metadata_path(file_url)).await
    }

    /// Store the core metadata of the file at `file_url`.
    pub(crate) async fn write_metadata(
        &self,
        file_url: &str,
        metadata: Arc<CoreMetadata>,
    ) -> Result<(), IndexError> {
        let path = self.metadata_path(file_url);
        blocking(path, move |path| write_json(path, &*metadata)).await
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Read and parse a JSON entry off the async threads; every failure is a miss.
async fn read_json<T>(path: PathBuf) -> Option<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let read = move || {
        let bytes = std::fs::read(&path).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    tokio::task::spawn_blocking(read).await.ok().flatten()
}

/// Serialize and write an entry atomically.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), IndexError> {
    let bytes = serde_json::to_vec(value).map_err(|error| IndexError::Cache {
        path: path.to_path_buf(),
        source: error.into(),
    })?;
    write_bytes(path, &bytes)
}

/// Write an entry atomically.
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    crate::fs::write_atomic(path, bytes).map_err(|error| IndexError::Cache {
        path: path.to_path_buf(),
        source: error.source,
    })
}

/// Run a cache write on the blocking pool: it syncs to disk, which can take milliseconds.
async fn blocking(
    path: PathBuf,
    write: impl FnOnce(&Path) -> Result<(), IndexError> + Send + 'static,
) -> Result<(), IndexError> {
    let task_path = path.clone();
    match tokio::task::spawn_blocking(move || write(&task_path)).await {
        Ok(result) => result,
        // A panic in `write` or a runtime shutting down: report it against the entry.
        Err(join_error) => Err(IndexError::Cache {
            path,
            source: std::io::Error::other(join_error),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::index::DistFile;

    fn page(name: &str) -> ProjectPage {
        ProjectPage {
            name: PackageName::from_str(name).unwrap(),
            files: vec![DistFile {
                filename: format!("{name}-1.0-py3-none-any.whl"),
                url: format!("https://files.example/{name}-1.0-py3-none-any.whl"),
                sha256: Some("ab".repeat(32)),
                size: Some(10),
                upload_time: Some("2024-01-02T03:04:05Z".parse().unwrap()),
                requires_python: Some(">=3.8".to_string()),
                yanked: None,
                core_metadata: false,
            }],
        }
    }

    #[tokio::test]
    async fn pages_round_trip_and_corrupt_entries_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let index = "https://pypi.org/simple";
        let name = PackageName::from_str("six").unwrap();
        assert!(cache.read_page(index, &name).await.is_none());

        let fetched_at = Timestamp::now();
        cache
            .write_page(index, Arc::new(page("six")), fetched_at)
            .await
            .unwrap();
        let cached = cache.read_page(index, &name).await.unwrap();
        assert_eq!(cached.page, page("six"));
        assert_eq!(cached.fetched_at, fetched_at);
        assert!(
            cache
                .read_page("https://other.example/simple", &name)
                .await
                .is_none()
        );

        let path = cache.page_path(index, &name);
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(cache.read_page(index, &name).await.is_none());
        std::fs::write(&path, b"\xff\x00garbage").unwrap();
        assert!(cache.read_page(index, &name).await.is_none());
    }

    /// How long a numpy-sized page (4,415 files) takes to load from the cache. Run with
    /// `cargo test --release --lib measure_page_load -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn measure_page_load() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let mut big = page("numpy");
        let template = big.files[0].clone();
        big.files = (0..4415)
            .map(|index| DistFile {
                filename: format!("numpy-1.{index}.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
                url: format!(
                    "https://files.pythonhosted.org/packages/ab/cd/{}/numpy-1.{index}.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                    "0123456789abcdef".repeat(4)
                ),
                ..template.clone()
            })
            .collect();
        let name = big.name.clone();
        cache
            .write_page("https://pypi.org/simple", Arc::new(big), Timestamp::now())
            .await
            .unwrap();
        let mut times = Vec::new();
        for _ in 0..30 {
            let started = std::time::Instant::now();
            let read = cache
                .read_page("https://pypi.org/simple", &name)
                .await
                .unwrap();
            times.push(started.elapsed());
            assert_eq!(read.page.files.len(), 4415);
        }
        times.sort();
        let size = std::fs::metadata(cache.page_path("https://pypi.org/simple", &name))
            .unwrap()
            .len();
        println!(
            "{size} bytes: min {:?}, median {:?}, max {:?}",
            times[0], times[15], times[29]
        );
    }

    #[tokio::test]
    async fn metadata_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let url = "https://files.example/six-1.0-py3-none-any.whl";
        let metadata = CoreMetadata {
            name: "six".to_string(),
            version: "1.0".to_string(),
            ..CoreMetadata::default()
        };
        cache
            .write_metadata(url, Arc::new(metadata.clone()))
            .await
            .unwrap();
        assert_eq!(cache.read_metadata(url).await, Some(metadata));
        assert!(
            cache
                .read_metadata("https://files.example/other.whl")
                .await
                .is_none()
        );
    }
}
