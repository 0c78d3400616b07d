//! Requirements input in pip's syntax: names, specifiers, extras, markers, comments, `-r`/`-c` includes
//! and `\` line continuations. Every requirement keeps the file and line it came from, so that errors
//! and the diagnosis report can point at it.

use std::fmt;
use std::path::{Path, PathBuf};

use pep508_rs::Requirement;

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
    pub requirement: Requirement,
    pub location: Location,
    /// The requirement as written (continuations joined, comment stripped), for reports and rewrites.
    pub text: String,
}

/// Everything read from a requirements file and the files it includes.
#[derive(Debug, Clone, Default)]
pub struct RequirementsInput {
    /// Requirements to install (`name`, `-r` included files).
    pub requirements: Vec<InputRequirement>,
    /// Constraints (`-c` files): restrict versions, never add packages.
    pub constraints: Vec<InputRequirement>,
    /// Every file read, in order, for the input hash.
    pub files: Vec<PathBuf>,
    /// `-i`/`--index-url` given in the file, if any.
    pub index_url: Option<String>,
}

/// A requirements file that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line that is not a valid requirement or option; `message` says what is wrong and how to fix it.
    #[error("{location}: {message}")]
    Syntax { location: Location, message: String },
}

/// Read `path` and every file it includes.
pub fn read(path: &Path) -> Result<RequirementsInput, RequirementsError> {
    todo!("{}", path.display())
}
