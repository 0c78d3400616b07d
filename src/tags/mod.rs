//! Wheel and sdist filenames, the target's platform, and wheel tag compatibility (PEP 425, PEP 600).
//!
//! Pure: no I/O. The resolver asks [`Tags::compatibility`] which wheels of a release can install on a
//! target, and the [`Ord`] of [`TagCompatibility`] picks the one pip would pick.

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

/// A CPython `major.minor` version, the unit images are built for (`3.11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    pub major: u8,
    pub minor: u8,
}

/// CPU architecture of a target platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

/// A Linux target: architecture plus the glibc floor, spelled as uv spells `--python-platform`
/// (`x86_64-manylinux_2_28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub arch: Arch,
    /// glibc `(major, minor)` of the image: wheels tagged `manylinux_X_Y` above it cannot load.
    pub glibc: (u16, u16),
}

/// A parsed wheel filename (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`), with each
/// compressed tag set (`py2.py3`) split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build_tag: Option<String>,
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

/// A parsed source distribution filename (`{name}-{version}.tar.gz` or `.zip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistFilename {
    pub name: PackageName,
    pub version: Version,
}

/// Either kind of file an index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistFilename {
    Wheel(WheelFilename),
    Sdist(SdistFilename),
}

/// Why a filename could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the filename `{filename}` is invalid: {reason}")]
pub struct FilenameError {
    pub filename: String,
    pub reason: String,
}

/// Why a wheel cannot install on the target, from farthest to nearest miss, so that the maximum over a
/// release's wheels names the most useful reason for an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncompatibleTag {
    /// No python tag fits (`cp39` on a 3.11 target).
    Python,
    /// The python tag fits but the ABI does not (`cp311-cp311d`).
    Abi,
    /// Python and ABI fit but the platform does not (`win_amd64`, `musllinux`, a newer glibc, other arch).
    Platform,
}

/// How well a wheel fits; higher is preferred (pip's order of `packaging.tags.sys_tags()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagPriority(pub u32);

/// Whether a wheel installs on the target, and how preferred it is.
///
/// `Incompatible < Compatible`, so `max()` over a release's wheels is the wheel pip would choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagCompatibility {
    Incompatible(IncompatibleTag),
    Compatible(TagPriority),
}

/// The set of tags a target interpreter accepts.
#[derive(Debug, Clone)]
pub struct Tags {
    pub python: PythonVersion,
    pub platform: Platform,
}

impl FromStr for PythonVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        todo!("{s}")
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        todo!("{s}")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!()
    }
}

impl Arch {
    /// The `platform_machine` marker value (`x86_64`, `aarch64`).
    pub fn machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        todo!("{s}")
    }
}

impl DistFilename {
    /// Parse a file listed on `package`'s index page; `None` for files that are neither a wheel nor an
    /// sdist of that package (`.exe`, `.egg`, a wrong name).
    pub fn parse(filename: &str, package: &PackageName) -> Option<DistFilename> {
        todo!("{filename}{package}")
    }
}

impl Tags {
    pub fn new(python: PythonVersion, platform: Platform) -> Tags {
        Tags { python, platform }
    }

    /// Whether `wheel` installs on this target, and how preferred it is.
    pub fn compatibility(&self, wheel: &WheelFilename) -> TagCompatibility {
        todo!("{wheel:?}")
    }
}
