//! The target interpreter's `major.minor` version, as written in `fave-lock.toml` (`python-version = "3.11"`).

use std::fmt;
use std::str::FromStr;

/// A CPython `major.minor` version, the unit images are built for (`3.11`).
///
/// Only 3.8 and later parse: from 3.8 on the ABI tag is plain `cpXY` (older versions add `m` for pymalloc),
/// and the tag order in [`crate::tags::Tags`] relies on that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    /// Always 3.
    pub major: u8,
    /// 8 or later.
    pub minor: u8,
}

impl PythonVersion {
    /// The oldest version whose tags [`crate::tags::Tags`] knows how to generate.
    const OLDEST: PythonVersion = PythonVersion { major: 3, minor: 8 };

    /// The version without the dot, as tags spell it (`311` in `cp311`).
    pub(crate) fn nodot(self) -> String {
        format!("{}{}", self.major, self.minor)
    }
}

impl FromStr for PythonVersion {
    type Err = String;

    /// Parse `3.11`. A patch version (`3.11.4`) is rejected rather than ignored, because wheels are tagged
    /// by `major.minor` only and a patch in the config suggests a misunderstanding worth pointing out.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| format!("invalid Python version `{s}`: {why}");
        let Some((major, minor)) = s.split_once('.') else {
            return Err(invalid("expected `major.minor`, such as `3.11`"));
        };
        if minor.contains('.') {
            return Err(invalid(
                "expected `major.minor` without a patch version, such as `3.11`",
            ));
        }
        let version = PythonVersion {
            major: parse_component(major)
                .ok_or_else(|| invalid("the major version is not a number from 0 to 255"))?,
            minor: parse_component(minor)
                .ok_or_else(|| invalid("the minor version is not a number from 0 to 255"))?,
        };
        if version.major != 3 || version < Self::OLDEST {
            return Err(invalid("only CPython 3.8 and later are supported"));
        }
        Ok(version)
    }
}

/// One dot-separated number: ASCII digits only, so that `+3` or ` 3` (which `u8::from_str` would accept or
/// mangle) are refused.
fn parse_component(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PythonVersion, String> {
        text.parse()
    }

    #[test]
    fn parses_major_minor() {
        assert_eq!(
            parse("3.11"),
            Ok(PythonVersion {
                major: 3,
                minor: 11
            })
        );
        assert_eq!(parse("3.8"), Ok(PythonVersion { major: 3, minor: 8 }));
        assert_eq!(parse("3.13").unwrap().to_string(), "3.13");
        assert_eq!(parse("3.11").unwrap().nodot(), "311");
    }

    #[test]
    fn rejects_garbage() {
        insta::assert_snapshot!(parse("3").unwrap_err(), @"invalid Python version `3`: expected `major.minor`, such as `3.11`");
        insta::assert_snapshot!(parse("3.11.4").unwrap_err(), @"invalid Python version `3.11.4`: expected `major.minor` without a patch version, such as `3.11`");
        insta::assert_snapshot!(parse("3.x").unwrap_err(), @"invalid Python version `3.x`: the minor version is not a number from 0 to 255");
        insta::assert_snapshot!(parse("+3.11").unwrap_err(), @"invalid Python version `+3.11`: the major version is not a number from 0 to 255");
        insta::assert_snapshot!(parse("3.").unwrap_err(), @"invalid Python version `3.`: the minor version is not a number from 0 to 255");
        insta::assert_snapshot!(parse("3.999").unwrap_err(), @"invalid Python version `3.999`: the minor version is not a number from 0 to 255");
        insta::assert_snapshot!(parse("2.7").unwrap_err(), @"invalid Python version `2.7`: only CPython 3.8 and later are supported");
        insta::assert_snapshot!(parse("3.7").unwrap_err(), @"invalid Python version `3.7`: only CPython 3.8 and later are supported");
    }
}
