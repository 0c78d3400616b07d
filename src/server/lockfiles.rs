//! The committed lock of an image as the dashboard shows it: which of the known lock files exist (with
//! size and sha256), what `pylock.toml`'s `[tool.fave-lock]` records (read through
//! [`crate::lock::read_pylock`]), and what the build plan says it publishes and pins.
//!
//! Only the file names in [`LOCK_FILES`] are ever read or served, from the image's configured lock
//! folder: a request names a file by one of these names, never by a path.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// A file of a lock folder that fave-lock writes and the server may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockFileKind {
    pub name: &'static str,
    pub content_type: &'static str,
    pub description: &'static str,
}

/// The lock files, in the order the dashboard lists them.
pub const LOCK_FILES: [LockFileKind; 5] = [
    LockFileKind {
        name: "requirements.txt",
        content_type: "text/plain; charset=utf-8",
        description: "pip requirements with hashes",
    },
    LockFileKind {
        name: "pylock.toml",
        content_type: "application/toml; charset=utf-8",
        description: "PEP 751 lock",
    },
    LockFileKind {
        name: crate::sbom::SBOM_FILE,
        content_type: "application/vnd.cyclonedx+json",
        description: "CycloneDX SBOM",
    },
    LockFileKind {
        name: crate::plan::PLAN_FILE,
        content_type: "application/json",
        description: "build plan",
    },
    LockFileKind {
        name: crate::plan::BAKE_FILE,
        content_type: "application/json",
        description: "docker buildx bake file",
    },
];

/// The kind of lock file called `name`, if it is one.
pub fn lock_file_kind(name: &str) -> Option<LockFileKind> {
    LOCK_FILES.iter().copied().find(|kind| kind.name == name)
}

/// One lock file's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockFileView {
    pub name: &'static str,
    pub description: &'static str,
    pub present: bool,
    pub size: Option<u64>,
    /// Lowercase hex.
    pub sha256: Option<String>,
}

/// What the lock folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockView {
    /// The folder, as configured (relative to the config's folder).
    pub dir: String,
    pub files: Vec<LockFileView>,
    /// sha256 of `requirements.txt`: what a fresh image's `io.fave.lock.sha256` label must say.
    pub requirements_sha256: Option<String>,
    /// From `pylock.toml`'s `[tool.fave-lock]`.
    pub input_hash: Option<String>,
    pub python: Option<String>,
    pub targets: Vec<String>,
    pub packages: Option<usize>,
    pub exclude_newer: Option<String>,
    pub command: Option<String>,
    /// Problems reading the files (a lock that does not parse, an unreadable file).
    pub problems: Vec<String>,
}

impl LockView {
    /// A folder with nothing read yet.
    pub fn empty(display: &str) -> LockView {
        LockView {
            dir: display.to_string(),
            files: Vec::new(),
            requirements_sha256: None,
            input_hash: None,
            python: None,
            targets: Vec::new(),
            packages: None,
            exclude_newer: None,
            command: None,
            problems: Vec::new(),
        }
    }

    /// Whether any lock file exists.
    pub fn is_present(&self) -> bool {
        self.files.iter().any(|file| file.present)
    }
}

/// What the build plan says, read tolerantly: every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PlanView {
    /// Full references to publish (`ghcr.io/fave-project/fave-base:0.1`).
    pub tags: Vec<String>,
    /// The base image as named (`python:3.11-slim`).
    pub base_reference: Option<String>,
    /// The digest the plan pins it to.
    pub base_digest: Option<String>,
    /// Whether the plan's writer read that digest from the registry itself.
    pub base_verified: Option<bool>,
    /// The plan's `io.fave.lock.sha256` label.
    pub lock_label: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl PlanView {
    /// The tag part of each reference to publish: `ghcr.io/x/y:0.1` → `0.1`.
    pub fn tag_names(&self) -> Vec<&str> {
        self.tags
            .iter()
            .filter_map(|reference| tag_of(reference))
            .collect()
    }

    /// The full reference the plan publishes under `tag`, if any.
    pub fn reference_for(&self, tag: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|reference| tag_of(reference) == Some(tag))
            .map(String::as_str)
    }
}

/// The tag of a reference (`host:5000/a/b:tag@sha256:…` → `tag`).
fn tag_of(reference: &str) -> Option<&str> {
    let name = reference.split('@').next().unwrap_or(reference);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.rsplit_once(':').map(|(_, tag)| tag)
}

/// Read the lock folder `dir` (shown as `display`).
pub fn read_lock(dir: &Path, display: &str) -> (LockView, Option<PlanView>) {
    let mut view = LockView::empty(display);
    let mut plan = None;
    for kind in LOCK_FILES {
        let path = dir.join(kind.name);
        let bytes = match crate::fs::read_input(&path) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                view.problems
                    .push(format!("cannot read `{}`: {error}", path.display()));
                None
            }
        };
        let sha256 = bytes
            .as_deref()
            .map(|bytes| hex::encode(Sha256::digest(bytes)));
        match (kind.name, &bytes) {
            ("requirements.txt", Some(_)) => view.requirements_sha256.clone_from(&sha256),
            ("pylock.toml", Some(bytes)) => read_pylock_facts(&path, bytes, &mut view),
            (crate::plan::PLAN_FILE, Some(bytes)) => match read_plan(bytes) {
                Ok(read) => plan = Some(read),
                Err(message) => view.problems.push(format!(
                    "`{}` is not a build plan: {message}",
                    path.display()
                )),
            },
            _ => {}
        }
        view.files.push(LockFileView {
            name: kind.name,
            description: kind.description,
            present: bytes.is_some(),
            size: bytes.as_ref().map(|bytes| bytes.len() as u64),
            sha256,
        });
    }
    (view, plan)
}

fn read_pylock_facts(path: &Path, bytes: &[u8], view: &mut LockView) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        view.problems
            .push(format!("`{}` is not UTF-8", path.display()));
        return;
    };
    match crate::lock::parse_pylock(text, path) {
        Ok(lock) => {
            let context = &lock.context;
            view.input_hash = Some(context.input_hash.clone());
            view.python = Some(context.python.to_string());
            view.targets = context
                .targets
                .iter()
                .map(|target| format!("{} ({})", target.oci, target.platform))
                .collect();
            view.packages = Some(lock.package_count());
            view.exclude_newer = context.exclude_newer.map(|at| at.to_string());
            view.command = Some(context.command.clone());
        }
        Err(error) => view.problems.push(error.to_string()),
    }
}

/// The plan's fields the dashboard uses, from `build-plan.json`, tolerating any missing one. The base
/// image is `base_image.reference` (or `.name`), its digest `base_image.digest` (or the `@` part of
/// `.pinned`).
///
/// # Errors
///
/// When the file is not a JSON object.
pub fn read_plan(bytes: &[u8]) -> Result<PlanView, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_string);
    let base = object.get("base_image");
    let field = |key: &str| base.and_then(|base| base.get(key));
    let pinned = text(field("pinned"));
    let base_digest = text(field("digest")).or_else(|| {
        pinned
            .as_deref()
            .and_then(|pinned| pinned.split_once('@'))
            .map(|(_, digest)| digest.to_string())
    });
    let base_reference = text(field("reference"))
        .or_else(|| text(field("name")))
        .or_else(|| pinned.map(|pinned| pinned.split('@').next().unwrap_or_default().to_string()));
    let labels: BTreeMap<String, String> = object
        .get("labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let tags = object
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(|tag| text(Some(tag))).collect())
        .unwrap_or_default();
    Ok(PlanView {
        tags,
        base_reference,
        base_digest,
        base_verified: field("verified").and_then(Value::as_bool),
        lock_label: labels.get(crate::plan::label::LOCK_SHA256).cloned(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_fields_are_optional() {
        let plan = read_plan(br#"{"tags":["ghcr.io/a/b:0.1","localhost:5000/b:latest@sha256:00", 7],
            "base_image":{"name":"python:3.11-slim","pinned":"python:3.11-slim@sha256:ab","verified":false},
            "labels":{"io.fave.lock.sha256":"cafe","n":1}}"#)
        .unwrap();
        assert_eq!(plan.tag_names(), ["0.1", "latest"]);
        assert_eq!(plan.reference_for("0.1"), Some("ghcr.io/a/b:0.1"));
        assert_eq!(plan.base_reference.as_deref(), Some("python:3.11-slim"));
        assert_eq!(plan.base_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(plan.base_verified, Some(false));
        assert_eq!(plan.lock_label.as_deref(), Some("cafe"));
        assert_eq!(read_plan(b"{}").unwrap(), PlanView::default());
        assert!(read_plan(b"[]").is_err());
        assert!(read_plan(b"{").is_err());
    }

    #[test]
    fn only_known_names_are_lock_files() {
        assert!(lock_file_kind("pylock.toml").is_some());
        for name in [
            "",
            "..",
            "../fave-lock.toml",
            "requirements.in",
            "REQUIREMENTS.TXT",
        ] {
            assert!(lock_file_kind(name).is_none(), "{name}");
        }
    }

    #[test]
    fn reads_a_lock_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "x==1\n").unwrap();
        std::fs::write(dir.path().join("pylock.toml"), "not toml [").unwrap();
        let (view, plan) = read_lock(dir.path(), "locks/x");
        assert!(plan.is_none());
        assert_eq!(
            view.requirements_sha256.as_deref(),
            Some(hex::encode(Sha256::digest(b"x==1\n")).as_str())
        );
        assert_eq!(view.files.iter().filter(|file| file.present).count(), 2);
        assert_eq!(view.problems.len(), 1, "{:?}", view.problems);
    }
}
