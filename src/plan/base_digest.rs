//! The digest a base image tag points to, read through the one OCI client ([`crate::registry`]): its
//! reference parser (Docker's rules, Docker Hub's `library/`), its `Accept` list, its token flow. This
//! file only names the base image the plan's way (a tag, `latest` when none is written) and turns the
//! client's errors into the short, stable reasons a build plan records.

use std::future::Future;

use super::error::DigestError;
use crate::registry::{
    Digest, ImageReference, Reference, RegistryClient, RegistryError, RegistryOptions, Repository,
};

/// A base image reference: a repository and a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseReference {
    /// As written in the config (`python:3.11-slim`).
    pub written: String,
    /// `docker.io/library/python`.
    pub repository: Repository,
    /// `3.11-slim`; `latest` when none is written.
    pub tag: String,
}

impl BaseReference {
    /// Parse `[host[:port]/]path[:tag]` with [`ImageReference`]'s (Docker's) rules. The plan pins the
    /// digest a tag points to, so a reference that already names a digest is refused.
    ///
    /// # Errors
    ///
    /// A message when the text has a digest or is not an image reference.
    pub fn parse(text: &str) -> Result<BaseReference, String> {
        if text.contains('@') {
            return Err(format!("`{text}` is not a tag reference"));
        }
        let image: ImageReference = text
            .parse()
            .map_err(|message| format!("`{text}` is not an image reference: {message}"))?;
        Ok(BaseReference {
            written: text.to_string(),
            repository: image.repository,
            tag: image.tag.unwrap_or_else(|| "latest".to_string()),
        })
    }

    /// The fully qualified name, as the `org.opencontainers.image.base.name` annotation wants it
    /// (`docker.io/library/python:3.11-slim`).
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The tag as a manifest reference.
    pub fn reference(&self) -> Reference {
        Reference::Tag(self.tag.clone())
    }
}

/// Where base image digests come from: the registry, or a stand-in in tests and offline runs.
pub trait DigestSource {
    /// The `sha256:…` digest `reference`'s tag points to now.
    fn manifest_digest(
        &self,
        reference: &BaseReference,
    ) -> impl Future<Output = Result<String, DigestError>> + Send;
}

/// The source for `--offline` runs: asks nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl DigestSource for Offline {
    async fn manifest_digest(&self, _reference: &BaseReference) -> Result<String, DigestError> {
        Err(DigestError::Offline)
    }
}

/// Asks the reference's registry through a [`RegistryClient`].
#[derive(Clone)]
pub struct RegistryDigests {
    client: RegistryClient,
}

impl RegistryDigests {
    /// An anonymous client of its own: `resolve` sends no credentials to a base image's registry.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new() -> Result<RegistryDigests, DigestError> {
        let client = RegistryClient::new(RegistryOptions::default()).map_err(|error| {
            DigestError::Client {
                message: error.full_message(),
            }
        })?;
        Ok(RegistryDigests { client })
    }

    /// Ask through `client` (its credentials and caches).
    pub fn with_client(client: RegistryClient) -> RegistryDigests {
        RegistryDigests { client }
    }
}

impl DigestSource for RegistryDigests {
    async fn manifest_digest(&self, reference: &BaseReference) -> Result<String, DigestError> {
        self.client
            .manifest_digest(&reference.repository, &reference.reference())
            .await
            .map(|digest| digest.to_string())
            .map_err(|error| digest_error(reference, &error))
    }
}

/// The plan's reason for a registry failure: the registry as requests reach it for "unreachable" (as
/// the plan has always said), the reference as written for "not found".
fn digest_error(reference: &BaseReference, error: &RegistryError) -> DigestError {
    let registry = reference.repository.registry().to_string();
    match error {
        RegistryError::Unreachable { .. } => DigestError::Unreachable {
            registry: reference.repository.api_authority().to_string(),
            message: error.full_message(),
        },
        RegistryError::AuthRequired { .. }
        | RegistryError::AuthFailed { .. }
        | RegistryError::Denied { .. } => DigestError::Unauthorized { registry },
        RegistryError::NotFound { .. } => DigestError::NotFound {
            reference: reference.written.clone(),
        },
        RegistryError::Client { .. } => DigestError::Client {
            message: error.full_message(),
        },
        RegistryError::Insecure { .. }
        | RegistryError::Status { .. }
        | RegistryError::TooLarge { .. }
        | RegistryError::DigestMismatch { .. }
        | RegistryError::Invalid { .. } => DigestError::Protocol {
            registry,
            message: error.full_message(),
        },
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(text: &str) -> bool {
    text.parse::<Digest>()
        .is_ok_and(|digest| digest.algorithm() == "sha256")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_docker_rules() {
        let hub = BaseReference::parse("python:3.11-slim").unwrap();
        assert_eq!(hub.repository.to_string(), "docker.io/library/python");
        assert_eq!(hub.tag, "3.11-slim");
        assert_eq!(hub.full_name(), "docker.io/library/python:3.11-slim");
        assert_eq!(hub.repository.api_authority(), "registry-1.docker.io");
        assert!(!hub.repository.is_loopback());
        let local = BaseReference::parse("127.0.0.1:5000/fave/py").unwrap();
        assert_eq!(local.repository.registry(), "127.0.0.1:5000");
        assert_eq!(local.repository.path(), "fave/py");
        assert_eq!(local.tag, "latest");
        assert!(local.repository.is_loopback());
        assert_eq!(
            BaseReference::parse("someone/image:1")
                .unwrap()
                .repository
                .path(),
            "someone/image"
        );
        for bad in [
            "",
            "python@sha256:00",
            "ghcr.io/",
            "python:",
            "a//b",
            "Python:3.11",
        ] {
            assert!(BaseReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digest_form() {
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        for bad in [
            "sha256:ABC",
            "sha512:00",
            "",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha512:{}", "a".repeat(128)),
        ] {
            assert!(!is_sha256_digest(bad), "{bad}");
        }
    }
}
