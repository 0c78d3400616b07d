//! Requirements input in pip's syntax: names, specifiers, extras, markers, comments, `-r`/`-c` includes
//! and `\` line continuations. Every requirement keeps the file and line it came from, so that errors
//! and the diagnosis report can point at it.
//!
//! The syntax follows pip-tools' `requirements.in`; what pip accepts but a lock for one index and one
//! image target cannot honour (editables, direct URLs, extra indexes) is rejected with the fix.

mod entry;
mod error;
mod input;
mod lines;
pub mod pep508;
mod reader;
mod source;
#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::RequirementsError;
pub use input::{InputRequirement, InputWarning, Location, OnlyBinary, RequirementsInput};
pub use source::{FileError, MAX_FILE_SIZE, read_regular_file};

/// Read `path` and every file it includes.
///
/// # Errors
///
/// The first problem found: an unreadable file, an include cycle, or a line that is not a valid
/// requirement or supported option.
pub fn read(path: &Path) -> Result<RequirementsInput, RequirementsError> {
    reader::Reader::read(path)
}

/// Parse `contents` as the file `path` (which need not exist); `-r`/`-c` includes are still read from
/// disk, relative to `path`'s folder.
///
/// # Errors
///
/// As [`read`], except that `path` itself is never read.
pub fn parse_str(contents: &str, path: &Path) -> Result<RequirementsInput, RequirementsError> {
    reader::Reader::parse(contents, path)
}
