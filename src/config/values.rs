//! Parsers for single config values. Each returns the value or a message naming the key and the
//! accepted forms; the caller adds the line.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;

use crate::tags::{Arch, PythonVersion};

/// The OCI platforms fave-lock can lock for, and their architectures. The lock targets manylinux
/// wheels for CPython images, and only these two have a build of the base image.
pub(super) const SUPPORTED_PLATFORMS: &[(&str, Arch)] = &[
    ("linux/amd64", Arch::X86_64),
    ("linux/arm64", Arch::Aarch64),
];

/// `python-version`: a CPython `3.N`. Parsed here rather than with `PythonVersion::from_str` so the
/// message can say what the config expects.
pub(super) fn python_version(text: &str) -> Result<PythonVersion, String> {
    match number_pair(text, '.') {
        Some((3, minor)) => Ok(PythonVersion { major: 3, minor }),
        _ => Err(format!(
            "`python-version` must be a CPython `major.minor` version like \"3.11\", found \"{text}\""
        )),
    }
}

/// `platform`: one of [`SUPPORTED_PLATFORMS`], by OCI name.
pub(super) fn architecture(text: &str) -> Result<Arch, String> {
    SUPPORTED_PLATFORMS
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, arch)| *arch)
        .ok_or_else(|| {
            let names: Vec<&str> = SUPPORTED_PLATFORMS.iter().map(|(name, _)| *name).collect();
            format!(
                "unsupported platform \"{text}\": fave-lock supports {}",
                super::checker::quoted_list(&names)
            )
        })
}

/// `manylinux`: the image's glibc as `2_N`, the spelling of the PEP 600 tag `manylinux_2_N`.
pub(super) fn glibc(text: &str) -> Result<(u16, u16), String> {
    match number_pair(text, '_') {
        Some((2, minor)) => Ok((2, minor)),
        _ => Err(format!(
            "`manylinux` must be the image's glibc version written `2_N` (\"2_36\" for glibc 2.36, as in the \
             wheel tag `manylinux_2_36`), found \"{text}\""
        )),
    }
}

/// `major{separator}minor` as two numbers, digits only (`str::parse` alone would take `+5`).
fn number_pair<T: FromStr>(text: &str, separator: char) -> Option<(T, T)> {
    let is_digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    let (major, minor) = text
        .split_once(separator)
        .filter(|(major, minor)| is_digits(major) && is_digits(minor))?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `exclude-newer`: an RFC 3339 timestamp with offset, or a plain date meaning midnight UTC.
///
/// A local date-time without offset is refused: which instant it means would depend on the machine
/// running fave-lock, and the cutoff must be the same everywhere.
pub(super) fn exclude_newer(text: &str) -> Result<Timestamp, String> {
    if let Ok(timestamp) = Timestamp::from_str(text) {
        return Ok(timestamp);
    }
    let is_plain_date = text.len() == 10 && !text.contains('T');
    if let Some(date) = is_plain_date.then(|| Date::from_str(text).ok()).flatten()
        && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    Err(format!(
        "`exclude-newer` must be an RFC 3339 timestamp with an offset (\"2026-11-01T00:00:00Z\") or a date \
         (\"2026-11-01\", meaning midnight UTC), found \"{text}\""
    ))
}

/// `name`: lowercase, as in `[a-z0-9][a-z0-9._-]*`, because it names folders and registry tags.
pub(super) fn image_name(text: &str) -> Result<(), String> {
    let mut bytes = text.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    let rest_ok = bytes
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "image name \"{text}\" is invalid: use lowercase letters, digits, `.`, `_` and `-`, starting with a \
             letter or digit (like \"fave-base\")"
        ))
    }
}

/// `output`: a relative path that stays inside the repository, since fave-lock writes (and may
/// replace) files there. `.` components and trailing slashes are dropped.
pub(super) fn output(text: &str) -> Result<PathBuf, String> {
    let path = Path::new(text);
    let escapes = path
        .components()
        .any(|component| !matches!(component, Component::Normal(_) | Component::CurDir));
    if escapes || text.is_empty() {
        return Err(format!(
            "`output` must be a relative path inside the repository (like \"locks/fave-base\"), without `..` \
             or a leading `/`, found \"{text}\""
        ));
    }
    Ok(normalize_path(text))
}

/// `requirements`: a non-empty path, relative to the config's folder unless absolute.
pub(super) fn requirements(text: &str) -> Result<PathBuf, String> {
    if text.trim().is_empty() {
        return Err(
            "`requirements` must name a requirements file, like \"base-image/requirements.in\""
                .to_string(),
        );
    }
    Ok(normalize_path(text))
}

/// `path` without `.` components or a trailing `/`, so equal paths compare and hash equal.
fn normalize_path(text: &str) -> PathBuf {
    let path: PathBuf = Path::new(text)
        .components()
        .filter(|component| *component != Component::CurDir)
        .collect();
    if path.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        path
    }
}

/// `index-url`: an http(s) URL of a PEP 503 simple index.
pub(super) fn index_url(text: &str) -> Result<(), String> {
    if text.starts_with("https://") || text.starts_with("http://") {
        Ok(())
    } else {
        Err(format!(
            "`index-url` must be an http(s) URL like \"https://pypi.org/simple\", found \"{text}\""
        ))
    }
}

/// `registry`: an OCI repository reference without scheme or tag (`ghcr.io/org/image`).
pub(super) fn registry(text: &str) -> Result<(), String> {
    let valid = !text.is_empty()
        && !text.contains("://")
        && !text.contains(char::is_whitespace)
        && !text.contains('@')
        && text
            .chars()
            .all(|character| !character.is_ascii_uppercase());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`registry` must be a lowercase repository like \"ghcr.io/fave-project/fave-base\", without \
             `https://` or a digest, found \"{text}\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions() {
        assert_eq!(
            python_version("3.11"),
            Ok(PythonVersion {
                major: 3,
                minor: 11
            })
        );
        for bad in ["3", "3.11.4", "2.7", "3.x", "3.+1", ""] {
            assert!(python_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn glibc_floors() {
        assert_eq!(glibc("2_36"), Ok((2, 36)));
        assert_eq!(glibc("2_17"), Ok((2, 17)));
        for bad in ["2.36", "manylinux_2_36", "3_1", "2_", "2_+5", "236"] {
            assert!(glibc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exclude_newer_forms() {
        let midnight: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        assert_eq!(exclude_newer("2026-11-01T00:00:00Z"), Ok(midnight));
        assert_eq!(exclude_newer("2026-11-01T02:00:00+02:00"), Ok(midnight));
        assert_eq!(exclude_newer("2026-11-01"), Ok(midnight));
        for bad in [
            "2026-11-01T00:00:00",
            "2026-11-1",
            "yesterday",
            "2026-13-01",
        ] {
            assert!(exclude_newer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_names() {
        for good in ["fave-base", "a", "0x.y_z"] {
            assert!(image_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Fave", "-x", ".x", "a b", "a/b"] {
            assert!(image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outputs_stay_inside() {
        assert_eq!(
            output("./locks/fave-base/"),
            Ok(PathBuf::from("locks/fave-base"))
        );
        assert_eq!(output("."), Ok(PathBuf::from(".")));
        for bad in ["", "/abs", "../up", "locks/../../up"] {
            assert!(output(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registries() {
        assert!(registry("ghcr.io/fave-project/fave-base").is_ok());
        for bad in ["", "https://ghcr.io/x", "ghcr.io/X", "ghcr.io/x@sha256:00"] {
            assert!(registry(bad).is_err(), "{bad}");
        }
    }
}
