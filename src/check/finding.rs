//! What a freshness check reports: typed findings with a stable code, a severity that decides the exit
//! code, and the command that fixes them. Rendering is the CLI's job.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Every kind of finding, with a stable kebab-case code (used in JSON, GitHub annotations and JUnit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The input hash recomputed from the config and requirements differs from the lock's.
    InputsChanged,
    /// The lock was written by a fave-lock with another lock format version.
    LockFormatChanged,
    /// A lock file the image's config calls for does not exist.
    LockMissing,
    /// A locked file was yanked from the index after the lock was written (PEP 592).
    Yanked,
    /// The index lists a locked file with another sha256 than the lock records.
    HashMismatch,
    /// The index no longer lists a locked file (or its project).
    FileGone,
    /// A newer release is available within the image's policy.
    NewerRelease,
    /// The base image's tag now points to another digest than the build plan pins.
    BaseDrift,
    /// The image published under the plan's tag was built from another lock.
    NotRebuilt,
    /// The image published under the plan's tag, built from the current lock, has no SBOM of that lock
    /// attached in the registry (`fave-lock attach`).
    SbomMissing,
}

impl Code {
    /// The stable kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InputsChanged => "inputs-changed",
            Code::LockFormatChanged => "lock-format-changed",
            Code::LockMissing => "lock-missing",
            Code::Yanked => "yanked",
            Code::HashMismatch => "hash-mismatch",
            Code::FileGone => "file-gone",
            Code::NewerRelease => "newer-release",
            Code::BaseDrift => "base-drift",
            Code::NotRebuilt => "not-rebuilt",
            Code::SbomMissing => "sbom-missing",
        }
    }

    /// One line saying what the code means.
    pub fn description(self) -> &'static str {
        match self {
            Code::InputsChanged => "the lock's inputs changed since it was written",
            Code::LockFormatChanged => "the lock was written in another lock format version",
            Code::LockMissing => "a lock file is missing",
            Code::Yanked => "a locked file was yanked from the index",
            Code::HashMismatch => "a locked file's sha256 on the index differs from the lock",
            Code::FileGone => "a locked file is gone from the index",
            Code::NewerRelease => "a newer release is available within the image's policy",
            Code::BaseDrift => {
                "the base image tag points to another digest than the build plan pins"
            }
            Code::NotRebuilt => "the published image was built from another lock",
            Code::SbomMissing => {
                "the published image has no SBOM of its lock attached in the registry"
            }
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is; the order is the order of badness, so the worst finding is the `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing; exit 0 (stale with `--strict`).
    Info,
    /// The lock no longer matches what it should be; exit 1.
    Stale,
    /// What the lock pins is no longer what the index serves; exit 3, never merely stale.
    Integrity,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Stale => "stale",
            Severity::Integrity => "integrity",
        }
    }
}

/// A place in a file a finding points at (GitHub annotations use it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLocation {
    pub path: PathBuf,
    /// 1-based; `None` for the whole file.
    pub line: Option<usize>,
}

/// One finding about one image (and maybe one package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub image: String,
    /// The package concerned, normalized name.
    pub package: Option<String>,
    /// The locked version concerned.
    pub version: Option<String>,
    /// What was found, in one sentence.
    pub reason: String,
    /// The command that fixes it.
    pub fix: String,
    /// The input file and line to point at, where there is one.
    pub location: Option<FileLocation>,
}

impl Finding {
    /// The severity it counts as: informational findings count as stale when `strict`.
    pub fn effective(&self, strict: bool) -> Severity {
        match self.severity {
            Severity::Info if strict => Severity::Stale,
            severity => severity,
        }
    }
}

/// The command that rewrites an image's lock.
pub fn resolve_command(image: &str) -> String {
    format!("fave-lock resolve --image={image}")
}

/// The worst severity among `findings`, counting info as stale when `strict`.
pub fn worst(findings: &[Finding], strict: bool) -> Option<Severity> {
    findings
        .iter()
        .map(|finding| finding.effective(strict))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            code: Code::NewerRelease,
            severity,
            image: "demo".into(),
            package: None,
            version: None,
            reason: String::new(),
            fix: resolve_command("demo"),
            location: None,
        }
    }

    #[test]
    fn strict_turns_info_into_stale() {
        let findings = [finding(Severity::Info)];
        assert_eq!(worst(&findings, false), Some(Severity::Info));
        assert_eq!(worst(&findings, true), Some(Severity::Stale));
        assert_eq!(
            worst(
                &[finding(Severity::Integrity), finding(Severity::Stale)],
                true
            ),
            Some(Severity::Integrity)
        );
        assert_eq!(worst(&[], true), None);
    }

    #[test]
    fn codes_are_kebab_case_and_unique() {
        let codes = [
            Code::InputsChanged,
            Code::LockFormatChanged,
            Code::LockMissing,
            Code::Yanked,
            Code::HashMismatch,
            Code::FileGone,
            Code::NewerRelease,
            Code::BaseDrift,
            Code::NotRebuilt,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for code in codes {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(seen.insert(code.as_str()));
        }
    }
}
