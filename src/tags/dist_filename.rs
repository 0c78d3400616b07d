//! Which files on a package's index page are distributions of that package: wheels and sdists.
//!
//! An sdist's filename (`{name}-{version}.tar.gz`) is ambiguous on its own: legacy sdists keep the project's
//! spelling of the name, dashes included (`foo-bar-1.0.tar.gz`), so the only sound split is against the name
//! of the package whose page lists the file. That is why parsing takes the package name, as pip's
//! `LinkEvaluator` does.

use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::wheel_filename::WheelFilename;

/// Archive extensions pip accepts for source distributions. `.tar.gz` is the only one PEP 625 allows for new
/// uploads, but older releases on PyPI use the others and are still installable.
const SDIST_EXTENSIONS: [&str; 8] = [
    ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".txz", ".tar",
];

/// A parsed source distribution filename (`{name}-{version}.tar.gz` or `.zip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistFilename {
    /// The package whose page listed the file (the filename's own spelling is not kept).
    pub name: PackageName,
    pub version: Version,
}

/// Either kind of file an index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistFilename {
    /// A built distribution, installable as is if its tags fit.
    Wheel(WheelFilename),
    /// A source distribution, which needs a build (allowed only for `allow-sdist` packages).
    Sdist(SdistFilename),
}

impl SdistFilename {
    /// Parse `{name}-{version}{extension}` listed on `package`'s page; `None` if the extension is not an sdist
    /// archive, the name is another package's, or the rest is not a PEP 440 version (`foo-1.0.win32.zip`, a
    /// legacy `bdist_dumb` archive).
    pub fn parse(filename: &str, package: &PackageName) -> Option<SdistFilename> {
        let stem = SDIST_EXTENSIONS
            .iter()
            .find_map(|extension| filename.strip_suffix(extension))?;
        stem.match_indices('-').find_map(|(dash, _)| {
            let (name, version) = (&stem[..dash], &stem[dash + 1..]);
            if !normalizes_to(name, package.as_ref()) {
                return None;
            }
            let version = Version::from_str(version).ok()?;
            Some(SdistFilename {
                name: package.clone(),
                version,
            })
        })
    }
}

/// Whether `raw` normalizes (PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`) to `normalized`,
/// without allocating: this runs for every file of every page.
fn normalizes_to(raw: &str, normalized: &str) -> bool {
    let mut expected = normalized.bytes();
    let mut raw = raw.bytes().peekable();
    while let Some(byte) = raw.next() {
        let byte = if matches!(byte, b'-' | b'_' | b'.') {
            while raw
                .next_if(|next| matches!(next, b'-' | b'_' | b'.'))
                .is_some()
            {}
            b'-'
        } else {
            byte.to_ascii_lowercase()
        };
        if expected.next() != Some(byte) {
            return false;
        }
    }
    expected.next().is_none()
}

impl DistFilename {
    /// Parse a file listed on `package`'s index page; `None` for files that are neither a wheel nor an
    /// sdist of that package (`.exe`, `.egg`, a wrong name).
    ///
    /// A malformed wheel is also `None`: pip skips it too. Call [`WheelFilename::from_str`] to learn why.
    pub fn parse(filename: &str, package: &PackageName) -> Option<DistFilename> {
        // Case-sensitive like pip's `SUPPORTED_EXTENSIONS` check: `FOO.WHL` is not a wheel to pip either.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        if filename.ends_with(".whl") {
            let wheel = WheelFilename::from_str(filename).ok()?;
            return (wheel.name == *package).then_some(DistFilename::Wheel(wheel));
        }
        SdistFilename::parse(filename, package).map(DistFilename::Sdist)
    }

    /// The normalized package name.
    pub fn name(&self) -> &PackageName {
        match self {
            DistFilename::Wheel(wheel) => &wheel.name,
            DistFilename::Sdist(sdist) => &sdist.name,
        }
    }

    /// The release this file belongs to.
    pub fn version(&self) -> &Version {
        match self {
            DistFilename::Wheel(wheel) => &wheel.version,
            DistFilename::Sdist(sdist) => &sdist.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str) -> PackageName {
        PackageName::from_str(name).unwrap()
    }

    /// `Some(version)` if `filename` is an sdist of `name`.
    fn sdist_version(filename: &str, name: &str) -> Option<String> {
        match DistFilename::parse(filename, &package(name))? {
            DistFilename::Sdist(sdist) => Some(sdist.version.to_string()),
            DistFilename::Wheel(_) => panic!("`{filename}` parsed as a wheel"),
        }
    }

    #[test]
    fn splits_sdist_names_with_separators() {
        assert_eq!(
            sdist_version("numpy-2.1.3.tar.gz", "numpy").as_deref(),
            Some("2.1.3")
        );
        assert_eq!(
            sdist_version("foo-bar-1.0.tar.gz", "foo-bar").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            sdist_version("foo_bar-1.0.zip", "foo-bar").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            sdist_version("zope.interface-7.0.tar.gz", "zope-interface").as_deref(),
            Some("7.0")
        );
        assert_eq!(
            sdist_version("Flask-SQLAlchemy-3.1.1.tar.gz", "flask-sqlalchemy").as_deref(),
            Some("3.1.1")
        );
        assert_eq!(
            sdist_version("a__b..c-2.tar.gz", "a-b-c").as_deref(),
            Some("2")
        );
    }

    #[test]
    fn accepts_legacy_archives() {
        assert_eq!(
            sdist_version("pyaudio-0.2.11.tar.bz2", "pyaudio").as_deref(),
            Some("0.2.11")
        );
        assert_eq!(sdist_version("foo-1.0.tgz", "foo").as_deref(), Some("1.0"));
        assert_eq!(
            sdist_version("foo-1.0.tar.xz", "foo").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            sdist_version("foo-1.0-1.tar.gz", "foo").as_deref(),
            Some("1.0.post1")
        );
    }

    #[test]
    fn rejects_other_files() {
        assert_eq!(sdist_version("foo-1.0.win32.exe", "foo"), None);
        assert_eq!(sdist_version("foo-1.0-py2.7.egg", "foo"), None);
        assert_eq!(sdist_version("foo-1.0.msi", "foo"), None);
        assert_eq!(sdist_version("foo-1.0-1.x86_64.rpm", "foo"), None);
        assert_eq!(sdist_version("foo-1.0.win-amd64.zip", "foo"), None);
        assert_eq!(sdist_version("foo-bar-1.0.tar.gz", "foo"), None);
        assert_eq!(sdist_version("foo-1.0.tar.gz", "foo-bar"), None);
        assert_eq!(sdist_version("foobar-1.0.tar.gz", "foo"), None);
        assert_eq!(sdist_version("foo_-1.0.tar.gz", "foo"), None);
        assert_eq!(sdist_version("foo.tar.gz", "foo"), None);
    }

    #[test]
    fn parses_wheels_of_the_package_only() {
        let filename = "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
        let Some(DistFilename::Wheel(wheel)) = DistFilename::parse(filename, &package("NumPy"))
        else {
            panic!("`{filename}` is a numpy wheel");
        };
        assert_eq!(wheel.version.to_string(), "2.1.3");
        assert_eq!(DistFilename::parse(filename, &package("scipy")), None);
        assert_eq!(
            DistFilename::parse("numpy-2.1.3-cp311.whl", &package("numpy")),
            None
        );
    }

    #[test]
    fn exposes_name_and_version() {
        let sdist = DistFilename::parse("Foo.Bar-1.0.tar.gz", &package("foo-bar")).unwrap();
        assert_eq!(sdist.name().as_ref(), "foo-bar");
        assert_eq!(sdist.version().to_string(), "1.0");
    }

    #[test]
    fn normalizes_without_allocating() {
        assert!(normalizes_to("Foo._-Bar", "foo-bar"));
        assert!(!normalizes_to("foo", "foo-bar"));
        assert!(!normalizes_to("foo-bar-baz", "foo-bar"));
    }
}
