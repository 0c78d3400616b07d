//! Why a registry request failed, and which of a few plain states (unreachable, auth, not found) that is
//! for the dashboard.

use thiserror::Error;

/// A registry operation that could not be completed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the registry client")]
    Client {
        #[source]
        source: Box<reqwest::Error>,
    },
    /// A plain-http registry that is neither on loopback nor declared insecure.
    #[error(
        "refusing plain http to `{registry}`: only loopback registries, or ones declared insecure, may use http"
    )]
    Insecure { registry: String },
    /// The connection failed or timed out (the source names the URL).
    #[error("registry `{registry}` is unreachable")]
    Unreachable {
        registry: String,
        url: String,
        #[source]
        source: Box<reqwest::Error>,
    },
    /// The registry wants credentials and none are configured.
    #[error(
        "registry `{registry}` requires authentication for `{repository}` and no credentials are configured: \
         set FAVE_LOCK_REGISTRY_USER and FAVE_LOCK_REGISTRY_PASSWORD, or log in with `docker login {registry}`"
    )]
    AuthRequired {
        registry: String,
        repository: String,
    },
    /// Credentials were sent and refused (or the token they bought was).
    #[error(
        "registry `{registry}` rejected the credentials{source_hint} for `{repository}`: {message}"
    )]
    AuthFailed {
        registry: String,
        repository: String,
        /// ` from FAVE_LOCK_REGISTRY_USER` and the like.
        source_hint: String,
        message: String,
    },
    /// 403: authenticated, but not allowed to pull.
    #[error("registry `{registry}` denied access to `{repository}`: {message}")]
    Denied {
        registry: String,
        repository: String,
        message: String,
    },
    /// 404 on a repository, tag or digest.
    #[error("`{what}` not found in registry `{registry}`: {message}")]
    NotFound {
        registry: String,
        what: String,
        message: String,
    },
    /// Any other unexpected status.
    #[error("registry `{registry}` answered {status} for {url}: {message}")]
    Status {
        registry: String,
        url: String,
        status: u16,
        message: String,
    },
    /// The body was larger than fave-lock reads for that kind of object.
    #[error("{url} sent more than {limit} bytes; refusing to read further")]
    TooLarge { url: String, limit: usize },
    /// The body does not hash to the digest it was asked for or announced.
    #[error("digest mismatch for {url}: expected `{expected}`, the body hashes to `{actual}`")]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    /// A well-formed exchange whose content fave-lock cannot use: bad JSON, schema 1, a bad digest or
    /// Link header, an unusable token challenge.
    #[error("invalid answer from {url}: {message}")]
    Invalid { url: String, message: String },
}

/// The coarse state a failure puts a repository in, as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistryErrorKind {
    /// Nothing answered (or http was refused): maybe the registry is down, maybe the network.
    Unreachable,
    /// Credentials are missing, rejected or insufficient.
    AuthFailed,
    /// The repository or reference does not exist.
    NotFound,
    /// The registry answered something unexpected.
    Error,
}

impl RegistryError {
    /// Which plain state this failure is.
    pub fn kind(&self) -> RegistryErrorKind {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::Insecure { .. } => {
                RegistryErrorKind::Unreachable
            }
            RegistryError::AuthRequired { .. }
            | RegistryError::AuthFailed { .. }
            | RegistryError::Denied { .. } => RegistryErrorKind::AuthFailed,
            RegistryError::NotFound { .. } => RegistryErrorKind::NotFound,
            RegistryError::Client { .. }
            | RegistryError::Status { .. }
            | RegistryError::TooLarge { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::Invalid { .. } => RegistryErrorKind::Error,
        }
    }

    /// The message with its causes, on one line (reqwest's own message alone says little).
    pub fn full_message(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
