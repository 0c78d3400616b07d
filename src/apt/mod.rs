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
//! ```
//!
//! Boundaries: nothing here prints or writes outputs (the caller stages `apt.lock` with the other lock
//! files); the cache is written through `crate::fs`.

mod archive;
mod error;
mod lock;
mod packages;
mod release;
mod resolve;
mod version;

pub use archive::ArchiveClient;
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
