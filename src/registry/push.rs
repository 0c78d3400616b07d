//! Writing to a repository: blobs (monolithic upload: `POST` then `PUT ?digest=`, skipped when the
//! blob is already there) and manifests (`PUT`), each checked against the digest the registry reports.
//! Used by `fave-lock attach`; everything else in this module only reads.

use reqwest::{Method, Url};

use super::client::{RegistryClient, header_digest, join};
use super::digest::{Digest, shorten};
use super::error::{RegistryError, RegistryErrorKind};
use super::reference::{Reference, Repository};
use super::stats::RequestKind;
use super::transport::Request;

/// The answers to a push carry no body worth reading.
const PUSH_ANSWER_LIMIT: usize = 64 * 1024;

/// What the registry said to a manifest `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The `OCI-Subject` header: the registry read the manifest's `subject` and lists it in its
    /// referrers API itself (OCI distribution 1.1).
    pub subject: Option<String>,
}

impl RegistryClient {
    /// Upload `bytes` as a blob of `repository`, unless it is already there; its digest.
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`]; [`RegistryError::Invalid`] when the registry names another digest or
    /// gives no upload location.
    pub async fn push_blob(
        &self,
        repository: &Repository,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256_of(bytes);
        let base = self.transport().repository_url(repository)?;
        let what = format!("{repository}@{digest}");
        let head = Request {
            method: Method::HEAD,
            ..Request::get(
                join(&base, &format!("blobs/{digest}"))?,
                None,
                RequestKind::Blob,
                PUSH_ANSWER_LIMIT,
                &what,
            )
        };
        match self.transport().request(repository, head).await {
            Ok(_) => return Ok(digest),
            Err(error) if error.kind() == RegistryErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let start = push_request(Method::POST, join(&base, "blobs/uploads/")?, None, &what);
        let started = self.transport().request(repository, start).await?;
        let location = started
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| RegistryError::Invalid {
                url: started.url.to_string(),
                message: "the upload answer has no Location".into(),
            })?;
        let mut url = started
            .url
            .join(location)
            .map_err(|error| RegistryError::Invalid {
                url: started.url.to_string(),
                message: format!("bad upload Location `{}`: {error}", shorten(location)),
            })?;
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let upload = ("application/octet-stream", bytes);
        let done = push_request(Method::PUT, url, Some(upload), &what);
        let done = self.transport().request(repository, done).await?;
        check_digest(&done.url, header_digest(&done)?, &digest)?;
        Ok(digest)
    }

    /// `PUT` `bytes` as a manifest of type `media_type` under `reference` (a tag, or its own digest).
    ///
    /// # Errors
    ///
    /// Any [`RegistryError`]; [`RegistryError::DigestMismatch`] when the registry stored other bytes.
    pub async fn push_manifest(
        &self,
        repository: &Repository,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<PushedManifest, RegistryError> {
        let digest = Digest::sha256_of(bytes);
        let base = self.transport().repository_url(repository)?;
        let url = join(&base, &format!("manifests/{reference}"))?;
        let what = format!("{repository}:{reference}");
        let put = push_request(Method::PUT, url, Some((media_type, bytes)), &what);
        let pushed = self.transport().request(repository, put).await?;
        check_digest(&pushed.url, header_digest(&pushed)?, &digest)?;
        let subject = pushed
            .headers
            .get("oci-subject")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        Ok(PushedManifest { digest, subject })
    }
}

fn push_request<'a>(
    method: Method,
    url: Url,
    upload: Option<(&'a str, &'a [u8])>,
    what: &'a str,
) -> Request<'a> {
    Request {
        method,
        upload,
        ..Request::get(url, None, RequestKind::Push, PUSH_ANSWER_LIMIT, what)
    }
}

/// A registry that reports another digest than the bytes sent stored something else.
fn check_digest(url: &Url, reported: Option<Digest>, sent: &Digest) -> Result<(), RegistryError> {
    match reported {
        Some(reported) if reported != *sent && reported.algorithm() == sent.algorithm() => {
            Err(RegistryError::DigestMismatch {
                url: url.to_string(),
                expected: sent.to_string(),
                actual: format!("{reported} (Docker-Content-Digest)"),
            })
        }
        _ => Ok(()),
    }
}
