//! Why a `fave-lock.toml` cannot be used. Validation collects every problem it finds, so one run shows
//! the user everything to fix; each problem names its line and key.

use std::fmt;
use std::path::PathBuf;

use crate::requirements::FileError;

/// One thing wrong in the config file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigProblem {
    /// 1-based line of the offending key or value (of the table header for a missing key).
    pub line: usize,
    /// What is wrong, naming the key in backticks, and how to fix it.
    pub message: String,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read (missing, not a regular file, too large).
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: FileError,
    },
    /// Bad TOML or bad values. `line` and `message` are the first problem; `more` holds the others,
    /// so a single run reports everything to fix. [`Display`](fmt::Display) shows them all, one per line.
    #[error("{}:{line}: {message}{}", path.display(), More { path, more })]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
        /// The problems after the first, in line order.
        more: Vec<ConfigProblem>,
    },
    /// A command named an image the config does not have.
    #[error("no image `{name}` in {} (images: {})", path.display(), known.join(", "))]
    UnknownImage {
        name: String,
        path: PathBuf,
        /// The config's image names, in file order.
        known: Vec<String>,
    },
}

impl ConfigError {
    /// Every problem, first one included, in line order; empty for [`ConfigError::Io`].
    #[must_use]
    pub fn problems(&self) -> Vec<ConfigProblem> {
        match self {
            ConfigError::Io { .. } | ConfigError::UnknownImage { .. } => Vec::new(),
            ConfigError::Invalid {
                line,
                message,
                more,
                ..
            } => {
                let first = ConfigProblem {
                    line: *line,
                    message: message.clone(),
                };
                std::iter::once(first).chain(more.iter().cloned()).collect()
            }
        }
    }

    /// The error for `problems` found in `path`; `None` when there are none.
    pub(super) fn from_problems(
        path: PathBuf,
        mut problems: Vec<ConfigProblem>,
    ) -> Option<ConfigError> {
        problems.sort();
        let mut problems = problems.into_iter();
        let first = problems.next()?;
        Some(ConfigError::Invalid {
            path,
            line: first.line,
            message: first.message,
            more: problems.collect(),
        })
    }
}

/// Renders the problems after the first as further `path:line: message` lines.
struct More<'a> {
    path: &'a PathBuf,
    more: &'a [ConfigProblem],
}

impl fmt::Display for More<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.more {
            write!(
                f,
                "\n{}:{}: {}",
                self.path.display(),
                problem.line,
                problem.message
            )?;
        }
        Ok(())
    }
}
