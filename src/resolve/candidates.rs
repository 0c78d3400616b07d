//! Which releases of a package can install on one target, and which file each would install.
//!
//! A release is usable when, after dropping files newer than `exclude-newer` and files whose
//! `requires-python` excludes the target, a wheel fits the target's tags (or its sdist is allowed).
//! Unusable releases keep their reason, so that a failure can say why an exact pin cannot install.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use version_ranges::Ranges;

use super::Target;
use super::version_table::{StoredValue, VersionTable};
use crate::index::page_codec::{Reader, Writer};
use crate::index::{DistFile, FileRef, ProjectPage};
use crate::tags::{DistFilename, IncompatibleTag, PythonVersion, TagCompatibility};

/// A release that can install on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The file pip would install: the best-tagged wheel, or the sdist when allowed and no wheel fits.
    pub file: DistFile,
    /// `Some(reason)` when every fitting file is yanked (PEP 592).
    pub yanked: Option<String>,
    /// The file whose core metadata describes the release when that is not `file` (see
    /// [`metadata_file`](Self::metadata_file)); `None` for most releases, so that a candidate holds
    /// one copy of its file: warm runs decode thousands of candidates from the cache. Boxed, so that
    /// the candidates of a version map (kept for the whole run) do not each reserve room for a file.
    other_metadata_file: Option<Box<DistFile>>,
}

impl Candidate {
    /// A candidate installing `file`, whose core metadata is read from `metadata_file` (`None`: from
    /// `file` itself).
    pub fn new(
        file: DistFile,
        yanked: Option<String>,
        metadata_file: Option<DistFile>,
    ) -> Candidate {
        let other_metadata_file = metadata_file
            .filter(|metadata_file| *metadata_file != file)
            .map(Box::new);
        Candidate {
            file,
            yanked,
            other_metadata_file,
        }
    }

    /// The file whose core metadata describes the release: `file` itself, except for an sdist whose
    /// release also has wheels (for other targets): like uv, fave-lock then reads a wheel's METADATA,
    /// which a release shares across its files, instead of building the sdist to learn the same.
    pub fn metadata_file(&self) -> &DistFile {
        self.other_metadata_file.as_deref().unwrap_or(&self.file)
    }
}

/// Why a release cannot install on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Every file was uploaded after the `exclude-newer` cutoff; holds the earliest upload.
    NewerThanCutoff { earliest: Timestamp },
    /// Every file's `requires-python` excludes the target.
    RequiresPython { specifiers: String },
    /// The input gives `--hash` values for the package and none of the release's files has one.
    NoFileWithHash { files: usize },
    /// No wheel fits and no sdist may be used.
    NoWheel {
        /// The nearest miss over the release's wheels, if it has any.
        nearest: Option<IncompatibleTag>,
        /// The tag triples of the wheels it does have (`cp39-cp39-manylinux1_x86_64`).
        wheel_tags: Vec<String>,
        /// Whether an sdist exists (usable only when the config allows it).
        has_sdist: bool,
    },
}

/// Every release of a package, split by whether it can install on one target.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VersionMap {
    pub usable: VersionTable<Candidate>,
    pub unusable: VersionTable<Unusable>,
}

/// As stored: `file · opt<str> yanked · u8 (0: metadata file follows as a file | 1: same as file)`.
impl StoredValue for Candidate {
    fn read(input: &mut Reader<'_>) -> Option<Candidate> {
        let file = input.file()?;
        let yanked = input.opt(|input| input.str().map(str::to_string))?;
        let metadata_file = if input.bool()? {
            None
        } else {
            Some(input.file()?)
        };
        Some(Candidate::new(file, yanked, metadata_file))
    }

    fn write(&self, out: &mut Writer) {
        out.file(&self.file);
        out.opt(self.yanked.as_deref(), Writer::str);
        match &self.other_metadata_file {
            None => out.u8(1),
            Some(metadata_file) => {
                out.u8(0);
                out.file(metadata_file);
            }
        }
    }
}

/// As stored: `u8 0 · time earliest | u8 1 · str specifiers | u8 2 · u64 files
/// | u8 3 · opt<u8 nearest> · u32 k · k × str wheel tag · u8 has_sdist`.
impl StoredValue for Unusable {
    fn read(input: &mut Reader<'_>) -> Option<Unusable> {
        Some(match input.u8()? {
            0 => Unusable::NewerThanCutoff {
                earliest: input.time()?,
            },
            1 => Unusable::RequiresPython {
                specifiers: input.str()?.to_string(),
            },
            2 => Unusable::NoFileWithHash {
                files: usize::try_from(input.u64()?).ok()?,
            },
            3 => {
                let nearest = input.opt(|input| match input.u8()? {
                    0 => Some(IncompatibleTag::Python),
                    1 => Some(IncompatibleTag::Abi),
                    2 => Some(IncompatibleTag::Platform),
                    _ => None,
                })?;
                let count = input.len()?;
                let mut wheel_tags = Vec::with_capacity(count.min(input.0.len() / 4));
                for _ in 0..count {
                    wheel_tags.push(input.str()?.to_string());
                }
                Unusable::NoWheel {
                    nearest,
                    wheel_tags,
                    has_sdist: input.bool()?,
                }
            }
            _ => return None,
        })
    }

    fn write(&self, out: &mut Writer) {
        match self {
            Unusable::NewerThanCutoff { earliest } => {
                out.u8(0);
                out.time(*earliest);
            }
            Unusable::RequiresPython { specifiers } => {
                out.u8(1);
                out.str(specifiers);
            }
            Unusable::NoFileWithHash { files } => {
                out.u8(2);
                out.u64(u64::try_from(*files).unwrap_or(u64::MAX));
            }
            Unusable::NoWheel {
                nearest,
                wheel_tags,
                has_sdist,
            } => {
                out.u8(3);
                out.opt(*nearest, |out, nearest| {
                    out.u8(match nearest {
                        IncompatibleTag::Python => 0,
                        IncompatibleTag::Abi => 1,
                        IncompatibleTag::Platform => 2,
                    });
                });
                out.len(wheel_tags.len());
                for tag in wheel_tags {
                    out.str(tag);
                }
                out.u8(u8::from(*has_sdist));
            }
        }
    }
}

/// What selection needs to know besides the page.
pub struct Policy<'a> {
    pub target: &'a Target,
    pub exclude_newer: Option<Timestamp>,
    pub allow_sdist: &'a super::SdistPolicy,
    /// The SHA-256 hashes the input's `--hash` options allow for this package, if it gives any.
    pub allowed_hashes: Option<&'a BTreeSet<String>>,
}

/// A page's files with their filenames parsed and grouped by release, in version order; independent of
/// the target, so one grouping serves every target.
#[derive(Debug, Default)]
pub struct Releases {
    /// Each release with its files, as (parsed filename, index into the page's `files`).
    by_version: Vec<(Version, Vec<(DistFilename, usize)>)>,
}

impl Releases {
    /// Parse every filename on `page` once; files whose names do not parse (or name another project)
    /// are skipped, as they cannot be installed as this project.
    pub fn new(page: &ProjectPage) -> Releases {
        let mut by_version: BTreeMap<Version, Vec<(DistFilename, usize)>> = BTreeMap::new();
        for (index, file) in page.files.iter().enumerate() {
            if let Some(parsed) = DistFilename::parse(file.filename(), &page.name) {
                let version = match &parsed {
                    DistFilename::Wheel(wheel) => wheel.version.clone(),
                    DistFilename::Sdist(sdist) => sdist.version.clone(),
                };
                by_version.entry(version).or_default().push((parsed, index));
            }
        }
        Releases {
            by_version: by_version.into_iter().collect(),
        }
    }
}

/// `requires-python` verdicts by text: a page repeats the same few values thousands of times, and
/// parsing specifiers is the costly part of checking one.
#[derive(Default)]
struct RequiresPythonMemo<'a> {
    verdicts: HashMap<&'a str, bool>,
}

impl<'a> RequiresPythonMemo<'a> {
    fn allows(&mut self, requires_python: Option<&'a str>, python: &Version) -> bool {
        let Some(text) = requires_python else {
            return true;
        };
        *self
            .verdicts
            .entry(text)
            .or_insert_with(|| requires_python_allows(Some(text), python))
    }
}

impl VersionMap {
    /// Sort `page`'s files into releases for `policy.target`.
    pub fn new(page: &ProjectPage, policy: &Policy<'_>) -> VersionMap {
        VersionMap::from_releases(page, &Releases::new(page), policy)
    }

    /// Sort the already grouped `releases` of `page` for `policy.target`: filenames are parsed once per
    /// page, not once per target.
    pub fn from_releases(
        page: &ProjectPage,
        releases: &Releases,
        policy: &Policy<'_>,
    ) -> VersionMap {
        let mut requires_python = RequiresPythonMemo::default();
        let mut map = VersionMap::default();
        for (version, files) in &releases.by_version {
            let files: Vec<(&DistFilename, FileRef<'_>)> = files
                .iter()
                .filter_map(|(parsed, index)| Some((parsed, page.files.get(*index)?)))
                .collect();
            match select(&page.name, &files, policy, &mut requires_python) {
                Ok(candidate) => {
                    map.usable.insert(version.clone(), candidate);
                }
                Err(reason) => {
                    map.unusable.insert(version.clone(), reason);
                }
            }
        }
        map
    }

    /// The highest usable release in `range`, as PubGrub wants it.
    ///
    /// A yanked release is only chosen when `range` is exactly that version (PEP 592: an `==` pin), and a
    /// pre-release only when `allow_prerelease` or no final release fits.
    pub fn best(&self, range: &Ranges<Version>, allow_prerelease: bool) -> Option<&Version> {
        let exact = range.as_singleton();
        // Versions first: a stored table decodes a release's file only once its version fits.
        let mut in_range = self.usable.newest_in(range).filter_map(|(at, version)| {
            let candidate = self.usable.value_at(at)?;
            (candidate.yanked.is_none() || exact == Some(version)).then_some(version)
        });
        if allow_prerelease {
            return in_range.next();
        }
        let mut first_pre = None;
        for version in in_range {
            if !version.any_prerelease() {
                return Some(version);
            }
            first_pre.get_or_insert(version);
        }
        first_pre
    }

    /// At most `count` usable releases in `range` below `chosen`, highest first: those
    /// [`VersionMap::best`] would offer next if `chosen` is ruled out, hence worth fetching ahead. Yanked
    /// ones are left out (only an exact pin takes one, and a pin has no next release), and so are
    /// pre-releases unless they are allowed or `chosen` is one (no final release was left).
    pub fn next_below(
        &self,
        range: &Ranges<Version>,
        chosen: &Version,
        allow_prerelease: bool,
        count: usize,
    ) -> Vec<(&Version, &Candidate)> {
        let allow_prerelease = allow_prerelease || chosen.any_prerelease();
        let below = range.intersection(&Ranges::strictly_lower_than(chosen.clone()));
        self.usable
            .newest_in(&below)
            .filter(|(_, version)| allow_prerelease || !version.any_prerelease())
            .filter_map(|(at, version)| {
                let candidate = self.usable.value_at(at)?;
                candidate.yanked.is_none().then_some((version, candidate))
            })
            .take(count)
            .collect()
    }

    /// The highest unusable release in `range`, to explain why nothing in it installs.
    pub fn best_unusable(&self, range: &Ranges<Version>) -> Option<(&Version, &Unusable)> {
        let mut in_range = self.unusable.newest_in(range);
        in_range.find_map(|(at, version)| Some((version, self.unusable.value_at(at)?)))
    }
}

/// Choose the file a release would install on the target, or say why there is none.
fn select<'a>(
    name: &PackageName,
    files: &[(&DistFilename, FileRef<'a>)],
    policy: &Policy<'_>,
    requires_python: &mut RequiresPythonMemo<'a>,
) -> Result<Candidate, Unusable> {
    // pip's hash-checking mode: only files whose hash the input lists may install.
    let hashed: Vec<_>;
    let files = match policy.allowed_hashes {
        Some(allowed) => {
            hashed = files
                .iter()
                .filter(|(_, file)| file.sha256().is_some_and(|hash| allowed.contains(&*hash)))
                .copied()
                .collect();
            if hashed.is_empty() {
                return Err(Unusable::NoFileWithHash { files: files.len() });
            }
            &hashed[..]
        }
        None => files,
    };
    let in_time: Vec<_> = files
        .iter()
        .filter(
            |(_, file)| match (policy.exclude_newer, file.upload_time()) {
                (Some(cutoff), Some(uploaded)) => uploaded <= cutoff,
                _ => true,
            },
        )
        .collect();
    if in_time.is_empty() {
        let earliest = files
            .iter()
            .filter_map(|(_, file)| file.upload_time())
            .min();
        return Err(Unusable::NewerThanCutoff {
            earliest: earliest.unwrap_or_default(),
        });
    }
    let python = &policy.target.python_full;
    let for_python: Vec<_> = in_time
        .iter()
        .filter(|(_, file)| requires_python.allows(file.requires_python(), python))
        .collect();
    if for_python.is_empty() {
        let specifiers = in_time
            .iter()
            .find_map(|(_, file)| file.requires_python().map(str::to_string))
            .unwrap_or_default();
        return Err(Unusable::RequiresPython { specifiers });
    }
    let mut best: Option<(bool, TagCompatibility, FileRef<'_>)> = None;
    let mut nearest = None;
    let mut sdist = None;
    for &(parsed, file) in for_python.iter().map(|entry| **entry) {
        match parsed {
            DistFilename::Wheel(wheel) => {
                match policy.target.tags.compatibility(wheel) {
                    TagCompatibility::Incompatible(miss) => nearest = nearest.max(Some(miss)),
                    compatible => {
                        // Prefer an unyanked file over a yanked one, then pip's tag order.
                        let key = (file.yanked().is_none(), compatible, file);
                        if best
                            .as_ref()
                            .is_none_or(|current| (key.0, key.1) > (current.0, current.1))
                        {
                            best = Some(key);
                        }
                    }
                }
            }
            DistFilename::Sdist(_) => sdist = sdist.or(Some(file)),
        }
    }
    let chosen = match (best, sdist) {
        (Some((_, _, file)), _) => file,
        (None, Some(file)) if policy.allow_sdist.allows(name) => file,
        (None, sdist) => {
            // Only a failure needs the tag list, so it is built here rather than for every release.
            let wheel_tags: BTreeSet<String> = for_python
                .iter()
                .filter_map(|(parsed, _)| match parsed {
                    DistFilename::Wheel(wheel) => Some(wheel.tag_sets().to_string()),
                    DistFilename::Sdist(_) => None,
                })
                .collect();
            return Err(Unusable::NoWheel {
                nearest,
                wheel_tags: wheel_tags.into_iter().collect(),
                has_sdist: sdist.is_some(),
            });
        }
    };
    let metadata_file = if best.is_none() {
        // The sdist: a wheel of the same release for this machine type if there is one, else any.
        let machine = policy.target.platform.arch.machine();
        let wheels = || {
            for_python
                .iter()
                .filter(|(parsed, _)| matches!(parsed, DistFilename::Wheel(_)))
                .map(|(_, file)| *file)
        };
        wheels()
            .find(|file| file.filename().contains(machine))
            .or_else(|| wheels().next())
            .unwrap_or(chosen)
    } else {
        chosen
    };
    let other_metadata_file =
        (!metadata_file.is_same_entry(&chosen)).then(|| metadata_file.to_dist_file());
    Ok(Candidate::new(
        chosen.to_dist_file(),
        chosen.yanked().map(str::to_string),
        other_metadata_file,
    ))
}

/// A release's wheel tags for a report line: all of them when few, else how many, the CPython span and
/// three examples (a release with 40 wheels made lines of 3,000 characters).
pub fn summarize_wheel_tags(wheel_tags: &[String]) -> String {
    const SHOWN: usize = 3;
    const EXAMPLES_WIDTH: usize = 110;
    if wheel_tags.len() <= SHOWN {
        return wheel_tags.join(", ");
    }
    let span = python_span(wheel_tags).map_or_else(String::new, |span| format!(" for {span}"));
    // The examples nearest an image's target: Linux wheels first, newest CPython first.
    let mut examples: Vec<&String> = wheel_tags.iter().collect();
    examples.sort_by_key(|tag| {
        let python = tag
            .split('-')
            .next()
            .and_then(|python| python.split('.').filter_map(cpython_of).max());
        (!tag.contains("linux"), std::cmp::Reverse(python))
    });
    // At least one example, then more while the list stays short (manylinux tags run to 60 characters).
    let mut shown: Vec<&str> = Vec::new();
    let mut width = 0;
    for tag in examples.iter().take(SHOWN) {
        if !shown.is_empty() && width + tag.len() > EXAMPLES_WIDTH {
            break;
        }
        width += tag.len() + 2;
        shown.push(tag.as_str());
    }
    format!(
        "{} wheels{span}, e.g. {}, …",
        wheel_tags.len(),
        shown.join(", ")
    )
}

/// `cp35–cp39` from a release's wheel tags, when they name CPython versions.
pub fn python_span(wheel_tags: &[String]) -> Option<String> {
    let mut pythons: Vec<PythonVersion> = wheel_tags
        .iter()
        .filter_map(|tag| tag.split('-').next())
        .flat_map(|python| python.split('.'))
        .filter_map(cpython_of)
        .collect();
    pythons.sort();
    let (first, last) = (pythons.first()?, pythons.last()?);
    let tag = |p: &PythonVersion| format!("cp{}{}", p.major, p.minor);
    Some(if first == last {
        tag(first)
    } else {
        format!("{}–{}", tag(first), tag(last))
    })
}

/// What the wheels a target cannot use are for, as the reason to show: the Python versions they span
/// (`cp37–cp39`), or where wheels for the target's own Python exist, the platforms they are for (pywin32
/// 306 has cp311 wheels, for Windows only: "cp311 wheels for Windows only" says why, "cp37–cp312" did
/// not).
pub fn wheels_only_for(wheel_tags: &[String], python: PythonVersion) -> Option<String> {
    let own = format!("cp{}{}", python.major, python.minor);
    let platforms: BTreeSet<&'static str> = wheel_tags
        .iter()
        .filter(|tag| {
            tag.split('-')
                .next()
                .is_some_and(|pythons| pythons.split('.').any(|p| p == own))
        })
        .filter_map(|tag| tag.rsplit('-').next())
        .flat_map(|platforms| platforms.split('.'))
        .map(platform_family)
        .collect();
    if platforms.is_empty() {
        return python_span(wheel_tags).map(|span| format!("wheels for {span} only"));
    }
    let families: Vec<&str> = platforms.into_iter().collect();
    Some(format!("{own} wheels for {} only", families.join(", ")))
}

/// The family of a platform tag, as a user names it (`win_amd64` → Windows).
fn platform_family(platform: &str) -> &'static str {
    if platform.starts_with("win") {
        "Windows"
    } else if platform.starts_with("macosx") {
        "macOS"
    } else if platform.starts_with("musllinux") {
        "musl Linux"
    } else if platform.starts_with("manylinux") || platform.starts_with("linux") {
        if platform.ends_with("x86_64") {
            "Linux x86_64"
        } else if platform.ends_with("aarch64") {
            "Linux aarch64"
        } else {
            "other Linux"
        }
    } else {
        "other platforms"
    }
}

/// The CPython version of a python tag (`cp39` → 3.9).
pub fn cpython_of(tag: &str) -> Option<PythonVersion> {
    let digits = tag.strip_prefix("cp")?;
    let (major, minor) = digits.split_at_checked(1)?;
    Some(PythonVersion {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    })
}

/// Whether a `requires-python` value admits `python`; an unparsable value does not exclude anything,
/// as in pip.
pub fn requires_python_allows(requires_python: Option<&str>, python: &Version) -> bool {
    let Some(text) = requires_python
        .map(str::trim)
        .filter(|text| !text.is_empty())
    else {
        return true;
    };
    VersionSpecifiers::from_str(text).map_or(true, |specifiers| specifiers.contains(python))
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NewerThanCutoff { earliest } => write!(
                f,
                "was uploaded after the exclude-newer cutoff (first file {})",
                earliest.strftime("%Y-%m-%d")
            ),
            Unusable::RequiresPython { specifiers } => write!(f, "requires Python {specifiers}"),
            Unusable::NoFileWithHash { files } => write!(
                f,
                "has no file whose SHA-256 is among the input's `--hash` values ({files} files \
                 checked); update the hashes (`pip hash FILE`) or drop them"
            ),
            Unusable::NoWheel {
                wheel_tags,
                has_sdist,
                ..
            } => {
                if wheel_tags.is_empty() {
                    f.write_str("has no wheels")?;
                } else {
                    write!(
                        f,
                        "has no wheel for this target (wheels: {})",
                        summarize_wheel_tags(wheel_tags)
                    )?;
                }
                if *has_sdist {
                    f.write_str(
                        "; only an sdist, which is not allowed here (allow it with `allow-sdist`)",
                    )
                } else {
                    f.write_str(" and no sdist")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::tags::{Arch, Platform, PythonVersion};

    fn target() -> Target {
        let platform = Platform {
            arch: Arch::X86_64,
            glibc: (2, 36),
        };
        Target::new(
            "linux/amd64",
            PythonVersion {
                major: 3,
                minor: 11,
            },
            platform,
        )
    }

    fn file(filename: &str, uploaded: &str) -> DistFile {
        DistFile {
            filename: filename.to_string(),
            url: format!("https://files.example/{filename}"),
            sha256: Some("00".repeat(32)),
            size: Some(1),
            upload_time: Some(Timestamp::from_str(uploaded).unwrap()),
            requires_python: None,
            yanked: None,
            core_metadata: false,
        }
    }

    fn yanked(mut file: DistFile, reason: &str) -> DistFile {
        file.yanked = Some(reason.to_string());
        file
    }

    fn map(files: Vec<DistFile>, exclude_newer: Option<&str>) -> VersionMap {
        map_with_hashes(files, exclude_newer, None)
    }

    fn map_with_hashes(
        files: Vec<DistFile>,
        exclude_newer: Option<&str>,
        allowed_hashes: Option<&BTreeSet<String>>,
    ) -> VersionMap {
        let page = ProjectPage {
            name: PackageName::from_str("demo").unwrap(),
            files: files.into(),
        };
        let target = target();
        let allow_sdist = super::super::SdistPolicy::default();
        let policy = Policy {
            target: &target,
            exclude_newer: exclude_newer.map(|t| Timestamp::from_str(t).unwrap()),
            allow_sdist: &allow_sdist,
            allowed_hashes,
        };
        VersionMap::new(&page, &policy)
    }

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    fn range(specifiers: &str) -> Ranges<Version> {
        Ranges::from(VersionSpecifiers::from_str(specifiers).unwrap())
    }

    #[test]
    fn a_yanked_release_is_only_chosen_by_an_exact_pin() {
        let versions = map(
            vec![
                file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"),
                yanked(
                    file("demo-1.1-py3-none-any.whl", "2024-02-01T00:00:00Z"),
                    "broken build",
                ),
            ],
            None,
        );
        assert_eq!(versions.best(&range(">=1.0"), false), Some(&v("1.0")));
        assert_eq!(versions.best(&Ranges::full(), false), Some(&v("1.0")));
        assert_eq!(versions.best(&range("==1.1"), false), Some(&v("1.1")));
        assert_eq!(
            versions.usable[&v("1.1")].yanked.as_deref(),
            Some("broken build")
        );
    }

    #[test]
    fn an_unyanked_wheel_beats_a_yanked_one_of_the_same_release() {
        let versions = map(
            vec![
                yanked(
                    file(
                        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                        "2024-01-01T00:00:00Z",
                    ),
                    "",
                ),
                file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"),
            ],
            None,
        );
        let candidate = &versions.usable[&v("1.0")];
        assert_eq!(candidate.file.filename, "demo-1.0-py3-none-any.whl");
        assert_eq!(candidate.yanked, None);
    }

    #[test]
    fn a_candidate_reads_metadata_from_its_own_file_unless_given_another() {
        let wheel = file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z");
        let sdist = file("demo-1.0.tar.gz", "2024-01-01T00:00:00Z");
        let plain = Candidate::new(wheel.clone(), None, None);
        assert_eq!(plain.metadata_file(), &wheel);
        // Naming the file itself is the same candidate as naming none: one copy is kept.
        assert_eq!(
            Candidate::new(wheel.clone(), None, Some(wheel.clone())),
            plain
        );
        let built = Candidate::new(sdist.clone(), None, Some(wheel.clone()));
        assert_eq!(built.file, sdist);
        assert_eq!(built.metadata_file(), &wheel);
        assert_ne!(built, Candidate::new(sdist, None, None));
    }

    #[test]
    fn candidates_carry_the_page_files_exactly_as_listed() {
        // Files the compact page keeps in its fallback forms: a hash that is not lower-case hex, a URL
        // that does not end with the filename, one with a query string, one on another host.
        let wheel = DistFile {
            sha256: Some("AB".repeat(32)),
            url: "https://files.example/download?name=demo-1.0-py3-none-any.whl&v=1".to_string(),
            requires_python: Some(">=3.8, <4".to_string()),
            ..file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00.5Z")
        };
        let sdist = DistFile {
            sha256: None,
            size: None,
            url: "https://mirror.example/d/123".to_string(),
            ..yanked(file("demo-2.0.tar.gz", "2024-02-01T00:00:00Z"), "bad")
        };
        let other_machine = DistFile {
            url: "relative/demo-2.0-py3-none-manylinux_2_17_aarch64.whl".to_string(),
            ..file(
                "demo-2.0-py3-none-manylinux_2_17_aarch64.whl",
                "2024-02-01T00:00:00Z",
            )
        };
        let page = ProjectPage {
            name: PackageName::from_str("demo").unwrap(),
            files: vec![wheel.clone(), sdist.clone(), other_machine.clone()].into(),
        };
        let target = target();
        let allow_sdist = super::super::SdistPolicy::all();
        let policy = Policy {
            target: &target,
            exclude_newer: None,
            allow_sdist: &allow_sdist,
            allowed_hashes: None,
        };
        let versions = VersionMap::new(&page, &policy);
        assert_eq!(versions.usable[&v("1.0")].file, wheel);
        let built = &versions.usable[&v("2.0")];
        assert_eq!(
            (&built.file, built.metadata_file(), built.yanked.as_deref()),
            (&sdist, &other_machine, Some("bad"))
        );
    }

    #[test]
    fn files_newer_than_the_cutoff_are_ignored() {
        let versions = map(
            vec![
                file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"),
                file("demo-2.0-py3-none-any.whl", "2026-11-02T00:00:00Z"),
                // A wheel for 1.0 added after the cutoff must not displace the one that existed then.
                file(
                    "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                    "2026-11-05T00:00:00Z",
                ),
            ],
            Some("2026-11-01T00:00:00Z"),
        );
        assert_eq!(versions.best(&Ranges::full(), false), Some(&v("1.0")));
        assert_eq!(
            versions.usable[&v("1.0")].file.filename,
            "demo-1.0-py3-none-any.whl"
        );
        assert!(matches!(
            versions.unusable[&v("2.0")],
            Unusable::NewerThanCutoff { .. }
        ));
        assert_eq!(
            versions.unusable[&v("2.0")].to_string(),
            "was uploaded after the exclude-newer cutoff (first file 2026-11-02)"
        );
    }

    #[test]
    fn the_best_tagged_wheel_is_chosen_and_misses_are_explained() {
        let versions = map(
            vec![
                file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"),
                file(
                    "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                    "2024-01-01T00:00:00Z",
                ),
                file(
                    "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
                    "2024-01-01T00:00:00Z",
                ),
                file(
                    "demo-0.9-cp39-cp39-manylinux1_x86_64.whl",
                    "2023-01-01T00:00:00Z",
                ),
                file("demo-0.9.tar.gz", "2023-01-01T00:00:00Z"),
            ],
            None,
        );
        assert_eq!(
            versions.usable[&v("1.0")].file.filename,
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        );
        let Unusable::NoWheel {
            nearest,
            wheel_tags,
            has_sdist,
        } = &versions.unusable[&v("0.9")]
        else {
            panic!("0.9 has no cp311 wheel");
        };
        assert_eq!(*nearest, Some(IncompatibleTag::Python));
        assert_eq!(wheel_tags, &vec!["cp39-cp39-manylinux1_x86_64".to_string()]);
        assert!(*has_sdist);
    }

    #[test]
    fn hashes_from_the_input_restrict_the_files() {
        let hashed = |filename: &str, digit: &str| DistFile {
            sha256: Some(digit.repeat(64)),
            ..file(filename, "2024-01-01T00:00:00Z")
        };
        let files = vec![
            hashed("demo-1.0-py3-none-any.whl", "a"),
            hashed("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "b"),
            hashed("demo-0.9-py3-none-any.whl", "c"),
            hashed("demo-0.9.tar.gz", "d"),
        ];
        let allowed: BTreeSet<String> = ["a".repeat(64), "e".repeat(64)].into();
        let versions = map_with_hashes(files.clone(), None, Some(&allowed));
        // The manylinux wheel fits better, but only the pure wheel's hash is allowed.
        assert_eq!(
            versions.usable[&v("1.0")].file.filename,
            "demo-1.0-py3-none-any.whl"
        );
        assert_eq!(
            versions.unusable[&v("0.9")],
            Unusable::NoFileWithHash { files: 2 }
        );
        assert_eq!(
            versions.unusable[&v("0.9")].to_string(),
            "has no file whose SHA-256 is among the input's `--hash` values (2 files checked); \
             update the hashes (`pip hash FILE`) or drop them"
        );
        let unrestricted = map_with_hashes(files, None, None);
        assert_eq!(
            unrestricted.usable[&v("1.0")].file.filename,
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
    }

    #[test]
    fn requires_python_excludes_releases() {
        let mut new = file("demo-2.0-py3-none-any.whl", "2024-01-01T00:00:00Z");
        new.requires_python = Some(">=3.12".to_string());
        let mut broken = file("demo-1.5-py3-none-any.whl", "2024-01-01T00:00:00Z");
        broken.requires_python = Some(">=3.6.*".to_string());
        let versions = map(
            vec![
                new,
                broken,
                file("demo-1.0-py3-none-any.whl", "2023-01-01T00:00:00Z"),
            ],
            None,
        );
        assert_eq!(
            versions.unusable[&v("2.0")],
            Unusable::RequiresPython {
                specifiers: ">=3.12".to_string()
            }
        );
        assert_eq!(
            versions.best(&Ranges::full(), false),
            Some(&v("1.5")),
            "an unparsable requires-python excludes nothing"
        );
    }

    #[test]
    fn prereleases_only_when_asked_or_nothing_else_fits() {
        let versions = map(
            vec![
                file("demo-1.0-py3-none-any.whl", "2024-01-01T00:00:00Z"),
                file("demo-2.0rc1-py3-none-any.whl", "2024-02-01T00:00:00Z"),
            ],
            None,
        );
        assert_eq!(versions.best(&Ranges::full(), false), Some(&v("1.0")));
        assert_eq!(versions.best(&Ranges::full(), true), Some(&v("2.0rc1")));
        assert_eq!(versions.best(&range(">1.0"), false), Some(&v("2.0rc1")));
    }

    #[test]
    fn the_releases_below_a_rejected_one_come_in_the_order_best_would_offer_them() {
        let versions = map(
            ["0.9", "1.0", "1.1", "1.2b1", "1.2", "1.3", "1.4", "2.0"]
                .iter()
                .map(|version| {
                    file(
                        &format!("demo-{version}-py3-none-any.whl"),
                        "2024-01-01T00:00:00Z",
                    )
                })
                .chain([yanked(
                    file("demo-1.25-py3-none-any.whl", "2024-01-01T00:00:00Z"),
                    "",
                )])
                .collect(),
            None,
        );
        let next = |range: &Ranges<Version>, chosen: &str, pre: bool, count: usize| {
            versions
                .next_below(range, &v(chosen), pre, count)
                .into_iter()
                .map(|(version, _)| version.to_string())
                .collect::<Vec<_>>()
        };
        // Below the rejected 1.4, within the range, no yanked 1.25 and no 1.2b1, at most three.
        assert_eq!(
            next(&range(">=1.0,<2"), "1.4", false, 3),
            ["1.3", "1.2", "1.1"]
        );
        assert_eq!(
            next(&range(">=1.0,<2"), "1.4", false, 10),
            ["1.3", "1.2", "1.1", "1.0"]
        );
        assert_eq!(next(&range(">=1.0,<2"), "1.2", true, 2), ["1.2b1", "1.1"]);
        // Each step stays the same as `best` once the releases tried so far are ruled out.
        let mut left = range(">=0.9");
        let mut chosen = versions.best(&left, false).unwrap().clone();
        let expected = next(&left, &chosen.to_string(), false, usize::MAX);
        let mut walked = Vec::new();
        loop {
            left = left.intersection(&Ranges::singleton(chosen.clone()).complement());
            let Some(best) = versions.best(&left, false) else {
                break;
            };
            walked.push(best.to_string());
            chosen = best.clone();
        }
        // Only the fallback to a pre-release once no final release is left is not guessed ahead.
        assert_eq!(
            walked.split_last(),
            Some((&"1.2b1".to_string(), expected.as_slice()))
        );
        assert_eq!(next(&range(">=1.0"), "1.0", false, 5), Vec::<String>::new());
    }

    #[test]
    fn wheels_for_another_platform_say_so_rather_than_a_python_span() {
        let python = PythonVersion {
            major: 3,
            minor: 11,
        };
        let pywin32: Vec<String> = (7..=12)
            .flat_map(|minor| {
                ["win32", "win_amd64"].map(|platform| format!("cp3{minor}-cp3{minor}-{platform}"))
            })
            .collect();
        assert_eq!(
            wheels_only_for(&pywin32, python).as_deref(),
            Some("cp311 wheels for Windows only")
        );
        let mac_and_aarch64 = [
            "cp311-cp311-macosx_11_0_arm64".to_string(),
            "cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64".to_string(),
        ];
        assert_eq!(
            wheels_only_for(&mac_and_aarch64, python).as_deref(),
            Some("cp311 wheels for Linux aarch64, macOS only")
        );
        let old = [
            "cp37-cp37m-manylinux1_x86_64".to_string(),
            "cp39-cp39-win_amd64".to_string(),
        ];
        assert_eq!(
            wheels_only_for(&old, python).as_deref(),
            Some("wheels for cp37–cp39 only")
        );
        assert_eq!(wheels_only_for(&[], python), None);
    }

    #[test]
    fn long_wheel_tag_lists_are_summarised() {
        let few = vec!["cp39-cp39-manylinux1_x86_64".to_string()];
        assert_eq!(summarize_wheel_tags(&few), "cp39-cp39-manylinux1_x86_64");
        let many: Vec<String> = (5..=9)
            .flat_map(|minor| {
                ["manylinux1_x86_64", "macosx_10_9_x86_64", "win_amd64"]
                    .map(|platform| format!("cp3{minor}-cp3{minor}m-{platform}"))
            })
            .collect();
        let summary = summarize_wheel_tags(&many);
        assert!(
            summary.starts_with(
                "15 wheels for cp35–cp39, e.g. cp39-cp39m-manylinux1_x86_64, \
                 cp38-cp38m-manylinux1_x86_64"
            ),
            "{summary}"
        );
        assert!(summary.len() < 200, "{summary}");
        // numpy 1.22.0's manylinux2014 tags are 60 characters each: fewer examples, a short line.
        let long: Vec<String> = (8..=10)
            .flat_map(|minor| {
                ["x86_64", "aarch64"].map(|arch| {
                    format!("cp3{minor}-cp3{minor}-manylinux_2_17_{arch}.manylinux2014_{arch}")
                })
            })
            .collect();
        let summary = summarize_wheel_tags(&long);
        assert!(summary.starts_with("6 wheels for cp38–cp310, e.g. cp310-cp310-manylinux_2_17_"));
        assert!(summary.chars().count() < 160, "{summary}");
    }
}
