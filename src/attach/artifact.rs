//! The artifact manifest of an attached SBOM, as bytes: pure, so its shape is tested without a
//! registry. The shape follows the OCI image spec 1.1 "guidelines for artifact usage" (an
//! `artifactType`, the empty config) and what `oras attach` writes.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::local::LocalSbom;
use crate::plan::label;
use crate::registry::{Descriptor, Digest, OCI_MANIFEST};

/// CycloneDX JSON's media type: the artifact's type and its one layer's.
pub const SBOM_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// The OCI empty descriptor's media type, for an artifact without a config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's bytes.
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// When the artifact was made.
const CREATED: &str = "org.opencontainers.image.created";

/// An artifact manifest and the annotations its referrers entry repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactManifest {
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// The manifest attaching `sbom` to `subject`, made at `created`.
pub fn sbom_manifest(
    sbom: &LocalSbom,
    subject: &Descriptor,
    created: Timestamp,
) -> ArtifactManifest {
    let annotations = BTreeMap::from([
        (label::LOCK_SHA256.to_string(), sbom.lock_sha256.clone()),
        (
            CREATED.to_string(),
            created
                .round(jiff::Unit::Second)
                .unwrap_or(created)
                .to_string(),
        ),
    ]);
    let layer = Descriptor {
        media_type: SBOM_MEDIA_TYPE.to_string(),
        digest: Digest::sha256_of(&sbom.bytes),
        size: sbom.bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: BTreeMap::from([(label::TITLE.to_string(), sbom.file_name())]),
    };
    let config = Descriptor {
        media_type: EMPTY_MEDIA_TYPE.to_string(),
        digest: Digest::sha256_of(EMPTY_CONFIG),
        size: EMPTY_CONFIG.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: BTreeMap::new(),
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SBOM_MEDIA_TYPE,
        "config": config.to_oci_json(),
        "layers": [layer.to_oci_json()],
        "subject": subject.to_oci_json(),
        "annotations": annotations,
    });
    ArtifactManifest {
        bytes: serde_json::to_vec(&manifest).unwrap_or_default(),
        annotations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_an_oci_artifact_naming_its_subject_and_lock() {
        let sbom = LocalSbom {
            path: "locks/fave-base/sbom.cdx.json".into(),
            bytes: br#"{"bomFormat":"CycloneDX"}"#.to_vec(),
            lock_sha256: "ab".repeat(32),
        };
        let subject = Descriptor {
            media_type: crate::registry::OCI_INDEX.to_string(),
            digest: Digest::sha256_of(b"index"),
            size: 5,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        };
        let created: Timestamp = "2026-12-07T01:02:03.456Z".parse().unwrap();
        let manifest = sbom_manifest(&sbom, &subject, created);
        let json: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
        insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap(), @r#"
        {
          "annotations": {
            "io.fave.lock.sha256": "abababababababababababababababababababababababababababababababab",
            "org.opencontainers.image.created": "2026-12-07T01:02:03Z"
          },
          "artifactType": "application/vnd.cyclonedx+json",
          "config": {
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "mediaType": "application/vnd.oci.empty.v1+json",
            "size": 2
          },
          "layers": [
            {
              "annotations": {
                "org.opencontainers.image.title": "sbom.cdx.json"
              },
              "digest": "sha256:2e01b8740d2b1c7ff47487ab94ff0f7f4d2853f3d985cd6d7e381c4aa5ef9afa",
              "mediaType": "application/vnd.cyclonedx+json",
              "size": 25
            }
          ],
          "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "schemaVersion": 2,
          "subject": {
            "digest": "sha256:1bc04b5291c26a46d918139138b992d2de976d6851d0893b0476b85bfbdfc6e6",
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "size": 5
          }
        }
        "#);
        assert_eq!(
            manifest.annotations["io.fave.lock.sha256"],
            sbom.lock_sha256
        );
    }
}
