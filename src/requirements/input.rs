//! What reading a requirements file produces: requirements and constraints, each with the place it was
//! written, plus the list of files read.

use std::fmt;
use std::path::PathBuf;

use pep508_rs::{PackageName, Requirement};

use super::RequirementsError;

/// Where an input requirement was written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file, as the user named it (relative paths stay relative).
    pub path: PathBuf,
    /// 1-based line of the requirement's first physical line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One requirement line and where it came from.
#[derive(Debug, Clone)]
pub struct InputRequirement {
    /// The parsed PEP 508 requirement; never a direct URL (those are rejected while reading).
    pub requirement: Requirement,
    /// Where it was written, so that errors and the diagnosis report can point at it.
    pub location: Location,
    /// The requirement as written (continuations joined, comment stripped), for reports and rewrites.
    pub text: String,
    /// `--hash` values on the line, lower-case hex SHA-256: when any are given, only files with one of
    /// these hashes may be chosen for the package (pip's hash-checking mode).
    pub hashes: Vec<String>,
}

/// Something read that does not stop the lock but that the user should know: an option accepted
/// although it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputWarning {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for InputWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Packages that `--only-binary` keeps from using an sdist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OnlyBinary {
    /// No `--only-binary` line (or only `:none:`).
    #[default]
    None,
    /// `--only-binary :all:`.
    All,
    /// `--only-binary name,...`, names normalized.
    Packages(Vec<PackageName>),
}

/// Everything read from a requirements file and the files it includes.
#[derive(Debug, Clone, Default)]
pub struct RequirementsInput {
    /// Requirements to install (`name`, `-r` included files). The same package may appear more than
    /// once: like pip, the resolver intersects the entries, and keeping each one lets a report name
    /// every line that constrains it.
    pub requirements: Vec<InputRequirement>,
    /// Constraints (`-c` files): restrict versions, never add packages.
    pub constraints: Vec<InputRequirement>,
    /// Every file read, in the order first read, each once, for the input hash.
    pub files: Vec<PathBuf>,
    /// `-i`/`--index-url` given in the file, if any, and the line that gives it.
    pub index_url: Option<String>,
    pub index_url_location: Option<Location>,
    /// `--pre`: pre-releases may be chosen like final releases, for every package.
    pub prereleases: bool,
    /// `--only-binary`: packages that may not use an sdist even where the config allows one.
    pub only_binary: OnlyBinary,
    /// Options accepted with a warning, each naming its line.
    pub warnings: Vec<InputWarning>,
}

impl RequirementsInput {
    /// Check that an `-i` in the input names `configured`, the one index fave-lock resolves from; a
    /// trailing `/` does not count.
    ///
    /// # Errors
    ///
    /// [`RequirementsError::OtherIndex`] at the `-i` line.
    pub fn check_index_url(&self, configured: &str) -> Result<(), RequirementsError> {
        let (Some(url), Some(location)) = (&self.index_url, &self.index_url_location) else {
            return Ok(());
        };
        if same_index(url, configured) {
            return Ok(());
        }
        Err(RequirementsError::OtherIndex {
            location: location.clone(),
            url: url.clone(),
            configured: configured.to_string(),
        })
    }
}

/// Whether two index URLs name the same index: equal without a trailing slash, or PyPI under its old
/// host (`pypi.python.org/simple`, which PyPI redirects to `pypi.org/simple`, as old files still say).
fn same_index(a: &str, b: &str) -> bool {
    let canonical = |url: &str| {
        let url = url.trim_end_matches('/');
        let url = url.strip_prefix("http://").map_or(url.to_string(), |rest| {
            // Only PyPI's old host is taken as https: another index over http stays another index.
            if rest.starts_with("pypi.python.org/") {
                format!("https://{rest}")
            } else {
                url.to_string()
            }
        });
        url.replacen("https://pypi.python.org/", "https://pypi.org/", 1)
    };
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod index_tests {
    use super::same_index;

    #[test]
    fn pypi_under_its_old_host_is_pypi() {
        assert!(same_index(
            "https://pypi.python.org/simple",
            "https://pypi.org/simple/"
        ));
        assert!(same_index(
            "http://pypi.python.org/simple/",
            "https://pypi.org/simple"
        ));
        assert!(same_index(
            "https://pypi.org/simple/",
            "https://pypi.org/simple"
        ));
        assert!(!same_index(
            "https://pypi.python.org/pypi",
            "https://pypi.org/simple"
        ));
        assert!(!same_index(
            "https://test.pypi.org/simple",
            "https://pypi.org/simple"
        ));
        assert!(!same_index(
            "http://mirror.local/simple",
            "https://pypi.org/simple"
        ));
    }
}
