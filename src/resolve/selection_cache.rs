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
//! Payload layout (primitives as in `index::page_codec`; tables as in `version_table`, read in place):
//!
//! ```text
//! u32 crc32 of the rest · u32 targets · targets × u32 offset of a map · maps
//! map       = table of (version, candidate) · table of (version, unusable)   (the usable table's offset
//!             is the map's; the unusable one follows it, at the offset in the map's first u32 after
//!             its own)
//! candidate = file · opt<str> yanked · u8 (0: metadata file follows as a file | 1: same as file)
//! unusable  = u8 0 · time earliest | u8 1 · str specifiers | u8 2 · u64 files
//!           | u8 3 · opt<u8 nearest> · u32 k · k × str wheel tag · u8 has_sdist
//! ```
//!
//! Offsets count from the CRC's first byte. A run decodes only the releases the solver looks at (see
//! `version_table`), so the whole payload is checked by its CRC first: a torn or corrupted entry is a
//! miss, not a wrong release found halfway through a resolve.

use std::borrow::Borrow;
use std::sync::{Arc, OnceLock};

use pep508_rs::PackageName;

use super::candidates::VersionMap;
use super::version_table::{VersionTable, patch_offset, write_table};
use super::{ResolveOptions, Target};
use crate::index::DerivedKey;
use crate::index::page_codec::{Reader, Writer};

/// Bump when the key or payload layout changes.
const FORMAT: u8 = 2;

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
    let base = out.0.len();
    out.0.extend_from_slice(&[0; 4]);
    out.len(maps.len());
    let offsets = out.0.len();
    out.0.resize(offsets + 4 * maps.len(), 0);
    for (at, map) in maps.iter().enumerate() {
        let map = map.borrow();
        patch_offset(out, offsets + 4 * at, base);
        // Where the unusable table starts, patched once the usable one is written.
        let unusable_at = out.0.len();
        out.0.extend_from_slice(&[0; 4]);
        write_table(out, base, &map.usable);
        patch_offset(out, unusable_at, base);
        write_table(out, base, &map.unusable);
    }
    let crc = crc32fast::hash(&out.0[base + 4..]);
    out.0[base..base + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The maps [`encode`] wrote at `base` of `bytes` (to the end) for `targets` targets; `None` when the
/// CRC, the target count or a table's bounds do not check. Releases are decoded when asked for.
pub fn decode(bytes: &Arc<Vec<u8>>, base: usize, targets: usize) -> Option<Vec<VersionMap>> {
    let payload = bytes.get(base..)?;
    let (crc, rest) = payload.split_first_chunk::<4>()?;
    if crc32fast::hash(rest) != u32::from_le_bytes(*crc) {
        return None;
    }
    let mut input = Reader(rest);
    if input.len()? != targets {
        return None;
    }
    let mut maps = Vec::with_capacity(targets);
    for _ in 0..targets {
        let at = input.len()?;
        let unusable_at = Reader(payload.get(at..)?).len()?;
        maps.push(VersionMap {
            usable: VersionTable::stored(bytes, base, at + 4)?,
            unusable: VersionTable::stored(bytes, base, unusable_at)?,
        });
    }
    Some(maps)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::str::FromStr;

    use jiff::Timestamp;
    use pep440_rs::Version;
    use version_ranges::Ranges;

    use super::*;
    use crate::index::{DistFile, ProjectPage};
    use crate::resolve::SdistPolicy;
    use crate::resolve::candidates::{Candidate, Unusable};
    use crate::resolve::fetch::Fetcher;
    use crate::resolve::fetch::tests::{offline_cache, target};
    use crate::tags::{Arch, IncompatibleTag, Platform, PythonVersion};

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

    fn decoded(bytes: &[u8], targets: usize) -> Option<Vec<VersionMap>> {
        decode(&Arc::new(bytes.to_vec()), 0, targets)
    }

    /// `bytes` with its CRC made to match, as a forger would.
    fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
        let crc = crc32fast::hash(&bytes[4..]);
        bytes[..4].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Everything the solver and the diagnosis ask of a map.
    fn ask_everything(map: &VersionMap) {
        let _ = map.best(&Ranges::full(), false);
        let _ = map.best(&Ranges::full(), true);
        let _ = map.best_unusable(&Ranges::full());
        let _ = format!("{map:?}");
        for (version, _) in map.usable.iter().rev() {
            let _ = map.usable.get(version);
            let _ = map.usable.range(..version.clone()).count();
            let _ = map.next_below(&Ranges::full(), version, false, 3).len();
        }
        for unusable in map.unusable.values() {
            let _ = unusable.to_string();
        }
    }

    #[test]
    fn maps_round_trip_exactly() {
        let bytes = encoded(&maps());
        let decoded = decoded(&bytes, 2).unwrap();
        assert_eq!(decoded, maps());
        // Versions keep their spelling, which the lock prints.
        let spelled = |maps: &[VersionMap]| -> Vec<String> {
            maps[0].usable.keys().map(Version::to_string).collect()
        };
        assert_eq!(spelled(&decoded), spelled(&maps()));
        assert!(
            self::decoded(&bytes, 1).is_none(),
            "another number of targets"
        );
        // Encoding what was read in place writes the same bytes.
        assert_eq!(encoded(&decoded), bytes);
    }

    #[test]
    fn a_stored_map_answers_lookups_as_the_computed_one() {
        let computed = maps();
        let stored = decoded(&encoded(&computed), 2).unwrap();
        let (computed, stored) = (&computed[0], &stored[0]);
        for text in ["0", "0.1", "0.3rc1", "1.5", "2.0", "2.1", "3.0", "9"] {
            let version = v(text);
            assert_eq!(
                stored.usable.get(&version),
                computed.usable.get(&version),
                "{text}"
            );
            assert_eq!(
                stored.unusable.get(&version),
                computed.unusable.get(&version),
                "{text}"
            );
            let ranges = [
                Ranges::higher_than(version.clone()),
                Ranges::strictly_lower_than(version.clone()),
                Ranges::singleton(version.clone()),
            ];
            for range in ranges {
                assert_eq!(
                    stored.best(&range, false),
                    computed.best(&range, false),
                    "{text}"
                );
                assert_eq!(
                    stored.best_unusable(&range),
                    computed.best_unusable(&range),
                    "{text}"
                );
                let next = |map: &VersionMap| -> Vec<Version> {
                    map.next_below(&range, &version, true, 5)
                        .into_iter()
                        .map(|(version, _)| version.clone())
                        .collect()
                };
                assert_eq!(next(stored), next(computed), "{text}");
            }
            let above = |map: &VersionMap| -> Vec<Version> {
                map.usable
                    .range(version.clone()..)
                    .map(|(v, _)| v.clone())
                    .collect()
            };
            assert_eq!(above(stored), above(computed), "{text}");
        }
    }

    #[test]
    fn truncated_extended_or_corrupted_payloads_are_misses() {
        let bytes = encoded(&maps());
        for len in 0..bytes.len() {
            assert!(decoded(&bytes[..len], 2).is_none(), "prefix of {len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decoded(&longer, 2).is_none());
        // Any single flipped byte fails the CRC.
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x80;
            assert!(decoded(&flipped, 2).is_none(), "byte {at} flipped");
        }
    }

    /// A forged entry whose CRC matches is read in place and decoded late: whatever it holds, no
    /// question asked of it panics (the fuzz target `selection_cache` does the same at random).
    #[test]
    fn forged_entries_with_a_matching_crc_never_panic() {
        let bytes = encoded(&maps());
        for at in 4..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut forged = bytes.clone();
                forged[at] ^= flip;
                if let Some(maps) = decoded(&resealed(forged), 2) {
                    maps.iter().for_each(ask_everything);
                }
            }
        }
        // Versions out of order are not checked up front; lookups then miss, they do not panic.
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
        let maps = decoded(&resealed(bytes), 1).unwrap();
        ask_everything(&maps[0]);
    }

    /// The fuzz target's seed is a payload the decoder accepts, so fuzzing starts past the checks.
    #[test]
    fn the_fuzz_seed_decodes() {
        let seed = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/selection_cache/typing-extensions.fls"
        ))
        .unwrap();
        let maps = decoded(&seed, 1).unwrap();
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
        let (client, cache, index) = offline_cache(dir.path());
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
