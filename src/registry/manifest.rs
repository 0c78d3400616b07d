//! Manifests, indexes and image configs as the OCI image spec (and Docker's schema 2) define them: parsed
//! tolerantly (unknown fields ignored, labels of any JSON type kept as text), validated where a value
//! feeds a later request (every digest).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::digest::{Digest, shorten};
use super::media;

/// A content descriptor: what a manifest says about another blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// Only on an index's entries.
    pub platform: Option<OciPlatform>,
    /// What an artifact is (OCI 1.1 `artifactType`), as a referrers list names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor as OCI JSON writes it (`mediaType`, `digest`, `size`, and `artifactType`,
    /// `platform`, `annotations` when set), for a manifest or index fave-lock pushes.
    pub fn to_oci_json(&self) -> serde_json::Value {
        let mut json = serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest.to_string(),
            "size": self.size,
        });
        if let Some(artifact_type) = &self.artifact_type {
            json["artifactType"] = artifact_type.clone().into();
        }
        if let Some(platform) = &self.platform {
            json["platform"] = serde_json::to_value(platform).unwrap_or_default();
        }
        if !self.annotations.is_empty() {
            json["annotations"] = serde_json::to_value(&self.annotations).unwrap_or_default();
        }
        json
    }
}

/// An OCI platform: `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OciPlatform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl fmt::Display for OciPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI index or Docker manifest list: one entry per platform (and maybe attestations).
    Index {
        media_type: String,
        manifests: Vec<Descriptor>,
    },
    /// One image: its config blob and layers.
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<u64>,
    media_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: String,
    size: u64,
    platform: Option<OciPlatform>,
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, serde_json::Value>>,
}

impl RawDescriptor {
    fn validate(self) -> Result<Descriptor, String> {
        Ok(Descriptor {
            media_type: self.media_type.unwrap_or_default(),
            digest: self.digest.parse()?,
            size: self.size,
            platform: self.platform,
            artifact_type: self.artifact_type,
            annotations: texts(self.annotations.unwrap_or_default()),
        })
    }
}

impl Manifest {
    /// Parse a manifest body; `content_type` (the response's, without parameters) takes precedence over
    /// the body's `mediaType`, and the shape decides when neither is known.
    ///
    /// # Errors
    ///
    /// A message when the body is not JSON, is schema 1, or has an invalid digest.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
        let raw: RawManifest = serde_json::from_slice(body)
            .map_err(|error| format!("the manifest is not valid JSON: {error}"))?;
        if raw.schema_version == Some(1)
            || content_type.is_some_and(|value| media::DOCKER_SCHEMA1.contains(&value))
        {
            return Err(
                "the manifest is Docker schema 1, which is obsolete and not supported".into(),
            );
        }
        let declared = content_type
            .filter(|value| media::is_index(value) || media::is_image_manifest(value))
            .map(str::to_string)
            .or(raw.media_type.clone());
        let is_index = match declared.as_deref() {
            Some(value) if media::is_index(value) => true,
            Some(value) if media::is_image_manifest(value) => false,
            _ => raw.manifests.is_some(),
        };
        if is_index {
            let manifests = raw
                .manifests
                .unwrap_or_default()
                .into_iter()
                .map(RawDescriptor::validate)
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Manifest::Index {
                media_type: declared.unwrap_or_else(|| media::OCI_INDEX.to_string()),
                manifests,
            });
        }
        let config = raw
            .config
            .ok_or("the manifest has no `config` descriptor")?
            .validate()?;
        let layers = raw
            .layers
            .unwrap_or_default()
            .into_iter()
            .map(RawDescriptor::validate)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Manifest::Image {
            media_type: declared.unwrap_or_else(|| media::OCI_MANIFEST.to_string()),
            config,
            layers,
        })
    }

    /// The manifest's media type.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Index { media_type, .. } | Manifest::Image { media_type, .. } => media_type,
        }
    }
}

/// What the dashboard reads from an image's config blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageConfigBlob {
    /// As written in the config (RFC 3339), if at all.
    pub created: Option<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    /// `config.Labels`; non-string values are kept as their JSON text.
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawConfig {
    created: Option<serde_json::Value>,
    os: Option<serde_json::Value>,
    architecture: Option<serde_json::Value>,
    variant: Option<serde_json::Value>,
    config: Option<RawRuntimeConfig>,
}

#[derive(Deserialize)]
struct RawRuntimeConfig {
    #[serde(rename = "Labels")]
    labels: Option<BTreeMap<String, serde_json::Value>>,
}

impl ImageConfigBlob {
    /// Parse a config blob.
    ///
    /// # Errors
    ///
    /// A message when the blob is not a JSON object of the expected shape.
    pub fn parse(body: &[u8]) -> Result<ImageConfigBlob, String> {
        let raw: RawConfig = serde_json::from_slice(body)
            .map_err(|error| format!("the image config is not valid JSON: {error}"))?;
        Ok(ImageConfigBlob {
            created: raw.created.map(text),
            os: raw.os.map(text),
            architecture: raw.architecture.map(text),
            variant: raw.variant.map(text),
            labels: texts(
                raw.config
                    .and_then(|config| config.labels)
                    .unwrap_or_default(),
            ),
        })
    }

    /// The platform the config declares, when it names both os and architecture.
    pub fn platform(&self) -> Option<OciPlatform> {
        Some(OciPlatform {
            os: self.os.clone()?,
            architecture: self.architecture.clone()?,
            variant: self.variant.clone().filter(|variant| !variant.is_empty()),
        })
    }
}

/// A JSON value as text: strings as themselves, anything else as its JSON, capped in length.
fn text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text,
        other => shorten(&other.to_string()),
    }
}

fn texts(map: BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(key, value)| (key, text(value)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn parses_an_index_and_an_image() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
                {{"mediaType":"{}","digest":"{}","size":10,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
            media::OCI_INDEX,
            media::OCI_MANIFEST,
            digest(1)
        );
        let Manifest::Index { manifests, .. } = Manifest::parse(index.as_bytes(), None).unwrap()
        else {
            panic!("not an index");
        };
        assert_eq!(
            manifests[0].platform.as_ref().unwrap().to_string(),
            "linux/arm64/v8"
        );
        let image = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}","size":2}},"layers":[{{"digest":"{}","size":5}}]}}"#,
            digest(2),
            digest(3)
        );
        let parsed = Manifest::parse(image.as_bytes(), Some(media::DOCKER_MANIFEST)).unwrap();
        assert_eq!(parsed.media_type(), media::DOCKER_MANIFEST);
        let Manifest::Image { layers, .. } = parsed else {
            panic!("not an image");
        };
        assert_eq!(layers[0].size, 5);
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        for (body, message) in [
            ("not json", "not valid JSON"),
            (r#"{"schemaVersion":1,"fsLayers":[]}"#, "schema 1"),
            (r#"{"schemaVersion":2}"#, "no `config`"),
            (
                r#"{"config":{"digest":"sha256:../x","size":1}}"#,
                "not a sha256 digest",
            ),
            (
                r#"{"config":{"digest":"sha256:00","size":-1}}"#,
                "not valid JSON",
            ),
            (r#"{"manifests":[{"digest":"x","size":1}]}"#, "not a digest"),
        ] {
            let error = Manifest::parse(body.as_bytes(), None).unwrap_err();
            assert!(error.contains(message), "{body}: {error}");
        }
    }

    #[test]
    fn config_labels_of_any_type() {
        let config = ImageConfigBlob::parse(
            br#"{"created":"2024-01-02T03:04:05Z","os":"linux","architecture":"amd64",
                "config":{"Labels":{"a":"<script>","n":5,"z":null}}}"#,
        )
        .unwrap();
        assert_eq!(config.labels["a"], "<script>");
        assert_eq!(config.labels["n"], "5");
        assert_eq!(config.labels["z"], "null");
        assert_eq!(config.platform().unwrap().to_string(), "linux/amd64");
        let bare = ImageConfigBlob::parse(br#"{"config":{"Labels":null}}"#).unwrap();
        assert!(bare.labels.is_empty() && bare.platform().is_none());
        assert!(ImageConfigBlob::parse(b"[]").is_err());
    }
}
