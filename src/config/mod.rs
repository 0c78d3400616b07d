//! `fave-lock.toml`: the index, the `exclude-newer` cutoff and the images to lock.
//!
//! Read with `toml_edit` so that commands which rewrite the file (`--apply-fixes`) keep its comments and
//! layout; every error names the file, line and key. Reading has two phases: `toml_edit`'s span-keeping
//! [`toml_edit::Document`] is the raw form, and [`validate`] turns it into a [`Config`], collecting
//! every problem before it fails.

mod build;
mod canonical;
mod checker;
mod error;
mod image;
mod keys;
mod model;
mod platforms;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use std::path::Path;

pub use build::{BuildConfig, RESERVED_LABEL_PREFIXES};
pub use error::{ConfigError, ConfigProblem};
pub use model::{Config, ImageConfig, PlatformConfig};

/// The default index: PyPI's simple API.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// Read and validate `path`.
///
/// # Errors
///
/// [`ConfigError::Io`] when the file cannot be read, [`ConfigError::Invalid`] listing every problem
/// otherwise.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(&source, path)
}

/// Validate `contents` as the text of `path`, which need not exist (for tests, and for text already
/// in memory).
///
/// # Errors
///
/// [`ConfigError::Invalid`] listing every problem found.
pub fn load_str(contents: &str, path: &Path) -> Result<Config, ConfigError> {
    validate::validate(contents, path)
}
