//! The validated configuration: what the rest of fave-lock reads. Plain data; nothing here looks at
//! TOML except [`Config::document`], which hands the original text back for rewriting.

use std::path::PathBuf;

use jiff::Timestamp;
use pep508_rs::PackageName;
use toml_edit::DocumentMut;

use super::ConfigError;
use crate::tags::{Platform, PythonVersion};

/// A validated `fave-lock.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Folder that relative paths in the file are relative to (the file's folder, `.` for a bare name).
    pub root: PathBuf,
    /// `index-url`, if set.
    pub index_url: Option<String>,
    /// `exclude-newer`: files uploaded after it are ignored.
    pub exclude_newer: Option<Timestamp>,
    /// `[apt]`: where Debian packages are locked from.
    pub apt: super::AptConfig,
    /// The `[[image]]` tables, in file order.
    pub images: Vec<ImageConfig>,
    /// The file's text as read, so commands that edit the file (`--apply-fixes`) can keep its comments
    /// and layout: see [`Config::document`].
    pub source: String,
}

impl Config {
    /// The file as an editable document that keeps comments and formatting; write it back with
    /// `to_string()`.
    ///
    /// # Errors
    ///
    /// Only when `source` was changed after loading and is no longer TOML.
    pub fn document(&self) -> Result<DocumentMut, ConfigError> {
        self.source
            .parse::<DocumentMut>()
            .map_err(|error| super::validate::syntax_error(&self.path, &self.source, &error))
    }

    /// The images named in `names`, in file order; every image when `names` is empty.
    ///
    /// # Errors
    ///
    /// [`ConfigError::UnknownImage`] for the first name the config does not have.
    pub fn select_images(&self, names: &[String]) -> Result<Vec<&ImageConfig>, ConfigError> {
        let known: Vec<String> = self.images.iter().map(|i| i.name.clone()).collect();
        if let Some(name) = names.iter().find(|name| !known.contains(name)) {
            return Err(ConfigError::UnknownImage {
                name: name.clone(),
                path: self.path.clone(),
                known,
            });
        }
        Ok(self
            .images
            .iter()
            .filter(|image| names.is_empty() || names.contains(&image.name))
            .collect())
    }

    /// The index URL in effect: the command line's, else the config's, else PyPI; without a trailing
    /// slash, as the input hash records it.
    pub fn effective_index_url(&self, flag: Option<&str>) -> String {
        flag.or(self.index_url.as_deref())
            .unwrap_or(super::DEFAULT_INDEX_URL)
            .trim_end_matches('/')
            .to_string()
    }
}

/// One `[[image]]` table.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// Unique among the file's images; names lock folders and registry tags.
    pub name: String,
    pub python_version: PythonVersion,
    /// At least one, each OCI platform at most once, in file order.
    pub platforms: Vec<PlatformConfig>,
    /// Requirements input, relative to [`Config::root`] (`.` components dropped).
    pub requirements: PathBuf,
    /// Output folder for the lock files, relative to [`Config::root`] and inside it.
    pub output: PathBuf,
    /// Packages whose sdist may be used when no wheel fits (the Dockerfile builds them in its first
    /// stage; by default none). Normalised, sorted, without duplicates.
    pub allow_sdist: Vec<PackageName>,
    /// `allow-sdist = true`: every package's sdist may be used.
    pub allow_all_sdists: bool,
    /// Registry repository the image is published to (`ghcr.io/org/fave-base`), if set.
    pub registry: Option<String>,
    /// `registry-insecure`: the registry may be spoken to over plain http (a private registry without
    /// TLS). Loopback registries always may. Not part of the input hash.
    pub registry_insecure: bool,
    /// How the image is built and published (`base-image`, `tags`, `apt-packages`, `labels`): input
    /// of the build plan only, so not part of [`ImageConfig::canonical`].
    pub build: super::BuildConfig,
    /// 1-based line of the `[[image]]` header, for messages.
    pub line: usize,
    /// The image's table re-serialised canonically (keys sorted, values normalised, no comments), with
    /// the effective `index-url` and `exclude-newer`, for the input hash: a comment-only edit keeps it.
    pub canonical: String,
}

/// One target platform of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// OCI platform name (`linux/amd64`).
    pub oci: String,
    pub platform: Platform,
}
