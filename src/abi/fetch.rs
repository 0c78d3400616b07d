//! Where a wheel's bytes come from for the scan, cheapest first: the wheel cache (scanned in place), its
//! extension modules alone through range requests (a sparse copy, `index::partial`), or the whole
//! wheel, downloaded, hash-checked and kept in the wheel cache.
//!
//! Range reads are advisory. They cannot check the wheel's sha256, yet the result is cached under the
//! sha256 the lock lists: the index that gave the hash also serves the bytes, and `verify` (which
//! downloads and hashes every locked file, the default for the config's images) remains the integrity
//! gate. Anything that goes wrong on the range path (no 206, a malformed or lying zip, a size other
//! than the lock's, a module that does not inflate from the copy) falls back to the whole wheel, whose
//! scan is the answer today's check gives, errors included.

use std::path::PathBuf;

use super::wheel::{ModuleAbi, ScanError, is_extension_module, scan_wheels};
use super::{AbiError, AbiOptions};
use crate::index::{DistFile, IndexClient};
use crate::verify::{CachedDownloadError, Lookup, WheelCache};

/// Where the bytes of a scanned wheel came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanSource {
    /// The wheel cache: no network.
    WheelCache,
    /// Range requests for the extension modules only.
    Ranges {
        /// Bytes received.
        fetched: u64,
        /// The wheel's full size.
        len: u64,
    },
    /// The whole wheel, now in the wheel cache.
    Download { len: u64 },
}

impl ScanSource {
    /// Bytes received from the network for this wheel.
    pub fn fetched(self) -> u64 {
        match self {
            ScanSource::WheelCache => 0,
            ScanSource::Ranges { fetched, .. } => fetched,
            ScanSource::Download { len } => len,
        }
    }
}

/// A scanned wheel.
pub(super) struct Fetched {
    pub(super) outcome: Result<Vec<ModuleAbi>, ScanError>,
    pub(super) source: ScanSource,
}

/// Fetch `file` the cheapest way and scan it; `None` offline when the wheel cache lacks it.
pub(super) async fn fetch_and_scan(
    client: &IndexClient,
    wheels: &WheelCache,
    file: &DistFile,
    options: &AbiOptions,
) -> Result<Option<Fetched>, AbiError> {
    let sha256 = super::sha256_of(file);
    if let Lookup::Hit(path) = wheels.lookup(&sha256, file.size, false)? {
        let outcome = scan(path, options.threads).await?;
        let source = ScanSource::WheelCache;
        return Ok(Some(Fetched { outcome, source }));
    }
    if options.offline {
        return Ok(None);
    }
    if options.ranges {
        match client
            .fetch_entries(file, &wheels.temp_dir(), &is_extension_module)
            .await
        {
            Ok(partial) => {
                let source = ScanSource::Ranges {
                    fetched: partial.fetched,
                    len: partial.len,
                };
                // The copy lives until its scan ends (the path is moved; the file is dropped after).
                let path = partial.file.path().to_path_buf();
                let outcome = scan(path, options.threads).await;
                let (fetched, len, requests) = (partial.fetched, partial.len, partial.requests);
                drop(partial);
                match outcome? {
                    Ok(modules) => {
                        // `resolve -v` shows what the range reads saved.
                        tracing::debug!(
                            wheel = %file.filename,
                            fetched,
                            len,
                            requests,
                            "ABI check: extension modules read by ranges"
                        );
                        let outcome = Ok(modules);
                        return Ok(Some(Fetched { outcome, source }));
                    }
                    Err(error) => tracing::debug!(
                        "the range copy of `{}` does not scan ({error}); downloading it",
                        file.filename
                    ),
                }
            }
            Err(error) => tracing::debug!(
                "no range read of `{}` ({error}); downloading it",
                file.filename
            ),
        }
    }
    let (path, len) = download(client, wheels, file, &sha256).await?;
    let outcome = scan(path, options.threads).await?;
    let source = ScanSource::Download { len };
    Ok(Some(Fetched { outcome, source }))
}

/// Scan one wheel on the blocking pool.
async fn scan(
    path: PathBuf,
    threads: usize,
) -> Result<Result<Vec<ModuleAbi>, ScanError>, AbiError> {
    let mut results = tokio::task::spawn_blocking(move || scan_wheels(&[path], threads))
        .await
        .map_err(|error| AbiError::Task(error.to_string()))?;
    results
        .pop()
        .ok_or_else(|| AbiError::Task("the scan returned no result".to_string()))
}

/// Download the whole wheel, check its hash and keep it in the wheel cache.
async fn download(
    client: &IndexClient,
    wheels: &WheelCache,
    file: &DistFile,
    sha256: &str,
) -> Result<(PathBuf, u64), AbiError> {
    wheels
        .download(client, file, Some(sha256))
        .await
        .map_err(|error| match error {
            CachedDownloadError::Download { url, source } => AbiError::Download { url, source },
            CachedDownloadError::HashMismatch {
                filename,
                expected,
                actual,
            } => AbiError::HashMismatch {
                filename,
                expected,
                actual,
            },
            CachedDownloadError::Cache(error) => AbiError::Cache(error),
        })
}
