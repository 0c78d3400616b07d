//! From the lock being written to the plan: pin the base image, hash the lock files, and derive the
//! labels and build args from both. Pure except for the one registry call behind [`DigestSource`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::base_digest::{BaseReference, DigestSource, is_sha256_digest};
use super::error::{DigestError, PlanError};
use super::label;
use super::model::{BaseImage, BuildPlan, LockFile, PLAN_FORMAT_VERSION};
use super::render::bake_json;
use super::settings::{PlanSettings, slash_path};
use crate::lock::Lock;

/// The build arg that feeds each label in `base-image/Dockerfile` (`LABEL key="${ARG}"`).
pub const LABEL_ARGS: &[(&str, &str)] = &[
    ("IMAGE_TITLE", label::TITLE),
    ("IMAGE_DESCRIPTION", label::DESCRIPTION),
    ("IMAGE_VERSION", label::VERSION),
    ("IMAGE_SOURCE", label::SOURCE),
    ("REVISION", label::REVISION),
    ("BASE_NAME", label::BASE_NAME),
    ("BASE_DIGEST", label::BASE_DIGEST),
    ("LOCK_SHA256", label::LOCK_SHA256),
    ("LOCK_INPUT_HASH", label::LOCK_INPUT_HASH),
];

/// The lock file whose sha256 the image is labelled with, and which the Dockerfile installs.
const REQUIREMENTS_TXT: &str = "requirements.txt";

/// The plan's files and what the user should hear about them.
#[derive(Debug, Clone, Default)]
pub struct PlannedFiles {
    /// `(path, contents)` of `build-plan.json` and `docker-bake.json`, to stage with the lock files.
    pub files: Vec<(PathBuf, String)>,
    /// Non-fatal problems, like a base image digest that could not be verified.
    pub warnings: Vec<String>,
}

/// Everything about the lock the plan records.
#[derive(Debug, Clone)]
pub struct LockSummary {
    /// `sha256:…` from the lock's header.
    pub input_hash: String,
    /// Distinct packages, for the description.
    pub package_count: usize,
    /// The lock files, sorted by path.
    pub lock_files: Vec<LockFile>,
    /// `name==version` of each package the lock pins by its sdist, sorted: the image builds them.
    pub sdists: Vec<String>,
}

impl PlanSettings {
    /// The plan files for `lock`, whose other outputs are `written`, with the base image pinned by
    /// `source` (or the previous plan): [`PlanSettings::pin_base_image`] then [`PlanSettings::files`].
    ///
    /// # Errors
    ///
    /// As [`PlanSettings::files`].
    pub async fn outputs(
        &self,
        lock: &Lock,
        written: &[(PathBuf, String)],
        source: &impl DigestSource,
    ) -> Result<PlannedFiles, PlanError> {
        let (base_image, warnings) = self.pin_base_image(source).await;
        let files = self.files(lock, written, base_image)?;
        Ok(PlannedFiles { files, warnings })
    }

    /// The base image pinned by the digest `source` reports, else by the previous plan's digest
    /// (unverified), with warnings saying why. Separate from [`PlanSettings::files`] so that other
    /// outputs (the SBOM) can record the same digest.
    pub async fn pin_base_image(&self, source: &impl DigestSource) -> (BaseImage, Vec<String>) {
        let mut warnings = Vec::new();
        let previous = match read_previous(&self.plan_path()) {
            Ok(previous) => previous,
            Err(error) => {
                warnings.push(format!("{error}; its base image digest is not reused"));
                None
            }
        };
        let lookup = match BaseReference::parse(&self.base_image) {
            Ok(reference) => source.manifest_digest(&reference).await,
            Err(message) => Err(DigestError::Protocol {
                registry: self.base_image.clone(),
                message,
            }),
        };
        let (base_image, warning) = pin_base(&self.base_image, lookup, previous.as_ref());
        warnings.extend(warning);
        (base_image, warnings)
    }

    /// [`PlanSettings::pin_base_image`] asking the base image's registry, or nobody when `offline`.
    pub async fn pin_base_image_from_registry(&self, offline: bool) -> (BaseImage, Vec<String>) {
        if offline {
            return self.pin_base_image(&super::Offline).await;
        }
        match super::RegistryDigests::new() {
            Ok(client) => self.pin_base_image(&client).await,
            Err(error) => self.pin_base_image(&Failing(error)).await,
        }
    }

    /// `(path, contents)` of `build-plan.json` and `docker-bake.json` for `lock`, whose other outputs
    /// are `written` (hashed exactly as they will be written), built on `base_image`.
    ///
    /// # Errors
    ///
    /// [`PlanError::NoRequirementsTxt`] when `written` has no `requirements.txt`.
    pub fn files(
        &self,
        lock: &Lock,
        written: &[(PathBuf, String)],
        base_image: BaseImage,
    ) -> Result<Vec<(PathBuf, String)>, PlanError> {
        let summary = LockSummary {
            input_hash: lock.context.input_hash.clone(),
            package_count: lock.package_count(),
            lock_files: self.lock_files(written),
            sdists: lock
                .packages
                .iter()
                .filter(|package| {
                    package
                        .files
                        .iter()
                        .any(|file| crate::sdist::is_sdist(&file.filename))
                })
                .map(|package| format!("{}=={}", package.name, package.version))
                .collect(),
        };
        let plan = self.plan(base_image, &summary)?;
        Ok(vec![
            (self.plan_path(), plan.to_json()),
            (self.bake_path(), bake_json(&plan)),
        ])
    }

    /// Hash every file being written except the plan's own, as the plan names them, sorted. Only
    /// files of this run count: an SBOM left on disk may be about to be replaced.
    fn lock_files(&self, written: &[(PathBuf, String)]) -> Vec<LockFile> {
        let own = [self.plan_path(), self.bake_path()];
        let mut files: Vec<LockFile> = written
            .iter()
            .filter(|(path, _)| !own.contains(path))
            .map(|(path, contents)| LockFile {
                path: self.plan_text(path),
                sha256: sha256_hex(contents.as_bytes()),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        files
    }

    /// Replace the plan files in `outputs` (if any) by ones made from the other outputs now there:
    /// for writers that read the plan (the SBOM records its base image digest) and are then hashed
    /// into it.
    ///
    /// # Errors
    ///
    /// As [`PlanSettings::files`].
    pub fn replace_files(
        &self,
        lock: &Lock,
        outputs: &mut Vec<(PathBuf, String)>,
        base_image: BaseImage,
    ) -> Result<(), PlanError> {
        let own = [self.plan_path(), self.bake_path()];
        outputs.retain(|(path, _)| !own.contains(path));
        let files = self.files(lock, outputs, base_image)?;
        outputs.extend(files);
        Ok(())
    }

    /// The plan for a pinned base image and a lock.
    ///
    /// # Errors
    ///
    /// [`PlanError::NoRequirementsTxt`] when the lock files include no `requirements.txt`.
    pub fn plan(&self, base_image: BaseImage, lock: &LockSummary) -> Result<BuildPlan, PlanError> {
        let requirements = lock
            .lock_files
            .iter()
            .find(|file| Path::new(&file.path).file_name() == Some(REQUIREMENTS_TXT.as_ref()))
            .ok_or_else(|| PlanError::NoRequirementsTxt {
                image: self.image.clone(),
            })?;
        let labels = self.labels(&base_image, lock, requirements);
        let mut build_args: BTreeMap<String, String> = LABEL_ARGS
            .iter()
            .filter_map(|(arg, key)| Some((arg.to_string(), labels.get(*key)?.clone())))
            .collect();
        build_args.insert("BASE_IMAGE".into(), base_image.pinned.clone());
        let apt_packages = self.apt_pins.as_ref().unwrap_or(&self.build.apt_packages);
        build_args.insert("APT_PACKAGES".into(), apt_packages.join(" "));
        if let Some(sources) = &self.apt_sources {
            build_args.insert("APT_SOURCES".into(), sources.clone());
        }
        build_args.insert("PYTHON_VERSION".into(), self.python_version.clone());
        // Only when there are some, so a wheels-only image's plan stays as it was.
        if !lock.sdists.is_empty() {
            let names: Vec<&str> = lock
                .sdists
                .iter()
                .filter_map(|pin| pin.split("==").next())
                .collect();
            build_args.insert("SDIST_PACKAGES".into(), names.join(" "));
        }
        let context = slash_path(&self.context);
        let context_files =
            BTreeMap::from([(REQUIREMENTS_TXT.to_string(), requirements.path.clone())]);
        Ok(BuildPlan {
            annotations: labels.clone(),
            apt_packages: self.build.apt_packages.clone(),
            base_image,
            build_args,
            build_from_source: lock.sdists.clone(),
            dockerfile: slash_path(&self.context.join("Dockerfile")),
            context,
            context_files,
            format: PLAN_FORMAT_VERSION,
            image: self.image.clone(),
            input_hash: lock.input_hash.clone(),
            labels,
            lock_files: lock.lock_files.clone(),
            platforms: self.platforms.clone(),
            python_version: self.python_version.clone(),
            tags: self.tag_references(),
        })
    }

    /// The computed labels, then the config's `labels` over the descriptive ones.
    fn labels(
        &self,
        base_image: &BaseImage,
        lock: &LockSummary,
        requirements: &LockFile,
    ) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let mut set = |key: &str, value: String| labels.insert(key.to_string(), value);
        set(label::TITLE, self.image.clone());
        set(
            label::DESCRIPTION,
            format!(
                "{}: CPython {} with {} Python packages from the lock {}",
                self.image, self.python_version, lock.package_count, requirements.path
            ),
        );
        if let Some(version) = self.build.tags.first() {
            set(label::VERSION, version.clone());
        }
        let base_name = BaseReference::parse(&base_image.name).map_or_else(
            |_| base_image.name.clone(),
            |reference| reference.full_name(),
        );
        set(label::BASE_NAME, base_name);
        if let Some(digest) = &base_image.digest {
            set(label::BASE_DIGEST, digest.clone());
        }
        set(label::LOCK_SHA256, requirements.sha256.clone());
        set(label::LOCK_INPUT_HASH, lock.input_hash.clone());
        labels.extend(self.build.labels.clone());
        labels
    }
}

/// The base image pinned by the registry's answer, else by the previous plan's digest, with a
/// warning naming the failure.
pub fn pin_base(
    name: &str,
    lookup: Result<String, DigestError>,
    previous: Option<&BuildPlan>,
) -> (BaseImage, Option<String>) {
    let error = match lookup {
        Ok(digest) => {
            let base = BaseImage {
                pinned: format!("{name}@{digest}"),
                digest: Some(digest),
                name: name.to_string(),
                reason: None,
                verified: true,
            };
            return (base, None);
        }
        Err(error) => error,
    };
    let kept = previous
        .filter(|plan| plan.base_image.name == name)
        .and_then(|plan| plan.base_image.digest.clone())
        .filter(|digest| is_sha256_digest(digest));
    let (reason, consequence) = match &kept {
        Some(_) => (
            format!(
                "{}; digest kept from the previous build plan",
                error.reason()
            ),
            "keeping the previous plan's digest".to_string(),
        ),
        None => (
            format!(
                "{}; no previous build plan records a digest for `{name}`",
                error.reason()
            ),
            format!("the image builds FROM the unpinned tag `{name}`"),
        ),
    };
    let warning = format!("base image `{name}`: digest not verified ({error}); {consequence}");
    let base = BaseImage {
        pinned: kept
            .as_ref()
            .map_or_else(|| name.to_string(), |digest| format!("{name}@{digest}")),
        digest: kept,
        name: name.to_string(),
        reason: Some(reason),
        verified: false,
    };
    (base, Some(warning))
}

/// The plan already at `path`: `None` when there is none.
///
/// # Errors
///
/// [`PlanError::Io`] when it cannot be read, [`PlanError::Invalid`] when it is not a plan.
pub fn read_previous(path: &Path) -> Result<Option<BuildPlan>, PlanError> {
    let text = crate::fs::read_optional_input(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.map(|text| {
        BuildPlan::from_json(&text).map_err(|error| PlanError::Invalid {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    })
    .transpose()
}

/// Lowercase hex sha256, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A digest source that fails with the error that kept the real one from being built.
struct Failing(DigestError);

impl DigestSource for Failing {
    async fn manifest_digest(&self, _reference: &BaseReference) -> Result<String, DigestError> {
        Err(self.0.clone())
    }
}
