//! The target machine: CPU architecture plus the glibc floor of the image.
//!
//! Spelled two ways because two worlds meet here: uv's `--python-platform` (`x86_64-manylinux_2_28`), which
//! is what we print and what users pass on the command line, and the image config's OCI platform plus glibc
//! floor (`{ platform = "linux/amd64", manylinux = "2_36" }`), which is what registries and `docker buildx`
//! speak.

use std::fmt;
use std::str::FromStr;

/// CPU architecture of a target platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// `x86_64` in wheel tags, `amd64` in OCI.
    X86_64,
    /// `aarch64` in wheel tags, `arm64` in OCI.
    Aarch64,
}

impl Arch {
    /// Every supported architecture, for error messages that list the choices.
    const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The `platform_machine` marker value (`x86_64`, `aarch64`).
    pub fn machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The OCI platform name of a Linux image for this architecture (`linux/amd64`).
    pub fn oci(self) -> &'static str {
        match self {
            Arch::X86_64 => "linux/amd64",
            Arch::Aarch64 => "linux/arm64",
        }
    }

    /// Read an OCI platform name (`linux/amd64`, `linux/arm64`, `linux/arm64/v8`).
    ///
    /// `linux/arm64/v8` is accepted because registries report arm64 images with the `v8` variant, and it is the
    /// only arm64 variant there is.
    ///
    /// # Errors
    ///
    /// Any other OCI platform, with a message listing the supported ones.
    pub fn from_oci(name: &str) -> Result<Arch, String> {
        match name {
            "linux/amd64" => Ok(Arch::X86_64),
            "linux/arm64" | "linux/arm64/v8" => Ok(Arch::Aarch64),
            _ => Err(format!(
                "unsupported OCI platform `{name}`: expected {}",
                Self::choices(Arch::oci)
            )),
        }
    }

    /// Read a wheel-tag architecture (`x86_64`).
    fn from_machine(name: &str) -> Option<Arch> {
        Self::ALL.into_iter().find(|arch| arch.machine() == name)
    }

    /// The oldest glibc with a manylinux tag on this architecture.
    ///
    /// `manylinux1` and `manylinux2010` were only ever defined for x86, so for aarch64 pip's
    /// `packaging.tags` starts at `manylinux_2_17` (`manylinux2014`).
    pub(crate) fn oldest_glibc(self) -> (u16, u16) {
        match self {
            Arch::X86_64 => (2, 5),
            Arch::Aarch64 => (2, 17),
        }
    }

    /// "`a` or `b`", naming every architecture in some spelling.
    fn choices(spelling: fn(Arch) -> &'static str) -> String {
        let names: Vec<String> = Self::ALL
            .iter()
            .map(|arch| format!("`{}`", spelling(*arch)))
            .collect();
        names.join(" or ")
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.machine())
    }
}

/// A Linux target: architecture plus the glibc floor, spelled as uv spells `--python-platform`
/// (`x86_64-manylinux_2_28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// The CPU wheels must be built for.
    pub arch: Arch,
    /// glibc `(major, minor)` of the image: wheels tagged `manylinux_X_Y` above it cannot load.
    pub glibc: (u16, u16),
}

impl Platform {
    /// A platform whose glibc floor has manylinux wheels on `arch`.
    ///
    /// Refuses floors no manylinux tag describes (glibc 3.x, glibc 2.4, aarch64 before 2.17): such a target
    /// could only install `linux_*` wheels, which PyPI does not accept, so it is a typo, not a wish.
    ///
    /// # Errors
    ///
    /// A floor older than `arch`'s oldest manylinux tag, with a message naming that tag.
    pub fn new(arch: Arch, glibc: (u16, u16)) -> Result<Platform, String> {
        let oldest = arch.oldest_glibc();
        if glibc.0 != oldest.0 || glibc.1 < oldest.1 {
            return Err(format!(
                "glibc {}.{} has no manylinux wheels on `{arch}`: the oldest is manylinux_{}_{}",
                glibc.0, glibc.1, oldest.0, oldest.1
            ));
        }
        Ok(Platform { arch, glibc })
    }

    /// The OCI platform name of the image (`linux/amd64`).
    pub fn oci(self) -> &'static str {
        self.arch.oci()
    }

    /// Build from the config's spelling: an OCI platform name and a glibc floor written as in manylinux tags
    /// (`"linux/amd64"`, `"2_36"`).
    ///
    /// # Errors
    ///
    /// An unsupported OCI platform, a floor not spelled `2_<minor>`, or one without manylinux wheels.
    pub fn from_oci(oci: &str, manylinux: &str) -> Result<Platform, String> {
        let arch = Arch::from_oci(oci)?;
        let glibc = parse_glibc(manylinux).ok_or_else(|| {
            format!(
                "invalid manylinux glibc floor `{manylinux}`: expected `2_<minor>`, such as `2_28`"
            )
        })?;
        Platform::new(arch, glibc)
    }

    /// The manylinux tag of exactly the floor (`manylinux_2_28_x86_64`).
    pub fn manylinux_tag(self) -> String {
        format!("manylinux_{}_{}_{}", self.glibc.0, self.glibc.1, self.arch)
    }
}

/// `X_Y` to `(X, Y)`, digits only.
fn parse_glibc(text: &str) -> Option<(u16, u16)> {
    let (major, minor) = text.split_once('_')?;
    let number = |part: &str| -> Option<u16> {
        let is_digits = !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
        if is_digits { part.parse().ok() } else { None }
    };
    Some((number(major)?, number(minor)?))
}

/// The glibc version a manylinux tag (without its architecture) promises: `manylinux_2_28`, or one of the
/// legacy names PEP 600 maps onto glibc versions.
fn parse_manylinux(tag: &str) -> Option<(u16, u16)> {
    match tag {
        "manylinux2014" => Some((2, 17)),
        "manylinux2010" => Some((2, 12)),
        "manylinux1" => Some((2, 5)),
        _ => parse_glibc(tag.strip_prefix("manylinux_")?),
    }
}

impl FromStr for Platform {
    type Err = String;

    /// Parse uv's `--python-platform` spelling for manylinux targets: `x86_64-manylinux_2_28`, or a legacy
    /// alias such as `x86_64-manylinux2014` (= `manylinux_2_17`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!(
                "invalid platform `{s}`: expected `<arch>-manylinux_2_<minor>` with arch {}, such as \
                 `x86_64-manylinux_2_28`",
                Arch::choices(Arch::machine)
            )
        };
        let (arch, tag) = s.split_once('-').ok_or_else(expected)?;
        let arch = Arch::from_machine(arch).ok_or_else(expected)?;
        let glibc = parse_manylinux(tag).ok_or_else(expected)?;
        Platform::new(arch, glibc).map_err(|reason| format!("invalid platform `{s}`: {reason}"))
    }
}

impl fmt::Display for Platform {
    /// The canonical PEP 600 spelling, even when parsed from a legacy alias.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-manylinux_{}_{}",
            self.arch, self.glibc.0, self.glibc.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Platform, String> {
        text.parse()
    }

    fn platform(arch: Arch, minor: u16) -> Platform {
        Platform {
            arch,
            glibc: (2, minor),
        }
    }

    #[test]
    fn parses_uv_spelling() {
        assert_eq!(
            parse("x86_64-manylinux_2_28"),
            Ok(platform(Arch::X86_64, 28))
        );
        assert_eq!(
            parse("aarch64-manylinux_2_36"),
            Ok(platform(Arch::Aarch64, 36))
        );
        assert_eq!(
            parse("x86_64-manylinux2014"),
            Ok(platform(Arch::X86_64, 17))
        );
        assert_eq!(
            parse("x86_64-manylinux2010"),
            Ok(platform(Arch::X86_64, 12))
        );
        assert_eq!(parse("x86_64-manylinux1"), Ok(platform(Arch::X86_64, 5)));
        assert_eq!(
            parse("aarch64-manylinux2014"),
            Ok(platform(Arch::Aarch64, 17))
        );
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(
            parse("x86_64-manylinux_2_28").unwrap().to_string(),
            "x86_64-manylinux_2_28"
        );
        assert_eq!(
            parse("x86_64-manylinux2014").unwrap().to_string(),
            "x86_64-manylinux_2_17"
        );
        assert_eq!(
            parse("x86_64-manylinux1").unwrap().to_string(),
            "x86_64-manylinux_2_5"
        );
        assert_eq!(
            platform(Arch::Aarch64, 36).manylinux_tag(),
            "manylinux_2_36_aarch64"
        );
    }

    #[test]
    fn rejects_other_platforms() {
        insta::assert_snapshot!(parse("x86_64-unknown-linux-gnu").unwrap_err(), @"invalid platform `x86_64-unknown-linux-gnu`: expected `<arch>-manylinux_2_<minor>` with arch `x86_64` or `aarch64`, such as `x86_64-manylinux_2_28`");
        insta::assert_snapshot!(parse("amd64-manylinux_2_28").unwrap_err(), @"invalid platform `amd64-manylinux_2_28`: expected `<arch>-manylinux_2_<minor>` with arch `x86_64` or `aarch64`, such as `x86_64-manylinux_2_28`");
        insta::assert_snapshot!(parse("x86_64-musllinux_1_2").unwrap_err(), @"invalid platform `x86_64-musllinux_1_2`: expected `<arch>-manylinux_2_<minor>` with arch `x86_64` or `aarch64`, such as `x86_64-manylinux_2_28`");
        insta::assert_snapshot!(parse("x86_64-manylinux_2_x").unwrap_err(), @"invalid platform `x86_64-manylinux_2_x`: expected `<arch>-manylinux_2_<minor>` with arch `x86_64` or `aarch64`, such as `x86_64-manylinux_2_28`");
        insta::assert_snapshot!(parse("x86_64").unwrap_err(), @"invalid platform `x86_64`: expected `<arch>-manylinux_2_<minor>` with arch `x86_64` or `aarch64`, such as `x86_64-manylinux_2_28`");
    }

    #[test]
    fn rejects_floors_without_manylinux_wheels() {
        insta::assert_snapshot!(parse("aarch64-manylinux1").unwrap_err(), @"invalid platform `aarch64-manylinux1`: glibc 2.5 has no manylinux wheels on `aarch64`: the oldest is manylinux_2_17");
        insta::assert_snapshot!(parse("x86_64-manylinux_2_4").unwrap_err(), @"invalid platform `x86_64-manylinux_2_4`: glibc 2.4 has no manylinux wheels on `x86_64`: the oldest is manylinux_2_5");
        insta::assert_snapshot!(parse("x86_64-manylinux_3_1").unwrap_err(), @"invalid platform `x86_64-manylinux_3_1`: glibc 3.1 has no manylinux wheels on `x86_64`: the oldest is manylinux_2_5");
    }

    #[test]
    fn converts_oci_names() {
        assert_eq!(Arch::from_oci("linux/amd64"), Ok(Arch::X86_64));
        assert_eq!(Arch::from_oci("linux/arm64"), Ok(Arch::Aarch64));
        assert_eq!(Arch::from_oci("linux/arm64/v8"), Ok(Arch::Aarch64));
        assert_eq!(platform(Arch::X86_64, 28).oci(), "linux/amd64");
        assert_eq!(platform(Arch::Aarch64, 28).oci(), "linux/arm64");
        insta::assert_snapshot!(Arch::from_oci("linux/arm/v7").unwrap_err(), @"unsupported OCI platform `linux/arm/v7`: expected `linux/amd64` or `linux/arm64`");
    }

    #[test]
    fn builds_from_config_spelling() {
        assert_eq!(
            Platform::from_oci("linux/amd64", "2_36"),
            Ok(platform(Arch::X86_64, 36))
        );
        assert_eq!(
            Platform::from_oci("linux/arm64", "2_28"),
            Ok(platform(Arch::Aarch64, 28))
        );
        insta::assert_snapshot!(Platform::from_oci("linux/amd64", "2.36").unwrap_err(), @"invalid manylinux glibc floor `2.36`: expected `2_<minor>`, such as `2_28`");
        insta::assert_snapshot!(Platform::from_oci("linux/amd64", "manylinux_2_36").unwrap_err(), @"invalid manylinux glibc floor `manylinux_2_36`: expected `2_<minor>`, such as `2_28`");
        insta::assert_snapshot!(Platform::from_oci("linux/arm64", "2_12").unwrap_err(), @"glibc 2.12 has no manylinux wheels on `aarch64`: the oldest is manylinux_2_17");
        insta::assert_snapshot!(Platform::from_oci("windows/amd64", "2_28").unwrap_err(), @"unsupported OCI platform `windows/amd64`: expected `linux/amd64` or `linux/arm64`");
    }
}
