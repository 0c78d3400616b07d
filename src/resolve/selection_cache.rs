//! The resolver's file selection for a project page, kept in the disk cache next to the page it came from.
//!
//! A warm or offline run needs, for each project, only which release installs which file on each
//! target ([`VersionMap`]). Computing that means decoding the whole cached page (70,000 files, 18 MB for
//! the base image's input), parsing every filename and checking every wheel's tags, which was most of
//! such a run's time. So the maps are stored as a derived cache entry of the page (see
//! `index::cache`): the next run that would use the same cached page as is, with the same selection
//! policy, reads them back instead, and loads the page itself only if something else asks for it.
//!
//! The entry is keyed by everything selection reads besides the page: every target's interpreter and
//! platform, whether the project may use its sdist, the `--hash` values allowed for it, `exclude-newer`,
//! and the build of fave-lock (format version, crate version, the executable's size and modification
//! time, so that a rebuilt binary whose selection rules changed never reads an older build's choices).
//! The page is named by its stamp (fetch time and entry length), so a page fetched again is a miss.
//!
//! Payload layout (primitives as in `index::page_codec`, all checked; any surprise is a miss):
//!
//! ```text
//! u32 targets · targets × map
//! map       = u32 n · n × (str version · candidate) · u32 m · m × (str version · unusable)
//! candidate = file · opt<str> yanked · u8 (0: metadata file follows as a file | 1: same as file)
//! unusable  = u8 0 · time earliest | u8 1 · str specifiers | u8 2 · u64 files
//!           | u8 3 · opt<u8 nearest> · u32 k · k × str wheel tag · u8 has_sdist
//! ```
//!
//! Versions are stored in order and must decode strictly increasing.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::candidates::{Candidate, Unusable, VersionMap};
use super::{ResolveOptions, Target};
use crate::index::DerivedKey;
use crate::index::page_codec::{Reader, Writer};
use crate::tags::IncompatibleTag;

/// Bump when the key or payload layout changes.
const FORMAT: u8 = 1;

/// The key of `name`'s entry for these targets and options; `None` when the build cannot be identified
/// (then nothing is cached: an entry of unknown provenance could hold an older build's choices). The
/// build and `exclude-newer` are the key's `rest`, so a new build or cutoff replaces the entry of the
/// same targets and project policy rather than adding one.
pub fn key(targets: &[Target], options: &ResolveOptions, name: &PackageName) -> Option<DerivedKey> {
    let mut slot = Writer(Vec::with_capacity(96));
    slot.len(targets.len());
    for target in targets {
        slot.u64(u64::from(target.python.major));
        slot.u64(u64::from(target.python.minor));
        slot.str(target.platform.arch.machine());
        slot.u64(u64::from(target.platform.glibc.0));
        slot.u64(u64::from(target.platform.glibc.1));
        slot.str(&target.python_full.to_string());
    }
    slot.u8(u8::from(options.allow_sdist.allows(name)));
    slot.opt(options.allowed_hashes.get(name), |out, hashes| {
        out.len(hashes.len());
        for hash in hashes {
            out.str(hash);
        }
    });
    let mut rest = Writer(Vec::with_capacity(64));
    rest.u8(FORMAT);
    rest.str(env!("CARGO_PKG_VERSION"));
    rest.bytes(build_identity()?);
    rest.opt(options.exclude_newer, Writer::time);
    Some(DerivedKey {
        slot: slot.0,
        rest: rest.0,
    })
}

/// The running executable's size and modification time, read once.
fn build_identity() -> Option<&'static [u8]> {
    static IDENTITY: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let metadata = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
            let modified = metadata
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            let mut out = Writer(Vec::with_capacity(24));
            out.u64(metadata.len());
            out.u64(modified.as_secs());
            out.u64(u64::from(modified.subsec_nanos()));
            Some(out.0)
        })
        .as_deref()
}

/// Append every target's map.
pub fn encode<M: Borrow<VersionMap>>(maps: &[M], out: &mut Writer) {
    out.len(maps.len());
    for map in maps {
        let map = map.borrow();
        out.len(map.usable.len());
        for (version, candidate) in &map.usable {
            out.str(&version.to_string());
            out.file(&candidate.file);
            out.opt(candidate.yanked.as_deref(), Writer::str);
            if candidate.metadata_file() == &candidate.file {
                out.u8(1);
            } else {
                out.u8(0);
                out.file(candidate.metadata_file());
            }
        }
        out.len(map.unusable.len());
        for (version, unusable) in &map.unusable {
            out.str(&version.to_string());
            write_unusable(out, unusable);
        }
    }
}

/// Read back what [`encode`] wrote for `targets` targets; `None` on any surprise.
pub fn decode(bytes: &[u8], targets: usize) -> Option<Vec<VersionMap>> {
    let mut input = Reader(bytes);
    if input.len()? != targets {
        return None;
    }
    let mut maps = Vec::with_capacity(targets);
    for _ in 0..targets {
        let usable = read_sorted(&mut input, |input| {
            let file = input.file()?;
            let yanked = input.opt(|input| input.str().map(str::to_string))?;
            let metadata_file = if input.bool()? {
                None
            } else {
                Some(input.file()?)
            };
            Some(Candidate::new(file, yanked, metadata_file))
        })?;
        let unusable = read_sorted(&mut input, read_unusable)?;
        maps.push(VersionMap { usable, unusable });
    }
    input.is_empty().then_some(maps)
}

/// A count, then that many (version, value) pairs in strictly increasing version order.
fn read_sorted<'a, T>(
    input: &mut Reader<'a>,
    mut read: impl FnMut(&mut Reader<'a>) -> Option<T>,
) -> Option<BTreeMap<Version, T>> {
    let count = input.len()?;
    // Each pair takes at least 5 bytes, so a corrupt count cannot make us reserve gigabytes.
    let mut pairs: Vec<(Version, T)> = Vec::with_capacity(count.min(input.0.len() / 5));
    for _ in 0..count {
        let version = Version::from_str(input.str()?).ok()?;
        if pairs.last().is_some_and(|(last, _)| *last >= version) {
            return None;
        }
        let value = read(input)?;
        pairs.push((version, value));
    }
    // Sorted input: the map is built in one pass.
    Some(pairs.into_iter().collect())
}

fn write_unusable(out: &mut Writer, unusable: &Unusable) {
    match unusable {
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

fn read_unusable(input: &mut Reader<'_>) -> Option<Unusable> {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use jiff::Timestamp;

    use super::*;
    use crate::index::{DistFile, IndexClient, IndexSettings, ProjectPage};
    use crate::resolve::SdistPolicy;
    use crate::resolve::fetch::Fetcher;
    use crate::tags::{Arch, Platform, PythonVersion};

    fn target(minor: u8) -> Target {
        let platform = Platform::new(Arch::X86_64, (2, 36)).unwrap();
        Target::new("linux/amd64", PythonVersion { major: 3, minor }, platform)
    }

    fn file(filename: &str) -> DistFile {
        DistFile {
            filename: filename.to_string(),
            url: format!("https://files.example/{filename}"),
            sha256: Some("ab".repeat(32)),
            size: Some(1234),
            upload_time: Some("2024-01-02T03:04:05.123456789Z".parse().unwrap()),
            requires_python: Some(">=3.8".to_string()),
            yanked: None,
            core_metadata: true,
        }
    }

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    /// Two targets' maps holding every kind of candidate and every `Unusable` variant.
    fn maps() -> Vec<VersionMap> {
        let wheel = file("demo-2.0-py3-none-any.whl");
        let sdist = DistFile {
            sha256: None,
            size: None,
            upload_time: None,
            requires_python: None,
            core_metadata: false,
            ..file("demo-1.5.tar.gz")
        };
        let mut first = VersionMap::default();
        first
            .usable
            .insert(v("2.0"), Candidate::new(wheel.clone(), None, Some(wheel)));
        first.usable.insert(
            v("1.5"),
            Candidate::new(
                DistFile {
                    yanked: Some("broken".to_string()),
                    ..sdist
                },
                Some("broken".to_string()),
                Some(file("demo-1.5-cp311-cp311-manylinux_2_17_x86_64.whl")),
            ),
        );
        first.usable.insert(
            v("1!0.1.post2.dev3+local.7"),
            Candidate::new(file("demo-0.1.whl"), Some(String::new()), None),
        );
        let nearest = [
            None,
            Some(IncompatibleTag::Python),
            Some(IncompatibleTag::Abi),
            Some(IncompatibleTag::Platform),
        ];
        for (index, nearest) in nearest.into_iter().enumerate() {
            first.unusable.insert(
                v(&format!("0.{index}rc1")),
                Unusable::NoWheel {
                    nearest,
                    wheel_tags: (0..index)
                        .map(|tag| format!("cp3{tag}-cp3{tag}-manylinux1_x86_64"))
                        .collect(),
                    has_sdist: index % 2 == 0,
                },
            );
        }
        first.unusable.insert(
            v("3.0"),
            Unusable::NewerThanCutoff {
                earliest: "2026-11-02T00:00:00.5Z".parse().unwrap(),
            },
        );
        first.unusable.insert(
            v("2.5"),
            Unusable::RequiresPython {
                specifiers: ">=3.12,<4".to_string(),
            },
        );
        first
            .unusable
            .insert(v("2.1"), Unusable::NoFileWithHash { files: 7 });
        vec![first, VersionMap::default()]
    }

    fn encoded(maps: &[VersionMap]) -> Vec<u8> {
        let mut out = Writer(Vec::new());
        encode(maps, &mut out);
        out.0
    }

    #[test]
    fn maps_round_trip_exactly() {
        let bytes = encoded(&maps());
        let decoded = decode(&bytes, 2).unwrap();
        assert_eq!(decoded, maps());
        // Versions keep their spelling, which the lock prints.
        let spelled = |maps: &[VersionMap]| -> Vec<String> {
            maps[0].usable.keys().map(Version::to_string).collect()
        };
        assert_eq!(spelled(&decoded), spelled(&maps()));
        assert!(decode(&bytes, 1).is_none(), "another number of targets");
    }

    #[test]
    fn truncated_extended_or_corrupted_payloads_are_misses() {
        let bytes = encoded(&maps());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], 2).is_none(), "prefix of {len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 2).is_none());
        // Flipping any single byte never panics; where it still decodes, it decodes to something.
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x80;
            let _ = decode(&flipped, 2);
        }
        // Versions out of order are refused rather than silently merged.
        let mut swapped = VersionMap::default();
        swapped
            .unusable
            .insert(v("1.0"), Unusable::NoFileWithHash { files: 1 });
        swapped
            .unusable
            .insert(v("2.0"), Unusable::NoFileWithHash { files: 1 });
        let mut bytes = encoded(&[swapped]);
        let one = bytes.windows(3).position(|w| w == b"1.0").unwrap();
        let two = bytes.windows(3).position(|w| w == b"2.0").unwrap();
        bytes[one] = b'2';
        bytes[two] = b'1';
        assert!(decode(&bytes, 1).is_none());
    }

    /// The fuzz target's seed is a payload the decoder accepts, so fuzzing starts past the checks.
    #[test]
    fn the_fuzz_seed_decodes() {
        let seed = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/selection_cache/typing-extensions.fls"
        ))
        .unwrap();
        let maps = decode(&seed, 1).unwrap();
        assert_eq!(maps[0].usable.len(), 2);
        assert_eq!(maps[0].unusable.len(), 4);
        assert_eq!(encoded(&maps), seed);
    }

    #[test]
    fn the_key_changes_with_everything_selection_reads() {
        let name = PackageName::from_str("demo").unwrap();
        let options = ResolveOptions {
            exclude_newer: Some("2026-11-01T00:00:00Z".parse().unwrap()),
            ..ResolveOptions::default()
        };
        let base = key(&[target(11)], &options, &name).unwrap();
        assert_eq!(key(&[target(11)], &options, &name).unwrap(), base);
        let mut changed = vec![
            key(&[target(12)], &options, &name),
            key(&[target(11), target(12)], &options, &name),
            key(
                &[Target::new(
                    "linux/arm64",
                    PythonVersion {
                        major: 3,
                        minor: 11,
                    },
                    Platform::new(Arch::Aarch64, (2, 36)).unwrap(),
                )],
                &options,
                &name,
            ),
        ];
        let with = |change: &dyn Fn(&mut ResolveOptions)| {
            let mut options = options.clone();
            change(&mut options);
            key(&[target(11)], &options, &name)
        };
        changed.push(with(&|options| options.exclude_newer = None));
        changed.push(with(&|options| {
            options.exclude_newer = Some("2026-11-01T00:00:00.000000001Z".parse().unwrap());
        }));
        changed.push(with(&|options| options.allow_sdist = SdistPolicy::all()));
        changed.push(with(&|options| {
            let hashes = BTreeSet::from(["ab".repeat(32)]);
            options.allowed_hashes.insert(name.clone(), hashes);
        }));
        for (index, other) in changed.into_iter().enumerate() {
            assert_ne!(other.unwrap(), base, "change {index}");
        }
        // A new cutoff lands in the same file (it replaces the entry); new targets do not.
        assert_eq!(
            with(&|options| options.exclude_newer = None).unwrap().slot,
            base.slot
        );
        assert_ne!(key(&[target(12)], &options, &name).unwrap().slot, base.slot);
        // Settings for other projects do not split this one's entries.
        let unrelated = with(&|options| {
            let other = PackageName::from_str("other").unwrap();
            options
                .allowed_hashes
                .insert(other.clone(), BTreeSet::new());
            options.allow_sdist = SdistPolicy::only([other]);
        });
        assert_eq!(unrelated.unwrap(), base);
    }

    /// Through the fetcher and a real cache folder, offline: a repeat run answers from the stored
    /// selection without the page (proved by breaking the page's body), and a run with another
    /// `exclude-newer` or a page fetched again does not use it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stored_selection_serves_only_its_own_page_and_policy() {
        let dir = tempfile::tempdir().unwrap();
        let settings = IndexSettings {
            cache_dir: dir.path().to_path_buf(),
            offline: true,
            ..IndexSettings::default()
        };
        let client = Arc::new(IndexClient::new(settings).unwrap());
        let name = PackageName::from_str("demo").unwrap();
        let page = ProjectPage {
            name: name.clone(),
            files: vec![
                file("demo-1.0-py3-none-any.whl"),
                DistFile {
                    upload_time: Some("2026-11-05T00:00:00Z".parse().unwrap()),
                    ..file("demo-2.0-py3-none-any.whl")
                },
            ]
            .into(),
        };
        let cache = crate::index::cache::Cache::new(dir.path().to_path_buf());
        let index = client.settings().index_url.clone();
        let fetched_at: Timestamp = "2026-11-06T00:00:00Z".parse().unwrap();
        cache
            .write_page(&index, Arc::new(page.clone()), fetched_at)
            .await
            .unwrap();
        let cutoff = |at: &str| ResolveOptions {
            exclude_newer: Some(at.parse().unwrap()),
            ..ResolveOptions::default()
        };
        let versions = async |options: ResolveOptions| {
            let fetcher = Fetcher::new(client.clone(), vec![target(11)], options);
            fetcher.versions(0, &name).await
        };

        let computed = versions(cutoff("2026-11-01T00:00:00Z"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(computed.usable.keys().collect::<Vec<_>>(), [&v("1.0")]);

        // Break every file name on the page, keeping its header and length: the page now decodes to
        // nothing usable, and only the stored selection can still answer.
        let path = cache.page_path(&index, &name);
        let break_names = || {
            let mut bytes = std::fs::read(&path).unwrap();
            let mut at = 0;
            while let Some(found) = bytes[at..].windows(5).position(|w| w == b"demo-") {
                bytes[at + found..at + found + 4].copy_from_slice(b"omed");
                at += found + 5;
            }
            assert!(at > 0, "the page names its files");
            std::fs::write(&path, bytes).unwrap();
        };
        break_names();
        let cached = versions(cutoff("2026-11-01T00:00:00Z"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cached, computed);

        let other_cutoff = versions(cutoff("2026-12-01T00:00:00Z"))
            .await
            .unwrap()
            .unwrap();
        assert!(
            other_cutoff.usable.is_empty(),
            "computed from the broken page"
        );

        cache
            .write_page(
                &index,
                Arc::new(page),
                fetched_at + jiff::SignedDuration::from_secs(1),
            )
            .await
            .unwrap();
        break_names();
        let refetched = versions(cutoff("2026-11-01T00:00:00Z"))
            .await
            .unwrap()
            .unwrap();
        assert!(refetched.usable.is_empty(), "computed from the new page");
    }
}
