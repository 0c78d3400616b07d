//! `locks/<image>/apt.lock`: the exact Debian packages of an image, per architecture.
//!
//! TOML, written by hand in a fixed order so the same resolution gives the same bytes; read back with
//! toml_edit. No dates: the archive re-signs its releases daily, and a lock must not change unless a
//! package does.
//!
//! ```toml
//! version = 1
//! image = "fave-base"
//! requested = ["ffmpeg", "libgl1"]
//!
//! [[suite]]
//! name = "bookworm-security"
//! archive = "http://deb.debian.org/debian-security"
//!
//! [[package]]
//! name = "ffmpeg"
//! version = "7:5.1.6-0+deb12u1"
//! architecture = "amd64"
//! suite = "bookworm-security"
//! filename = "pool/updates/main/f/ffmpeg/ffmpeg_5.1.6-0+deb12u1_amd64.deb"
//! size = 1234
//! sha256 = "…"
//! depends = ["libavcodec59", "libavdevice59"]
//! ```
//!
//! `depends` names the packages of the same architecture in this lock that satisfy the package's
//! `Pre-Depends` and `Depends` (the SBOM's dependency graph); base-system packages are not listed.

use std::fmt::Write as _;
use std::path::Path;

use toml_edit::{DocumentMut, Item, Value};

use super::error::AptError;
use super::release::Suite;

/// File name of the lock inside the image's lock folder.
pub const APT_LOCK_FILE: &str = "apt.lock";

/// Bumped when the format's meaning changes.
pub const APT_LOCK_VERSION: i64 = 1;

/// The lock as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptLock {
    pub image: String,
    /// The config's `apt-packages`, sorted.
    pub requested: Vec<String>,
    /// The suites resolved from, in priority order.
    pub suites: Vec<Suite>,
    /// Sorted by architecture, then name.
    pub packages: Vec<LockedDeb>,
}

/// One `.deb` of one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDeb {
    pub name: String,
    pub version: String,
    /// The image's architecture (`amd64`), also for `Architecture: all` packages.
    pub architecture: String,
    pub suite: String,
    /// Below the suite's archive URL.
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Packages of this lock and architecture that satisfy its dependencies, sorted; empty in a lock
    /// written before the field existed.
    pub depends: Vec<String>,
}

impl LockedDeb {
    /// The `.deb`'s URL.
    pub fn url(&self, lock: &AptLock) -> Option<String> {
        let suite = lock.suites.iter().find(|s| s.name == self.suite)?;
        Some(format!("{}/{}", suite.archive, self.filename))
    }
}

fn quoted(text: &str) -> String {
    Value::from(text).to_string().trim().to_string()
}

impl AptLock {
    /// The lock's text.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Debian packages of `{}`, written by `fave-lock resolve` from the signed archive indices; do not edit.\n\
             # Packages every Debian image has (Essential: yes, Priority: required) are left out.",
            self.image
        );
        let _ = writeln!(out, "version = {APT_LOCK_VERSION}");
        let _ = writeln!(out, "image = {}", quoted(&self.image));
        let requested: Vec<String> = self.requested.iter().map(|n| quoted(n)).collect();
        let _ = writeln!(out, "requested = [{}]", requested.join(", "));
        for suite in &self.suites {
            let _ = write!(
                out,
                "\n[[suite]]\nname = {}\narchive = {}\n",
                quoted(&suite.name),
                quoted(&suite.archive)
            );
            // Written only when off, so locks of the default archives keep their bytes.
            if !suite.check_valid_until {
                let _ = writeln!(out, "check-valid-until = false");
            }
        }
        for deb in &self.packages {
            let _ = write!(
                out,
                "\n[[package]]\nname = {}\nversion = {}\narchitecture = {}\nsuite = {}\nfilename = {}\nsize = {}\nsha256 = {}\ndepends = [{}]\n",
                quoted(&deb.name),
                quoted(&deb.version),
                quoted(&deb.architecture),
                quoted(&deb.suite),
                quoted(&deb.filename),
                deb.size,
                quoted(&deb.sha256),
                deb.depends
                    .iter()
                    .map(|name| quoted(name))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        out
    }

    /// Parse a lock's text read from `path`.
    ///
    /// # Errors
    ///
    /// [`AptError::BadLock`] naming what is wrong.
    pub fn parse(text: &str, path: &Path) -> Result<AptLock, AptError> {
        let bad = |message: String| AptError::BadLock {
            path: path.to_path_buf(),
            message,
        };
        let document: DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| bad(e.to_string()))?;
        let version = document.get("version").and_then(Item::as_integer);
        if version != Some(APT_LOCK_VERSION) {
            return Err(bad(format!(
                "format version {version:?}, this fave-lock reads {APT_LOCK_VERSION}"
            )));
        }
        let string = |item: &Item, key: &str| -> Result<String, AptError> {
            item.get(key)
                .and_then(Item::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("no string `{key}`")))
        };
        let image = string(document.as_item(), "image")?;
        let requested = document
            .get("requested")
            .and_then(Item::as_array)
            .ok_or_else(|| bad("no `requested` array".to_string()))?
            .iter()
            .map(|value| value.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("`requested` holds a non-string".to_string()))?;
        let tables = |key: &str| {
            document
                .get(key)
                .and_then(Item::as_array_of_tables)
                .map(|array| {
                    array
                        .iter()
                        .map(|table| Item::Table(table.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let suites = tables("suite")
            .iter()
            .map(|item| {
                Ok(Suite {
                    name: string(item, "name")?,
                    archive: string(item, "archive")?,
                    check_valid_until: item
                        .get("check-valid-until")
                        .and_then(Item::as_bool)
                        .unwrap_or(true),
                })
            })
            .collect::<Result<Vec<_>, AptError>>()?;
        let packages = tables("package")
            .iter()
            .map(|item| {
                let size = item
                    .get("size")
                    .and_then(Item::as_integer)
                    .and_then(|size| u64::try_from(size).ok())
                    .ok_or_else(|| bad("a package without a `size`".to_string()))?;
                let depends = match item.get("depends") {
                    None => Vec::new(),
                    Some(value) => value
                        .as_array()
                        .and_then(|array| {
                            array
                                .iter()
                                .map(|name| name.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        })
                        .ok_or_else(|| bad("`depends` is not an array of names".to_string()))?,
                };
                Ok(LockedDeb {
                    name: string(item, "name")?,
                    version: string(item, "version")?,
                    architecture: string(item, "architecture")?,
                    suite: string(item, "suite")?,
                    filename: string(item, "filename")?,
                    size,
                    sha256: string(item, "sha256")?,
                    depends,
                })
            })
            .collect::<Result<Vec<_>, AptError>>()?;
        Ok(AptLock {
            image,
            requested,
            suites,
            packages,
        })
    }

    /// The architectures the lock covers, sorted.
    pub fn architectures(&self) -> Vec<&str> {
        let mut archs: Vec<&str> = self
            .packages
            .iter()
            .map(|p| p.architecture.as_str())
            .collect();
        archs.sort_unstable();
        archs.dedup();
        archs
    }

    /// The suites the lock was resolved from, as `base-image/Dockerfile` reads them (`APT_SOURCES`):
    /// `ARCHIVE SUITE` pairs joined by commas, in priority order. The image installs from these, not
    /// from the base image's own sources, so a lock made against a snapshot archive builds from it.
    pub fn sources(&self) -> String {
        let pairs: Vec<String> = self
            .suites
            .iter()
            .map(|suite| format!("{} {}", suite.archive, suite.name))
            .collect();
        pairs.join(",")
    }

    /// The `apt-get install` arguments: `name=version` for a package locked at the same version on
    /// every architecture in `archs`, `arch/name=version` for one that differs (or exists on one only),
    /// sorted. `base-image/Dockerfile` keeps the entries for `dpkg --print-architecture`.
    pub fn install_args(&self, archs: &[&str]) -> Vec<String> {
        let mut by_name: std::collections::BTreeMap<&str, Vec<&LockedDeb>> = Default::default();
        for deb in &self.packages {
            by_name.entry(&deb.name).or_default().push(deb);
        }
        let mut args = Vec::new();
        for (name, debs) in by_name {
            let same = debs.len() == archs.len()
                && archs
                    .iter()
                    .all(|arch| debs.iter().any(|d| d.architecture == *arch))
                && debs.iter().all(|d| d.version == debs[0].version);
            if same {
                args.push(format!("{name}={}", debs[0].version));
            } else {
                args.extend(
                    debs.iter()
                        .map(|d| format!("{}/{name}={}", d.architecture, d.version)),
                );
            }
        }
        args.sort();
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(name: &str, version: &str, arch: &str) -> LockedDeb {
        LockedDeb {
            name: name.to_string(),
            version: version.to_string(),
            architecture: arch.to_string(),
            suite: "bookworm".to_string(),
            filename: format!("pool/main/{name}_{version}_{arch}.deb"),
            size: 10,
            sha256: "ab".repeat(32),
            depends: Vec::new(),
        }
    }

    fn lock() -> AptLock {
        AptLock {
            image: "fave-base".to_string(),
            requested: vec!["ffmpeg".to_string()],
            suites: Suite::debian(
                "bookworm",
                "http://deb.debian.org/debian/",
                "http://deb.debian.org/debian-security",
                true,
            ),
            packages: vec![
                deb("ffmpeg", "7:5.1.6-0+deb12u1", "amd64"),
                deb("libx", "1.0", "amd64"),
                deb("ffmpeg", "7:5.1.6-0+deb12u1", "arm64"),
                deb("libx", "1.0+b1", "arm64"),
            ],
        }
    }

    #[test]
    fn round_trips() {
        let lock = lock();
        let text = lock.to_toml();
        assert_eq!(AptLock::parse(&text, Path::new("apt.lock")).unwrap(), lock);
        assert!(
            text.contains("archive = \"http://deb.debian.org/debian\"\n"),
            "{text}"
        );
        assert_eq!(
            lock.packages[0].url(&lock).unwrap(),
            "http://deb.debian.org/debian/pool/main/ffmpeg_7:5.1.6-0+deb12u1_amd64.deb"
        );
        assert!(!text.contains("check-valid-until"), "{text}");
        // A snapshot archive's suites keep their setting.
        let mut snapshot = lock;
        snapshot.suites[0].check_valid_until = false;
        let text = snapshot.to_toml();
        assert!(text.contains("check-valid-until = false\n"), "{text}");
        assert_eq!(
            AptLock::parse(&text, Path::new("apt.lock")).unwrap(),
            snapshot
        );
    }

    #[test]
    fn install_args_split_by_architecture_only_where_versions_differ() {
        assert_eq!(
            lock().install_args(&["amd64", "arm64"]),
            [
                "amd64/libx=1.0",
                "arm64/libx=1.0+b1",
                "ffmpeg=7:5.1.6-0+deb12u1"
            ]
        );
    }

    #[test]
    fn sources_name_each_suite_with_its_archive_in_priority_order() {
        assert_eq!(
            lock().sources(),
            "http://deb.debian.org/debian bookworm,http://deb.debian.org/debian bookworm-updates,\
             http://deb.debian.org/debian-security bookworm-security"
        );
    }

    #[test]
    fn refuses_what_is_no_lock() {
        for text in [
            "",
            "version = 2\n",
            "version = 1\nimage = 3\n",
            "version = 1\nimage = \"x\"\nrequested = [1]\n",
            "[[[",
        ] {
            assert!(
                AptLock::parse(text, Path::new("apt.lock")).is_err(),
                "{text:?}"
            );
        }
    }
}
