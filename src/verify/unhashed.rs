//! Files the index lists without a sha256: downloaded and hashed before the lock is written, as
//! pip-compile does, so that no lock is ever written with a file pinned by name alone (pip's
//! `--require-hashes` refuses such a lock, and nothing would catch a changed file).
//!
//! The downloaded bytes go into the wheel cache under their hash, so `verify` and the ABI check that
//! follow read them from there instead of downloading again.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};

use super::{VerifyError, WheelCache};
use crate::index::{DistFile, IndexClient, IndexError};
use crate::resolve::Resolution;

/// Downloads in flight at once.
const CONCURRENCY: usize = 8;

/// Give every file of `resolution` that has no sha256 the sha256 and size of its bytes, fetched from
/// the index. Returns the names of the files that were hashed here.
///
/// # Errors
///
/// A file that cannot be downloaded (offline, gone, the network) or stored in the cache.
pub async fn hash_unhashed(
    client: &IndexClient,
    resolution: &mut Resolution,
) -> Result<Vec<String>, VerifyError> {
    let mut missing: BTreeMap<String, DistFile> = BTreeMap::new();
    for package in resolution
        .targets
        .iter()
        .flat_map(|target| target.packages.values())
        .filter(|package| package.file.sha256.is_none())
    {
        missing
            .entry(package.file.url.clone())
            .or_insert_with(|| package.file.clone());
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let cache = WheelCache::new(&client.settings().cache_dir);
    let hashed: BTreeMap<String, (String, u64)> = futures::stream::iter(missing.into_values())
        .map(|file| {
            let cache = &cache;
            async move {
                let downloaded = client
                    .download(&file, &cache.temp_dir(), &|_| {})
                    .await
                    .map_err(|source: IndexError| VerifyError::Index {
                        what: format!("`{}` (the index lists no hash for it)", file.filename),
                        source,
                    })?;
                let facts = (downloaded.sha256.clone(), downloaded.size);
                cache.store(downloaded)?;
                Ok::<_, VerifyError>((file.url, facts))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut names = Vec::new();
    for package in resolution
        .targets
        .iter_mut()
        .flat_map(|target| target.packages.values_mut())
    {
        if let Some((sha256, size)) = hashed.get(&package.file.url) {
            package.file.sha256 = Some(sha256.clone());
            package.file.size = Some(*size);
            names.push(package.file.filename.clone());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}
