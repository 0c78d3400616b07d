//! `fave-lock.toml`: the index, the `exclude-newer` cutoff and the images to lock.
//!
//! Read with `toml_edit`, whose spans let every error name the file, line and key, and whose document
//! keeps comments and layout should a command rewrite the file ([`Config::document`]). None does yet:
//! `--apply-fixes` edits the requirements inputs, and prints the config a fix needs (a second image)
//! for the user to add. Reading has two phases: `toml_edit`'s span-keeping
//! [`toml_edit::Document`] is the raw form, and [`validate`] turns it into a [`Config`], collecting
//! every problem before it fails.

mod apt;
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

use crate::requirements::read_regular_file;
pub use apt::AptConfig;
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
    // A regular file under the size cap only: `--config /dev/zero` must fail, not read forever.
    let bytes = read_regular_file(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(source) => load_str(&source, path),
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: valid.iter().filter(|&&byte| byte == b'\n').count() + 1,
                message: "the file is not UTF-8, which TOML requires; save it as UTF-8".to_string(),
                more: Vec::new(),
            })
        }
    }
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
