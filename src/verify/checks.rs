//! The checks that need no I/O: each takes what the lock, the index page or the wheel says and returns
//! findings. `mod.rs` fetches, these judge.

use std::collections::BTreeSet;
use std::str::FromStr;

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;

use super::finding::{Code, Finding};
use crate::index::{CoreMetadata, DistFile};
use crate::lock::LockedPackage;
use crate::lock::listing::{ListingChange, compare_with_index};
use crate::tags::{Tags, WheelFilename};

/// Whether `file` is a wheel (by name, as pip decides).
pub(crate) fn is_wheel(file: &DistFile) -> bool {
    file.filename.to_ascii_lowercase().ends_with(".whl")
}

/// The targets (indexes into `tags`) among `candidates` that `file` installs on; sdists and unparseable
/// names fit none.
pub(crate) fn fitting_targets(
    file: &DistFile,
    tags: &[Tags],
    candidates: &BTreeSet<usize>,
) -> BTreeSet<usize> {
    let Ok(wheel) = WheelFilename::from_str(&file.filename) else {
        return BTreeSet::new();
    };
    candidates
        .iter()
        .copied()
        .filter(|&target| {
            tags.get(target)
                .is_some_and(|tags| tags.compatibility(&wheel).is_compatible())
        })
        .collect()
}

/// Whether `file` of `package` belongs to the `selected` targets: an sdist or a wheel that fits one of
/// them. A wheel that fits none of the package's targets at all is selected too, so it gets reported.
pub(crate) fn is_selected(
    package: &LockedPackage,
    file: &DistFile,
    tags: &[Tags],
    selected: &BTreeSet<usize>,
) -> bool {
    let targets: BTreeSet<usize> = package.targets.intersection(selected).copied().collect();
    if targets.is_empty() {
        return false;
    }
    if !is_wheel(file) {
        return true;
    }
    !fitting_targets(file, tags, &targets).is_empty()
        || fitting_targets(file, tags, &package.targets).is_empty()
}

/// What the lock alone says is wrong with `file`: no hash, an upload after the cutoff, a wheel name
/// that does not match the package or fits none of its targets.
pub(crate) fn lock_checks(
    package: &LockedPackage,
    file: &DistFile,
    tags: &[Tags],
    cutoff: Option<Timestamp>,
) -> Vec<Finding> {
    let finding = |code, message| Finding::for_file(code, package, file, message);
    let mut findings = Vec::new();
    if file.sha256.is_none() {
        findings.push(finding(
            Code::MissingHash,
            format!("the lock lists no sha256 for `{}`", file.filename),
        ));
    }
    if let (Some(cutoff), Some(uploaded)) = (cutoff, file.upload_time)
        && uploaded > cutoff
    {
        findings.push(
            finding(
                Code::UploadedAfterCutoff,
                format!(
                    "`{}` was uploaded at {uploaded}, after the lock's exclude-newer {cutoff}",
                    file.filename
                ),
            )
            .values(cutoff, uploaded),
        );
    }
    if !is_wheel(file) {
        return findings;
    }
    match WheelFilename::from_str(&file.filename) {
        Err(error) => findings.push(finding(Code::FilenameMismatch, error.to_string())),
        Ok(wheel) if wheel.name != package.name || wheel.version != package.version => {
            findings.push(
                finding(
                    Code::FilenameMismatch,
                    format!(
                        "`{}` is named for `{}` {}, but the lock lists it under `{}` {}",
                        file.filename, wheel.name, wheel.version, package.name, package.version
                    ),
                )
                .values(
                    format!("{} {}", package.name, package.version),
                    format!("{} {}", wheel.name, wheel.version),
                ),
            );
        }
        Ok(_) => {
            if fitting_targets(file, tags, &package.targets).is_empty() {
                let platforms: Vec<String> = package
                    .targets
                    .iter()
                    .filter_map(|&target| tags.get(target))
                    .map(|tags| format!("CPython {} on {}", tags.python, tags.platform))
                    .collect();
                findings.push(finding(
                    Code::IncompatibleWheel,
                    format!(
                        "`{}` installs on none of its targets ({})",
                        file.filename,
                        platforms.join(", ")
                    ),
                ));
            }
        }
    }
    findings
}

/// A finding for each selected target of `package` that no file fits (an sdist fits any target).
pub(crate) fn coverage_checks(
    package: &LockedPackage,
    tags: &[Tags],
    selected: &BTreeSet<usize>,
) -> Vec<Finding> {
    if package.files.iter().any(|file| !is_wheel(file)) {
        return Vec::new();
    }
    let mut covered = BTreeSet::new();
    for file in &package.files {
        covered.extend(fitting_targets(file, tags, &package.targets));
    }
    package
        .targets
        .intersection(selected)
        .filter(|target| !covered.contains(target))
        .filter_map(|&target| tags.get(target))
        .map(|tags| {
            Finding::new(
                Code::NoFileForTarget,
                &package.name,
                &package.version,
                None,
                format!(
                    "`{}` {} has no file for CPython {} on {}, a target the lock installs it on",
                    package.name, package.version, tags.python, tags.platform
                ),
            )
        })
        .collect()
}

/// `file` against the index's current entry for it (`None`: the index no longer lists it), worded for
/// a file; the comparison is [`compare_with_index`], the one `check` makes too.
pub(crate) fn index_checks(
    package: &LockedPackage,
    file: &DistFile,
    entry: Option<&DistFile>,
    cutoff: Option<Timestamp>,
) -> Vec<Finding> {
    let name = &file.filename;
    compare_with_index(file, entry, cutoff)
        .into_iter()
        .map(|change| {
            let finding = |message| Finding::for_file(change.code(), package, file, message);
            match &change {
                ListingChange::Gone => finding(format!("the index no longer lists `{name}`")),
                ListingChange::Sha256 { locked, listed } => finding(format!(
                    "the index lists sha256 {listed} for `{name}`, but the lock has {locked}"
                ))
                .values(locked, listed),
                ListingChange::Size { locked, listed } => finding(format!(
                    "the index lists {listed} bytes for `{name}`, but the lock has {locked}"
                ))
                .values(locked, listed),
                ListingChange::Yanked { reason } if reason.is_empty() => {
                    finding(format!("`{name}` is yanked on the index"))
                }
                ListingChange::Yanked { reason } => finding(format!(
                    "`{name}` is yanked on the index (reason: {reason})"
                )),
                ListingChange::UploadedAfterCutoff { cutoff, uploaded } => finding(format!(
                    "the index says `{name}` was uploaded at {uploaded}, after the lock's exclude-newer {cutoff}"
                ))
                .values(cutoff, uploaded),
            }
        })
        .collect()
}

/// The wheel's METADATA against the lock's name and version.
pub(crate) fn metadata_checks(
    package: &LockedPackage,
    file: &DistFile,
    metadata: &CoreMetadata,
) -> Vec<Finding> {
    let name = PackageName::from_str(&metadata.name).ok();
    let version = Version::from_str(&metadata.version).ok();
    if name.as_ref() == Some(&package.name) && version.as_ref() == Some(&package.version) {
        return Vec::new();
    }
    vec![
        Finding::new(
            Code::MetadataMismatch,
            &package.name,
            &package.version,
            Some(&file.filename),
            format!(
                "the METADATA of `{}` says `{}` {}, but the lock lists `{}` {}",
                file.filename, metadata.name, metadata.version, package.name, package.version
            ),
        )
        .values(
            format!("{} {}", package.name, package.version),
            format!("{} {}", metadata.name, metadata.version),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::{Platform, PythonVersion};

    fn tags() -> Vec<Tags> {
        let python = PythonVersion::from_str("3.11").unwrap();
        ["x86_64-manylinux_2_36", "aarch64-manylinux_2_36"]
            .iter()
            .map(|platform| Tags::new(python, Platform::from_str(platform).unwrap()))
            .collect()
    }

    fn file(filename: &str) -> DistFile {
        crate::lock::listing::tests::dist_file(filename)
    }

    fn package(files: &[&str], targets: &[usize]) -> LockedPackage {
        LockedPackage {
            name: PackageName::from_str("demo").unwrap(),
            version: Version::from_str("1.0").unwrap(),
            targets: targets.iter().copied().collect(),
            files: files.iter().map(|name| file(name)).collect(),
            requires_python: None,
            dependencies: BTreeSet::new(),
            via: BTreeSet::new(),
        }
    }

    fn codes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code.as_str()).collect()
    }

    const X86: &str = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl";
    const ARM: &str = "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl";

    #[test]
    fn platform_wheels_are_selected_per_target() {
        let tags = tags();
        let both = package(&[ARM, X86], &[0, 1]);
        let x86_only = BTreeSet::from([0]);
        assert!(is_selected(&both, &file(X86), &tags, &x86_only));
        assert!(!is_selected(&both, &file(ARM), &tags, &x86_only));
        let pure = package(&["demo-1.0-py3-none-any.whl"], &[1]);
        assert!(!is_selected(&pure, &pure.files[0], &tags, &x86_only));
        assert!(coverage_checks(&both, &tags, &BTreeSet::from([0, 1])).is_empty());
        let missing_arm = package(&[X86], &[0, 1]);
        assert_eq!(
            codes(&coverage_checks(
                &missing_arm,
                &tags,
                &BTreeSet::from([0, 1])
            )),
            ["no-file-for-target"]
        );
        assert!(coverage_checks(&missing_arm, &tags, &x86_only).is_empty());
    }

    #[test]
    fn the_lock_alone_can_be_wrong() {
        let tags = tags();
        let cutoff = "2023-06-01T00:00:00Z".parse().ok();
        let mut wheel = file("demo-1.0-cp311-cp311-win_amd64.whl");
        wheel.sha256 = None;
        let package = package(&[], &[0]);
        assert_eq!(
            codes(&lock_checks(&package, &wheel, &tags, cutoff)),
            [
                "missing-hash",
                "uploaded-after-cutoff",
                "incompatible-wheel"
            ]
        );
        let other = file("other-1.0-py3-none-any.whl");
        let findings = lock_checks(&package, &other, &tags, None);
        insta::assert_snapshot!(findings[0].message, @"`other-1.0-py3-none-any.whl` is named for `other` 1.0, but the lock lists it under `demo` 1.0");
    }

    #[test]
    fn the_index_page_can_disagree() {
        let package = package(&[X86], &[0]);
        let locked = &package.files[0];
        assert!(index_checks(&package, locked, Some(locked), None).is_empty());
        assert_eq!(
            codes(&index_checks(&package, locked, None, None)),
            ["not-on-index"]
        );
        let mut listed = locked.clone();
        listed.sha256 = Some("cd".repeat(32));
        listed.size = Some(11);
        listed.yanked = Some("broken build".to_string());
        listed.upload_time = Some("2025-01-01T00:00:00Z".parse().unwrap());
        let findings = index_checks(
            &package,
            locked,
            Some(&listed),
            "2024-06-01T00:00:00Z".parse().ok(),
        );
        assert_eq!(
            codes(&findings),
            [
                "index-hash-mismatch",
                "index-size-mismatch",
                "yanked",
                "uploaded-after-cutoff"
            ]
        );
        assert!(crate::verify::is_integrity(findings[0].code));
        insta::assert_snapshot!(findings[2].message, @"`demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl` is yanked on the index (reason: broken build)");
    }

    #[test]
    fn metadata_names_are_compared_normalized() {
        let package = package(&[X86], &[0]);
        let metadata = |name: &str, version: &str| CoreMetadata {
            name: name.to_string(),
            version: version.to_string(),
            ..CoreMetadata::default()
        };
        let file = &package.files[0];
        assert!(metadata_checks(&package, file, &metadata("Demo", "1.0.0")).is_empty());
        assert_eq!(
            codes(&metadata_checks(&package, file, &metadata("demo", "1.1"))),
            ["metadata-mismatch"]
        );
    }
}
