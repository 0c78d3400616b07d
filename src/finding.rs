//! The one finding vocabulary of the tool: every code that `check`, `verify` and `resolve`'s diagnosis
//! report, each with one kebab-case string, one meaning and one exit class. `docs/findings.md` is the
//! table of them for users; a test keeps the two in step.
//!
//! Modules keep their own finding structs (a freshness finding names an image, a verify finding a file,
//! a diagnosis problem input lines and fixes) but take their codes from here, so the same fact has the
//! same code everywhere and a code means one thing.

use std::fmt;

/// What a code does to the exit status when it is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Worth knowing; exit 0 (`check --strict` counts it as a finding).
    Info,
    /// The lock is stale or wrong, or the input cannot be resolved; exit 1.
    Finding,
    /// The bytes the lock pins are not the ones served; exit 3.
    Integrity,
}

impl Class {
    /// The exit code a run whose worst finding is of this class ends with.
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Info => 0,
            Class::Finding => 1,
            Class::Integrity => 3,
        }
    }
}

/// Every kind of finding. The string of each is in [`Code::as_str`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    // A locked file against the lock, the index and its targets (verify; check reports the index ones
    // too). The order is the order findings are listed in.
    HashMismatch,
    IndexHashMismatch,
    SizeMismatch,
    IndexSizeMismatch,
    MissingHash,
    NotOnIndex,
    Unavailable,
    Yanked,
    UploadedAfterCutoff,
    FilenameMismatch,
    MetadataMismatch,
    UnreadableMetadata,
    IncompatibleWheel,
    NoFileForTarget,
    NumpyAbi,
    // The lock against its inputs, the index's newer releases and the registry (check).
    InputsChanged,
    LockFormatChanged,
    LockMissing,
    NewerRelease,
    SecurityUpdate,
    BaseDrift,
    NotRebuilt,
    SbomMissing,
    // Why an input cannot be resolved (resolve's diagnosis).
    NoSuchProject,
    NoSuchVersion,
    NoMatchingWheel,
    RequiresPython,
    Conflict,
    NewerThanCutoff,
    OnlyYanked,
    InputHashMismatch,
    InvalidMetadata,
    BuildFailed,
    Unexplained,
}

/// Everything known about one code: the table `docs/findings.md` is written from.
struct Entry {
    code: &'static str,
    description: &'static str,
    class: Class,
}

const fn entry(code: &'static str, class: Class, description: &'static str) -> Entry {
    Entry {
        code,
        description,
        class,
    }
}

impl Code {
    /// Every code, in the order of `docs/findings.md`.
    pub const ALL: [Code; 34] = [
        Code::HashMismatch,
        Code::IndexHashMismatch,
        Code::SizeMismatch,
        Code::IndexSizeMismatch,
        Code::MissingHash,
        Code::NotOnIndex,
        Code::Unavailable,
        Code::Yanked,
        Code::UploadedAfterCutoff,
        Code::FilenameMismatch,
        Code::MetadataMismatch,
        Code::UnreadableMetadata,
        Code::IncompatibleWheel,
        Code::NoFileForTarget,
        Code::NumpyAbi,
        Code::InputsChanged,
        Code::LockFormatChanged,
        Code::LockMissing,
        Code::NewerRelease,
        Code::SecurityUpdate,
        Code::BaseDrift,
        Code::NotRebuilt,
        Code::SbomMissing,
        Code::NoSuchProject,
        Code::NoSuchVersion,
        Code::NoMatchingWheel,
        Code::RequiresPython,
        Code::Conflict,
        Code::NewerThanCutoff,
        Code::OnlyYanked,
        Code::InputHashMismatch,
        Code::InvalidMetadata,
        Code::BuildFailed,
        Code::Unexplained,
    ];

    fn entry(self) -> Entry {
        use Class::{Finding, Info, Integrity};
        match self {
            Code::InputsChanged => entry(
                "inputs-changed",
                Finding,
                "the lock's inputs changed since it was written",
            ),
            Code::LockFormatChanged => entry(
                "lock-format-changed",
                Finding,
                "the lock was written in another lock format version",
            ),
            Code::LockMissing => entry("lock-missing", Finding, "a lock file is missing"),
            Code::Yanked => entry(
                "yanked",
                Finding,
                "the index marks a locked file yanked (PEP 592)",
            ),
            Code::IndexHashMismatch => entry(
                "index-hash-mismatch",
                Integrity,
                "the index lists a locked file with another sha256 than the lock",
            ),
            Code::IndexSizeMismatch => entry(
                "index-size-mismatch",
                Finding,
                "the index lists a locked file with another size than the lock",
            ),
            Code::NotOnIndex => entry(
                "not-on-index",
                Finding,
                "the index no longer lists a locked file, version or project",
            ),
            Code::UploadedAfterCutoff => entry(
                "uploaded-after-cutoff",
                Finding,
                "a locked file was uploaded after the lock's exclude-newer cutoff",
            ),
            Code::NewerRelease => entry(
                "newer-release",
                Info,
                "a newer release is available within the image's policy",
            ),
            Code::SecurityUpdate => entry(
                "security-update",
                Finding,
                "the security suite serves a newer version of a locked Debian package",
            ),
            Code::BaseDrift => entry(
                "base-drift",
                Finding,
                "the base image tag points to another digest than the build plan pins",
            ),
            Code::NotRebuilt => entry(
                "not-rebuilt",
                Finding,
                "the published image was built from another lock",
            ),
            Code::SbomMissing => entry(
                "sbom-missing",
                Finding,
                "the published image has no SBOM of its lock attached in the registry",
            ),
            Code::HashMismatch => entry(
                "hash-mismatch",
                Integrity,
                "the downloaded bytes of a locked file do not hash to the lock's sha256",
            ),
            Code::SizeMismatch => entry(
                "size-mismatch",
                Finding,
                "a downloaded file's hash matches but its size is not the lock's",
            ),
            Code::MissingHash => entry(
                "missing-hash",
                Finding,
                "the lock has no sha256 for a file, so nothing can be verified against it",
            ),
            Code::Unavailable => entry(
                "unavailable",
                Finding,
                "downloading a locked file answered 404 or 410",
            ),
            Code::FilenameMismatch => entry(
                "filename-mismatch",
                Finding,
                "a wheel's filename does not parse, or names another package or version",
            ),
            Code::MetadataMismatch => entry(
                "metadata-mismatch",
                Finding,
                "a wheel's METADATA names another package or version than the lock",
            ),
            Code::UnreadableMetadata => entry(
                "unreadable-metadata",
                Finding,
                "a wheel's METADATA cannot be read (a damaged zip, no METADATA)",
            ),
            Code::IncompatibleWheel => entry(
                "incompatible-wheel",
                Finding,
                "a wheel's tags fit none of the targets the lock installs it on",
            ),
            Code::NoFileForTarget => entry(
                "no-file-for-target",
                Finding,
                "a target the package installs on has no file that fits it",
            ),
            Code::NumpyAbi => entry(
                "numpy-abi",
                Finding,
                "a wheel's extension modules were built against numpy 1.x and the lock installs numpy 2",
            ),
            Code::NoSuchProject => entry(
                "no-such-project",
                Finding,
                "a required project is not on the index",
            ),
            Code::NoSuchVersion => entry(
                "no-such-version",
                Finding,
                "no release matches the specifier",
            ),
            Code::NoMatchingWheel => entry(
                "no-matching-wheel",
                Finding,
                "releases match, but none has a wheel for this Python, ABI or platform",
            ),
            Code::RequiresPython => entry(
                "requires-python",
                Finding,
                "releases match, but their requires-python excludes the target",
            ),
            Code::Conflict => entry("conflict", Finding, "two requirements cannot both hold"),
            Code::NewerThanCutoff => entry(
                "newer-than-cutoff",
                Finding,
                "every matching release was uploaded after exclude-newer",
            ),
            Code::OnlyYanked => entry(
                "only-yanked",
                Finding,
                "only yanked releases match, and the specifier is not an exact pin",
            ),
            Code::InputHashMismatch => entry(
                "input-hash-mismatch",
                Finding,
                "the input's --hash values match no file of the matching releases",
            ),
            Code::InvalidMetadata => entry(
                "invalid-metadata",
                Finding,
                "the metadata of the matching release cannot be read",
            ),
            Code::BuildFailed => entry(
                "build-failed",
                Finding,
                "the PEP 517 build of a release's sdist failed while reading its metadata",
            ),
            Code::Unexplained => entry(
                "unexplained",
                Finding,
                "no solution, for a reason the diagnosis does not classify",
            ),
        }
    }

    /// The stable kebab-case code, in text, JSON, GitHub annotations and JUnit.
    pub fn as_str(self) -> &'static str {
        self.entry().code
    }

    /// One line saying what the code means.
    pub fn description(self) -> &'static str {
        self.entry().description
    }

    /// What finding it does to the exit status.
    pub fn class(self) -> Class {
        self.entry().class
    }

    /// The commands that report the code.
    pub fn reported_by(self) -> &'static [&'static str] {
        match self {
            Code::IndexHashMismatch | Code::NotOnIndex | Code::Yanked => &["check", "verify"],
            Code::HashMismatch
            | Code::SizeMismatch
            | Code::IndexSizeMismatch
            | Code::MissingHash
            | Code::Unavailable
            | Code::UploadedAfterCutoff
            | Code::FilenameMismatch
            | Code::MetadataMismatch
            | Code::UnreadableMetadata
            | Code::IncompatibleWheel
            | Code::NoFileForTarget => &["verify"],
            Code::NumpyAbi => &["resolve", "verify"],
            Code::InputsChanged
            | Code::LockFormatChanged
            | Code::LockMissing
            | Code::NewerRelease
            | Code::SecurityUpdate
            | Code::BaseDrift
            | Code::NotRebuilt
            | Code::SbomMissing => &["check"],
            Code::NoSuchProject
            | Code::NoSuchVersion
            | Code::NoMatchingWheel
            | Code::RequiresPython
            | Code::Conflict
            | Code::NewerThanCutoff
            | Code::OnlyYanked
            | Code::InputHashMismatch
            | Code::InvalidMetadata
            | Code::BuildFailed
            | Code::Unexplained => &["resolve"],
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The rows of the table of codes: the part of `docs/findings.md` before its first section (the
    /// section after it lists renamed codes, which must not count as documented).
    fn table() -> &'static str {
        let doc = include_str!("../docs/findings.md");
        doc.split("\n## ").next().unwrap_or_default()
    }

    /// The codes in the first column of the table.
    fn documented() -> BTreeSet<String> {
        table()
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(code, _)| code.to_string())
            .collect()
    }

    #[test]
    fn codes_are_unique_kebab_case_and_listed_once() {
        let mut seen = BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                !text.is_empty()
                    && !text.starts_with('-')
                    && !text.ends_with('-')
                    && !text.contains("--")
                    && text.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{text} is not kebab-case"
            );
            assert!(!code.description().is_empty());
            assert_eq!(serde_json::to_value(code).unwrap(), text);
        }
        // ALL lists every variant: an exhaustive match has no arm left for a code missing from it.
        assert_eq!(seen.len(), Code::ALL.len());
    }

    #[test]
    fn docs_list_exactly_the_codes() {
        let documented = documented();
        let codes: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
        let undocumented: Vec<_> = codes.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&codes).collect();
        assert!(
            undocumented.is_empty(),
            "not in docs/findings.md: {undocumented:?}"
        );
        assert!(
            unknown.is_empty(),
            "docs/findings.md lists codes that do not exist: {unknown:?}"
        );
    }

    #[test]
    fn docs_state_each_codes_exit_class() {
        for code in Code::ALL {
            let row = table()
                .lines()
                .find(|line| line.starts_with(&format!("| `{}` |", code.as_str())))
                .unwrap_or_else(|| panic!("no row for {code}"));
            let exit = row.split('|').nth(2).map(str::trim);
            assert_eq!(
                exit,
                Some(code.class().exit_code().to_string().as_str()),
                "{row}"
            );
        }
    }

    #[test]
    fn docs_name_the_commands_that_report_each_code() {
        for code in Code::ALL {
            let row = table()
                .lines()
                .find(|line| line.starts_with(&format!("| `{}` |", code.as_str())))
                .unwrap_or_else(|| panic!("no row for {code}"));
            let commands: Vec<String> = code
                .reported_by()
                .iter()
                .map(|command| format!("`{command}`"))
                .collect();
            assert_eq!(
                row.split('|').nth(4).map(str::trim),
                Some(commands.join(", ").as_str()),
                "{row}"
            );
        }
    }

    /// `/api/check` answers with `check`'s findings: its schema lists exactly the codes `check` reports.
    #[test]
    fn the_api_schema_lists_checks_codes() {
        let openapi: serde_json::Value =
            serde_json::from_str(include_str!("../web/openapi.json")).unwrap();
        let listed: BTreeSet<&str> = openapi["components"]["schemas"]["CheckFinding"]["properties"]
            ["code"]["enum"]
            .as_array()
            .expect("CheckFinding.code has an enum")
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let reported: BTreeSet<&str> = Code::ALL
            .iter()
            .filter(|code| code.reported_by().contains(&"check"))
            .map(|code| code.as_str())
            .collect();
        assert_eq!(listed, reported);
    }

    #[test]
    fn exit_codes_follow_the_class() {
        assert_eq!(Code::NewerRelease.class().exit_code(), 0);
        assert_eq!(Code::NotOnIndex.class().exit_code(), 1);
        assert_eq!(Code::HashMismatch.class().exit_code(), 3);
        assert_eq!(Code::IndexHashMismatch.class().exit_code(), 3);
    }
}
