//! Fetching from a Debian archive: each suite's `InRelease` (verified before anything is read from it)
//! and the `Packages.xz` indices it vouches for, checked against the signed sha256 and size.
//!
//! Cache (`<cache-dir>/apt-v1/`): `inrelease/<sha256 of its URL>` keeps the last InRelease of each
//! suite, verified again on every read, so `--offline` works from what the last online run saw;
//! `by-hash/<sha256>` keeps compressed indices by their content's hash, so a warm run downloads only
//! the InRelease files and an index is reused only when the signed release names exactly its bytes.
//! `copyright/<sha256 of the .deb>.json` keeps what a `.deb`'s copyright file says, so each `.deb`
//! is downloaded once (and not kept).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::copyright::{CopyrightFile, copyright_in_deb};
use super::error::AptError;
use super::lock::LockedDeb;
use super::packages::{Stanza, parse_packages};
use super::release::{DEBIAN_KEYRING, Release, Suite, verify};

/// A Packages index is about 50 MB decompressed; twice that is no index of a Debian suite.
const MAX_INDEX_BYTES: u64 = 200 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The archive client: HTTP, the cache, the keyring.
#[derive(Debug, Clone)]
pub struct ArchiveClient {
    http: reqwest::Client,
    cache: PathBuf,
    offline: bool,
    keyring: PathBuf,
}

impl ArchiveClient {
    /// A client caching under `<cache_dir>/apt-v1`, verifying with Debian's archive keyring.
    ///
    /// # Errors
    ///
    /// [`AptError::Fetch`] when the HTTP client cannot be built.
    pub fn new(cache_dir: &Path, offline: bool) -> Result<ArchiveClient, AptError> {
        // reqwest is built with `rustls-no-provider`; a second install is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("fave-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .dns_resolver(std::sync::Arc::new(crate::dns::SharedResolver::system()))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| AptError::Fetch {
                url: String::new(),
                message: error.to_string(),
            })?;
        Ok(ArchiveClient {
            http,
            cache: cache_dir.join("apt-v1"),
            offline,
            keyring: PathBuf::from(DEBIAN_KEYRING),
        })
    }

    /// The same client verifying with another keyring (tests, or a derivative's archive).
    #[must_use]
    pub fn with_keyring(mut self, keyring: PathBuf) -> ArchiveClient {
        self.keyring = keyring;
        self
    }

    /// The suite's verified release: fetched (online) or read from the cache (offline), verified
    /// either way.
    ///
    /// # Errors
    ///
    /// A fetch failure, a missing cache entry offline, or a signature gpgv refuses.
    pub async fn release(&self, suite: &Suite) -> Result<Release, AptError> {
        let url = suite.dists_url("InRelease");
        let path = self
            .cache
            .join("inrelease")
            .join(sha256_hex(url.as_bytes()));
        let bytes = if self.offline {
            read_cached(&path)?.ok_or_else(|| AptError::NotCached { url: url.clone() })?
        } else {
            self.get(&url).await?
        };
        let keyring = self.keyring.clone();
        let release = {
            let (bytes, url) = (bytes.clone(), url.clone());
            tokio::task::spawn_blocking(move || verify(&bytes, &url, &keyring))
                .await
                .map_err(|error| AptError::Gpgv {
                    message: error.to_string(),
                })??
        };
        if !self.offline {
            // Only a release fetched now can be a replay; one read offline was checked when fetched.
            if suite.check_valid_until
                && let Some(valid_until) = release.valid_until
                && valid_until < jiff::Timestamp::now()
            {
                return Err(AptError::Expired {
                    url,
                    valid_until: valid_until.to_string(),
                });
            }
            write_cache(&path, &bytes)?;
        }
        Ok(release)
    }

    /// The parsed `main/binary-<arch>/Packages.xz` of `suite`, whose bytes must be the ones `release`
    /// lists.
    ///
    /// # Errors
    ///
    /// [`AptError::NotInRelease`], [`AptError::HashMismatch`] (integrity), fetch and parse failures.
    pub async fn packages(
        &self,
        suite: &Suite,
        release: &Release,
        arch: &str,
    ) -> Result<Vec<Stanza>, AptError> {
        let path = format!("main/binary-{arch}/Packages.xz");
        let entry = release.entry(suite, &path)?.clone();
        let url = suite.dists_url(&release.fetch_path(&path, &entry));
        let cached = self.cache.join("by-hash").join(&entry.sha256);
        let bytes = match read_cached(&cached)? {
            // Named by its hash, yet checked again: a cache is a file anyone may have changed.
            Some(bytes) if sha256_hex(&bytes) == entry.sha256 => bytes,
            _ if self.offline => return Err(AptError::NotCached { url }),
            _ => {
                let bytes = self.get(&url).await?;
                let actual = sha256_hex(&bytes);
                if actual != entry.sha256 || bytes.len() as u64 != entry.size {
                    return Err(AptError::HashMismatch {
                        url,
                        expected: entry.sha256,
                        expected_size: entry.size,
                        actual,
                        actual_size: bytes.len() as u64,
                    });
                }
                write_cache(&cached, &bytes)?;
                bytes
            }
        };
        tokio::task::spawn_blocking(move || decode(&bytes, &url))
            .await
            .map_err(|error| AptError::BadIndex {
                url: suite.dists_url(&path),
                message: error.to_string(),
            })?
    }

    /// The copyright file of the locked `.deb` at `url`: from the cache, else downloaded, checked
    /// against the lock's sha256 and size, and read.
    ///
    /// # Errors
    ///
    /// [`AptError::DebMismatch`] (integrity), a fetch failure, a missing cache entry offline, a `.deb`
    /// that cannot be read.
    pub async fn copyright(&self, url: &str, deb: &LockedDeb) -> Result<CopyrightFile, AptError> {
        let is_hash = deb.sha256.len() == 64 && deb.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hash {
            return Err(AptError::DebMismatch {
                url: url.to_string(),
                expected: deb.sha256.clone(),
                expected_size: deb.size,
                actual: "(not fetched: the lock's sha256 is no sha256)".to_string(),
                actual_size: 0,
            });
        }
        let cached = self
            .cache
            .join("copyright")
            .join(format!("{}.json", deb.sha256.to_ascii_lowercase()));
        if let Some(bytes) = read_cached(&cached)?
            && let Ok(file) = serde_json::from_slice::<CopyrightFile>(&bytes)
        {
            return Ok(file);
        }
        if self.offline {
            return Err(AptError::NotCached {
                url: url.to_string(),
            });
        }
        let bytes = self.get(url).await?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&deb.sha256) || bytes.len() as u64 != deb.size {
            return Err(AptError::DebMismatch {
                url: url.to_string(),
                expected: deb.sha256.clone(),
                expected_size: deb.size,
                actual,
                actual_size: bytes.len() as u64,
            });
        }
        let name = deb.name.clone();
        let file = tokio::task::spawn_blocking(move || copyright_in_deb(&bytes, &name))
            .await
            .map_err(|error| AptError::Fetch {
                url: url.to_string(),
                message: error.to_string(),
            })?
            .map_err(|source| AptError::BadDeb {
                url: url.to_string(),
                source,
            })?;
        let json = serde_json::to_vec(&file).map_err(|error| AptError::Cache {
            path: cached.clone(),
            source: std::io::Error::other(error),
        })?;
        write_cache(&cached, &json)?;
        Ok(file)
    }

    /// GET `url` whole, retried once on a failure that may be transient.
    async fn get(&self, url: &str) -> Result<Vec<u8>, AptError> {
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            match self.http.get(url).send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(bytes) => return Ok(bytes.to_vec()),
                    Err(error) => last = error.to_string(),
                },
                Ok(response) if response.status().is_server_error() => {
                    last = format!("HTTP {}", response.status());
                }
                Ok(response) => {
                    return Err(AptError::Fetch {
                        url: url.to_string(),
                        message: format!("HTTP {}", response.status()),
                    });
                }
                Err(error) => last = error.to_string(),
            }
        }
        Err(AptError::Fetch {
            url: url.to_string(),
            message: last,
        })
    }
}

/// Decompress and parse an index, refusing one that inflates past [`MAX_INDEX_BYTES`].
fn decode(bytes: &[u8], url: &str) -> Result<Vec<Stanza>, AptError> {
    use std::io::Read as _;
    let bad = |message: String| AptError::BadIndex {
        url: url.to_string(),
        message,
    };
    let mut text = String::new();
    xz2::read::XzDecoder::new(bytes)
        .take(MAX_INDEX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| bad(format!("xz: {error}")))?;
    if text.len() as u64 > MAX_INDEX_BYTES {
        return Err(bad(format!("inflates past {MAX_INDEX_BYTES} bytes")));
    }
    parse_packages(&text).map_err(|error| bad(error.to_string()))
}

fn read_cached(path: &Path) -> Result<Option<Vec<u8>>, AptError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AptError::Cache {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_cache(path: &Path, bytes: &[u8]) -> Result<(), AptError> {
    let cache_error = |source| AptError::Cache {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(cache_error)?;
    }
    crate::fs::write_atomic(path, bytes).map_err(|error| cache_error(std::io::Error::other(error)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
