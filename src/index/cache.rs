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
//! derived-v1/<sha256(index url)[..16]>/<name>.<s[..16]>.bin    what a caller computed from that page
//! metadata-v3/<h = sha256(file url)>.json                        CoreMetadata
//! ```
//!
//! Metadata entries share one folder: per-hash subfolders (`metadata-v2`) cost a cold run one `mkdir`
//! per new prefix, about 190 for a 62-package set, and creating a folder is the dearest file-system call
//! a run makes (perf of a cold `benches/fastapi-template.in`: `mkdir` 8% of the process's CPU samples).
//! A folder of many thousand files is no burden to current file systems (hashed directory indexes).
//!
//! A derived entry holds bytes a caller computed from one page and its own settings (the resolver's file
//! selection per target), so that a repeat run need not decode the page at all. It names the page it
//! came from by the page entry's [`PageStamp`] and stores the caller's whole [`DerivedKey`], both
//! compared on read: a page fetched again (new `fetched_at`) or other settings make it a miss. The file
//! is named by the key's `slot` only (`s` = its sha256), so that settings which change from run to run
//! (a build, a cutoff) replace their entry instead of adding files without end.
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
use super::page_codec::{Reader, Writer};

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

/// Which stored page entry a derived entry was computed from: the page's fetch time (nanoseconds, so two
/// fetches never share one) and the entry's length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageStamp {
    pub(crate) fetched_at: Timestamp,
    pub(crate) len: u64,
}

/// What a derived entry was computed with, as the caller encodes it; compared in full on read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DerivedKey {
    /// The settings that name the entry's file: entries with other slots live side by side.
    pub(crate) slot: Vec<u8>,
    /// The settings that do not: an entry with another `rest` is replaced by the next write.
    pub(crate) rest: Vec<u8>,
}

/// The first bytes of a derived entry; the last one is the format version.
const DERIVED_MAGIC: &[u8; 4] = b"FLD\x01";

/// How much of a page entry is read to learn its stamp: the header is the magic, the index URL, a time
/// and the name; a header longer than this (a URL of kilobytes) is a miss, and the page is read in full.
const HEADER_READ: u64 = 8 << 10;

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
    /// Read entries on the calling thread instead of the blocking pool (see [`Cache::inline_reads`]).
    inline: bool,
    /// Folder names already hashed: every page and derived entry of a run names the same index and
    /// mostly the same key slot, and hashing them again was 0.7 M of an offline run's 20.5 M
    /// instructions (callgrind).
    hashed: Arc<std::sync::Mutex<std::collections::HashMap<Vec<u8>, Arc<str>>>>,
}

impl Cache {
    pub(crate) fn new(root: PathBuf) -> Cache {
        Cache {
            root,
            inline: false,
            hashed: Arc::default(),
        }
    }

    /// This cache reading entries on the calling thread. An offline run has nothing but cache reads to
    /// wait for, and handing each (a few hundred of them, each a millisecond or less) to the blocking
    /// pool cost more than the read: 37 threads started, a hand-off and a wake-up per entry.
    pub(crate) fn inline_reads(mut self, inline: bool) -> Cache {
        self.inline = inline;
        self
    }

    /// The first 16 hex digits of the SHA-256 of `bytes`, computed once per cache.
    fn short_hash(&self, bytes: &[u8]) -> Arc<str> {
        let mut hashed = self
            .hashed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hash) = hashed.get(bytes) {
            return hash.clone();
        }
        let hash: Arc<str> = Arc::from(&sha256_hex(bytes)[..16]);
        hashed.insert(bytes.to_vec(), hash.clone());
        hash
    }

    /// Run a read off the async threads, unless reads are inline.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce() -> Option<T> + Send + 'static,
    ) -> Option<T> {
        if self.inline {
            read()
        } else {
            tokio::task::spawn_blocking(read).await.ok().flatten()
        }
    }

    /// Where the page of `name` from `index_url` is stored.
    pub(crate) fn page_path(&self, index_url: &str, name: &PackageName) -> PathBuf {
        let index = self.short_hash(index_url.as_bytes());
        self.root
            .join("simple-v2")
            .join(&*index)
            .join(format!("{name}.bin"))
    }

    /// Where the core metadata of the file at `file_url` is stored.
    pub(crate) fn metadata_path(&self, file_url: &str) -> PathBuf {
        let hash = sha256_hex(file_url.as_bytes());
        self.root.join("metadata-v3").join(format!("{hash}.json"))
    }

    /// Where a derived entry of the page of `name` with key slot `slot` is stored.
    fn derived_path(&self, index_url: &str, name: &PackageName, slot: &[u8]) -> PathBuf {
        let index = self.short_hash(index_url.as_bytes());
        let key = self.short_hash(slot);
        self.root
            .join("derived-v1")
            .join(&*index)
            .join(format!("{name}.{key}.bin"))
    }

    /// The stored page of `name`, if one reads back and belongs to `index_url`, with its stamp.
    pub(crate) async fn read_page(
        &self,
        index_url: &str,
        name: &PackageName,
    ) -> Option<(CachedPage, PageStamp)> {
        let path = self.page_path(index_url, name);
        let read = move || {
            let bytes = std::fs::read(&path).ok()?;
            let cached = super::page_codec::decode(&bytes)?;
            let len = u64::try_from(bytes.len()).ok()?;
            Some((cached, len))
        };
        let (cached, len) = self.read(read).await?;
        let stamp = PageStamp {
            fetched_at: cached.fetched_at,
            len,
        };
        (cached.index_url == index_url && &cached.page.name == name).then_some((cached, stamp))
    }

    /// The stamp of the stored page of `name`, from the entry's first bytes only, if it belongs to
    /// `index_url`. Whether the rest of the entry decodes is not checked; a derived entry names the
    /// stamp of a page that did decode, and entries are replaced whole, never edited.
    fn read_page_stamp(&self, index_url: &str, name: &PackageName) -> Option<PageStamp> {
        use std::io::Read;
        let file = std::fs::File::open(self.page_path(index_url, name)).ok()?;
        let len = file.metadata().ok()?.len();
        let mut head = Vec::with_capacity(1024);
        file.take(HEADER_READ).read_to_end(&mut head).ok()?;
        let (stored_url, fetched_at, stored_name) = super::page_codec::decode_header(&head)?;
        (stored_url == index_url && stored_name == name.as_ref())
            .then_some(PageStamp { fetched_at, len })
    }

    /// Store `page` as fetched from `index_url` at `fetched_at`; returns the stored entry's stamp.
    pub(crate) async fn write_page(
        &self,
        index_url: &str,
        page: Arc<ProjectPage>,
        fetched_at: Timestamp,
    ) -> Result<PageStamp, IndexError> {
        let path = self.page_path(index_url, &page.name);
        let index_url = index_url.to_string();
        blocking(path, move |path| {
            let bytes = super::page_codec::encode(&index_url, fetched_at, &page);
            write_bytes(path, &bytes)?;
            let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            Ok(PageStamp { fetched_at, len })
        })
        .await
    }

    /// The payload of the derived entry with key `key` computed from the stored page of `name`, passed
    /// through `decode` (the entry's bytes and where its payload starts: a decoder may keep the bytes
    /// and read them later), all off the async threads. `None` when there is no stored page, `usable` refuses
    /// its stamp, or no entry for that page and key decodes. Only the page entry's header is read.
    pub(crate) async fn read_derived<T: Send + 'static>(
        &self,
        index_url: &str,
        name: &PackageName,
        usable: impl FnOnce(PageStamp) -> bool + Send + 'static,
        key: DerivedKey,
        decode: impl FnOnce(&Arc<Vec<u8>>, usize) -> Option<T> + Send + 'static,
    ) -> Option<T> {
        let cache = self.clone();
        let index_url = index_url.to_string();
        let name = name.clone();
        let read = move || {
            let stamp = cache.read_page_stamp(&index_url, &name)?;
            if !usable(stamp) {
                return None;
            }
            let bytes = std::fs::read(cache.derived_path(&index_url, &name, &key.slot)).ok()?;
            let mut input = Reader(bytes.strip_prefix(DERIVED_MAGIC)?);
            let matches = input.str()? == index_url
                && input.str()? == name.as_ref()
                && input.time()? == stamp.fetched_at
                && input.u64()? == stamp.len
                && input.bytes()? == key.slot.as_slice()
                && input.bytes()? == key.rest.as_slice();
            if !matches {
                return None;
            }
            let payload = bytes.len() - input.0.len();
            decode(&Arc::new(bytes), payload)
        };
        self.read(read).await
    }

    /// Store the derived entry computed from the page stamped `stamp` with key `key`; `encode` runs off
    /// the async threads and appends the payload.
    pub(crate) async fn write_derived(
        &self,
        index_url: &str,
        name: &PackageName,
        stamp: PageStamp,
        key: DerivedKey,
        encode: impl FnOnce(&mut Writer) + Send + 'static,
    ) -> Result<(), IndexError> {
        let path = self.derived_path(index_url, name, &key.slot);
        let index_url = index_url.to_string();
        let name = name.clone();
        blocking(path, move |path| {
            let mut out = Writer(Vec::new());
            out.0.extend_from_slice(DERIVED_MAGIC);
            out.str(&index_url);
            out.str(name.as_ref());
            out.time(stamp.fetched_at);
            out.u64(stamp.len);
            out.bytes(&key.slot);
            out.bytes(&key.rest);
            encode(&mut out);
            write_bytes(path, &out.0)
        })
        .await
    }

    /// The stored core metadata of the file at `file_url`.
    pub(crate) async fn read_metadata(&self, file_url: &str) -> Option<CoreMetadata> {
        let path = self.metadata_path(file_url);
        self.read(move || {
            let bytes = std::fs::read(&path).ok()?;
            serde_json::from_slice(&bytes).ok()
        })
        .await
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

/// Serialize and write an entry atomically.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), IndexError> {
    let bytes = serde_json::to_vec(value).map_err(|error| IndexError::Cache {
        path: path.to_path_buf(),
        source: error.into(),
    })?;
    write_bytes(path, &bytes)
}

/// Write an entry atomically (not synced: see [`crate::fs::write_cache_entry`]).
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    crate::fs::write_cache_entry(path, bytes).map_err(|error| IndexError::Cache {
        path: path.to_path_buf(),
        source: error.source,
    })
}

/// Run a cache write on the blocking pool: creating, writing and renaming a file can take milliseconds.
async fn blocking<T: Send + 'static>(
    path: PathBuf,
    write: impl FnOnce(&Path) -> Result<T, IndexError> + Send + 'static,
) -> Result<T, IndexError> {
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
            }]
            .into(),
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
        let written = cache
            .write_page(index, Arc::new(page("six")), fetched_at)
            .await
            .unwrap();
        let (cached, stamp) = cache.read_page(index, &name).await.unwrap();
        assert_eq!(cached.page, page("six"));
        assert_eq!(cached.fetched_at, fetched_at);
        assert_eq!(stamp, written);
        assert_eq!(
            stamp.len,
            std::fs::metadata(cache.page_path(index, &name))
                .unwrap()
                .len()
        );
        assert_eq!(cache.read_page_stamp(index, &name), Some(stamp));
        assert_eq!(
            cache.read_page_stamp("https://other.example/simple", &name),
            None
        );
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
    #[ignore = "measure: times a numpy-sized page from the cache; scripts/test.sh skips measure_*"]
    async fn measure_page_load() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let mut big = page("numpy");
        let template = big.files.get(0).unwrap().to_dist_file();
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
            assert_eq!(read.0.page.files.len(), 4415);
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

    /// A derived entry answers only for the page entry, index, name and key it was written for.
    #[tokio::test]
    async fn derived_entries_answer_only_for_their_page_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let index = "https://pypi.org/simple";
        let six = PackageName::from_str("six").unwrap();
        let fetched_at = Timestamp::now();
        let stamp = cache
            .write_page(index, Arc::new(page("six")), fetched_at)
            .await
            .unwrap();
        let key = |slot: &[u8], rest: &[u8]| DerivedKey {
            slot: slot.to_vec(),
            rest: rest.to_vec(),
        };
        let a = key(b"targets A", b"cutoff A");
        let read = async |index: &str, name: &PackageName, key: &DerivedKey| {
            let payload = |bytes: &Arc<Vec<u8>>, at: usize| Some(bytes[at..].to_vec());
            cache
                .read_derived(index, name, |_| true, key.clone(), payload)
                .await
        };
        assert_eq!(read(index, &six, &a).await, None);
        cache
            .write_derived(index, &six, stamp, a.clone(), |out| {
                out.0.extend_from_slice(b"payload")
            })
            .await
            .unwrap();
        assert_eq!(
            read(index, &six, &a).await.as_deref(),
            Some(&b"payload"[..])
        );
        // The caller's judgement of the page (fresh enough?) is asked with the page's stamp.
        let refused = cache
            .read_derived(
                index,
                &six,
                move |seen| seen != stamp,
                a.clone(),
                |_: &Arc<Vec<u8>>, _| Some(()),
            )
            .await;
        assert_eq!(refused, None);

        // Another key, index or name.
        assert_eq!(
            read(index, &six, &key(b"targets B", b"cutoff A")).await,
            None
        );
        assert_eq!(
            read(index, &six, &key(b"targets A", b"cutoff B")).await,
            None
        );
        assert_eq!(read("https://other.example/simple", &six, &a).await, None);
        let idna = PackageName::from_str("idna").unwrap();
        cache
            .write_page(index, Arc::new(page("idna")), fetched_at)
            .await
            .unwrap();
        assert_eq!(read(index, &idna, &a).await, None);

        // A key whose slot names the same file still has to match in full.
        let path = cache.derived_path(index, &six, &a.slot);
        let stored = std::fs::read(&path).unwrap();
        let mut tampered = stored.clone();
        let at = tampered
            .windows(a.rest.len())
            .position(|window| window == a.rest.as_slice())
            .unwrap();
        tampered[at] ^= 1;
        std::fs::write(&path, &tampered).unwrap();
        assert_eq!(read(index, &six, &a).await, None);
        // Truncated entries are misses whatever the payload decoder would accept.
        for len in 0..stored.len() - b"payload".len() {
            std::fs::write(&path, &stored[..len]).unwrap();
            assert_eq!(read(index, &six, &a).await, None, "{len} bytes");
        }
        std::fs::write(&path, &stored).unwrap();
        assert!(read(index, &six, &a).await.is_some());

        // Writing with another `rest` replaces the entry; another slot adds one.
        let b = key(b"targets A", b"cutoff B");
        let c = key(b"targets C", b"cutoff A");
        for other in [&b, &c] {
            cache
                .write_derived(index, &six, stamp, other.clone(), |_| {})
                .await
                .unwrap();
        }
        assert_eq!(read(index, &six, &a).await, None);
        assert!(read(index, &six, &b).await.is_some());
        assert!(read(index, &six, &c).await.is_some());
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            2
        );
        std::fs::write(&path, &stored).unwrap();

        // The page entry changed length (another page, same header), or the page was fetched again.
        let page_path = cache.page_path(index, &six);
        let mut page_bytes = std::fs::read(&page_path).unwrap();
        page_bytes.push(0);
        std::fs::write(&page_path, &page_bytes).unwrap();
        assert_eq!(read(index, &six, &a).await, None);
        cache
            .write_page(
                index,
                Arc::new(page("six")),
                fetched_at + jiff::SignedDuration::from_nanos(1),
            )
            .await
            .unwrap();
        assert_eq!(read(index, &six, &a).await, None);
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

    #[tokio::test]
    async fn metadata_entries_make_no_folder_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        for index in 0..64 {
            let url = format!("https://files.example/p{index}-1.0-py3-none-any.whl");
            cache
                .write_metadata(&url, Arc::new(CoreMetadata::default()))
                .await
                .unwrap();
            assert!(cache.read_metadata(&url).await.is_some());
        }
        let folders: Vec<PathBuf> = walk(dir.path())
            .into_iter()
            .filter(|path| path.is_dir())
            .collect();
        assert_eq!(folders, [dir.path().join("metadata-v3")]);
    }

    /// Every path under `root`, depth first.
    fn walk(root: &Path) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                paths.push(path.clone());
                paths.extend(walk(&path));
            } else {
                paths.push(path);
            }
        }
        paths
    }
}
