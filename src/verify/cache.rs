//! The content-addressed wheel cache: every file `verify` has checked, named by its SHA-256, so a second
//! run (and anything else that wants the locked wheels, such as an image build) reads them from disk.
//!
//! ```text
//! <cache dir>/wheels-v1/sha256/<h[..2]>/<h>    the file whose SHA-256 is h
//! <cache dir>/wheels-v1/tmp/                    downloads in progress (same file system, so a rename)
//! ```
//!
//! A file enters the cache only under the hash of its bytes, hashed while they streamed in, and only after
//! that hash matched the lock or index when one lists it; it enters by an atomic rename of the finished
//! download. So a present entry holds the bytes its name says,
//! unless something outside fave-lock changed the folder: a lookup checks the size only (one `stat`), and
//! re-hashing every entry is opt-in (`--rehash`), which costs reading the whole cache (~225 MB for the base
//! image's x86_64 wheels, about a second at 230 MB/s). An entry that fails either check is removed and
//! downloaded again.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::index::{DistFile, DownloadedFile, IndexClient, IndexError};

/// Bump when the layout changes; old entries are then simply not found.
const LAYOUT: &str = "wheels-v1";

/// A cache problem that stops a run (a full disk, no permission), as opposed to a miss.
#[derive(Debug, thiserror::Error)]
#[error("wheel cache error at `{}`", path.display())]
pub struct WheelCacheError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Why [`WheelCache::download`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum CachedDownloadError {
    #[error("cannot download `{url}`")]
    Download {
        url: String,
        #[source]
        source: IndexError,
    },
    /// The bytes are not the ones the caller expected: an integrity failure, nothing is stored.
    #[error("`{filename}` downloaded with sha256 {actual}, but {expected} was expected")]
    HashMismatch {
        filename: String,
        expected: String,
        actual: String,
    },
    #[error(transparent)]
    Cache(#[from] WheelCacheError),
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The entry is there (and, when re-hashing, hashes to its name).
    Hit(PathBuf),
    /// No entry.
    Miss,
    /// An entry was there but had the wrong size or hash; it was removed.
    Repaired,
}

/// The wheel cache under one cache folder.
#[derive(Debug, Clone)]
pub struct WheelCache {
    root: PathBuf,
}

impl WheelCache {
    /// The wheel cache inside the fave-lock cache folder `cache_dir`.
    pub fn new(cache_dir: &Path) -> WheelCache {
        WheelCache {
            root: cache_dir.join(LAYOUT),
        }
    }

    /// Where the file with this SHA-256 lives; `None` for anything but 64 hex digits, so that a hash read
    /// from a file can never name a path outside the cache.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        let sha256 = sha256.to_ascii_lowercase();
        Some(self.root.join("sha256").join(&sha256[..2]).join(sha256))
    }

    /// Where downloads stream to before they are judged.
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Look up the file with `sha256`, checking its size against `size` when known and, with `rehash`,
    /// its hash. Blocking (it may read the whole file): call it off the async threads.
    pub fn lookup(
        &self,
        sha256: &str,
        size: Option<u64>,
        rehash: bool,
    ) -> Result<Lookup, WheelCacheError> {
        let Some(path) = self.path(sha256) else {
            return Ok(Lookup::Miss);
        };
        let error = |source| WheelCacheError {
            path: path.clone(),
            source,
        };
        let actual_size = match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_file() => metadata.len(),
            Ok(_) => return Ok(Lookup::Miss),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(err) => return Err(error(err)),
        };
        let size_ok = size.is_none_or(|size| size == actual_size);
        if size_ok
            && (!rehash
                || sha256_file(&path)
                    .map_err(error)?
                    .eq_ignore_ascii_case(sha256))
        {
            return Ok(Lookup::Hit(path));
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Lookup::Repaired),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Lookup::Repaired),
            Err(err) => Err(error(err)),
        }
    }

    /// Move a download whose hash was checked into the cache, under that hash. Atomic: a concurrent
    /// reader sees no entry or the whole file.
    pub fn store(&self, downloaded: DownloadedFile) -> Result<PathBuf, WheelCacheError> {
        let Some(path) = self.path(&downloaded.sha256) else {
            // Unreachable: the hash was computed here, as hex.
            return Err(WheelCacheError {
                path: self.root.clone(),
                source: std::io::Error::other("not a sha256"),
            });
        };
        let error = |source| WheelCacheError {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        crate::fs::persist(downloaded.file, &path).map_err(|write| error(write.source))?;
        Ok(path)
    }
}

impl WheelCache {
    /// Download `file` whole and store it under its hash, after checking that hash against `expected`
    /// when given (without one the name is still true: it is the hash of the bytes). The path of the
    /// entry and the file's length.
    pub async fn download(
        &self,
        client: &IndexClient,
        file: &DistFile,
        expected: Option<&str>,
    ) -> Result<(PathBuf, u64), CachedDownloadError> {
        let downloaded = client
            .download(file, &self.temp_dir(), &|_| {})
            .await
            .map_err(|source| CachedDownloadError::Download {
                url: file.url.clone(),
                source,
            })?;
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(&downloaded.sha256)
        {
            return Err(CachedDownloadError::HashMismatch {
                filename: file.filename.clone(),
                expected: expected.to_string(),
                actual: downloaded.sha256,
            });
        }
        let len = downloaded.size;
        Ok((self.store(downloaded)?, len))
    }
}

/// Lower-case hex SHA-256 of the file at `path`, read in 256 KiB blocks.
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 << 10];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn downloaded(cache: &WheelCache, bytes: &[u8]) -> DownloadedFile {
        std::fs::create_dir_all(cache.temp_dir()).unwrap();
        let mut file = tempfile::NamedTempFile::new_in(cache.temp_dir()).unwrap();
        file.write_all(bytes).unwrap();
        DownloadedFile {
            file,
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    #[test]
    fn paths_are_content_addressed_and_only_for_hashes() {
        let cache = WheelCache::new(Path::new("/c"));
        let hash = "AB".repeat(32);
        assert_eq!(
            cache.path(&hash).unwrap(),
            Path::new("/c/wheels-v1/sha256/ab").join("ab".repeat(32))
        );
        assert_eq!(cache.path("../../etc/passwd"), None);
        assert_eq!(cache.path(&format!("{}/", "a".repeat(63))), None);
        assert_eq!(cache.path(""), None);
    }

    #[test]
    fn stored_files_hit_and_damaged_ones_are_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(dir.path());
        let download = downloaded(&cache, b"wheel bytes");
        let hash = download.sha256.clone();
        assert_eq!(cache.lookup(&hash, Some(11), false).unwrap(), Lookup::Miss);
        let path = cache.store(download).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"wheel bytes");
        assert_eq!(
            cache.lookup(&hash, Some(11), true).unwrap(),
            Lookup::Hit(path.clone())
        );
        assert_eq!(
            cache.lookup(&hash, None, false).unwrap(),
            Lookup::Hit(path.clone())
        );

        // Same size, other bytes: only a rehash notices.
        std::fs::write(&path, b"WHEEL BYTES").unwrap();
        assert_eq!(
            cache.lookup(&hash, Some(11), false).unwrap(),
            Lookup::Hit(path.clone())
        );
        assert_eq!(
            cache.lookup(&hash, Some(11), true).unwrap(),
            Lookup::Repaired
        );
        assert!(!path.exists());

        // A truncated entry fails the size check.
        let path = cache.store(downloaded(&cache, b"wheel bytes")).unwrap();
        std::fs::write(&path, b"wheel").unwrap();
        assert_eq!(
            cache.lookup(&hash, Some(11), false).unwrap(),
            Lookup::Repaired
        );
        let leftovers: Vec<_> = std::fs::read_dir(cache.temp_dir()).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
