//! Names: a repository (`ghcr.io/fave-project/fave-base`), a reference within it (tag or digest), and a
//! full image reference as Docker spells it (`python:3.11-slim@sha256:…`, Docker Hub implied).
//!
//! Everything that ends up in a request URL is validated here against the distribution grammar first, so
//! a tag list entry like `../../x` can never become a path the client requests.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::digest::{Digest, shorten};

/// The registry Docker Hub's names resolve to when no host is given.
const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's API actually answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A repository in a registry: `HOST[:PORT]/PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    /// `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`.
    registry: String,
    /// `fave-project/fave-base`.
    path: String,
}

impl Repository {
    /// Build from parts already split, validating both.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong.
    pub fn new(registry: &str, path: &str) -> Result<Repository, String> {
        validate_host(registry)?;
        validate_path(path)?;
        Ok(Repository {
            registry: registry.to_string(),
            path: path.to_string(),
        })
    }

    /// `HOST[:PORT]` as written.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The host and port requests go to (Docker Hub's API lives on another name than its images).
    pub fn api_authority(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The host without the port (and without brackets for IPv6).
    pub fn host(&self) -> &str {
        host_of(&self.registry)
    }

    /// Whether the registry is on this machine: `localhost`, `127.0.0.0/8` or `::1`. Only such a registry
    /// is spoken to over plain http without being declared insecure.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.host())
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl FromStr for Repository {
    type Err = String;

    /// `HOST[:PORT]/PATH`; the host is required (it must contain a `.` or `:` or be `localhost`), as a
    /// configured repository names its registry explicitly.
    fn from_str(text: &str) -> Result<Repository, String> {
        let Some((first, rest)) = text.split_once('/') else {
            return Err(format!(
                "`{}` is not a repository: expected HOST[:PORT]/PATH like `ghcr.io/org/fave-base`",
                shorten(text)
            ));
        };
        if !looks_like_host(first) {
            return Err(format!(
                "`{}` does not start with a registry host (a name with `.` or `:`, or `localhost`)",
                shorten(text)
            ));
        }
        Repository::new(first, rest)
    }
}

/// `host:port` → `host`; `[::1]:5000` → `::1`.
pub(crate) fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Docker's rule for telling a registry host from the first path component.
fn looks_like_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn validate_host(authority: &str) -> Result<(), String> {
    let invalid = || {
        format!(
            "`{}` is not a registry host: expected HOST or HOST:PORT",
            shorten(authority)
        )
    };
    let (host_ok, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(invalid)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
        };
        (address.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (is_hostname(host), Some(port)),
            None => (is_hostname(authority), None),
        }
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
    });
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// DNS labels (letters, digits, inner dashes) joined by dots; IPv4 addresses pass too.
fn is_hostname(host: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok)
}

/// The distribution grammar: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, at most 255
/// characters in all.
fn validate_path(path: &str) -> Result<(), String> {
    let valid = !path.is_empty() && path.len() <= 255 && path.split('/').all(valid_component);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a repository path: lowercase letters and digits in `/`-separated components, \
             joined by `.`, `_`, `__` or dashes",
            shorten(path)
        ))
    }
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if alnum(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && !alnum(bytes[index]) {
            index += 1;
        }
        let separator = &component[start..index];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `tag` matches the distribution tag grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. Tags that do
/// not are shown (escaped) but never requested.
pub fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let head_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= 128
        && head_ok(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| head_ok(b) || b == b'.' || b == b'-')
}

/// What a manifest request names: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// A tag reference, validated against the tag grammar.
    ///
    /// # Errors
    ///
    /// When `tag` is not a valid tag.
    pub fn tag(tag: &str) -> Result<Reference, String> {
        if is_valid_tag(tag) {
            Ok(Reference::Tag(tag.to_string()))
        } else {
            Err(format!("`{}` is not a valid tag", shorten(tag)))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => f.write_str(tag),
            Reference::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

/// A full image reference as Docker parses it: `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`, where a missing host
/// means Docker Hub and a one-component Hub path gains `library/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: Repository,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl FromStr for ImageReference {
    type Err = String;

    fn from_str(text: &str) -> Result<ImageReference, String> {
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.parse::<Digest>()?)),
            None => (text, None),
        };
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => {
                let colon = last_slash + colon;
                (&name[..colon], Some(&name[colon + 1..]))
            }
            None => (name, None),
        };
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(format!("`{}` has an invalid tag", shorten(text)));
        }
        let repository = match name.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => Repository::new(first, rest)?,
            Some(_) => Repository::new(DOCKER_HUB, name)?,
            None => Repository::new(DOCKER_HUB, &format!("library/{name}"))?,
        };
        Ok(ImageReference {
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        let repo: Repository = "ghcr.io/fave-project/fave-base".parse().unwrap();
        assert_eq!(repo.registry(), "ghcr.io");
        assert_eq!(repo.path(), "fave-project/fave-base");
        assert!(!repo.is_loopback());
        let local: Repository = "127.0.0.1:5000/fave-base".parse().unwrap();
        assert_eq!(local.host(), "127.0.0.1");
        assert!(local.is_loopback());
        assert!("localhost/x".parse::<Repository>().unwrap().is_loopback());
        assert!("[::1]:5000/x".parse::<Repository>().unwrap().is_loopback());
        assert!(
            !"127.example.com/x"
                .parse::<Repository>()
                .unwrap()
                .is_loopback()
        );
        for bad in [
            "fave-base",
            "library/python",
            "ghcr.io/",
            "ghcr.io/Upper",
            "ghcr.io/a//b",
            "ghcr.io/a/../b",
            "ghcr.io/a/.b",
            "ghcr.io:99999/a",
            "ghcr.io:/a",
            "gh cr.io/a",
            "ghcr.io/a?b",
            "ghcr.io/a#b",
            "ghcr.io/a%2e",
            "[::1/x",
        ] {
            assert!(bad.parse::<Repository>().is_err(), "{bad}");
        }
        assert!("ghcr.io/a__b/c-d--e/f.g".parse::<Repository>().is_ok());
        assert!("ghcr.io/a___b".parse::<Repository>().is_err());
    }

    #[test]
    fn tags() {
        for good in [
            "1.0",
            "latest",
            "_x",
            "3.11-slim-bookworm",
            &"a".repeat(128),
        ] {
            assert!(is_valid_tag(good), "{good}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "a/b",
            "../x",
            "<script>",
            "a b",
            &"a".repeat(129),
        ] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn image_references_follow_docker() {
        let hub: ImageReference = "python:3.11-slim".parse().unwrap();
        assert_eq!(hub.to_string(), "docker.io/library/python:3.11-slim");
        assert_eq!(hub.repository.api_authority(), "registry-1.docker.io");
        let digest = format!("sha256:{}", "0".repeat(64));
        let pinned: ImageReference = format!("127.0.0.1:5000/base:bookworm@{digest}")
            .parse()
            .unwrap();
        assert_eq!(pinned.repository.to_string(), "127.0.0.1:5000/base");
        assert_eq!(pinned.tag.as_deref(), Some("bookworm"));
        assert_eq!(pinned.digest.unwrap().to_string(), digest);
        let no_tag: ImageReference = "localhost:5000/a/b".parse().unwrap();
        assert_eq!(no_tag.tag, None);
        assert_eq!(no_tag.repository.path(), "a/b");
        assert!("python:bad tag".parse::<ImageReference>().is_err());
        assert!("python@sha256:xyz".parse::<ImageReference>().is_err());
    }
}
