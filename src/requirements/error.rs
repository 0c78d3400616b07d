//! Why a requirements file could not be read. Every variant below the top-level [`RequirementsError::Io`]
//! names the file and line to fix.

use std::path::PathBuf;

use super::Location;

/// A requirements file that cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// The file given on the command line or in `fave-lock.toml` cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
        source: std::io::Error,
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
