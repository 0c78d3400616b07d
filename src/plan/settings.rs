//! What the plan of one image is made from: the image's config, and where its files live.

use std::path::{Component, Path, PathBuf};

use crate::config::{BuildConfig, Config, ImageConfig};

use super::model::{BAKE_FILE, PLAN_FILE};

/// The config of one image that has a `base-image`, with the paths the plan names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// The image's name.
    pub image: String,
    /// CPython `major.minor`.
    pub python_version: String,
    /// OCI platforms, in the config's order.
    pub platforms: Vec<String>,
    /// `registry`: where `tags` are published.
    pub registry: Option<String>,
    /// `base-image`, by tag.
    pub base_image: String,
    /// `tags`, `apt-packages`, `labels`.
    pub build: BuildConfig,
    /// The config's folder; every path below is relative to it.
    pub root: PathBuf,
    /// The lock folder (`locks/fave-base`).
    pub output: PathBuf,
    /// The build context: the folder of the requirements input (`base-image`), which holds the
    /// Dockerfile and the shared modules the image copies.
    pub context: PathBuf,
    /// The `apt-get install` arguments of the image's `apt.lock` (`name=version`, or
    /// `arch/name=version` where the architectures differ); `None` without one, when the Dockerfile
    /// installs the config's `apt-packages` by name.
    pub apt_pins: Option<Vec<String>>,
    /// The archives and suites of the image's `apt.lock` (`AptLock::sources`), which the Dockerfile
    /// installs from; `None` without one (the base image's own sources are used).
    pub apt_sources: Option<String>,
}

impl PlanSettings {
    /// The settings for `image`, or `None` when it has no `base-image` (then nothing is built from it).
    pub fn from_config(config: &Config, image: &ImageConfig) -> Option<PlanSettings> {
        let base_image = image.build.base_image.clone()?;
        let context = image
            .requirements
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Some(PlanSettings {
            image: image.name.clone(),
            python_version: image.python_version.to_string(),
            platforms: image.platforms.iter().map(|p| p.oci.clone()).collect(),
            registry: image.registry.clone(),
            base_image,
            build: image.build.clone(),
            root: config.root.clone(),
            output: image.output.clone(),
            context,
            apt_pins: None,
            apt_sources: None,
        })
    }

    /// `relative` as a path to open: joined to the config's folder unless that is `.`.
    pub fn on_disk(&self, relative: &Path) -> PathBuf {
        if self.root.as_os_str().is_empty() || self.root == Path::new(".") {
            relative.to_path_buf()
        } else {
            self.root.join(relative)
        }
    }

    /// Where `build-plan.json` is written.
    pub fn plan_path(&self) -> PathBuf {
        self.on_disk(&self.output.join(PLAN_FILE))
    }

    /// Where `docker-bake.json` is written.
    pub fn bake_path(&self) -> PathBuf {
        self.on_disk(&self.output.join(BAKE_FILE))
    }

    /// A path fave-lock opens, as the plan names it: relative to the config's folder, `/`-separated,
    /// so the plan reads the same on every machine.
    pub fn plan_text(&self, path: &Path) -> String {
        let relative = if self.root.as_os_str().is_empty() || self.root == Path::new(".") {
            path
        } else {
            path.strip_prefix(&self.root).unwrap_or(path)
        };
        slash_path(relative)
    }

    /// The full references to publish: `registry:tag` for each tag.
    pub fn tag_references(&self) -> Vec<String> {
        match &self.registry {
            Some(registry) => self
                .build
                .tags
                .iter()
                .map(|tag| format!("{registry}:{tag}"))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// `path` with `/` between components and without `.` components.
pub(super) fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter(|part| *part != Component::CurDir)
        .map(|part| match part {
            Component::RootDir => String::new(),
            _ => part.as_os_str().to_string_lossy().into_owned(),
        })
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}
