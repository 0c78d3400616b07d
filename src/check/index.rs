//! Index checks: is every locked file still on the index, unchanged and not yanked, and is a newer
//! release available within the image's policy?
//!
//! Pure: takes the lock, the current requirements input, the project pages and the `Requires-Dist` of
//! the locked packages the caller fetched, and returns findings. A changed sha256 is an integrity failure
//! (what the lock pins is no longer what the index serves), never merely stale; a vanished file is stale,
//! as in `verify` and for a Debian package: the lock can no longer be installed, but no bytes changed.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use pep440_rs::{Operator, Version};
use pep508_rs::{MarkerEnvironment, PackageName, Requirement, VersionOrUrl};

use crate::index::{PageFiles, ProjectResponse};
use crate::lock::listing::{ListingChange, compare_with_index};
use crate::lock::{Lock, LockedPackage};
use crate::requirements::RequirementsInput;
use crate::resolve::Target;
use crate::tags::{DistFilename, Tags};

use super::finding::{Code, FileLocation, Finding, Severity, resolve_command};

/// Everything the index check compares the lock with.
#[derive(Debug, Clone, Copy)]
pub struct IndexContext<'a> {
    pub lock: &'a Lock,
    /// The requirements input as it is now: decides which packages are pinned and where they are written.
    pub input: &'a RequirementsInput,
    /// Each locked project's page now; a project missing from the map is not checked.
    pub pages: &'a BTreeMap<PackageName, ProjectResponse>,
    /// Releases uploaded after this are not counted as newer (the check's "now").
    pub now: Timestamp,
    /// The `Requires-Dist` of locked packages, by name and locked version: a newer release counts only
    /// if every locked package depending on it allows it. A dependent missing from the map is unknown,
    /// and its dependencies' newer releases are not reported (see [`dependents_to_read`]).
    pub requires: &'a BTreeMap<(PackageName, Version), Vec<Requirement>>,
}

/// The locked packages (name, version) whose `Requires-Dist` [`check_index`] needs: those depending on
/// a package that has a newer release within the policy. Reads every field of `context` but `requires`.
pub fn dependents_to_read(context: &IndexContext<'_>) -> BTreeSet<(PackageName, Version)> {
    let mut needed = BTreeSet::new();
    for package in &context.lock.packages {
        let Some(ProjectResponse::Found(page)) = context.pages.get(&package.name) else {
            continue;
        };
        if candidates(context, package, &page.files).is_empty() {
            continue;
        }
        needed.extend(
            dependents(context.lock, &package.name)
                .map(|dependent| (dependent.name.clone(), dependent.version.clone())),
        );
    }
    needed
}

/// Check every locked file against the index, and look for newer releases.
pub fn check_index(context: &IndexContext<'_>) -> Vec<Finding> {
    let image = context.lock.context.image.as_str();
    let mut findings = Vec::new();
    for package in &context.lock.packages {
        let Some(response) = context.pages.get(&package.name) else {
            continue;
        };
        let location = input_location(context.input, &package.name);
        let finding = |code: Code, reason: String| Finding {
            code,
            severity: Severity::of(code),
            image: image.to_string(),
            package: Some(package.name.to_string()),
            version: Some(package.version.to_string()),
            reason,
            fix: resolve_command(image),
            location: location.clone(),
        };
        let page = match response {
            ProjectResponse::Found(page) => page,
            ProjectResponse::NotFound => {
                findings.push(finding(
                    Code::NotOnIndex,
                    format!(
                        "project `{}` is gone from the index (the lock pins {})",
                        package.name, package.version
                    ),
                ));
                continue;
            }
        };
        for locked in &package.files {
            let entry = page
                .files
                .iter()
                .find(|f| f.filename() == locked.filename)
                .map(|entry| entry.to_dist_file());
            // The comparison `verify` makes, without the cutoff (the resolve's business); a changed
            // size comes with a changed hash, which says more, so `check` leaves it to `verify`.
            for change in compare_with_index(locked, entry.as_ref(), None) {
                let name = &locked.filename;
                let reason = match &change {
                    ListingChange::Gone => format!("`{name}` is gone from the index"),
                    ListingChange::Sha256 { locked, listed } => {
                        format!("`{name}` has sha256 {listed} on the index; the lock pins {locked}")
                    }
                    ListingChange::Yanked { reason } if reason.is_empty() => {
                        format!("`{name}` was yanked (no reason given)")
                    }
                    ListingChange::Yanked { reason } => {
                        format!("`{name}` was yanked (reason: {reason})")
                    }
                    ListingChange::Size { .. } | ListingChange::UploadedAfterCutoff { .. } => {
                        continue;
                    }
                };
                findings.push(finding(change.code(), reason));
            }
        }
        if let Some(newer) = newer_release(context, package, &page.files) {
            let policy = if is_pinned(context.input, &package.name) {
                "patch release of a pinned package"
            } else {
                "newer release"
            };
            let mut newer_finding = finding(
                Code::NewerRelease,
                format!(
                    "{} {newer} is available ({policy}; locked {})",
                    package.name, package.version
                ),
            );
            newer_finding.fix = newer_release_fix(context, package, &newer, &page.files);
            findings.push(newer_finding);
        }
    }
    findings
}

/// What picks up `newer` when run: `resolve` alone keeps a pinned version and the lock's
/// `exclude-newer`, so the pin to change and the cutoff to raise come first.
fn newer_release_fix(
    context: &IndexContext<'_>,
    package: &LockedPackage,
    newer: &Version,
    files: &PageFiles,
) -> String {
    let name = &package.name;
    let mut steps = Vec::new();
    if is_pinned(context.input, name) {
        let place = input_location(context.input, name).map_or_else(
            || "the requirements input".to_string(),
            |location| match location.line {
                Some(line) => format!("{}:{line}", location.path.display()),
                None => location.path.display().to_string(),
            },
        );
        steps.push(format!(
            "change the pin `{name}=={}` to `{name}=={newer}` in {place}",
            package.version
        ));
    }
    // The release's first upload: a later wheel for another target does not matter.
    let uploaded = files
        .iter()
        .filter(|file| {
            matches!(
                DistFilename::parse(file.filename(), name),
                Some(DistFilename::Wheel(wheel)) if wheel.version == *newer
            )
        })
        .filter_map(|file| file.upload_time())
        .min();
    if let (Some(cutoff), Some(uploaded)) = (context.lock.context.exclude_newer, uploaded)
        && uploaded > cutoff
    {
        steps.push(format!(
            "raise `exclude-newer` ({cutoff}) in the config to {uploaded} or later"
        ));
    }
    let resolve = resolve_command(&context.lock.context.image);
    if steps.is_empty() {
        return resolve;
    }
    format!("{}, then run `{resolve}`", steps.join(" and "))
}

/// The newest release within the policy that the locked set allows: see [`candidates`] and
/// [`is_allowed_by_dependents`].
fn newer_release(
    context: &IndexContext<'_>,
    package: &LockedPackage,
    files: &PageFiles,
) -> Option<Version> {
    let targets = targets(context.lock);
    candidates(context, package, files)
        .into_iter()
        .rev()
        .find(|version| is_allowed_by_dependents(context, &targets, &package.name, version))
}

/// Newer releases within the policy, as issue 6 states it ("patch releases of pinned packages, new
/// versions of unpinned transitive ones"): for a package pinned with `==`, a newer patch release (same
/// major.minor); otherwise any newer final release that the input's specifiers allow. Only releases
/// with a non-yanked wheel for one of the lock's targets, uploaded by `now`, count.
fn candidates(
    context: &IndexContext<'_>,
    package: &LockedPackage,
    files: &PageFiles,
) -> BTreeSet<Version> {
    let pinned = is_pinned(context.input, &package.name);
    let tags: Vec<Tags> = context
        .lock
        .context
        .targets
        .iter()
        .map(|target| Tags::new(context.lock.context.python, target.platform))
        .collect();
    let mut versions = BTreeSet::new();
    for file in files.iter() {
        if file.yanked().is_some() || file.upload_time().is_some_and(|time| time > context.now) {
            continue;
        }
        let Some(DistFilename::Wheel(wheel)) = DistFilename::parse(file.filename(), &package.name)
        else {
            continue;
        };
        if !tags.iter().any(|t| t.compatibility(&wheel).is_compatible()) {
            continue;
        }
        let version = DistFilename::Wheel(wheel).version().clone();
        if version <= package.version || version.any_prerelease() || version.is_local() {
            continue;
        }
        if pinned {
            if major_minor(&version) == major_minor(&package.version) {
                versions.insert(version);
            }
        } else if is_allowed(context.input, &package.name, &version) {
            versions.insert(version);
        }
    }
    versions
}

/// The lock's targets, for evaluating markers as `resolve` did.
fn targets(lock: &Lock) -> Vec<Target> {
    lock.context
        .targets
        .iter()
        .map(|target| Target::new(&target.oci, lock.context.python, target.platform))
        .collect()
}

/// The locked packages that depend on `name`.
fn dependents<'a>(
    lock: &'a Lock,
    name: &'a PackageName,
) -> impl Iterator<Item = &'a LockedPackage> {
    lock.packages
        .iter()
        .filter(move |package| package.dependencies.contains(name))
}

/// Whether every locked package depending on `name` allows `version`. Without this, a transitive
/// package capped by its dependent (`numpy<2` in a library's metadata) would be reported at every new
/// major release although no resolution could pick it. A dependent whose `Requires-Dist` is unknown
/// allows nothing: an unconfirmed release is not worth a line.
fn is_allowed_by_dependents(
    context: &IndexContext<'_>,
    targets: &[Target],
    name: &PackageName,
    version: &Version,
) -> bool {
    dependents(context.lock, name).all(|dependent| {
        let key = (dependent.name.clone(), dependent.version.clone());
        let Some(requires) = context.requires.get(&key) else {
            return false;
        };
        let environments: Vec<&MarkerEnvironment> = dependent
            .targets
            .iter()
            .filter_map(|index| targets.get(*index))
            .map(|target| &target.markers)
            .collect();
        let on_package: Vec<&Requirement> = requires.iter().filter(|r| r.name == *name).collect();
        let applies = |requirement: &Requirement, any_extra: bool| {
            let marker = if any_extra {
                requirement.marker.clone().simplify_extras_with(|_| true)
            } else {
                requirement.marker.clone()
            };
            environments.iter().any(|env| marker.evaluate(env, &[]))
        };
        let mut applying: Vec<&Requirement> = on_package
            .iter()
            .copied()
            .filter(|r| applies(r, false))
            .collect();
        // The lock does not record which extras of the dependent are active. When no requirement
        // applies without extras, the dependency came through one, so every extra's requirement counts.
        if applying.is_empty() {
            applying = on_package
                .into_iter()
                .filter(|r| applies(r, true))
                .collect();
        }
        applying
            .iter()
            .all(|requirement| match &requirement.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.contains(version),
                Some(VersionOrUrl::Url(_)) => false,
                None => true,
            })
    })
}

fn major_minor(version: &Version) -> (u64, u64) {
    let release = version.release();
    (
        release.first().copied().unwrap_or(0),
        release.get(1).copied().unwrap_or(0),
    )
}

/// Whether a top-level requirement (or constraint) pins the package with `==`.
fn is_pinned(input: &RequirementsInput, name: &PackageName) -> bool {
    input
        .requirements
        .iter()
        .chain(&input.constraints)
        .filter(|entry| entry.requirement.name == *name)
        .any(|entry| match &entry.requirement.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers
                .iter()
                .any(|s| matches!(s.operator(), Operator::Equal | Operator::ExactEqual)),
            _ => false,
        })
}

/// Whether every requirement and constraint on the package allows `version`.
fn is_allowed(input: &RequirementsInput, name: &PackageName, version: &Version) -> bool {
    input
        .requirements
        .iter()
        .chain(&input.constraints)
        .filter(|entry| entry.requirement.name == *name)
        .all(|entry| match &entry.requirement.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.contains(version),
            _ => true,
        })
}

/// Where the package is written in the input, if it is a top-level requirement.
fn input_location(input: &RequirementsInput, name: &PackageName) -> Option<FileLocation> {
    input
        .requirements
        .iter()
        .chain(&input.constraints)
        .find(|entry| entry.requirement.name == *name)
        .map(|entry| FileLocation {
            path: entry.location.path.clone(),
            line: Some(entry.location.line),
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use crate::index::{DistFile, ProjectPage};
    use crate::lock::parse_pylock;
    use crate::requirements::parse_str;

    use super::*;

    /// A fave-stt lock from before numpy was held below 2: `deepspeech==0.9.3` pinned, `numpy`
    /// transitive.
    fn lock() -> Lock {
        let text = include_str!("../../tests/fixtures/locks/deepspeech-numpy2.pylock.toml");
        parse_pylock(text, Path::new("locks/fave-stt/pylock.toml")).unwrap()
    }

    /// Each locked project's page listing exactly its locked files, changed by `change`.
    fn pages(
        lock: &Lock,
        change: impl Fn(&mut DistFile),
    ) -> BTreeMap<PackageName, ProjectResponse> {
        lock.packages
            .iter()
            .map(|package| {
                let mut files = package.files.clone();
                files.iter_mut().for_each(&change);
                let page = ProjectPage {
                    name: package.name.clone(),
                    files: files.into(),
                };
                (package.name.clone(), ProjectResponse::Found(Arc::new(page)))
            })
            .collect()
    }

    /// deepspeech 0.9.3's `Requires-Dist` on numpy, as `numpy_requirement` says.
    fn requires(numpy_requirement: &str) -> BTreeMap<(PackageName, Version), Vec<Requirement>> {
        let key = ("deepspeech".parse().unwrap(), "0.9.3".parse().unwrap());
        BTreeMap::from([(key, vec![numpy_requirement.parse().unwrap()])])
    }

    fn codes(lock: &Lock, pages: &BTreeMap<PackageName, ProjectResponse>) -> Vec<String> {
        codes_with(lock, pages, &requires("numpy"))
    }

    fn codes_with(
        lock: &Lock,
        pages: &BTreeMap<PackageName, ProjectResponse>,
        requires: &BTreeMap<(PackageName, Version), Vec<Requirement>>,
    ) -> Vec<String> {
        let input = parse_str("deepspeech==0.9.3\n", Path::new("fave-stt.in")).unwrap();
        let context = IndexContext {
            lock,
            input: &input,
            pages,
            now: "2026-11-27T00:00:00Z".parse().unwrap(),
            requires,
        };
        check_index(&context)
            .iter()
            .map(|f| format!("{} {} {}", f.severity.as_str(), f.code, f.reason))
            .collect()
    }

    /// The pages of `lock` with one more wheel for each of `extra`, uploaded in 2026.
    fn with_releases(lock: &Lock, extra: &[&str]) -> BTreeMap<PackageName, ProjectResponse> {
        let mut pages = pages(lock, |_| {});
        for filename in extra {
            let name: PackageName = filename.split('-').next().unwrap().parse().unwrap();
            let ProjectResponse::Found(page) = &pages[&name] else {
                unreachable!()
            };
            let mut page = (**page).clone();
            let mut files = page.files.to_dist_files();
            let mut file = files[0].clone();
            file.filename = (*filename).to_string();
            file.upload_time = Some("2026-01-01T00:00:00Z".parse().unwrap());
            files.push(file);
            page.files = files.into();
            pages.insert(name, ProjectResponse::Found(Arc::new(page)));
        }
        pages
    }

    #[test]
    fn an_unchanged_index_has_no_findings() {
        let lock = lock();
        assert!(codes(&lock, &pages(&lock, |_| {})).is_empty());
    }

    #[test]
    fn yanks_hashes_and_vanished_files() {
        let lock = lock();
        let yanked = pages(&lock, |file| file.yanked = Some("bad build".into()));
        assert_eq!(
            codes(&lock, &yanked),
            [
                "stale yanked `deepspeech-0.9.3-cp39-cp39-manylinux1_x86_64.whl` was yanked (reason: bad build)",
                "stale yanked `numpy-2.0.2-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl` was yanked (reason: bad build)",
            ]
        );
        let changed = pages(&lock, |file| file.sha256 = Some("00".repeat(32)));
        assert!(
            codes(&lock, &changed)
                .iter()
                .all(|c| c.starts_with("integrity index-hash-mismatch"))
        );
        let mut gone = pages(&lock, |file| file.filename.push_str(".old"));
        gone.insert("numpy".parse().unwrap(), ProjectResponse::NotFound);
        assert_eq!(
            codes(&lock, &gone),
            [
                "stale not-on-index `deepspeech-0.9.3-cp39-cp39-manylinux1_x86_64.whl` is gone from the index",
                "stale not-on-index project `numpy` is gone from the index (the lock pins 2.0.2)",
            ]
        );
    }

    #[test]
    fn newer_releases_follow_the_policy() {
        let lock = lock();
        let with = |extra: &[&str]| codes(&lock, &with_releases(&lock, extra));
        // Pinned: a new minor is outside the policy, a patch release inside; transitive: any release,
        // but not a pre-release, nor a wheel for another Python.
        assert!(with(&["deepspeech-0.10.0-cp39-cp39-manylinux1_x86_64.whl"]).is_empty());
        assert_eq!(
            with(&["deepspeech-0.9.4-cp39-cp39-manylinux1_x86_64.whl"]),
            [
                "info newer-release deepspeech 0.9.4 is available (patch release of a pinned package; locked 0.9.3)"
            ]
        );
        assert!(
            with(&[
                "numpy-2.1.0rc1-cp39-cp39-manylinux_2_17_x86_64.whl",
                "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl"
            ])
            .is_empty()
        );
        assert_eq!(
            with(&["numpy-2.1.0-cp39-cp39-manylinux_2_17_x86_64.whl"]),
            ["info newer-release numpy 2.1.0 is available (newer release; locked 2.0.2)"]
        );
    }

    /// Issue 14: every fix `check` prints picks the release up when run. `resolve` alone keeps a pin
    /// and the lock's `exclude-newer`.
    #[test]
    fn a_newer_release_fix_changes_what_holds_it_back() {
        let fixes = |lock: &Lock, extra: &str| -> Vec<String> {
            let input = parse_str("deepspeech==0.9.3\n", Path::new("fave-stt.in")).unwrap();
            let pages = with_releases(lock, &[extra]);
            let requires = requires("numpy");
            let context = IndexContext {
                lock,
                input: &input,
                pages: &pages,
                now: "2026-11-27T00:00:00Z".parse().unwrap(),
                requires: &requires,
            };
            check_index(&context).into_iter().map(|f| f.fix).collect()
        };
        let mut lock = lock();
        let pinned = "deepspeech-0.9.4-cp39-cp39-manylinux1_x86_64.whl";
        let transitive = "numpy-2.1.0-cp39-cp39-manylinux_2_17_x86_64.whl";
        assert_eq!(
            fixes(&lock, pinned),
            [
                "change the pin `deepspeech==0.9.3` to `deepspeech==0.9.4` in fave-stt.in:1, then run `fave-lock resolve --image=fave-stt`"
            ]
        );
        assert_eq!(
            fixes(&lock, transitive),
            ["fave-lock resolve --image=fave-stt"]
        );
        // Uploaded (2026-01-01) after the lock's cutoff: the cutoff has to move too.
        lock.context.exclude_newer = "2025-06-01T00:00:00Z".parse().ok();
        assert_eq!(
            fixes(&lock, transitive),
            [
                "raise `exclude-newer` (2025-06-01T00:00:00Z) in the config to 2026-01-01T00:00:00Z or later, then run `fave-lock resolve --image=fave-stt`"
            ]
        );
        assert_eq!(
            fixes(&lock, pinned),
            [
                "change the pin `deepspeech==0.9.3` to `deepspeech==0.9.4` in fave-stt.in:1 and raise `exclude-newer` (2025-06-01T00:00:00Z) in the config to 2026-01-01T00:00:00Z or later, then run `fave-lock resolve --image=fave-stt`"
            ]
        );
    }

    #[test]
    fn a_newer_release_its_dependent_excludes_is_not_reported() {
        let lock = lock();
        let pages = with_releases(
            &lock,
            &[
                "numpy-2.0.3-cp39-cp39-manylinux_2_17_x86_64.whl",
                "numpy-2.1.0-cp39-cp39-manylinux_2_17_x86_64.whl",
            ],
        );
        // deepspeech caps numpy below 2.1: the newest release it allows is the one reported.
        assert_eq!(
            codes_with(&lock, &pages, &requires("numpy<2.1")),
            ["info newer-release numpy 2.0.3 is available (newer release; locked 2.0.2)"]
        );
        assert!(codes_with(&lock, &pages, &requires("numpy<2.0.3")).is_empty());
        // A cap under a marker that no target matches does not apply; one under an extra does when
        // nothing else explains the dependency.
        assert_eq!(
            codes_with(
                &lock,
                &pages,
                &requires("numpy<2.0.3; platform_machine == 'aarch64'")
            ),
            ["info newer-release numpy 2.1.0 is available (newer release; locked 2.0.2)"]
        );
        assert!(codes_with(&lock, &pages, &requires("numpy<2.0.3; extra == 'gpu'")).is_empty());
        // Unknown requirements of the dependent: nothing is reported.
        assert!(codes_with(&lock, &pages, &BTreeMap::new()).is_empty());
        // Only deepspeech depends on numpy, so only its metadata is needed.
        let input = parse_str("deepspeech==0.9.3\n", Path::new("fave-stt.in")).unwrap();
        let empty = BTreeMap::new();
        let context = IndexContext {
            lock: &lock,
            input: &input,
            pages: &pages,
            now: "2026-11-27T00:00:00Z".parse().unwrap(),
            requires: &empty,
        };
        let needed: Vec<String> = dependents_to_read(&context)
            .iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect();
        assert_eq!(needed, ["deepspeech 0.9.3"]);
    }
}
