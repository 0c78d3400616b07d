//! `fave-lock.toml`: the index, the `exclude-newer` cutoff and the images to lock.
//!
//! Read with `toml_edit` so that commands which rewrite the file (`--apply-fixes`) keep its comments and
//! layout; every error names the file, line and key.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use pep508_rs::PackageName;

use crate::tags::{Platform, PythonVersion};

/// The default index: PyPI's simple API.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// A validated `fave-lock.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Folder that relative paths in the file are relative to (the file's folder).
    pub root: PathBuf,
    /// `index-url`, if set.
    pub index_url: Option<String>,
    /// `exclude-newer`: files uploaded after it are ignored.
    pub exclude_newer: Option<Timestamp>,
    pub images: Vec<ImageConfig>,
}

/// One `[[image]]` table.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub name: String,
    pub python_version: PythonVersion,
    pub platforms: Vec<PlatformConfig>,
    /// Requirements input, relative to [`Config::root`].
    pub requirements: PathBuf,
    /// Output folder for the lock files, relative to [`Config::root`].
    pub output: PathBuf,
    /// Packages whose sdist may be used when no wheel fits (the image installs with
    /// `--only-binary=:all:`, so by default none).
    pub allow_sdist: Vec<PackageName>,
    /// Registry repository the image is published to (`ghcr.io/org/fave-base`), if set.
    pub registry: Option<String>,
    /// 1-based line of the `[[image]]` header, for messages.
    pub line: usize,
    /// The image's table re-serialised canonically (keys sorted, no comments), for the input hash.
    pub canonical: String,
}

/// One target platform of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// OCI platform name (`linux/amd64`).
    pub oci: String,
    pub platform: Platform,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad TOML or a bad value: `message` names the key and says how to fix it.
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Read and validate `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    todo!("{}", path.display())
}
