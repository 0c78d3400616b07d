//! Read the digest a base image tag points to from its registry: one `HEAD` of the manifest, with the
//! anonymous bearer-token dance registries like Docker Hub and ghcr.io require.
//!
//! Minimal on purpose: `src/registry/` (the dashboard's OCI client) does this and much more; once it is
//! in the library, [`RegistryDigests`] should become a thin [`DigestSource`] over it. Until then this
//! file follows the same rules: the full `Accept` list (without an OCI type, a registry answers 404 for
//! an OCI manifest, and with none at all Docker's registry converts a v2 manifest to schema 1 and
//! reports a different digest), plain http only for loopback registries, and the digest taken from
//! `Docker-Content-Digest` only after checking its form.

use std::future::Future;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use sha2::{Digest as _, Sha256};

use super::error::DigestError;

/// Every manifest type a tag may point to, most specific first.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Docker Hub: the name images use, and the host its API answers on.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Give up on a registry that does not accept a connection in this time; the plan then falls back
/// to the previous digest, so waiting longer only delays `resolve`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Give up on a whole request after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// A manifest body larger than this is not a manifest (used only when a registry omits the digest header).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// A base image reference split the way the registry API needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseReference {
    /// As written in the config (`python:3.11-slim`).
    pub written: String,
    /// Registry as images name it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/python`).
    pub repository: String,
    /// Tag (`3.11-slim`; `latest` when none is written).
    pub tag: String,
}

impl BaseReference {
    /// Split `[host[:port]/]path[:tag]` with Docker's rules: the first component is a host only when it
    /// has a `.` or `:` or is `localhost`; Docker Hub's one-part names live under `library/`.
    ///
    /// # Errors
    ///
    /// A message when the text has a digest or an empty part.
    pub fn parse(text: &str) -> Result<BaseReference, String> {
        if text.contains('@') || text.is_empty() {
            return Err(format!("`{text}` is not a tag reference"));
        }
        let (registry, rest) = match text.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest)
            }
            _ => (DOCKER_HUB.to_string(), text),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') => (path, tag),
            _ => (rest, "latest"),
        };
        if path.is_empty() || tag.is_empty() || path.split('/').any(str::is_empty) {
            return Err(format!("`{text}` is not an image reference"));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        Ok(BaseReference {
            written: text.to_string(),
            registry,
            repository,
            tag: tag.to_string(),
        })
    }

    /// The fully qualified name, as the `org.opencontainers.image.base.name` annotation wants it
    /// (`docker.io/library/python:3.11-slim`).
    pub fn full_name(&self) -> String {
        format!("{}/{}:{}", self.registry, self.repository, self.tag)
    }

    /// Host and port requests go to.
    pub fn api_authority(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine, and so may be spoken to over plain http.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => self.registry.split(':').next().unwrap_or(&self.registry),
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    }

    fn manifest_url(&self) -> Result<Url, DigestError> {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        let text = format!(
            "{scheme}://{}/v2/{}/manifests/{}",
            self.api_authority(),
            self.repository,
            self.tag
        );
        Url::parse(&text).map_err(|error| DigestError::Protocol {
            registry: self.registry.clone(),
            message: format!("bad manifest URL `{text}`: {error}"),
        })
    }
}

/// Where base image digests come from: the registry, or a stand-in in tests and offline runs.
pub trait DigestSource {
    /// The `sha256:…` digest `reference`'s tag points to now.
    fn manifest_digest(
        &self,
        reference: &BaseReference,
    ) -> impl Future<Output = Result<String, DigestError>> + Send;
}

/// The source for `--offline` runs: asks nobody.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl DigestSource for Offline {
    async fn manifest_digest(&self, _reference: &BaseReference) -> Result<String, DigestError> {
        Err(DigestError::Offline)
    }
}

/// Asks the reference's registry over HTTP(S).
#[derive(Debug, Clone)]
pub struct RegistryDigests {
    client: reqwest::Client,
}

impl RegistryDigests {
    /// A client with short timeouts: an unreachable registry must not hold up `resolve`.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new() -> Result<RegistryDigests, DigestError> {
        // reqwest is built with `rustls-no-provider`; a second install is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("fave-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| DigestError::Client {
                message: error.to_string(),
            })?;
        Ok(RegistryDigests { client })
    }

    async fn head(
        &self,
        reference: &BaseReference,
        url: &Url,
        token: Option<&str>,
    ) -> Result<reqwest::Response, DigestError> {
        let mut request = self
            .client
            .head(url.clone())
            .header(ACCEPT, ACCEPT_MANIFESTS);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request
            .send()
            .await
            .map_err(|error| unreachable(reference, &error))
    }

    /// Fetch an anonymous pull token from the realm a `401` challenge names.
    async fn token(
        &self,
        reference: &BaseReference,
        challenge: &str,
    ) -> Result<String, DigestError> {
        let unauthorized = || DigestError::Unauthorized {
            registry: reference.registry.clone(),
        };
        let params = bearer_params(challenge).ok_or_else(unauthorized)?;
        let realm = params
            .iter()
            .find(|(key, _)| key == "realm")
            .and_then(|(_, realm)| Url::parse(realm).ok())
            .filter(|realm| realm.scheme() == "https" || reference.is_loopback())
            .ok_or_else(unauthorized)?;
        let mut url = realm;
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in params
                .iter()
                .filter(|(key, _)| key == "service" || key == "scope")
            {
                query.append_pair(key, value);
            }
            if !params.iter().any(|(key, _)| key == "scope") {
                query.append_pair(
                    "scope",
                    &format!("repository:{}:pull", reference.repository),
                );
            }
        }
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|error| unreachable(reference, &error))?;
        if !response.status().is_success() {
            return Err(unauthorized());
        }
        let body = read_capped(reference, response).await?;
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| unauthorized())?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(unauthorized)
    }

    /// `GET` the manifest and hash it, for a registry whose `HEAD` answer carries no digest.
    async fn digest_of_body(
        &self,
        reference: &BaseReference,
        url: &Url,
        token: Option<&str>,
    ) -> Result<String, DigestError> {
        let mut request = self
            .client
            .get(url.clone())
            .header(ACCEPT, ACCEPT_MANIFESTS);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request
            .send()
            .await
            .map_err(|error| unreachable(reference, &error))?;
        let response = check_status(reference, response)?;
        let body = read_capped(reference, response).await?;
        Ok(format!("sha256:{}", hex::encode(Sha256::digest(&body))))
    }
}

impl DigestSource for RegistryDigests {
    async fn manifest_digest(&self, reference: &BaseReference) -> Result<String, DigestError> {
        let url = reference.manifest_url()?;
        let mut token = None;
        let mut response = self.head(reference, &url, None).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string();
            token = Some(self.token(reference, &challenge).await?);
            response = self.head(reference, &url, token.as_deref()).await?;
        }
        let response = check_status(reference, response)?;
        let header = response
            .headers()
            .get("docker-content-digest")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        match header {
            Some(digest) if is_sha256_digest(&digest) => Ok(digest),
            Some(digest) => Err(DigestError::Protocol {
                registry: reference.registry.clone(),
                message: format!(
                    "`Docker-Content-Digest: {}` is not a sha256 digest",
                    digest.escape_debug()
                ),
            }),
            None => self.digest_of_body(reference, &url, token.as_deref()).await,
        }
    }
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

fn unreachable(reference: &BaseReference, error: &reqwest::Error) -> DigestError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    DigestError::Unreachable {
        registry: reference.api_authority().to_string(),
        message,
    }
}

fn check_status(
    reference: &BaseReference,
    response: reqwest::Response,
) -> Result<reqwest::Response, DigestError> {
    match response.status() {
        status if status.is_success() => Ok(response),
        StatusCode::NOT_FOUND => Err(DigestError::NotFound {
            reference: reference.written.clone(),
        }),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(DigestError::Unauthorized {
            registry: reference.registry.clone(),
        }),
        status => Err(DigestError::Protocol {
            registry: reference.registry.clone(),
            message: format!("the manifest request answered {status}"),
        }),
    }
}

async fn read_capped(
    reference: &BaseReference,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, DigestError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| unreachable(reference, &error))?
    {
        if body.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(DigestError::Protocol {
                registry: reference.registry.clone(),
                message: format!("an answer larger than {MAX_MANIFEST_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `key="value"` pairs of a `Bearer` challenge (RFC 6750 §3); `None` for another scheme.
fn bearer_params(challenge: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.push((key.trim().to_ascii_lowercase(), value.to_string()));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_docker_rules() {
        let hub = BaseReference::parse("python:3.11-slim").unwrap();
        assert_eq!(
            (
                hub.registry.as_str(),
                hub.repository.as_str(),
                hub.tag.as_str()
            ),
            ("docker.io", "library/python", "3.11-slim")
        );
        assert_eq!(hub.full_name(), "docker.io/library/python:3.11-slim");
        assert_eq!(hub.api_authority(), "registry-1.docker.io");
        assert!(!hub.is_loopback());
        let local = BaseReference::parse("127.0.0.1:5000/fave/py").unwrap();
        assert_eq!(
            (
                local.registry.as_str(),
                local.repository.as_str(),
                local.tag.as_str()
            ),
            ("127.0.0.1:5000", "fave/py", "latest")
        );
        assert!(local.is_loopback());
        assert_eq!(
            BaseReference::parse("someone/image:1").unwrap().repository,
            "someone/image"
        );
        for bad in ["", "python@sha256:00", "ghcr.io/", "python:", "a//b"] {
            assert!(BaseReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_challenges() {
        let params = bearer_params(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#,
        )
        .unwrap();
        assert_eq!(
            params,
            [
                (
                    "realm".to_string(),
                    "https://auth.docker.io/token".to_string()
                ),
                ("service".to_string(), "registry.docker.io".to_string()),
                (
                    "scope".to_string(),
                    "repository:library/python:pull".to_string()
                ),
            ]
        );
        assert!(bearer_params(r#"Basic realm="x""#).is_none());
        assert!(bearer_params(r#"Bearer realm="unterminated"#).is_none());
        assert!(bearer_params("Bearer ").is_none());
    }

    #[test]
    fn digest_form() {
        assert!(is_sha256_digest(&format!("sha256:{}", "a".repeat(64))));
        for bad in [
            "sha256:ABC",
            "sha512:00",
            "",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert!(!is_sha256_digest(bad), "{bad}");
        }
    }
}
