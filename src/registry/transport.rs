//! The one place registry requests are sent: scheme choice (https, or http for loopback and declared
//! insecure hosts), the 401 → challenge → credentials/token → retry handshake (one token flow for
//! reads and pushes, the scope saying which), a semaphore bounding requests in flight, size-capped body
//! reads, and counters.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Semaphore;

use super::auth::{Challenge, CredentialStore, TokenResponse, parse_challenges};
use super::digest::shorten;
use super::error::RegistryError;
use super::reference::{Repository, is_loopback_host};
use super::stats::{Outcome, RegistryStats, RequestKind};

/// Give up on a connection not established after this long: an unreachable registry must not stall a
/// page for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Give up on a response that sends nothing for this long.
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Give up on any single request after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of an error body is read for its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// A token endpoint's answer is small.
const TOKEN_BODY_LIMIT: usize = 1024 * 1024;
/// Token lifetime when the endpoint does not say (the token spec's default).
const DEFAULT_TOKEN_SECONDS: u64 = 60;

/// One request to send: method, where, what to accept, what to upload, how to count it, how much body
/// to read, and what it asks for (named in a 404's message).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub accept: Option<&'a str>,
    /// `(Content-Type, bytes)` of an upload; kept whole so that it can be sent again after a 401.
    pub upload: Option<(&'a str, &'a [u8])>,
    pub kind: RequestKind,
    pub limit: usize,
    pub what: &'a str,
}

impl<'a> Request<'a> {
    /// A `GET`.
    pub fn get(
        url: Url,
        accept: Option<&'a str>,
        kind: RequestKind,
        limit: usize,
        what: &'a str,
    ) -> Request<'a> {
        Request {
            method: Method::GET,
            url,
            accept,
            upload: None,
            kind,
            limit,
            what,
        }
    }

    /// Whether the request writes to the repository, and so needs a `pull,push` token.
    fn is_push(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// An answer with a 2xx status and its (size-capped) body.
pub(crate) struct Fetched {
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// An `Authorization` value reused for one registry and scope until it expires.
#[derive(Clone)]
struct CachedAuth {
    header: String,
    expires: Option<Instant>,
}

/// Shared HTTP machinery of a [`super::RegistryClient`].
pub(crate) struct Transport {
    client: reqwest::Client,
    permits: Semaphore,
    credentials: CredentialStore,
    /// `registry|scope` → authorization.
    auth: Mutex<HashMap<String, CachedAuth>>,
    /// `HOST[:PORT]`s that may be spoken to over plain http though not on loopback.
    insecure: HashSet<String>,
    pub(crate) stats: Arc<RegistryStats>,
}

/// One answer, any status, body read up to a limit.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Transport {
    pub(crate) fn new(
        concurrency: usize,
        credentials: CredentialStore,
        insecure: HashSet<String>,
        stats: Arc<RegistryStats>,
    ) -> Result<Transport, RegistryError> {
        // reqwest is built with `rustls-no-provider`: pick ring before the first client. A second call
        // finds a provider already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("fave-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(Arc::new(crate::dns::SharedResolver::system()))
            .read_timeout(READ_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(redirect_policy())
            .build()
            .map_err(|source| RegistryError::Client {
                source: Box::new(source),
            })?;
        Ok(Transport {
            client,
            permits: Semaphore::new(concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            credentials,
            auth: Mutex::new(HashMap::new()),
            insecure,
            stats,
        })
    }

    /// `http(s)://HOST[:PORT]/v2/<path>/` for `repository`.
    pub(crate) fn repository_url(&self, repository: &Repository) -> Result<Url, RegistryError> {
        let scheme = if repository.is_loopback() || self.insecure.contains(repository.registry()) {
            "http"
        } else {
            "https"
        };
        let text = format!(
            "{scheme}://{}/v2/{}/",
            repository.api_authority(),
            repository.path()
        );
        Url::parse(&text).map_err(|error| RegistryError::Invalid {
            url: text,
            message: error.to_string(),
        })
    }

    /// Send `get` to `repository`'s registry, authenticating as the registry asks (for a `pull` scope,
    /// or `pull,push` when the request writes); the body is read up to `get.limit` bytes. Non-2xx
    /// answers become errors.
    pub(crate) async fn request(
        &self,
        repository: &Repository,
        get: Request<'_>,
    ) -> Result<Fetched, RegistryError> {
        let actions = if get.is_push() { "pull,push" } else { "pull" };
        let scope = format!("repository:{}:{actions}", repository.path());
        let key = format!("{}|{scope}", repository.registry());
        let mut authorization = self.cached_auth(&key);
        let mut authenticated = false;
        loop {
            let answer = self
                .send(repository, &get, authorization.as_deref())
                .await?;
            match answer.status.as_u16() {
                200..=299 => {
                    return Ok(Fetched {
                        url: get.url,
                        headers: answer.headers,
                        body: answer.body,
                    });
                }
                401 if !authenticated => {
                    authenticated = true;
                    let header = self
                        .authenticate(repository, &scope, &answer.headers)
                        .await?;
                    self.store_auth(&key, header.clone());
                    authorization = Some(header.header);
                }
                401 => {
                    self.forget_auth(&key);
                    return Err(self.rejected(repository, &error_message(&answer)));
                }
                403 => {
                    return Err(RegistryError::Denied {
                        registry: repository.registry().to_string(),
                        repository: repository.to_string(),
                        message: error_message(&answer),
                    });
                }
                404 => {
                    return Err(RegistryError::NotFound {
                        registry: repository.registry().to_string(),
                        what: get.what.to_string(),
                        message: error_message(&answer),
                    });
                }
                status => {
                    return Err(RegistryError::Status {
                        registry: repository.registry().to_string(),
                        url: get.url.to_string(),
                        status,
                        message: error_message(&answer),
                    });
                }
            }
        }
    }

    /// One request, holding a permit until its body is read.
    async fn send(
        &self,
        repository: &Repository,
        get: &Request<'_>,
        authorization: Option<&str>,
    ) -> Result<Answer, RegistryError> {
        let (url, accept, kind, limit) = (&get.url, get.accept, get.kind, get.limit);
        self.check_scheme(url, repository.registry())?;
        // The semaphore is never closed; without a permit we would only be less polite.
        let _permit = self.permits.acquire().await.ok();
        let mut request = self.client.request(get.method.clone(), url.clone());
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some((content_type, bytes)) = get.upload {
            request = request
                .header(CONTENT_TYPE, content_type)
                .body(bytes.to_vec());
        } else if get.is_push() {
            // distribution wants a length on an empty POST.
            request = request.header(CONTENT_LENGTH, "0");
        }
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let unreachable = |source: reqwest::Error| RegistryError::Unreachable {
            registry: repository.registry().to_string(),
            url: url.to_string(),
            source: Box::new(source),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                self.stats.request(kind, Outcome::Transport);
                return Err(unreachable(error));
            }
        };
        let status = response.status();
        self.stats
            .request(kind, Outcome::of_status(status.as_u16()));
        let limit = if status.is_success() {
            limit
        } else {
            ERROR_BODY_LIMIT
        };
        let headers = response.headers().clone();
        // A HEAD's Content-Length is the size of what a GET would send, not a body to read.
        let strict = status.is_success() && get.method != Method::HEAD;
        let body = read_limited(response, limit, strict)
            .await
            .map_err(|error| match error {
                ReadError::TooLarge => RegistryError::TooLarge {
                    url: url.to_string(),
                    limit,
                },
                ReadError::Transport(source) => unreachable(source),
            })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Plain http only to loopback or declared-insecure hosts (a token realm or a redirect could name
    /// another).
    fn check_scheme(&self, url: &Url, registry: &str) -> Result<(), RegistryError> {
        if url.scheme() == "https" {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        if url.scheme() == "http" && (is_loopback_host(host) || self.insecure.contains(&authority))
        {
            return Ok(());
        }
        Err(RegistryError::Insecure {
            registry: if authority.is_empty() {
                registry.to_string()
            } else {
                authority
            },
        })
    }

    /// Answer a 401's challenge: a bearer token from the realm, or basic credentials.
    async fn authenticate(
        &self,
        repository: &Repository,
        scope: &str,
        headers: &HeaderMap,
    ) -> Result<CachedAuth, RegistryError> {
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let credentials = self.credentials.lookup(repository.registry());
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.fetch_token(repository, scope, bearer).await;
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return match credentials {
                Some((credentials, _)) => Ok(CachedAuth {
                    header: credentials.basic_header(),
                    expires: None,
                }),
                None => Err(self.rejected(repository, "")),
            };
        }
        Err(RegistryError::Invalid {
            url: self.repository_url(repository)?.to_string(),
            message: "401 without a Basic or Bearer `WWW-Authenticate` challenge".into(),
        })
    }

    /// The token flow: GET realm?service=…&scope=…, with basic credentials when there are some.
    async fn fetch_token(
        &self,
        repository: &Repository,
        scope: &str,
        challenge: &Challenge,
    ) -> Result<CachedAuth, RegistryError> {
        let invalid = |url: &str, message: String| RegistryError::Invalid {
            url: url.to_string(),
            message,
        };
        let realm = challenge.params.get("realm").ok_or_else(|| {
            invalid(
                repository.registry(),
                "bearer challenge without realm".into(),
            )
        })?;
        let mut url = Url::parse(realm)
            .map_err(|error| invalid(&shorten(realm), format!("bad token realm: {error}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid(
                &shorten(realm),
                "token realm is not http(s)".into(),
            ));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                query.append_pair("service", service);
            }
            query.append_pair(
                "scope",
                challenge.params.get("scope").map_or(scope, String::as_str),
            );
        }
        let credentials = self.credentials.lookup(repository.registry());
        let authorization = credentials.as_ref().map(|(c, _)| c.basic_header());
        let request = Request::get(
            url.clone(),
            None,
            RequestKind::Token,
            TOKEN_BODY_LIMIT,
            "token",
        );
        let answer = self
            .send(repository, &request, authorization.as_deref())
            .await?;
        if matches!(answer.status.as_u16(), 401 | 403) {
            return Err(self.rejected(repository, &error_message(&answer)));
        }
        if !answer.status.is_success() {
            return Err(RegistryError::Status {
                registry: repository.registry().to_string(),
                url: url.to_string(),
                status: answer.status.as_u16(),
                message: error_message(&answer),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&answer.body)
            .map_err(|error| invalid(url.as_str(), format!("token answer is not JSON: {error}")))?;
        let (token, expires_in) = token
            .token()
            .ok_or_else(|| invalid(url.as_str(), "token answer has no token".into()))?;
        // Renew a little early so a request never carries a token that expires in flight.
        let seconds = expires_in
            .unwrap_or(DEFAULT_TOKEN_SECONDS)
            .clamp(10, 86_400);
        Ok(CachedAuth {
            header: format!("Bearer {token}"),
            expires: Some(Instant::now() + Duration::from_secs(seconds - 5)),
        })
    }

    /// The error for a 401 that authenticating did not cure: no credentials, or refused ones.
    fn rejected(&self, repository: &Repository, message: &str) -> RegistryError {
        match self.credentials.lookup(repository.registry()) {
            None => RegistryError::AuthRequired {
                registry: repository.registry().to_string(),
                repository: repository.to_string(),
            },
            Some((_, source)) => RegistryError::AuthFailed {
                registry: repository.registry().to_string(),
                repository: repository.to_string(),
                source_hint: format!(" from {source}"),
                message: if message.is_empty() {
                    "401 Unauthorized".into()
                } else {
                    message.to_string()
                },
            },
        }
    }

    fn cached_auth(&self, key: &str) -> Option<String> {
        let cache = self
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = cache.get(key)?;
        let valid = entry.expires.is_none_or(|expires| Instant::now() < expires);
        valid.then(|| entry.header.clone())
    }

    fn store_auth(&self, key: &str, auth: CachedAuth) {
        let mut cache = self
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(key.to_string(), auth);
    }

    fn forget_auth(&self, key: &str) {
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// At most five redirects (blob downloads are redirected to storage), never from https down to plain
/// http except on loopback.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        let downgrade = attempt.url().scheme() != "https"
            && attempt.previous().iter().any(|url| url.scheme() == "https");
        let loopback = attempt.url().host_str().is_some_and(|host| {
            is_loopback_host(host.trim_start_matches('[').trim_end_matches(']'))
        });
        if downgrade && !loopback {
            return attempt.error("refusing a redirect from https to plain http");
        }
        attempt.follow()
    })
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Read the body, failing once it passes `limit` (error bodies are cut silently instead).
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    strict: bool,
) -> Result<Vec<u8>, ReadError> {
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if strict && announced.is_some_and(|length| length > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(announced.map_or(0, |n| n.min(limit as u64) as usize));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            if strict {
                return Err(ReadError::TooLarge);
            }
            body.extend_from_slice(&chunk[..limit - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The registry's own explanation: `CODE: message` from its JSON error body, else the body's text, else
/// the status line.
fn error_message(answer: &Answer) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(errors) = serde_json::from_slice::<Errors>(&answer.body) {
        let text: Vec<String> = errors
            .errors
            .into_iter()
            .map(|entry| match (entry.code, entry.message) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(text), None) | (None, Some(text)) => text,
                (None, None) => String::new(),
            })
            .filter(|text| !text.is_empty())
            .collect();
        if !text.is_empty() {
            return shorten(&text.join("; "));
        }
    }
    let text: String = String::from_utf8_lossy(&answer.body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.trim();
    if text.is_empty() {
        answer.status.to_string()
    } else {
        shorten(text)
    }
}

/// The `HOST[:PORT]` of a `--insecure-registry` value, normalised like [`Repository::registry`].
pub(crate) fn normalize_insecure(value: &str) -> String {
    let value = value
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    value.split('/').next().unwrap_or(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(insecure: &[&str]) -> Transport {
        Transport::new(
            4,
            CredentialStore::empty(),
            insecure
                .iter()
                .map(|host| normalize_insecure(host))
                .collect(),
            Arc::new(RegistryStats::default()),
        )
        .unwrap()
    }

    #[test]
    fn plain_http_only_for_loopback_or_declared_hosts() {
        let transport = transport(&["http://registry.lan:5000/"]);
        let url = |repository: &str| {
            transport
                .repository_url(&repository.parse().unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(url("127.0.0.1:5000/a"), "http://127.0.0.1:5000/v2/a/");
        assert_eq!(url("localhost/a"), "http://localhost/v2/a/");
        assert_eq!(url("[::1]:5000/a"), "http://[::1]:5000/v2/a/");
        assert_eq!(url("registry.lan:5000/a"), "http://registry.lan:5000/v2/a/");
        assert_eq!(url("registry.lan/a"), "https://registry.lan/v2/a/");
        assert_eq!(
            url("docker.io/library/python"),
            "https://registry-1.docker.io/v2/library/python/"
        );
        let check = |url: &str| transport.check_scheme(&Url::parse(url).unwrap(), "r");
        assert!(check("https://ghcr.io/token").is_ok());
        assert!(check("http://127.0.0.1:9/token").is_ok());
        assert!(check("http://[::1]:9/token").is_ok());
        assert!(check("http://registry.lan:5000/v2/").is_ok());
        assert!(matches!(
            check("http://ghcr.io/token"),
            Err(RegistryError::Insecure { registry }) if registry == "ghcr.io"
        ));
        assert!(check("ftp://127.0.0.1/x").is_err());
    }

    #[test]
    fn error_messages_prefer_the_registry_json() {
        let answer = |status: u16, body: &str| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            error_message(&answer(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#
            )),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(
            error_message(&answer(500, "boom\n\u{1b}[31m")),
            "boom  [31m"
        );
        assert_eq!(error_message(&answer(502, "")), "502 Bad Gateway");
    }
}
