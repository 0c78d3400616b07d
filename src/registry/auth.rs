//! Credentials and the registry auth handshake.
//!
//! A registry that wants authentication answers 401 with a `WWW-Authenticate` challenge: `Basic` (a
//! plain htpasswd registry) or `Bearer realm=…,service=…,scope=…` (ghcr.io, Docker Hub), for which a
//! token is fetched from the realm, anonymously or with the user's credentials, per the
//! [distribution token spec]. Credentials come from `FAVE_LOCK_REGISTRY_USER`/`…_PASSWORD` (any
//! configured registry) or from `~/.docker/config.json`'s `auths.<host>.auth` (`$DOCKER_CONFIG` moves
//! it); credential helpers (`credsStore`) are not run.
//!
//! [distribution token spec]: https://distribution.github.io/distribution/spec/auth/token/

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// Environment variable with the registry user name.
pub const USER_ENV: &str = "FAVE_LOCK_REGISTRY_USER";
/// Environment variable with the registry password or token.
pub const PASSWORD_ENV: &str = "FAVE_LOCK_REGISTRY_PASSWORD";

/// A user name and password (or personal access token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` value for HTTP basic auth.
    pub fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// Where credentials came from, for messages that say which ones were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Environment,
    DockerConfig(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment => write!(f, "{USER_ENV}/{PASSWORD_ENV}"),
            CredentialSource::DockerConfig(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Every credential fave-lock knows, looked up by registry.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    environment: Option<Credentials>,
    docker: HashMap<String, Credentials>,
    docker_path: Option<PathBuf>,
    /// Problems met while reading the Docker config (reported, never fatal).
    pub warnings: Vec<String>,
}

impl CredentialStore {
    /// No credentials at all.
    pub fn empty() -> CredentialStore {
        CredentialStore::default()
    }

    /// Read the environment variables and the Docker config file.
    pub fn from_environment() -> CredentialStore {
        let environment = match (std::env::var(USER_ENV), std::env::var(PASSWORD_ENV)) {
            (Ok(username), Ok(password)) if !username.is_empty() => {
                Some(Credentials { username, password })
            }
            _ => None,
        };
        let path = std::env::var_os("DOCKER_CONFIG")
            .map(|folder| PathBuf::from(folder).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
            });
        let mut store = CredentialStore {
            environment,
            ..CredentialStore::default()
        };
        if let Some(path) = path {
            store.read_docker_config(&path);
        }
        store
    }

    /// Use these credentials for every registry, as the environment variables do.
    pub fn with_environment_credentials(mut self, credentials: Credentials) -> CredentialStore {
        self.environment = Some(credentials);
        self
    }

    /// Add the `auths` of a Docker config file; a missing file is no problem, an unreadable one is a
    /// warning.
    pub fn read_docker_config(&mut self, path: &Path) {
        let text = match crate::fs::read_input_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
            Err(error) => {
                self.warnings
                    .push(format!("cannot read `{}`: {error}", path.display()));
                return;
            }
        };
        match parse_docker_config(&text) {
            Ok((auths, warnings)) => {
                self.docker.extend(auths);
                self.warnings.extend(
                    warnings
                        .into_iter()
                        .map(|warning| format!("{}: {warning}", path.display())),
                );
                self.docker_path = Some(path.to_path_buf());
            }
            Err(error) => self
                .warnings
                .push(format!("`{}` is not valid JSON: {error}", path.display())),
        }
    }

    /// The credentials for `registry` (`HOST[:PORT]`), the environment's first.
    pub fn lookup(&self, registry: &str) -> Option<(Credentials, CredentialSource)> {
        if let Some(credentials) = &self.environment {
            return Some((credentials.clone(), CredentialSource::Environment));
        }
        let credentials = self.docker.get(&normalize_registry_key(registry))?;
        let path = self.docker_path.clone().unwrap_or_default();
        Some((credentials.clone(), CredentialSource::DockerConfig(path)))
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// `auths` of a Docker config: `auth` is base64 of `user:password`; `username` + `password` also work.
pub(crate) fn parse_docker_config(
    text: &str,
) -> Result<(HashMap<String, Credentials>, Vec<String>), serde_json::Error> {
    let config: DockerConfig = serde_json::from_str(text)?;
    let mut auths = HashMap::new();
    let mut warnings = Vec::new();
    for (key, entry) in config.auths {
        let credentials = match (entry.auth, entry.username, entry.password) {
            (Some(auth), _, _) if !auth.is_empty() => decode_auth(&auth),
            (_, Some(username), Some(password)) => Some(Credentials { username, password }),
            _ => continue,
        };
        match credentials {
            Some(credentials) => {
                auths.insert(normalize_registry_key(&key), credentials);
            }
            None => warnings.push(format!(
                "`auths.{key}.auth` is not base64 of `user:password`; ignored"
            )),
        }
    }
    Ok((auths, warnings))
}

fn decode_auth(auth: &str) -> Option<Credentials> {
    let bytes = STANDARD.decode(auth.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/` → `127.0.0.1:5000`.
fn normalize_registry_key(key: &str) -> String {
    let key = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// Lowercase: `basic`, `bearer`.
    pub scheme: String,
    /// Lowercase keys.
    pub params: BTreeMap<String, String>,
}

/// Parse a `WWW-Authenticate` value, which may hold several challenges (RFC 9110 §11.6.1):
/// `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest.find([' ', ',', '=', '\t']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        if token.is_empty() {
            break;
        }
        let after = rest[token_end..].trim_start_matches([' ', '\t']);
        if let Some(value_start) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let (value, remainder) = parse_value(value_start.trim_start());
            if let Some(current) = challenges.last_mut() {
                current.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remainder;
        } else {
            challenges.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
    }
    challenges
}

/// A quoted string (with `\` escapes) or a token, and what follows it.
fn parse_value(text: &str) -> (String, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[index + 1..]),
                _ => value.push(c),
            }
        }
        return (value, "");
    }
    let end = text.find([',', ' ', '\t']).unwrap_or(text.len());
    (text[..end].to_string(), &text[end..])
}

/// A token endpoint's answer: `token` or (OAuth2 spelling) `access_token`, with a lifetime.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token, if any.
    pub fn token(self) -> Option<(String, Option<u64>)> {
        let expires = self.expires_in;
        self.token
            .or(self.access_token)
            .filter(|token| !token.is_empty())
            .map(|token| (token, expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let challenges = parse_challenges(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#,
        );
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].scheme, "bearer");
        assert_eq!(challenges[0].params["realm"], "https://ghcr.io/token");
        assert_eq!(challenges[0].params["service"], "ghcr.io");
        assert_eq!(challenges[0].params["scope"], "repository:a/b:pull");
    }

    #[test]
    fn several_challenges_and_odd_spacing() {
        let challenges =
            parse_challenges(r#"Basic realm="Registry Realm", Bearer realm=x , error="a\"b""#);
        assert_eq!(challenges.len(), 2);
        assert_eq!(challenges[0].scheme, "basic");
        assert_eq!(challenges[0].params["realm"], "Registry Realm");
        assert_eq!(challenges[1].params["realm"], "x");
        assert_eq!(challenges[1].params["error"], "a\"b");
        for junk in [
            "",
            ",,,",
            "=",
            "\"",
            "realm=\"unterminated",
            "Bearer realm=",
        ] {
            let _ = parse_challenges(junk);
        }
    }

    #[test]
    fn docker_config_auths() {
        let text = format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "127.0.0.1:5000":{{"username":"u","password":"p:w"}},
                "ghcr.io":{{"auth":"not base64!"}},
                "quay.io":{{}}
            }},"credsStore":"desktop"}}"#,
            STANDARD.encode("hub:secret")
        );
        let (auths, warnings) = parse_docker_config(&text).unwrap();
        assert_eq!(auths["docker.io"].password, "secret");
        assert_eq!(auths["127.0.0.1:5000"].password, "p:w");
        assert!(!auths.contains_key("ghcr.io") && !auths.contains_key("quay.io"));
        assert_eq!(warnings.len(), 1);
        assert!(parse_docker_config("{").is_err());
    }

    #[test]
    fn environment_credentials_win_and_debug_hides_passwords() {
        let store = CredentialStore::empty().with_environment_credentials(Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        });
        let (credentials, source) = store.lookup("ghcr.io").unwrap();
        assert_eq!(source, CredentialSource::Environment);
        assert!(!format!("{credentials:?}").contains("hunter2"));
        assert_eq!(
            credentials.basic_header(),
            format!("Basic {}", STANDARD.encode("u:hunter2"))
        );
        assert!(CredentialStore::empty().lookup("ghcr.io").is_none());
    }
}
