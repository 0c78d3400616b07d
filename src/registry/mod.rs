//! OCI Distribution client: tag lists, manifests and their digests, image indexes, config blobs.
//!
//! The one OCI client of fave-lock: the dashboard, `check` and the build plan's base image digest
//! ([`RegistryClient::manifest_digest`]) all go through it, with one reference parser
//! ([`ImageReference`]), one `Accept` list ([`ACCEPT_MANIFESTS`]) and one token flow. What they need
//! from a registry: which tags a repository has,
//! which digest each tag points to (exactly as the registry reports it in `Docker-Content-Digest`, verified
//! against the body), the per-platform manifests of an index, and each image's config (created time and
//! labels, where the lock's sha256 label lives). See the [OCI distribution spec].
//!
//! It writes only for `fave-lock attach`: blobs, manifests, and the referrers tag's index
//! (`push.rs`, `referrers.rs`).
//!
//! Boundaries: this module never renders anything and knows nothing of locks; it contacts only the
//! registries of the [`Repository`] values it is given (and the token realm a registry's challenge names);
//! plain http only for loopback hosts or hosts the caller declares insecure.
//!
//! [OCI distribution spec]: https://github.com/opencontainers/distribution-spec/blob/main/spec.md

pub(crate) mod auth;
mod cache;
mod client;
mod describe;
mod digest;
mod error;
#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod link;
mod manifest;
pub(crate) mod media;
mod push;
mod reference;
mod referrers;
mod stats;
mod transport;

pub use auth::{CredentialSource, CredentialStore, Credentials, PASSWORD_ENV, USER_ENV};
pub use client::{FetchedManifest, RegistryClient, RegistryOptions};
pub use describe::{
    ManifestKind, PlatformImage, RepositoryDescription, TagDescription, TagOutcome, compare_tags,
};
pub use digest::Digest;
pub use error::{RegistryError, RegistryErrorKind};
pub use manifest::{Descriptor, ImageConfigBlob, Manifest, OciPlatform};
pub use media::{ACCEPT_MANIFESTS, OCI_INDEX, OCI_MANIFEST};
pub use push::PushedManifest;
pub use reference::{ImageReference, Reference, Repository, is_valid_tag};
pub use referrers::{Referrers, ReferrersSource, is_referrers_tag, referrers_tag};
pub use stats::{CacheKind, RegistryStats, RequestKind, StatsSnapshot};
