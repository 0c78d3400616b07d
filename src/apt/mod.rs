//! The Debian half of an image's lock: the exact `.deb`s its `apt-packages` install, with their
//! dependency closure, from the archive's signed indices.
//!
//! ```text
//! release.rs   InRelease ─gpgv (Debian archive keyring)─▶ Release (sha256 + size of each index)
//! archive.rs   fetch + cache (by hash) InRelease and main/binary-<arch>/Packages.xz, checked against it
//! packages.rs  Packages text ─▶ Stanza (version, relations, filename, size, sha256)
//! version.rs   DebVersion: dpkg's order
//! resolve.rs   Universe (the suites of one arch) + requested names ─▶ Closure (without the base)
//! lock.rs      AptLock ⇄ locks/<image>/apt.lock
//! copyright.rs a locked .deb ─▶ usr/share/doc/<package>/copyright ─▶ DebLicenses (for the SBOM)
//! ```
//!
//! Boundaries: nothing here prints or writes outputs (the caller stages `apt.lock` with the other lock
//! files); the cache is written through `crate::fs`.

mod archive;
mod copyright;
mod error;
mod lock;
mod packages;
mod release;
mod resolve;
mod version;

pub use archive::ArchiveClient;
pub use copyright::{CopyrightFile, DebError, DebLicenses, copyright_in_deb};
pub use error::AptError;
pub use lock::{APT_LOCK_FILE, APT_LOCK_VERSION, AptLock, LockedDeb};
pub use packages::{Op, ParseError, Relation, Relations, Stanza, parse_packages, parse_relations};
pub use release::{DEBIAN_KEYRING, IndexEntry, Release, Suite, verify};
pub use resolve::{Candidate, Closure, Universe, resolve};
pub use version::{DebVersion, VersionError};

/// The Debian release python:3.11-slim (and python:3.9-slim) is built on.
pub const DEFAULT_CODENAME: &str = "bookworm";
/// Default archive for the release and its `-updates`.
pub const DEFAULT_ARCHIVE: &str = "http://deb.debian.org/debian";
/// Default archive for `-security`.
pub const DEFAULT_SECURITY: &str = "http://deb.debian.org/debian-security";

/// The suites of `[apt]` (defaults: bookworm, -updates and -security at deb.debian.org).
pub fn suites(config: &crate::config::AptConfig) -> Vec<Suite> {
    Suite::debian(
        config.release.as_deref().unwrap_or(DEFAULT_CODENAME),
        config.archive.as_deref().unwrap_or(DEFAULT_ARCHIVE),
        config.security.as_deref().unwrap_or(DEFAULT_SECURITY),
        config.check_valid_until.unwrap_or(true),
    )
}

/// Debian's architecture name for an OCI platform (`linux/arm64` → `arm64`).
pub fn debian_arch(oci_platform: &str) -> Option<&'static str> {
    match oci_platform.strip_prefix("linux/")? {
        "amd64" => Some("amd64"),
        "arm64" | "arm64/v8" => Some("arm64"),
        "arm/v7" => Some("armhf"),
        "386" => Some("i386"),
        "ppc64le" => Some("ppc64el"),
        "s390x" => Some("s390x"),
        _ => None,
    }
}

/// The universe of `suites` for `arch`: every suite's verified release, then its index.
///
/// # Errors
///
/// As [`ArchiveClient::release`] and [`ArchiveClient::packages`].
pub async fn universe(
    client: &ArchiveClient,
    suites: &[Suite],
    arch: &str,
) -> Result<Universe, AptError> {
    let fetches = suites.iter().map(|suite| async move {
        let release = client.release(suite).await?;
        let stanzas = client.packages(suite, &release, arch).await?;
        Ok::<_, AptError>((suite.name.clone(), stanzas))
    });
    Ok(Universe::new(futures::future::try_join_all(fetches).await?))
}

/// Lock `requested` for each of `archs` from `suites`.
///
/// # Errors
///
/// A fetch, verification or parse failure, or [`AptError::Unresolvable`].
pub async fn lock(
    client: &ArchiveClient,
    image: &str,
    suites: &[Suite],
    requested: &[String],
    archs: &[&str],
) -> Result<AptLock, AptError> {
    // Every architecture's indices at once: the time goes into decompressing and parsing them.
    let universes =
        futures::future::try_join_all(archs.iter().map(|arch| universe(client, suites, arch)))
            .await?;
    let mut packages = Vec::new();
    for (arch, universe) in archs.iter().zip(universes) {
        let closure =
            resolve(&universe, requested, arch).map_err(|message| AptError::Unresolvable {
                arch: (*arch).to_string(),
                message,
            })?;
        let mut depends = closure.depends;
        packages.extend(closure.packages.into_values().map(|candidate| {
            LockedDeb {
                depends: depends
                    .remove(&candidate.stanza.package)
                    .map(|names| names.into_iter().collect())
                    .unwrap_or_default(),
                name: candidate.stanza.package,
                version: candidate.stanza.version.to_string(),
                architecture: (*arch).to_string(),
                suite: candidate.suite,
                filename: candidate.stanza.filename,
                size: candidate.stanza.size,
                sha256: candidate.stanza.sha256,
            }
        }));
    }
    packages.sort_by(|a, b| (&a.architecture, &a.name).cmp(&(&b.architecture, &b.name)));
    let mut requested = requested.to_vec();
    requested.sort();
    Ok(AptLock {
        image: image.to_string(),
        requested,
        suites: suites.to_vec(),
        packages,
    })
}

/// What each package of `lock` says about its licenses, by name and version: one `.deb` per package
/// and version (the smallest of its architectures: the copyright file belongs to the source package),
/// a doc folder linked to another package's taking that package's file.
///
/// # Errors
///
/// As [`ArchiveClient::copyright`]; a package whose suite the lock does not list is a
/// [`AptError::BadLock`].
pub async fn licenses(
    client: &ArchiveClient,
    lock: &AptLock,
    lock_path: &std::path::Path,
) -> Result<std::collections::BTreeMap<(String, String), DebLicenses>, AptError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let mut smallest: std::collections::BTreeMap<(&str, &str), &LockedDeb> =
        std::collections::BTreeMap::new();
    for deb in &lock.packages {
        let key = (deb.name.as_str(), deb.version.as_str());
        if smallest.get(&key).is_none_or(|seen| deb.size < seen.size) {
            smallest.insert(key, deb);
        }
    }
    // Owned: a stream over borrowed packages makes this future not provably `Send` for every
    // lifetime, which the server's lock check (run in `tokio::spawn`) needs.
    let jobs: Vec<(Result<String, AptError>, LockedDeb)> = smallest
        .into_values()
        .map(|deb| {
            let url = deb.url(lock).ok_or_else(|| AptError::BadLock {
                path: lock_path.to_path_buf(),
                message: format!(
                    "`{}` comes from suite `{}`, which it does not list",
                    deb.name, deb.suite
                ),
            });
            (url, deb.clone())
        })
        .collect();
    let fetches = jobs.into_iter().map(|(url, deb)| async move {
        let file = client.copyright(&url?, &deb).await?;
        Ok::<_, AptError>((deb.name, deb.version, file))
    });
    let files: Vec<(String, String, CopyrightFile)> = futures::stream::iter(fetches)
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let texts: std::collections::BTreeMap<&str, &str> = files
        .iter()
        .filter_map(|(name, _, file)| match file {
            CopyrightFile::Text(text) => Some((name.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    Ok(files
        .iter()
        .map(|(name, version, file)| {
            let text = match file {
                CopyrightFile::Text(text) => Some(text.as_str()),
                CopyrightFile::LinkedTo(other) => texts.get(other.as_str()).copied(),
                CopyrightFile::Missing => None,
            };
            (
                (name.clone(), version.clone()),
                text.map(DebLicenses::parse).unwrap_or_default(),
            )
        })
        .collect())
}
