//! The build plan as data: what `locks/<image>/build-plan.json` holds.
//!
//! Fields are declared in alphabetical order and maps are `BTreeMap`s, so the serialised JSON has sorted
//! keys whatever features `serde_json` is built with; nothing in it depends on the time or the machine,
//! so the same inputs give the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when the plan's fields change meaning, so consumers can refuse a plan they do not understand.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// File name of the plan inside the image's lock folder.
pub const PLAN_FILE: &str = "build-plan.json";

/// File name of the docker buildx bake file inside the image's lock folder.
pub const BAKE_FILE: &str = "docker-bake.json";

/// Everything needed to build and publish one image from its lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildPlan {
    /// OCI annotations for the image manifest: the same keys and values as [`BuildPlan::labels`], so a
    /// registry shows the lock's sha256 without fetching the image config.
    pub annotations: BTreeMap<String, String>,
    /// Debian packages the Dockerfile installs, sorted.
    pub apt_packages: Vec<String>,
    /// The image built `FROM`, pinned by digest when known.
    pub base_image: BaseImage,
    /// `--build-arg`s for `base-image/Dockerfile`, by name.
    pub build_args: BTreeMap<String, String>,
    /// `name==version` of the packages locked by their sdist, which the Dockerfile's builder stage turns
    /// into wheels (`SDIST_PACKAGES`); absent for a wheels-only image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_from_source: Vec<String>,
    /// The build context, relative to the repository root (`base-image`).
    pub context: String,
    /// Files a build copies into the context before building: path inside the context → path in the
    /// repository. The lock lives outside the context, so it is copied in (see `base-image/Dockerfile`).
    pub context_files: BTreeMap<String, String>,
    /// The Dockerfile, relative to the repository root.
    pub dockerfile: String,
    /// [`PLAN_FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// The image's name in `fave-lock.toml`.
    pub image: String,
    /// The lock's input hash (`sha256:…`), as in its header.
    pub input_hash: String,
    /// OCI labels to stamp on the image config; the traceability keys are `io.fave.lock.sha256` (the
    /// sha256 of `requirements.txt`) and `io.fave.lock.input-hash`.
    pub labels: BTreeMap<String, String>,
    /// The lock files the image is built from, sorted by path.
    pub lock_files: Vec<LockFile>,
    /// OCI platforms to build, in the config's order.
    pub platforms: Vec<String>,
    /// The image's CPython `major.minor`.
    pub python_version: String,
    /// Full references to publish (`ghcr.io/fave-project/fave-base:0.1`), in the config's order.
    pub tags: Vec<String>,
}

/// The base image and how sure the plan is of its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseImage {
    /// `sha256:…` of the manifest (or index) the tag pointed to; `None` when never read.
    pub digest: Option<String>,
    /// The reference from the config, by tag (`python:3.11-slim`).
    pub name: String,
    /// What to build `FROM`: `name@digest`, or `name` alone while the digest is unknown.
    pub pinned: String,
    /// Why the digest is not verified; absent when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether `digest` was read from the registry by the run that wrote the plan. `false` means it was
    /// kept from the previous plan (or is unknown), for the reason in `reason`.
    pub verified: bool,
}

/// One lock file and its sha256, computed from the exact bytes written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Relative to the repository root, `/`-separated.
    pub path: String,
    /// Lowercase hex, as `sha256sum` prints it.
    pub sha256: String,
}

impl BuildPlan {
    /// The plan as written to disk: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parse a plan file's text.
    ///
    /// # Errors
    ///
    /// The JSON error when the text is not a plan.
    pub fn from_json(text: &str) -> Result<BuildPlan, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The lock file whose path ends in `/{file_name}` (or is `file_name`).
    pub fn lock_file(&self, file_name: &str) -> Option<&LockFile> {
        self.lock_files
            .iter()
            .find(|lock| lock.path == file_name || lock.path.ends_with(&format!("/{file_name}")))
    }
}
