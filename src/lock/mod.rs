//! The lock: one canonical, platform-merged view of a [`Resolution`] that every output is written from,
//! so that `requirements.txt`, `pylock.toml` and the SBOM cannot disagree.

pub mod listing;
mod pylock;
mod read;
mod requirements_txt;
mod via;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;
use sha2::{Digest, Sha256};

pub use pylock::pylock_toml;
pub use read::{LockReadError, parse_pylock, read_pylock};
pub use requirements_txt::requirements_txt;
/// Fixtures of the committed lock that other modules' tests share.
#[cfg(test)]
pub(crate) use via::tests as via_tests;

use crate::index::DistFile;
use crate::resolve::{Resolution, Via};
use crate::tags::{Platform, PythonVersion, Tags};

/// Bumped whenever the lock's content changes meaning, so `check` can tell an old lock from a stale one.
pub const LOCK_FORMAT_VERSION: u32 = 1;

/// A platform the lock covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockTarget {
    pub oci: String,
    pub platform: Platform,
}

impl LockTarget {
    /// The PEP 508 marker that selects this target among the lock's targets.
    pub fn marker(&self) -> String {
        format!("platform_machine == '{}'", self.platform.arch.machine())
    }
}

/// Everything about a lock that does not come from the resolution.
#[derive(Debug, Clone)]
pub struct LockContext {
    pub image: String,
    pub python: PythonVersion,
    pub targets: Vec<LockTarget>,
    pub index_url: String,
    pub exclude_newer: Option<Timestamp>,
    /// `sha256:<hex>` over every input that determines the lock.
    pub input_hash: String,
    /// `sha256:<hex>` of each part of the input hash, by part name (`settings`, `config`,
    /// `file <path>`): how `check` names the input that changed. Empty in a lock written before they
    /// were recorded.
    pub inputs: BTreeMap<String, String>,
    /// The command that regenerates the lock, with long `--output-file=` form.
    pub command: String,
}

impl LockContext {
    /// The tags of each target, in target order (indexes match [`LockContext::targets`]).
    pub fn tags(&self) -> Vec<Tags> {
        self.targets
            .iter()
            .map(|target| Tags::new(self.python, target.platform))
            .collect()
    }
}

/// One package at one version, on the targets that install it.
#[derive(Debug, Clone)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: Version,
    /// Indexes into [`LockContext::targets`].
    pub targets: BTreeSet<usize>,
    /// The files chosen for those targets (one per platform-specific wheel, one for a pure wheel).
    pub files: Vec<DistFile>,
    pub requires_python: Option<String>,
    pub dependencies: BTreeSet<PackageName>,
    pub via: BTreeSet<Via>,
}

/// A resolution merged across targets.
#[derive(Debug, Clone)]
pub struct Lock {
    pub context: LockContext,
    /// Sorted by name, then version.
    pub packages: Vec<LockedPackage>,
}

impl Lock {
    /// Merge each target's resolution: a package at the same version on several targets becomes one
    /// entry carrying every target's chosen file.
    pub fn new(resolution: &Resolution, context: LockContext) -> Lock {
        let mut merged: BTreeMap<(PackageName, Version), LockedPackage> = BTreeMap::new();
        for (index, target) in resolution.targets.iter().enumerate() {
            for package in target.packages.values() {
                let entry = merged
                    .entry((package.name.clone(), package.version.clone()))
                    .or_insert_with(|| LockedPackage {
                        name: package.name.clone(),
                        version: package.version.clone(),
                        targets: BTreeSet::new(),
                        files: Vec::new(),
                        requires_python: package.metadata.requires_python.clone(),
                        dependencies: BTreeSet::new(),
                        via: BTreeSet::new(),
                    });
                entry.targets.insert(index);
                if !entry
                    .files
                    .iter()
                    .any(|file| file.filename == package.file.filename)
                {
                    entry.files.push(package.file.clone());
                    entry.files.sort_by(|a, b| a.filename.cmp(&b.filename));
                }
                entry
                    .dependencies
                    .extend(package.dependencies.iter().cloned());
                entry.via.extend(package.via.iter().cloned());
            }
        }
        Lock {
            context,
            packages: merged.into_values().collect(),
        }
    }

    /// The marker restricting `package` to its targets, or `None` when it installs on all of them.
    pub fn marker(&self, package: &LockedPackage) -> Option<String> {
        if package.targets.len() == self.context.targets.len() {
            return None;
        }
        let markers: Vec<String> = package
            .targets
            .iter()
            .map(|&i| self.context.targets[i].marker())
            .collect();
        Some(markers.join(" or "))
    }

    /// Number of distinct package names.
    pub fn package_count(&self) -> usize {
        self.packages
            .iter()
            .map(|p| &p.name)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The `sha256:<hex>` of each named part of [`input_hash`], by name.
pub fn input_part_hashes<'a>(
    parts: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<String, String> {
    parts
        .into_iter()
        .map(|(name, bytes)| {
            let digest = Sha256::digest(bytes);
            (name.to_string(), format!("sha256:{}", hex::encode(digest)))
        })
        .collect()
}

/// Hash of everything that determines a lock: named parts, each framed by its name and length so that
/// moving bytes between parts changes the hash.
pub fn input_hash<'a>(parts: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("fave-lock-format {LOCK_FORMAT_VERSION}\n").as_bytes());
    for (name, bytes) in parts {
        hasher.update(format!("{name} {}\n", bytes.len()).as_bytes());
        hasher.update(bytes);
        hasher.update(b"\n");
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}
