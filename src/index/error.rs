//! The index client's one error type. Expected absences (a project the index does not have, a wheel
//! without a `.metadata` file) are values elsewhere; these are the failures a run cannot get past.

use std::path::PathBuf;

/// Errors talking to the index. An expected absence (a project that does not exist) is a
/// [`ProjectResponse::NotFound`](super::ProjectResponse::NotFound), not an error.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The request could not be completed (connection refused or reset, timeout, TLS), even after
    /// retrying the transient failures.
    #[error("request to `{url}` failed after {retries} retries")]
    Request {
        url: String,
        retries: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server answered with a status that means "no" (a 4xx other than the expected 404s), or kept
    /// answering 5xx/429 through every retry.
    #[error("`{url}` answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// The index answered a project page request with status 200 and something that is no project
    /// page: a proxy's or CDN's error page, a login portal. Kept apart from "no releases", which would
    /// send the user looking in the wrong place.
    #[error("the index answered an error page for `{name}` (`{url}`): \"{snippet}\"")]
    ErrorPage {
        name: String,
        url: String,
        /// The start of the page's text, to recognise it by.
        snippet: String,
    },
    /// The answer arrived but is not a page, zip or metadata file fave-lock can read.
    #[error("`{url}` sent a response fave-lock cannot read: {message}")]
    Malformed { url: String, message: String },
    /// A downloaded file's SHA-256 differs from the one the index listed: the file changed after the
    /// page was fetched, or something between us and the index altered it.
    #[error("`{url}` has sha256 {actual}, but the index lists {expected}")]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    /// `--offline` and nothing cached to answer from.
    #[error(
        "`{what}` is not in the cache and --offline forbids fetching it; run once without --offline"
    )]
    Offline { what: String },
    /// Reading or writing the disk cache failed for a reason other than a missing or corrupt entry
    /// (those are misses).
    #[error("cache error at `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An sdist's metadata could not be had (its download, its archive, its PEP 517 build).
    #[error(transparent)]
    Sdist(Box<crate::sdist::SdistError>),
    /// An environment variable that sets a deadline of the HTTP client holds something unusable.
    #[error("{variable}={value:?}: expected {expected}")]
    Setting {
        variable: String,
        value: String,
        expected: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client")]
    Client {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl IndexError {
    /// A [`IndexError::Malformed`] for `url`.
    pub(crate) fn malformed(url: impl Into<String>, message: impl Into<String>) -> IndexError {
        IndexError::Malformed {
            url: url.into(),
            message: message.into(),
        }
    }
}
