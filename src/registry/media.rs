//! Manifest media types, and the `Accept` header that makes every registry answer with the manifest as
//! stored.
//!
//! distribution 2.8 (Debian's `docker-registry`) answers 404 for an OCI manifest when `Accept` names no
//! OCI type, and converts a Docker v2 manifest to schema 1 (with another digest) when there is no
//! `Accept` at all: so every manifest request sends all four types.

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (multi-platform).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (multi-platform).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 1, signed or not: obsolete, never requested, reported as unsupported.
pub const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// The `Accept` value of every manifest request.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Whether `media_type` names a multi-platform index.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// Whether `media_type` names a single-platform image manifest.
pub fn is_image_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// `Content-Type` without parameters, lowercase.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_names_all_four_types() {
        for media_type in [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ] {
            assert!(ACCEPT_MANIFESTS.contains(media_type), "{media_type}");
        }
        assert_eq!(
            essence("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}
