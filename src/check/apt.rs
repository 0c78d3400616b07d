//! The Debian half of an image's lock (`apt.lock`) against its config and the archive:
//!
//! - local: the lock is missing, or was written for other `apt-packages` or another archive
//!   (`lock-missing`, `inputs-changed`);
//! - archive: a locked version the suites no longer serve (`not-on-index`: Debian drops a version when a
//!   point release or a security update replaces it, so the image can no longer be built), the same
//!   version served with another sha256 (`index-hash-mismatch`, integrity), and a newer version of a locked
//!   package: from `-security` a security update the image lacks (`security-update`, stale), from the
//!   release or `-updates` a point release (`newer-release`, info).
//!
//! Pure: the caller fetches the [`Universe`] of each architecture.

use std::collections::BTreeMap;

use crate::apt::{AptLock, DebVersion, Universe};
use crate::image::AptJob;

use super::finding::{Code, FileLocation, Finding, Severity, resolve_command};

/// Findings about `lock` (read from `job.path`, or `None` when there is no file) against the config.
pub fn check_apt_local(image: &str, job: &AptJob, lock: Option<&AptLock>) -> Vec<Finding> {
    let finding = |code: Code, reason: String| Finding {
        code,
        severity: Severity::of(code),
        image: image.to_string(),
        package: None,
        version: None,
        reason,
        fix: resolve_command(image),
        location: Some(FileLocation {
            path: job.path.clone(),
            line: None,
        }),
    };
    let Some(lock) = lock else {
        return vec![finding(
            Code::LockMissing,
            format!(
                "`{}` is missing: the image's apt-packages are not locked",
                job.path.display()
            ),
        )];
    };
    let mut findings = Vec::new();
    let mut requested = job.requested.clone();
    requested.sort();
    if lock.requested != requested {
        findings.push(finding(
            Code::InputsChanged,
            format!(
                "apt-packages changed: the apt lock is for {}, the config asks for {}",
                lock.requested.join(" "),
                requested.join(" ")
            ),
        ));
    }
    if lock.suites != job.suites {
        let list = |suites: &[crate::apt::Suite]| {
            suites
                .iter()
                .map(|s| format!("{} ({})", s.name, s.archive))
                .collect::<Vec<_>>()
                .join(", ")
        };
        findings.push(finding(
            Code::InputsChanged,
            format!(
                "the Debian suites changed: the apt lock is from {}, the config names {}",
                list(&lock.suites),
                list(&job.suites)
            ),
        ));
    }
    let mut archs: Vec<&str> = job.architectures.iter().map(String::as_str).collect();
    archs.sort_unstable();
    if lock.architectures() != archs {
        findings.push(finding(
            Code::InputsChanged,
            format!(
                "the platforms changed: the apt lock covers {}, the image builds {}",
                lock.architectures().join(", "),
                archs.join(", ")
            ),
        ));
    }
    findings
}

/// `(code, package, version, reason)`: what makes two architectures' findings one.
type FindingKey = (Code, String, String, String);

/// Findings about `lock` against what the archive serves now, one per package and version (with
/// the architectures it concerns). `universes` holds the suites of each architecture.
pub fn check_apt_archive(
    image: &str,
    lock: &AptLock,
    universes: &BTreeMap<String, Universe>,
    security_suite: &str,
) -> Vec<Finding> {
    // One finding per (code, name, version, reason), listing the architectures it concerns.
    let mut found: BTreeMap<FindingKey, Vec<String>> = BTreeMap::new();
    for deb in &lock.packages {
        let Some(universe) = universes.get(&deb.architecture) else {
            continue;
        };
        let served = universe.versions(&deb.name);
        let mut add = |code: Code, reason: String| {
            found
                .entry((code, deb.name.clone(), deb.version.clone(), reason))
                .or_default()
                .push(deb.architecture.clone());
        };
        match served
            .iter()
            .find(|c| c.stanza.version.as_str() == deb.version)
        {
            None => add(
                Code::NotOnIndex,
                format!(
                    "Debian package {} {} is no longer served by the archive (it serves {}): the image cannot be built",
                    deb.name,
                    deb.version,
                    served.first().map_or_else(
                        || "no version".to_string(),
                        |c| format!("{} from {}", c.stanza.version, c.suite)
                    )
                ),
            ),
            Some(now) if now.stanza.sha256 != deb.sha256 => add(
                Code::IndexHashMismatch,
                format!(
                    "Debian package {} {} has sha256 {} in {}; the apt lock pins {}",
                    deb.name, deb.version, now.stanza.sha256, now.suite, deb.sha256
                ),
            ),
            Some(_) => {}
        }
        let Ok(locked) = deb.version.parse::<DebVersion>() else {
            continue;
        };
        if let Some(newer) = served.iter().find(|c| c.stanza.version > locked) {
            let (code, kind) = if newer.suite == security_suite {
                (Code::SecurityUpdate, "a security update the image lacks")
            } else {
                (Code::NewerRelease, "a newer version of the release")
            };
            add(
                code,
                format!(
                    "Debian package {} {} is in {} ({kind}; locked {})",
                    deb.name, newer.stanza.version, newer.suite, deb.version
                ),
            );
        }
    }
    found
        .into_iter()
        .map(|((code, name, version, reason), archs)| Finding {
            code,
            severity: Severity::of(code),
            image: image.to_string(),
            package: Some(name),
            version: Some(version),
            reason: format!("{reason} [{}]", archs.join(", ")),
            fix: resolve_command(image),
            location: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::{LockedDeb, Stanza, Suite, parse_packages};

    const STANZAS: &str = include_str!("../apt/testdata/Packages");

    fn stanza(name: &str) -> Stanza {
        parse_packages(STANZAS)
            .unwrap()
            .into_iter()
            .find(|s| s.package == name)
            .unwrap()
    }

    fn locked(stanza: &Stanza) -> LockedDeb {
        LockedDeb {
            name: stanza.package.clone(),
            version: stanza.version.to_string(),
            architecture: "amd64".to_string(),
            suite: "bookworm".to_string(),
            filename: stanza.filename.clone(),
            size: stanza.size,
            sha256: stanza.sha256.clone(),
            depends: Vec::new(),
        }
    }

    fn lock(packages: Vec<LockedDeb>) -> AptLock {
        AptLock {
            image: "fave-base".to_string(),
            requested: vec!["libogg0".to_string()],
            suites: Suite::debian("bookworm", "http://a", "http://s", true),
            packages,
        }
    }

    #[test]
    fn a_security_update_and_a_gone_version_are_stale() {
        let ogg = stanza("libogg0");
        let opus = stanza("libopus0");
        let mut fixed = ogg.clone();
        fixed.version = format!("{}+deb12u1", ogg.version).parse().unwrap();
        let mut gone = locked(&opus);
        gone.version = "0.1-1".to_string();
        let universe = Universe::new(vec![
            ("bookworm".to_string(), vec![ogg.clone(), opus.clone()]),
            ("bookworm-security".to_string(), vec![fixed]),
        ]);
        let universes = BTreeMap::from([("amd64".to_string(), universe)]);
        let findings = check_apt_archive(
            "fave-base",
            &lock(vec![locked(&ogg), gone]),
            &universes,
            "bookworm-security",
        );
        let summary: Vec<(Code, Severity, &str)> = findings
            .iter()
            .map(|f| (f.code, f.severity, f.package.as_deref().unwrap()))
            .collect();
        assert_eq!(
            summary,
            [
                (Code::NotOnIndex, Severity::Stale, "libopus0"),
                (Code::NewerRelease, Severity::Info, "libopus0"),
                (Code::SecurityUpdate, Severity::Stale, "libogg0"),
            ]
        );
        assert!(
            findings[2].reason.contains("security update"),
            "{}",
            findings[2].reason
        );
        assert_eq!(findings[0].fix, "fave-lock resolve --image=fave-base");
    }

    #[test]
    fn a_locked_version_with_another_hash_is_an_integrity_finding() {
        let ogg = stanza("libogg0");
        let mut tampered = locked(&ogg);
        tampered.sha256 = "0".repeat(64);
        let universes = BTreeMap::from([(
            "amd64".to_string(),
            Universe::new(vec![("bookworm".to_string(), vec![ogg])]),
        )]);
        let findings = check_apt_archive(
            "fave-base",
            &lock(vec![tampered]),
            &universes,
            "bookworm-security",
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].code, findings[0].severity),
            (Code::IndexHashMismatch, Severity::Integrity)
        );
    }

    #[test]
    fn local_changes_are_stale() {
        let job = AptJob {
            requested: vec!["libogg0".to_string(), "ffmpeg".to_string()],
            suites: Suite::debian("bookworm", "http://a", "http://s", true),
            architectures: vec!["amd64".to_string()],
            path: "locks/fave-base/apt.lock".into(),
        };
        let missing = check_apt_local("fave-base", &job, None);
        assert_eq!(missing[0].code, Code::LockMissing);
        let ogg = stanza("libogg0");
        let findings = check_apt_local("fave-base", &job, Some(&lock(vec![locked(&ogg)])));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, Code::InputsChanged);
        assert!(findings[0].reason.contains("apt-packages changed"));
    }
}
