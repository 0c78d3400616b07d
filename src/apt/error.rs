//! Why the Debian packages of an image cannot be locked. Signature and hash failures are integrity
//! errors (exit 3): the archive, a mirror or the cache served data its signed release does not vouch
//! for, and nothing may be locked from it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AptError {
    /// gpgv refused the InRelease file.
    #[error("the signature of `{url}` does not verify with the Debian archive keyring: {message}")]
    Signature { url: String, message: String },
    /// gpgv or the keyring is missing, or cannot be run.
    #[error("cannot verify the Debian archive's signature: {message}")]
    Gpgv { message: String },
    /// A freshly fetched release past its `Valid-Until`: a mirror serving an old signed release.
    #[error(
        "`{url}` expired at {valid_until} (its Valid-Until): the mirror serves an old release, which would hide security updates; use an up-to-date mirror, or for a snapshot archive set `check-valid-until = false` in [apt]"
    )]
    Expired { url: String, valid_until: String },
    /// A verified release without a usable `SHA256` list.
    #[error("`{url}` is not a usable release file: {message}")]
    BadRelease { url: String, message: String },
    /// The signed release does not list an index fave-lock needs.
    #[error("the signed release of `{suite}` lists no `{path}`")]
    NotInRelease { suite: String, path: String },
    /// Downloaded (or cached) bytes that are not what the signed release says.
    #[error(
        "`{url}` has sha256 {actual} ({actual_size} bytes), the signed release says {expected} ({expected_size} bytes)"
    )]
    HashMismatch {
        url: String,
        expected: String,
        expected_size: u64,
        actual: String,
        actual_size: u64,
    },
    /// No answer, or an HTTP error status.
    #[error("cannot fetch `{url}`: {message}")]
    Fetch { url: String, message: String },
    /// `--offline` and the cache has no copy.
    #[error("`{url}` is not in the cache (offline); run once without --offline")]
    NotCached { url: String },
    /// An index that does not decompress or parse.
    #[error("`{url}` cannot be read: {message}")]
    BadIndex { url: String, message: String },
    #[error("cannot use the cache file `{}`", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The requested packages cannot be installed from the archive.
    #[error("the Debian packages cannot be resolved for {arch}: {message}")]
    Unresolvable { arch: String, message: String },
    /// A downloaded `.deb` whose bytes are not the ones its lock names.
    #[error(
        "`{url}` has sha256 {actual} ({actual_size} bytes), apt.lock says {expected} ({expected_size} bytes)"
    )]
    DebMismatch {
        url: String,
        expected: String,
        expected_size: u64,
        actual: String,
        actual_size: u64,
    },
    /// A `.deb` (with the right hash) whose copyright file cannot be read.
    #[error("cannot read the copyright file in `{url}`: {source}")]
    BadDeb {
        url: String,
        #[source]
        source: super::copyright::DebError,
    },
    /// An `apt.lock` that cannot be read.
    #[error("`{}` is not an apt lock: {message}; run `fave-lock resolve` to rewrite it", path.display())]
    BadLock { path: PathBuf, message: String },
}

impl AptError {
    /// Whether this is an integrity failure (exit 3) rather than a network, config or IO one (exit 2).
    pub fn is_integrity(&self) -> bool {
        matches!(
            self,
            AptError::Signature { .. }
                | AptError::Expired { .. }
                | AptError::HashMismatch { .. }
                | AptError::DebMismatch { .. }
                | AptError::NotInRelease { .. }
        )
    }
}
