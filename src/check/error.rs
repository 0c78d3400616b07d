//! Why a check cannot run (exit 2, never "stale"): the inputs or the lock cannot be read, or the index or
//! the registry cannot be asked. What a check finds is a [`Finding`](super::Finding), not an error.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::index::IndexError;
use crate::lock::LockReadError;
use crate::registry::RegistryError;
use crate::requirements::RequirementsError;

/// Why a check cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The config, or the images asked for, cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The requirements input cannot be read or parsed.
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    /// A lock file exists but cannot be read.
    #[error(transparent)]
    Lock(#[from] LockReadError),
    /// A local file cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `build-plan.json` is not a build plan.
    #[error("`{}` is not a build plan", path.display())]
    Plan {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A project's page or a locked file's metadata cannot be read from the index.
    #[error("reading the index: project `{project}`")]
    Index {
        project: String,
        #[source]
        source: Box<IndexError>,
    },
    /// The registry cannot be asked about the base image or the published image.
    #[error("reading the registry: `{reference}`")]
    Registry {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    /// A reference in the build plan is not one the registry client can ask about.
    #[error("`{reference}` in the build plan: {message}")]
    PlanReference { reference: String, message: String },
    /// The apt lock cannot be read, or the Debian archive cannot be asked.
    #[error("the Debian packages of `{image}`")]
    Apt {
        image: String,
        #[source]
        source: Box<crate::apt::AptError>,
    },
    /// One image's check failed; the cause says why.
    #[error("checking image `{image}`")]
    Image {
        image: String,
        #[source]
        source: Box<CheckError>,
    },
}

impl CheckError {
    /// Whether the index or a registry could not be reached or answered wrongly (the server answers
    /// 502), rather than something local being wrong.
    pub fn is_remote(&self) -> bool {
        match self {
            CheckError::Index { .. } | CheckError::Registry { .. } => true,
            CheckError::Apt { source, .. } => !matches!(
                **source,
                crate::apt::AptError::BadLock { .. } | crate::apt::AptError::Cache { .. }
            ),
            CheckError::Image { source, .. } => source.is_remote(),
            _ => false,
        }
    }

    /// Whether the Debian archive served data its signed release does not vouch for (exit 3).
    pub fn is_integrity(&self) -> bool {
        match self {
            CheckError::Apt { source, .. } => source.is_integrity(),
            CheckError::Image { source, .. } => source.is_integrity(),
            _ => false,
        }
    }

    pub(super) fn io(path: &std::path::Path, source: std::io::Error) -> CheckError {
        CheckError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
