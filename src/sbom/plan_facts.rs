//! The few facts the SBOM takes from `locks/<image>/build-plan.json` (written by `plan`): the base image
//! reference and digest, and the tag the image is published under.
//!
//! Read from the JSON by field name rather than through `plan`'s types, so the SBOM depends on three
//! documented fields only (`base_image.name`, `base_image.digest`, `tags`), not on the whole plan.

use std::path::Path;

use super::SbomError;
use crate::plan::is_sha256_digest;

/// What the SBOM knows about the image beyond its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFacts {
    /// The base image by tag (`python:3.11-slim`); `None` when no plan names one.
    pub base_image: Option<String>,
    /// `sha256:<64 hex>` of the base image's manifest, when the plan pins it.
    pub base_digest: Option<String>,
    /// The tag of the image's first publish reference (`0.1` from `ghcr.io/fave/fave-base:0.1`).
    pub image_version: Option<String>,
}

impl PlanFacts {
    /// The facts in a plan's text.
    pub fn from_json(text: &str) -> Result<PlanFacts, String> {
        let plan: serde_json::Value =
            serde_json::from_str(text).map_err(|error| format!("invalid JSON: {error}"))?;
        let base = plan.get("base_image");
        let string =
            |value: Option<&serde_json::Value>, key: &str| -> Result<Option<String>, String> {
                match value.and_then(|value| value.get(key)) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
                    Some(_) => Err(format!("`base_image.{key}` is not a string")),
                }
            };
        let base_digest = string(base, "digest")?;
        if let Some(digest) = &base_digest
            && !is_sha256_digest(digest)
        {
            return Err(format!(
                "`base_image.digest` = `{digest}` is not `sha256:` and 64 hex digits"
            ));
        }
        let image_version = plan
            .get("tags")
            .and_then(serde_json::Value::as_array)
            .and_then(|tags| tags.first())
            .and_then(serde_json::Value::as_str)
            .and_then(tag_of);
        Ok(PlanFacts {
            base_image: string(base, "name")?,
            base_digest,
            image_version,
        })
    }

    /// The facts in the plan at `path`; none when there is no plan.
    pub fn read(path: &Path) -> Result<PlanFacts, SbomError> {
        let text = crate::fs::read_optional_input(path).map_err(|source| SbomError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let Some(text) = text else {
            return Ok(PlanFacts::default());
        };
        PlanFacts::from_json(&text).map_err(|message| SbomError::BuildPlan {
            path: path.to_path_buf(),
            message,
        })
    }
}

/// The tag of an image reference (`0.1` in `ghcr.io:443/fave/fave-base:0.1@sha256:…`), if it has one.
pub(crate) fn tag_of(reference: &str) -> Option<String> {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let (_, tag) = last.split_once(':')?;
    (!tag.is_empty()).then(|| tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_come_from_three_fields() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let text = serde_json::json!({
            "base_image": {"name": "python:3.11-slim", "digest": digest, "pinned": "x", "verified": true},
            "tags": ["ghcr.io/fave-project/fave-base:0.1", "ghcr.io/fave-project/fave-base:latest"],
            "other": 1,
        })
        .to_string();
        let facts = PlanFacts::from_json(&text).unwrap();
        assert_eq!(facts.base_image.as_deref(), Some("python:3.11-slim"));
        assert_eq!(facts.base_digest, Some(digest));
        assert_eq!(facts.image_version.as_deref(), Some("0.1"));

        let unpinned =
            r#"{"base_image": {"name": "python:3.11-slim", "digest": null}, "tags": []}"#;
        let facts = PlanFacts::from_json(unpinned).unwrap();
        assert_eq!((facts.base_digest, facts.image_version), (None, None));
        assert!(PlanFacts::from_json(r#"{"base_image": {"digest": "md5:00"}}"#).is_err());
        assert!(PlanFacts::from_json("[").is_err());
        assert_eq!(PlanFacts::from_json("{}").unwrap(), PlanFacts::default());
    }

    #[test]
    fn tags_of_references() {
        assert_eq!(
            tag_of("localhost:5000/fave-base:dev").as_deref(),
            Some("dev")
        );
        assert_eq!(tag_of("localhost:5000/fave-base"), None);
        assert_eq!(
            tag_of("python:3.11-slim@sha256:00").as_deref(),
            Some("3.11-slim")
        );
    }

    #[test]
    fn a_missing_plan_is_no_facts() {
        let dir = tempfile::tempdir().unwrap();
        let facts = PlanFacts::read(&dir.path().join("build-plan.json")).unwrap();
        assert_eq!(facts, PlanFacts::default());
    }
}
