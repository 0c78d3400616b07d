//! A suite's `InRelease` file: verified with the Debian archive keyring exactly as apt does it (apt
//! runs `gpgv` too), then read for the sha256 and size of each index it vouches for.
//!
//! Only the bytes gpgv itself hands back as signed (`--output`) are parsed, so text added around the
//! signed block of a tampered file can never be read as part of the release.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::AptError;

/// The keyring apt uses for Debian's archive (package `debian-archive-keyring`).
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// One suite of an archive: `bookworm-security` at `http://deb.debian.org/debian-security`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    /// The archive's base URL, without a trailing slash; `.deb` filenames are relative to it.
    pub archive: String,
    /// Refuse a freshly fetched release past its `Valid-Until` (as apt does: a mirror replaying an old
    /// signed release hides security updates). `false` for a snapshot archive, whose releases expired
    /// long ago by design (apt's `check-valid-until=no`).
    pub check_valid_until: bool,
}

impl Suite {
    /// URL of a file below the suite's `dists/<suite>/` folder.
    pub fn dists_url(&self, path: &str) -> String {
        format!("{}/dists/{}/{path}", self.archive, self.name)
    }

    /// The three suites of a Debian release in the order apt would list them: the release, its
    /// `-updates` and its `-security`.
    pub fn debian(
        codename: &str,
        archive: &str,
        security: &str,
        check_valid_until: bool,
    ) -> Vec<Suite> {
        let suite = |name: String, url: &str| Suite {
            name,
            archive: url.trim_end_matches('/').to_string(),
            check_valid_until,
        };
        vec![
            suite(codename.to_string(), archive),
            suite(format!("{codename}-updates"), archive),
            suite(format!("{codename}-security"), security),
        ]
    }
}

/// One index file the release lists: its sha256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub sha256: String,
    pub size: u64,
}

/// The verified content of an `InRelease` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `Date:` as written.
    pub date: String,
    /// `Valid-Until:`, when the release has one (Debian's -security and -updates do).
    pub valid_until: Option<jiff::Timestamp>,
    /// `Suite:` (`stable-security`) and `Codename:` (`bookworm-security`) are informational; this is the
    /// sha256 of the whole InRelease file, which names exactly what was read.
    pub sha256: String,
    /// Path below `dists/<suite>/` → its entry, from the `SHA256:` field.
    pub files: BTreeMap<String, IndexEntry>,
    /// `Acquire-By-Hash: yes`: each index is also served at `<folder>/by-hash/SHA256/<sha256>`, which
    /// stays valid after the release is re-signed (a plain path may already hold the next index).
    pub by_hash: bool,
}

impl Release {
    /// The URL path (below `dists/<suite>/`) to fetch `path` from: by hash where the archive offers it,
    /// so the bytes are the ones this release names even if the archive moved on meanwhile.
    pub fn fetch_path(&self, path: &str, entry: &IndexEntry) -> String {
        match path.rsplit_once('/') {
            Some((folder, _)) if self.by_hash => {
                format!("{folder}/by-hash/SHA256/{}", entry.sha256)
            }
            _ => path.to_string(),
        }
    }

    /// The entry for `path`.
    ///
    /// # Errors
    ///
    /// [`AptError::NotInRelease`] when the signed release does not list it: nothing else vouches for it.
    pub fn entry(&self, suite: &Suite, path: &str) -> Result<&IndexEntry, AptError> {
        self.files.get(path).ok_or_else(|| AptError::NotInRelease {
            suite: suite.name.clone(),
            path: path.to_string(),
        })
    }
}

/// Verify `bytes` (an InRelease file fetched from `url`) with gpgv against `keyring` and parse what the
/// signature covers.
///
/// # Errors
///
/// [`AptError::Signature`] when gpgv refuses it (an integrity error), [`AptError::Gpgv`] when gpgv
/// cannot be run, [`AptError::BadRelease`] when the signed text has no usable `SHA256` list.
pub fn verify(bytes: &[u8], url: &str, keyring: &Path) -> Result<Release, AptError> {
    let signed = gpgv_signed_text(bytes, url, keyring)?;
    let text = String::from_utf8(signed).map_err(|_| AptError::BadRelease {
        url: url.to_string(),
        message: "the signed text is not UTF-8".to_string(),
    })?;
    let mut release = parse(&text).map_err(|message| AptError::BadRelease {
        url: url.to_string(),
        message,
    })?;
    release.sha256 = crate::plan::sha256_hex(bytes);
    Ok(release)
}

/// Run `gpgv --keyring KEYRING --output - FILE` and return the signed text it writes. gpgv exits 0 only
/// when a good signature by a key of the keyring covers the text.
fn gpgv_signed_text(bytes: &[u8], url: &str, keyring: &Path) -> Result<Vec<u8>, AptError> {
    let gpgv_error = |message: String| AptError::Gpgv { message };
    if !keyring.is_file() {
        return Err(gpgv_error(format!(
            "the keyring `{}` does not exist: install Debian's `debian-archive-keyring` package",
            keyring.display()
        )));
    }
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| gpgv_error(format!("cannot stage the InRelease file: {e}")))?;
    file.write_all(bytes)
        .map_err(|e| gpgv_error(format!("cannot stage the InRelease file: {e}")))?;
    let path: PathBuf = file.path().to_path_buf();
    let output = Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .args(["--output", "-"])
        .arg(&path)
        .output()
        .map_err(|e| {
            gpgv_error(format!(
                "cannot run gpgv ({e}): install Debian's `gpgv` package"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .filter(|line| !line.contains("Signature made") && !line.contains("using "))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(AptError::Signature {
            url: url.to_string(),
            message: if reason.is_empty() {
                format!("gpgv exited with {}", output.status)
            } else {
                reason
            },
        });
    }
    Ok(output.stdout)
}

/// A release date as Debian writes it: RFC 2822 with the zone as `UTC` (which RFC 2822 spells
/// `+0000`).
fn release_date(text: &str) -> Result<jiff::Timestamp, String> {
    let normalized = match text.strip_suffix(" UTC") {
        Some(rest) => format!("{rest} +0000"),
        None => text.to_string(),
    };
    jiff::fmt::rfc2822::parse(&normalized)
        .map(|zoned| zoned.timestamp())
        .map_err(|error| format!("bad date `{text}`: {error}"))
}

/// Parse a release's text (already verified).
fn parse(text: &str) -> Result<Release, String> {
    let mut date = String::new();
    let mut valid_until = None;
    let mut by_hash = false;
    let mut files = BTreeMap::new();
    let mut in_sha256 = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(' ') {
            if in_sha256 {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                let [sha256, size, path] = parts[..] else {
                    return Err(format!("bad SHA256 line `{line}`"));
                };
                let size = size.parse().map_err(|_| format!("bad size in `{line}`"))?;
                files.insert(
                    path.to_string(),
                    IndexEntry {
                        sha256: sha256.to_ascii_lowercase(),
                        size,
                    },
                );
            }
            continue;
        }
        in_sha256 = false;
        match line.split_once(':') {
            Some(("SHA256", _)) => in_sha256 = true,
            Some(("Date", value)) => date = value.trim().to_string(),
            Some(("Valid-Until", value)) => valid_until = Some(release_date(value.trim())?),
            Some(("Acquire-By-Hash", value)) => by_hash = value.trim() == "yes",
            _ => {}
        }
    }
    if files.is_empty() {
        return Err("no SHA256 list".to_string());
    }
    Ok(Release {
        date,
        valid_until,
        sha256: String::new(),
        files,
        by_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sha256_list() {
        let text = "Origin: Debian\nDate: Sat, 11 Jul 2026 10:17:11 UTC\nMD5Sum:\n 00 1 main/x\nSHA256:\n \
                    515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages\n \
                    9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz\n";
        let release = parse(text).unwrap();
        assert_eq!(release.date, "Sat, 11 Jul 2026 10:17:11 UTC");
        assert_eq!(release.valid_until, None);
        let expiring = parse(&format!(
            "Valid-Until: Sat, 18 Jul 2026 10:17:11 UTC\n{text}"
        ))
        .unwrap();
        assert_eq!(
            expiring.valid_until,
            Some("2026-07-18T10:17:11Z".parse().unwrap())
        );
        assert!(parse(&format!("Valid-Until: next week\n{text}")).is_err());
        let path = "main/binary-amd64/Packages.xz";
        assert_eq!(release.fetch_path(path, &release.files[path]), path);
        let by_hash = parse(&format!("Acquire-By-Hash: yes\n{text}")).unwrap();
        assert_eq!(
            by_hash.fetch_path(path, &by_hash.files[path]),
            "main/binary-amd64/by-hash/SHA256/9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5"
        );
        assert_eq!(release.files.len(), 2);
        assert_eq!(
            release.files["main/binary-amd64/Packages.xz"].size,
            8_790_396
        );
        assert!(
            !release.files.contains_key("main/x"),
            "MD5 entries are not read"
        );
        assert!(parse("Origin: Debian\n").is_err());
    }

    #[test]
    fn refuses_unsigned_text() {
        let error = verify(
            b"Origin: Debian\nSHA256:\n 00 1 x\n",
            "test",
            Path::new(DEBIAN_KEYRING),
        )
        .unwrap_err();
        assert!(error.is_integrity(), "{error}");
    }
}
