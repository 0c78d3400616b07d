//! Why a requirements file could not be read. Every variant below the top-level [`RequirementsError::Io`]
//! names the file and line to fix.

use std::path::PathBuf;

use super::Location;
use super::source::FileError;

/// A requirements file that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// The file given on the command line or in `fave-lock.toml` cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: FileError,
    },
    /// A line that is not a valid requirement or option; `message` says what is wrong and how to fix it.
    #[error("{location}: {message}")]
    Syntax { location: Location, message: String },
    /// A file named by `-r` or `-c` cannot be read; `location` is the line that names it.
    #[error("{location}: cannot read included file `{}`", path.display())]
    Include {
        location: Location,
        /// The included file, joined to the including file's folder.
        path: PathBuf,
        #[source]
        source: FileError,
    },
    /// Bytes that are not text in the file's encoding; `location` is the line of the first bad byte.
    #[error("{location}: {message}")]
    Encoding { location: Location, message: String },
    /// Includes nested deeper than the limit (each level may be a different file, so no cycle shows).
    #[error(
        "{location}: includes nest more than {limit} deep: {}; flatten some of these `-r`/`-c` lines",
        chain.iter().map(|path| format!("`{}`", path.display())).collect::<Vec<_>>().join(" -> ")
    )]
    IncludeDepth {
        location: Location,
        limit: usize,
        /// The files from the top-level one down to the one the line would include.
        chain: Vec<PathBuf>,
    },
    /// An `-i` line names another index than the one fave-lock resolves from.
    #[error(
        "{location}: `-i {url}` is not the index fave-lock resolves from (`{configured}`, from \
         `index-url` in fave-lock.toml, `--index-url` or FAVE_LOCK_INDEX_URL); fave-lock uses exactly one \
         index: remove the line or point the setting at that index"
    )]
    OtherIndex {
        location: Location,
        url: String,
        configured: String,
    },
    /// A file includes itself, directly or through other files: reading would never end.
    #[error(
        "{location}: include cycle: {}; remove one of these `-r`/`-c` lines",
        chain.iter().map(|path| format!("`{}`", path.display())).collect::<Vec<_>>().join(" -> ")
    )]
    IncludeCycle {
        /// The `-r`/`-c` line that closes the cycle.
        location: Location,
        /// The files from the first one in the cycle back to itself.
        chain: Vec<PathBuf>,
    },
}
