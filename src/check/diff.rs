//! The per-package difference between the committed lock and a fresh in-memory resolution, with why
//! each package moved.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::lock::Lock;

/// Why a package's version changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeReason {
    /// The requirements input, the config or the lock format changed.
    InputChange,
    /// The index has a newer release the resolver now picks.
    NewerRelease,
    /// The locked version was yanked.
    Yank,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::InputChange => "input change",
            ChangeReason::NewerRelease => "newer release",
            ChangeReason::Yank => "yank",
        }
    }
}

/// One package whose locked versions differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    pub package: String,
    /// Locked versions now (empty when the package is new).
    pub old: Vec<String>,
    /// Versions a fresh resolution picks (empty when the package is dropped).
    pub new: Vec<String>,
    pub reason: ChangeReason,
}

/// The packages whose versions differ between `old` and `new`. `yanked` holds `(package, version)`
/// pairs with a yanked locked file.
pub fn diff(
    old: &Lock,
    new: &Lock,
    inputs_changed: bool,
    yanked: &BTreeSet<(String, String)>,
) -> Vec<PackageChange> {
    let versions = |lock: &Lock| {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for package in &lock.packages {
            map.entry(package.name.to_string())
                .or_default()
                .push(package.version.to_string());
        }
        map
    };
    let (old_versions, new_versions) = (versions(old), versions(new));
    let names: BTreeSet<&String> = old_versions.keys().chain(new_versions.keys()).collect();
    let mut changes = Vec::new();
    for name in names {
        let old = old_versions.get(name).cloned().unwrap_or_default();
        let new = new_versions.get(name).cloned().unwrap_or_default();
        if old == new {
            continue;
        }
        let reason = if old
            .iter()
            .any(|version| yanked.contains(&(name.clone(), version.clone())))
        {
            ChangeReason::Yank
        } else if inputs_changed {
            ChangeReason::InputChange
        } else {
            ChangeReason::NewerRelease
        };
        changes.push(PackageChange {
            package: name.clone(),
            old,
            new,
            reason,
        });
    }
    changes
}
