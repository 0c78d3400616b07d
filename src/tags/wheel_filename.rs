//! Wheel filenames: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
//!
//! The format is the binary distribution format specification
//! (<https://packaging.python.org/en/latest/specifications/binary-distribution-format/#file-name-convention>),
//! with PEP 425's compressed tag sets (`py2.py3`). Names are normalized (PEP 503) and versions parsed
//! (PEP 440) here, so that the rest of the crate compares values, never strings.

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;

/// A parsed wheel filename (`{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`), with each
/// compressed tag set (`py2.py3`) split.
///
/// [`fmt::Display`] prints the canonical form (normalized name with `_`, normalized version), which can
/// differ from the file's real name (`PyYAML-6.0-…` prints as `pyyaml-6.0-…`); keep the original string for
/// URLs and lock files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    /// Normalized, so that `PyYAML` and `pyyaml` wheels are the same package's.
    pub name: PackageName,
    pub version: Version,
    /// Breaks ties between wheels of the same version and tags; the spec requires it to start with a digit.
    pub build_tag: Option<String>,
    /// The three tag sets as the filename spells them, `python-abi-platform` (`cp311-cp311-
    /// manylinux_2_17_x86_64.manylinux2014_x86_64`), each checked to hold no empty tag. One string
    /// rather than a `Vec<String>` per set: every wheel of every page is parsed, and splitting the sets
    /// into strings took 113 M of a cold fastapi-template resolve's 2,226 M instructions, besides
    /// freeing them (callgrind).
    tag_sets: String,
}

/// Why a filename could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the filename `{filename}` is invalid: {reason}")]
pub struct FilenameError {
    /// The filename as listed.
    pub filename: String,
    /// What is wrong with it, phrased to follow "is invalid: ".
    pub reason: String,
}

impl FilenameError {
    pub(crate) fn new(filename: &str, reason: impl Into<String>) -> FilenameError {
        FilenameError {
            filename: filename.to_owned(),
            reason: reason.into(),
        }
    }
}

impl WheelFilename {
    /// Every `(python, abi, platform)` triple the compressed tag sets expand to: the wheel installs wherever
    /// any one of them does (PEP 425).
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.python_tags().flat_map(move |python| {
            self.abi_tags().flat_map(move |abi| {
                self.platform_tags()
                    .map(move |platform| (python, abi, platform))
            })
        })
    }

    /// `cp311`, `py3`: the interpreters the wheel is built for.
    pub fn python_tags(&self) -> impl Iterator<Item = &str> {
        self.tag_set(0).split('.')
    }

    /// `cp311`, `abi3`, `none`: the binary interfaces it links against.
    pub fn abi_tags(&self) -> impl Iterator<Item = &str> {
        self.tag_set(1).split('.')
    }

    /// `manylinux_2_17_x86_64`, `any`: the platforms it runs on.
    pub fn platform_tags(&self) -> impl Iterator<Item = &str> {
        self.tag_set(2).split('.')
    }

    /// Tag set number `which` (python, ABI, platform): tags hold no `-`, the filename was split on it.
    fn tag_set(&self, which: usize) -> &str {
        self.tag_sets.splitn(3, '-').nth(which).unwrap_or_default()
    }

    /// The tag sets as the filename spells them: `cp39-cp39-manylinux1_x86_64`.
    pub fn tag_sets(&self) -> &str {
        &self.tag_sets
    }
}

/// The dash-separated fields of a wheel filename, still unparsed.
struct Fields<'a> {
    name: &'a str,
    version: &'a str,
    build_tag: Option<&'a str>,
    python: &'a str,
    abi: &'a str,
    platform: &'a str,
}

impl<'a> Fields<'a> {
    /// Split the stem (filename without `.whl`) on `-`, naming what is missing when there are too few fields.
    fn split(stem: &'a str) -> Result<Fields<'a>, &'static str> {
        // Seven slots tell every count the match below tells apart, without collecting into a `Vec`
        // (a heap allocation per file of every page).
        let mut parts: [&str; 7] = [""; 7];
        let mut count = 0;
        for part in stem.split('-') {
            if count < parts.len() {
                parts[count] = part;
            }
            count += 1;
        }
        let parts = &parts[..count.min(parts.len())];
        let fields = |build_tag, [name, version, python, abi, platform]: [&'a str; 5]| Fields {
            name,
            version,
            build_tag,
            python,
            abi,
            platform,
        };
        match *parts {
            [name, version, python, abi, platform] => {
                Ok(fields(None, [name, version, python, abi, platform]))
            }
            [name, version, build, python, abi, platform] => {
                Ok(fields(Some(build), [name, version, python, abi, platform]))
            }
            [_] => Err("must have a version"),
            [_, _] => Err("must have a python tag"),
            [_, _, _] => Err("must have an ABI tag"),
            [_, _, _, _] => Err("must have a platform tag"),
            _ => Err(
                "has more than six `-`-separated fields; a wheel's name and version must spell `-` as `_`",
            ),
        }
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| FilenameError::new(filename, reason);
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| error("a wheel filename must end with `.whl`".to_owned()))?;
        let fields =
            Fields::split(stem).map_err(|reason| error(format!("a wheel filename {reason}")))?;
        let name = PackageName::from_str(fields.name)
            .map_err(|_| error(format!("`{}` is not a valid package name", fields.name)))?;
        let version = Version::from_str(fields.version).map_err(|source| {
            error(format!(
                "the version `{}` is invalid: {source}",
                fields.version
            ))
        })?;
        if let Some(build_tag) = fields.build_tag
            && !build_tag.starts_with(|character: char| character.is_ascii_digit())
        {
            return Err(error(format!(
                "the build tag `{build_tag}` must start with a digit"
            )));
        }
        Ok(WheelFilename {
            name,
            version,
            build_tag: fields.build_tag.map(str::to_owned),
            tag_sets: [
                check_tag_set(fields.python, "python").map_err(error)?,
                check_tag_set(fields.abi, "ABI").map_err(error)?,
                check_tag_set(fields.platform, "platform").map_err(error)?,
            ]
            .join("-"),
        })
    }
}

/// A compressed tag set (`py2.py3`) as given, after checking that none of its tags is empty.
fn check_tag_set<'a>(set: &'a str, kind: &str) -> Result<&'a str, String> {
    if set.split('.').any(str::is_empty) {
        return Err(format!("the {kind} tag set `{set}` contains an empty tag"));
    }
    Ok(set)
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name.as_dist_info_name(), self.version)?;
        if let Some(build_tag) = &self.build_tag {
            write!(f, "-{build_tag}")?;
        }
        write!(f, "-{}.whl", self.tag_sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(filename: &str) -> WheelFilename {
        filename.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    fn error(filename: &str) -> FilenameError {
        filename.parse::<WheelFilename>().unwrap_err()
    }

    #[test]
    fn parses_plain_wheel() {
        let wheel = parse("numpy-2.1.3-cp311-cp311-manylinux_2_28_x86_64.whl");
        assert_eq!(wheel.name.as_ref(), "numpy");
        assert_eq!(wheel.version, Version::from_str("2.1.3").unwrap());
        assert_eq!(wheel.build_tag, None);
        assert_eq!(wheel.python_tags().collect::<Vec<_>>(), ["cp311"]);
        assert_eq!(wheel.abi_tags().collect::<Vec<_>>(), ["cp311"]);
        assert_eq!(
            wheel.platform_tags().collect::<Vec<_>>(),
            ["manylinux_2_28_x86_64"]
        );
        assert_eq!(wheel.tag_sets(), "cp311-cp311-manylinux_2_28_x86_64");
    }

    #[test]
    fn parses_build_tag() {
        let wheel = parse("torch-2.4.1-1-cp311-cp311-manylinux1_x86_64.whl");
        assert_eq!(wheel.build_tag.as_deref(), Some("1"));
        assert_eq!(wheel.version, Version::from_str("2.4.1").unwrap());
        assert_eq!(
            parse("foo-1.0-12abc-py3-none-any.whl").build_tag.as_deref(),
            Some("12abc")
        );
    }

    #[test]
    fn splits_compressed_tag_sets() {
        let wheel = parse("numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        assert_eq!(
            wheel.platform_tags().collect::<Vec<_>>(),
            ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        let wheel = parse("soundfile-0.12.1-py2.py3-none-manylinux_2_31_x86_64.whl");
        assert_eq!(wheel.python_tags().collect::<Vec<_>>(), ["py2", "py3"]);
        assert_eq!(wheel.abi_tags().collect::<Vec<_>>(), ["none"]);
        let triples: Vec<_> = wheel.tags().collect();
        assert_eq!(
            triples,
            [
                ("py2", "none", "manylinux_2_31_x86_64"),
                ("py3", "none", "manylinux_2_31_x86_64")
            ]
        );
    }

    #[test]
    fn normalizes_name_and_version() {
        let wheel = parse("PyYAML-6.0.00-cp311-cp311-manylinux_2_17_x86_64.whl");
        assert_eq!(wheel.name.as_ref(), "pyyaml");
        assert_eq!(
            wheel.to_string(),
            "pyyaml-6.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
        let wheel = parse("typing_extensions-4.12.2-py3-none-any.whl");
        assert_eq!(wheel.name.as_ref(), "typing-extensions");
        assert_eq!(
            wheel.to_string(),
            "typing_extensions-4.12.2-py3-none-any.whl"
        );
    }

    #[test]
    fn displays_round_trip() {
        for filename in [
            "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "onnxruntime-1.19.2-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
            "torch-2.4.1-1-cp311-cp311-manylinux1_x86_64.whl",
            "soundfile-0.12.1-py2.py3-none-manylinux_2_31_x86_64.whl",
        ] {
            assert_eq!(parse(filename).to_string(), filename);
        }
    }

    #[test]
    fn rejects_bad_filenames() {
        insta::assert_snapshot!(error("foo-1.2.3-py3-none-any.zip"), @"the filename `foo-1.2.3-py3-none-any.zip` is invalid: a wheel filename must end with `.whl`");
        insta::assert_snapshot!(error("foo.whl"), @"the filename `foo.whl` is invalid: a wheel filename must have a version");
        insta::assert_snapshot!(error("foo-1.2.3.whl"), @"the filename `foo-1.2.3.whl` is invalid: a wheel filename must have a python tag");
        insta::assert_snapshot!(error("foo-1.2.3-py3.whl"), @"the filename `foo-1.2.3-py3.whl` is invalid: a wheel filename must have an ABI tag");
        insta::assert_snapshot!(error("foo-1.2.3-py3-none.whl"), @"the filename `foo-1.2.3-py3-none.whl` is invalid: a wheel filename must have a platform tag");
        insta::assert_snapshot!(error("foo-bar-1.2.3-1-py3-none-any.whl"), @"the filename `foo-bar-1.2.3-1-py3-none-any.whl` is invalid: a wheel filename has more than six `-`-separated fields; a wheel's name and version must spell `-` as `_`");
        insta::assert_snapshot!(error("fo$o-1.2.3-py3-none-any.whl"), @"the filename `fo$o-1.2.3-py3-none-any.whl` is invalid: `fo$o` is not a valid package name");
        insta::assert_snapshot!(error("foo-1.x.3-py3-none-any.whl"), @r#"the filename `foo-1.x.3-py3-none-any.whl` is invalid: the version `1.x.3` is invalid: after parsing `1`, found `.x.3`, which is not part of a valid version"#);
        insta::assert_snapshot!(error("foo-1.2.3-beta-py3-none-any.whl"), @"the filename `foo-1.2.3-beta-py3-none-any.whl` is invalid: the build tag `beta` must start with a digit");
        insta::assert_snapshot!(error("foo-1.2.3-py3.-none-any.whl"), @"the filename `foo-1.2.3-py3.-none-any.whl` is invalid: the python tag set `py3.` contains an empty tag");
        insta::assert_snapshot!(error("foo-1.2.3-py3--any.whl"), @"the filename `foo-1.2.3-py3--any.whl` is invalid: the ABI tag set `` contains an empty tag");
    }
}
