//! What the dashboard shows for a repository: every tag with its digest and, per platform, the image
//! manifest's digest, size, created time and labels. Failures are kept per tag and per platform, so one
//! broken manifest never hides the rest.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use super::client::{FetchedManifest, RegistryClient};
use super::digest::Digest;
use super::error::{RegistryError, RegistryErrorKind};
use super::manifest::{Descriptor, Manifest, OciPlatform};
use super::reference::{Reference, Repository, is_valid_tag};
use super::referrers::is_referrers_tag;

/// Most entries of one index that are described (real indexes have a handful).
const MAX_INDEX_ENTRIES: usize = 64;

/// One platform's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlatformImage {
    /// `linux/amd64`, `linux/arm64/v8`; `unknown` when neither the index nor the config says.
    pub platform: String,
    /// The image manifest's digest (for a single-platform tag, the tag's own digest).
    pub digest: Digest,
    pub media_type: String,
    /// Manifest, config and compressed layers, in bytes: what a pull downloads.
    pub size: u64,
    /// The config's `created`, as written.
    pub created: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Why the manifest or config could not be read, when it could not.
    pub error: Option<String>,
}

/// What a tag points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestKind {
    /// A multi-platform index (or Docker manifest list).
    Index,
    /// A single image manifest.
    Image,
}

/// One tag, fully described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagDescription {
    pub tag: String,
    /// Exactly the registry's `Docker-Content-Digest` for the tag (verified against the body).
    pub digest: Digest,
    pub media_type: String,
    pub kind: ManifestKind,
    /// Bytes of the tag's manifest (or index) itself.
    pub manifest_size: u64,
    pub platforms: Vec<PlatformImage>,
}

/// A tag of the list and what became of describing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    Described(TagDescription),
    /// The tag's manifest could not be read.
    Failed {
        tag: String,
        kind: RegistryErrorKind,
        error: String,
    },
    /// The registry listed a name that is not a valid tag; it is never requested.
    Invalid {
        tag: String,
    },
}

impl TagOutcome {
    /// The tag's name.
    pub fn tag(&self) -> &str {
        match self {
            TagOutcome::Described(description) => &description.tag,
            TagOutcome::Failed { tag, .. } | TagOutcome::Invalid { tag } => tag,
        }
    }
}

/// A repository's tags, newest-looking first (see [`compare_tags`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryDescription {
    pub repository: Repository,
    pub tags: Vec<TagOutcome>,
}

impl RegistryClient {
    /// List `repository`'s tags (but referrers tags) and describe each, with at most
    /// [`super::RegistryOptions::concurrency`] requests in flight.
    ///
    /// # Errors
    ///
    /// Only when the tag list itself cannot be read; each tag's failure is kept in its [`TagOutcome`].
    pub async fn describe_repository(
        &self,
        repository: &Repository,
    ) -> Result<RepositoryDescription, RegistryError> {
        let tags = self.tags(repository).await?;
        let concurrency = self.options().concurrency.max(1);
        // A referrers tag (`sha256-<hex>`) lists artifacts attached to an image; it is no image.
        let image_tags: Vec<String> = tags
            .iter()
            .filter(|tag| !is_referrers_tag(tag))
            .cloned()
            .collect();
        let mut outcomes: Vec<TagOutcome> = futures::stream::iter(image_tags)
            .map(|tag| async move {
                if !is_valid_tag(&tag) {
                    return TagOutcome::Invalid { tag };
                }
                match self.describe_tag(repository, &tag).await {
                    Ok(description) => TagOutcome::Described(description),
                    Err(error) => TagOutcome::Failed {
                        tag,
                        kind: error.kind(),
                        error: error.full_message(),
                    },
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        outcomes.sort_by(|a, b| compare_tags(a.tag(), b.tag()));
        Ok(RepositoryDescription {
            repository: repository.clone(),
            tags: outcomes,
        })
    }

    /// Describe one tag: its digest, and each platform's image.
    ///
    /// # Errors
    ///
    /// When the tag is invalid or its manifest cannot be read.
    pub async fn describe_tag(
        &self,
        repository: &Repository,
        tag: &str,
    ) -> Result<TagDescription, RegistryError> {
        let reference = Reference::tag(tag).map_err(|message| RegistryError::Invalid {
            url: repository.to_string(),
            message,
        })?;
        let top = self.manifest(repository, &reference).await?;
        let (kind, platforms) = match &top.manifest {
            Manifest::Image { .. } => (
                ManifestKind::Image,
                vec![self.describe_image(repository, &top, None).await],
            ),
            Manifest::Index { manifests, .. } => {
                let entries = manifests
                    .iter()
                    .filter(|entry| !is_attestation(entry))
                    .take(MAX_INDEX_ENTRIES);
                let platforms = futures::future::join_all(
                    entries.map(|entry| self.describe_index_entry(repository, entry)),
                )
                .await;
                (ManifestKind::Index, platforms)
            }
        };
        Ok(TagDescription {
            tag: tag.to_string(),
            digest: top.digest.clone(),
            media_type: top.manifest.media_type().to_string(),
            kind,
            manifest_size: top.size,
            platforms,
        })
    }

    async fn describe_index_entry(
        &self,
        repository: &Repository,
        entry: &Descriptor,
    ) -> PlatformImage {
        let reference = Reference::Digest(entry.digest.clone());
        match self.manifest(repository, &reference).await {
            Ok(child) => {
                self.describe_image(repository, &child, entry.platform.as_ref())
                    .await
            }
            Err(error) => PlatformImage {
                platform: platform_name(entry.platform.as_ref()),
                digest: entry.digest.clone(),
                media_type: entry.media_type.clone(),
                size: entry.size,
                created: None,
                labels: BTreeMap::new(),
                error: Some(error.full_message()),
            },
        }
    }

    /// One image manifest's platform, sizes, created time and labels; `platform` is the index entry's.
    async fn describe_image(
        &self,
        repository: &Repository,
        image: &FetchedManifest,
        platform: Option<&OciPlatform>,
    ) -> PlatformImage {
        let mut described = PlatformImage {
            platform: platform_name(platform),
            digest: image.digest.clone(),
            media_type: image.manifest.media_type().to_string(),
            size: image.size,
            created: None,
            labels: BTreeMap::new(),
            error: None,
        };
        let Manifest::Image { config, layers, .. } = &image.manifest else {
            described.error = Some("an index inside an index is not supported".into());
            return described;
        };
        described.size = layers
            .iter()
            .fold(image.size.saturating_add(config.size), |sum, layer| {
                sum.saturating_add(layer.size)
            });
        match self.config(repository, config).await {
            Ok(blob) => {
                if platform.is_none()
                    && let Some(own) = blob.platform()
                {
                    described.platform = own.to_string();
                }
                described.created.clone_from(&blob.created);
                described.labels.clone_from(&blob.labels);
            }
            Err(error) => described.error = Some(error.full_message()),
        }
        described
    }
}

/// BuildKit's attestation manifests sit in an index as `unknown/unknown` entries: not a platform.
fn is_attestation(entry: &Descriptor) -> bool {
    entry
        .annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|kind| kind == "attestation-manifest")
        || entry
            .platform
            .as_ref()
            .is_some_and(|platform| platform.os == "unknown" && platform.architecture == "unknown")
}

fn platform_name(platform: Option<&OciPlatform>) -> String {
    platform.map_or_else(|| "unknown".to_string(), ToString::to_string)
}

/// Order tags newest-looking first: runs of digits compare as numbers (`1.10` after `1.9`), and the
/// whole order is reversed, so `latest` and `3.11-2` come before `3.11-1` and `1.0`.
pub fn compare_tags(a: &str, b: &str) -> Ordering {
    natural(b, a)
}

fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_len = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let b_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (a_num, b_num) = (trim_zeros(&a[..a_len]), trim_zeros(&b[..b_len]));
                let order = a_num.len().cmp(&b_num.len()).then(a_num.cmp(b_num));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[a_len..];
                b = &b[b_len..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start.min(digits.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_sort_newest_first() {
        let mut tags = vec!["1.0", "1.10", "1.9", "latest", "0.1", "1.10-rc1", "01.2"];
        tags.sort_by(|a, b| compare_tags(a, b));
        assert_eq!(
            tags,
            ["latest", "1.10-rc1", "1.10", "1.9", "01.2", "1.0", "0.1"]
        );
    }

    #[test]
    fn attestations_are_not_platforms() {
        let descriptor = |os: &str, annotation: Option<&str>| Descriptor {
            media_type: String::new(),
            digest: Digest::sha256_of(b""),
            size: 0,
            platform: Some(OciPlatform {
                os: os.into(),
                architecture: os.into(),
                variant: None,
            }),
            artifact_type: None,
            annotations: annotation
                .map(|value| BTreeMap::from([("vnd.docker.reference.type".into(), value.into())]))
                .unwrap_or_default(),
        };
        assert!(is_attestation(&descriptor("unknown", None)));
        assert!(is_attestation(&descriptor(
            "linux",
            Some("attestation-manifest")
        )));
        assert!(!is_attestation(&descriptor("linux", None)));
    }
}
