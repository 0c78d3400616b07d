//! Why a build plan cannot be made or read, and why a base image digest could not be read (which is
//! not fatal: the plan falls back to the previous digest and says so).

use std::path::PathBuf;

/// A plan that cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The outputs being written include no `requirements.txt`, whose sha256 the image is labelled with.
    #[error("the lock of `{image}` has no requirements.txt to plan a build from")]
    NoRequirementsTxt { image: String },
    /// A file the plan reads cannot be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The plan file is not a build plan (hand-edited, or from an incompatible fave-lock).
    #[error("`{}` is not a build plan: {message}; run `fave-lock resolve` to rewrite it", path.display())]
    Invalid { path: PathBuf, message: String },
    /// A lock file on disk is not the one the plan was made from: building now would stamp the image
    /// with a lock it was not built from.
    #[error(
        "`{path}` does not match the build plan `{}`: the plan has sha256 {expected}, the file has {actual}; \
         run `fave-lock resolve` to rewrite both",
        plan.display()
    )]
    LockMismatch {
        plan: PathBuf,
        path: String,
        expected: String,
        actual: String,
    },
    /// Another command tried to rewrite the file the image installs, whose sha256 is a label.
    #[error(
        "`{path}` is what the image installs: only `fave-lock resolve` rewrites it (with the plan)"
    )]
    InstalledFileRewritten { path: String },
    /// `--revision` text that cannot be a label value.
    #[error("revision `{}` is not a commit id: use letters, digits, `.`, `_` and `-`", revision.escape_debug())]
    BadRevision { revision: String },
    /// The HTTP client for the base image's registry cannot be built.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// Why the base image's digest could not be read from its registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// `--offline`: no registry was asked.
    #[error("not checked (offline)")]
    Offline,
    /// No answer: DNS, connection, TLS or timeout.
    #[error("registry `{registry}` not reachable: {message}")]
    Unreachable { registry: String, message: String },
    /// The registry wants credentials fave-lock does not have.
    #[error("registry `{registry}` refused anonymous access")]
    Unauthorized { registry: String },
    /// The tag does not exist.
    #[error("`{reference}` not found in its registry")]
    NotFound { reference: String },
    /// An answer that breaks the distribution protocol.
    #[error("registry `{registry}` answered unexpectedly: {message}")]
    Protocol { registry: String, message: String },
    /// The HTTP client cannot be built.
    #[error("cannot build the registry client: {message}")]
    Client { message: String },
}

impl DigestError {
    /// A short, stable reason for the plan file: the same on every machine that fails the same way
    /// (the full message, with OS-specific details, goes to the warnings instead).
    pub fn reason(&self) -> String {
        match self {
            DigestError::Offline => "not checked (offline)".to_string(),
            DigestError::Unreachable { registry, .. } => {
                format!("registry `{registry}` not reachable")
            }
            DigestError::Unauthorized { registry } => {
                format!("registry `{registry}` refused anonymous access")
            }
            DigestError::NotFound { reference } => format!("`{reference}` not found"),
            DigestError::Protocol { registry, .. } => {
                format!("registry `{registry}` answered unexpectedly")
            }
            DigestError::Client { .. } => "registry client unavailable".to_string(),
        }
    }
}
