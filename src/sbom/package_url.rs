//! Package URLs (purl-spec) for the SBOM's components, written the way packageurl-python writes them,
//! since that is what cyclonedx-py, Dependency-Track and most scanners compare against: the `pypi` name
//! rule below, every component percent-encoded except the unreserved characters (and `:`, which
//! packageurl-python leaves as is), qualifiers sorted by key. `tests/sbom.rs` round-trips every purl
//! of an SBOM through packageurl-python to hold this.
//!
//! Our own small writer rather than the `purl` crate: its `pypi` type folds dots into dashes (PEP 503
//! normalisation), which packageurl-python and the purl-spec's current text do not do, and its generic
//! writer leaves `+` in versions unencoded, which packageurl-python encodes.

use std::collections::BTreeMap;
use std::fmt;

/// A package URL: `pkg:type/namespace/name@version?key=value&…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageUrl {
    /// `pypi`, `deb`, `docker`.
    pub kind: &'static str,
    /// `debian` for `pkg:deb/debian/…`; may hold `/` between segments.
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Sorted by key, as the purl-spec's canonical form asks.
    pub qualifiers: BTreeMap<String, String>,
}

impl PackageUrl {
    /// `pkg:pypi/<name>@<version>`, the name as [`pypi_purl_name`] writes it.
    pub fn pypi(name: &str, version: &str) -> PackageUrl {
        PackageUrl {
            kind: "pypi",
            namespace: None,
            name: pypi_purl_name(name),
            version: Some(version.to_string()),
            qualifiers: BTreeMap::new(),
        }
    }

    /// The same purl with one more qualifier.
    #[must_use]
    pub fn with_qualifier(mut self, key: &str, value: &str) -> PackageUrl {
        self.qualifiers.insert(key.to_string(), value.to_string());
        self
    }
}

/// The `name` of a `pkg:pypi` purl: lower case, `_` replaced by `-`, dots kept (`zope.interface`,
/// `ruamel.yaml`), as the purl-spec's PURL-TYPES text says ("lowercased and underscore `_` replaced
/// with dash `-`") and as packageurl-python and cyclonedx-py write it.
///
/// PEP 503 also folds `.` into `-`, and purl-spec pull requests #165 and #262 ("pypi: fix name
/// normalization rules") propose the same for purls; neither is merged, and scanners match the form
/// the tools write today. If the spec changes, this is the one place to follow it.
pub fn pypi_purl_name(name: &str) -> String {
    name.to_lowercase().replace('_', "-")
}

impl fmt::Display for PackageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.kind)?;
        if let Some(namespace) = &self.namespace {
            let segments: Vec<String> = namespace
                .split('/')
                .map(|segment| encode(segment, Keep::Colon))
                .collect();
            write!(f, "{}/", segments.join("/"))?;
        }
        f.write_str(&encode(&self.name, Keep::Colon))?;
        if let Some(version) = &self.version {
            write!(f, "@{}", encode(version, Keep::ColonAndSlash))?;
        }
        for (index, (key, value)) in self.qualifiers.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            write!(f, "{separator}{key}={}", encode(value, Keep::ColonAndSlash))?;
        }
        Ok(())
    }
}

/// Which reserved characters stay as they are.
#[derive(Clone, Copy)]
enum Keep {
    /// In a name or namespace segment, where `/` would split the segment.
    Colon,
    /// In a version or qualifier value: packageurl-python quotes these with `/` safe.
    ColonAndSlash,
}

/// Percent-encode `text` (UTF-8, upper-case hex) except RFC 3986's unreserved characters and `keep`.
fn encode(text: &str, keep: Keep) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let kept = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':')
            || (byte == b'/' && matches!(keep, Keep::ColonAndSlash));
        if kept {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_keep_dots_and_fold_underscores() {
        assert_eq!(pypi_purl_name("zope.interface"), "zope.interface");
        assert_eq!(pypi_purl_name("ruamel.yaml.clib"), "ruamel.yaml.clib");
        assert_eq!(pypi_purl_name("Pydantic_Core"), "pydantic-core");
        assert_eq!(pypi_purl_name("typing_extensions"), "typing-extensions");
        assert_eq!(
            PackageUrl::pypi("Zope.Interface", "7.0.3").to_string(),
            "pkg:pypi/zope.interface@7.0.3"
        );
    }

    #[test]
    fn plus_and_reserved_characters_are_encoded_as_packageurl_python_does() {
        // Expected strings are packageurl-python 0.17.6's `to_string()` of the same parts.
        let local = PackageUrl::pypi("torch", "2.5.1+cpu")
            .with_qualifier("file_name", "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl");
        assert_eq!(
            local.to_string(),
            "pkg:pypi/torch@2.5.1%2Bcpu?file_name=torch-2.5.1%2Bcpu-cp311-cp311-linux_x86_64.whl"
        );
        let odd = PackageUrl::pypi("a b", "1 2").with_qualifier("file_name", "x y%z@?#&=:/");
        assert_eq!(
            odd.to_string(),
            "pkg:pypi/a%20b@1%202?file_name=x%20y%25z%40%3F%23%26%3D:/"
        );
    }

    #[test]
    fn qualifiers_are_sorted_and_namespaces_written() {
        let deb = PackageUrl {
            kind: "deb",
            namespace: Some("debian".to_string()),
            name: "ffmpeg".to_string(),
            version: Some("7:5.1.6-0+deb12u1".to_string()),
            qualifiers: BTreeMap::new(),
        }
        .with_qualifier("distro", "debian-12")
        .with_qualifier("arch", "amd64");
        assert_eq!(
            deb.to_string(),
            "pkg:deb/debian/ffmpeg@7:5.1.6-0%2Bdeb12u1?arch=amd64&distro=debian-12"
        );
    }
}
