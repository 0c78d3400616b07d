//! Whether a wheel installs on the target, and how much pip would prefer it.
//!
//! [`Tags::new`] turns pip's tag order ([`super::order`]) into lookup maps once per target, because the
//! resolver asks about every file of every release it considers (numpy's page alone lists 4,415 files).

use std::borrow::Cow;
use std::collections::HashMap;

use super::order;
use super::platform::Platform;
use super::python_version::PythonVersion;
use super::wheel_filename::WheelFilename;

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
    /// pip would not install it; the nearest miss, for the failure report.
    Incompatible(IncompatibleTag),
    /// pip would install it, with this preference.
    Compatible(TagPriority),
}

impl TagCompatibility {
    /// Whether the wheel installs at all.
    pub fn is_compatible(self) -> bool {
        matches!(self, TagCompatibility::Compatible(_))
    }
}

/// The set of tags a target interpreter accepts.
///
/// Build it with [`Tags::new`]; the public fields are the target it was built for, kept for error messages.
#[derive(Debug, Clone)]
pub struct Tags {
    /// The interpreter the tags were generated for, for error messages.
    pub python: PythonVersion,
    /// The platform the tags were generated for, for error messages.
    pub platform: Platform,
    /// `python` tag |--> `abi` tag |--> where the pair sits in pip's order.
    pairs: HashMap<String, HashMap<String, PairRank>>,
    /// Platform tag |--> rank, 0 best. Legacy aliases share their PEP 600 name's rank.
    platform_ranks: HashMap<String, u32>,
    /// How many distinct platform ranks there are: the stride between two pairs in pip's order.
    platform_rank_count: u32,
    /// How many pairs combine with real platforms; the `any` pairs come after all of their tags.
    platform_pair_count: u32,
    /// Length of pip's whole order, so that the first tag gets the highest [`TagPriority`].
    tag_count: u32,
    /// `311`: the target's version as ABI tags spell it, kept to classify misses without allocating.
    nodot: String,
}

/// Where one `(python, abi)` pair sits in pip's order. A pair can take part in both halves: `py3-none` pairs
/// with every platform and, later, with `any`.
#[derive(Debug, Clone, Copy, Default)]
struct PairRank {
    /// Index among the pairs that take a platform tag.
    with_platform: Option<u32>,
    /// Index among the pairs that take `any`.
    with_any: Option<u32>,
}

impl Tags {
    /// The tags CPython `python` accepts on `platform`, ranked once so that each wheel costs a few hash
    /// lookups.
    pub fn new(python: PythonVersion, platform: Platform) -> Tags {
        let mut pairs: HashMap<String, HashMap<String, PairRank>> = HashMap::new();
        let platform_pairs = order::platform_pairs(python);
        let platform_pair_count = count(platform_pairs.len());
        for (index, pair) in (0..).zip(platform_pairs) {
            rank_of(&mut pairs, pair).with_platform = Some(index);
        }
        let any_pairs = order::any_pairs(python);
        let any_pair_count = count(any_pairs.len());
        for (index, pair) in (0..).zip(any_pairs) {
            rank_of(&mut pairs, pair).with_any = Some(index);
        }

        let ranks = order::platform_ranks(platform);
        let platform_rank_count = count(ranks.len());
        let platform_ranks = (0..)
            .zip(ranks)
            .flat_map(|(rank, spellings)| spellings.into_iter().map(move |tag| (tag, rank)))
            .collect();

        Tags {
            python,
            platform,
            pairs,
            platform_ranks,
            platform_rank_count,
            platform_pair_count,
            tag_count: platform_pair_count * platform_rank_count + any_pair_count,
            nodot: python.nodot(),
        }
    }

    /// Whether `wheel` installs on this target, and how preferred it is.
    ///
    /// A wheel with compressed tag sets installs wherever its best triple does; if none fits, the nearest miss
    /// is reported.
    pub fn compatibility(&self, wheel: &WheelFilename) -> TagCompatibility {
        wheel
            .tags()
            .map(|(python, abi, platform)| {
                self.triple(&lowercase(python), &lowercase(abi), &lowercase(platform))
            })
            .max()
            // Unreachable: parsing refuses empty tag sets. Python is the least specific reason.
            .unwrap_or(TagCompatibility::Incompatible(IncompatibleTag::Python))
    }

    /// One `python-abi-platform` triple against pip's order.
    fn triple(&self, python: &str, abi: &str, platform: &str) -> TagCompatibility {
        let Some(abis) = self.pairs.get(python) else {
            return TagCompatibility::Incompatible(IncompatibleTag::Python);
        };
        let Some(pair) = abis.get(abi) else {
            return TagCompatibility::Incompatible(self.abi_miss(abi));
        };
        match self.position(*pair, platform) {
            Some(position) => TagCompatibility::Compatible(TagPriority(self.tag_count - position)),
            None => TagCompatibility::Incompatible(IncompatibleTag::Platform),
        }
    }

    /// Why a known python tag's ABI does not fit. An ABI naming another CPython version (`cp39-cp39`: `cp39` is
    /// known through `cp39-abi3`) means the wheel was built for that version, which is a Python mismatch; a
    /// variant of ours (`cp311d`, `cp311t`) or a foreign ABI is an ABI mismatch.
    fn abi_miss(&self, abi: &str) -> IncompatibleTag {
        let digits = abi.strip_prefix("cp").map(|rest| {
            let end = rest
                .find(|character: char| !character.is_ascii_digit())
                .unwrap_or(rest.len());
            &rest[..end]
        });
        match digits {
            Some(digits) if !digits.is_empty() && digits != self.nodot => IncompatibleTag::Python,
            _ => IncompatibleTag::Abi,
        }
    }

    /// 0-based position of `pair` with `platform` in pip's order, if pip accepts the combination.
    fn position(&self, pair: PairRank, platform: &str) -> Option<u32> {
        if platform == "any" {
            let any_start = self.platform_pair_count * self.platform_rank_count;
            return pair.with_any.map(|index| any_start + index);
        }
        let platform_rank = *self.platform_ranks.get(platform)?;
        Some(pair.with_platform? * self.platform_rank_count + platform_rank)
    }
}

/// The entry of `pair` in the nested map, created empty if new.
fn rank_of(
    pairs: &mut HashMap<String, HashMap<String, PairRank>>,
    (python, abi): order::Pair,
) -> &mut PairRank {
    pairs.entry(python).or_default().entry(abi).or_default()
}

/// Tags compare lowercase, as in `packaging.tags.Tag`; real filenames almost always are already, so this
/// rarely allocates.
fn lowercase(tag: &str) -> Cow<'_, str> {
    if tag.bytes().any(|byte| byte.is_ascii_uppercase()) {
        Cow::Owned(tag.to_ascii_lowercase())
    } else {
        Cow::Borrowed(tag)
    }
}

/// A list length as a rank; pip's order for any one target has about a thousand tags.
fn count(length: usize) -> u32 {
    u32::try_from(length).expect("pip's tag order has fewer than 2^32 tags")
}

#[cfg(test)]
mod tests;
