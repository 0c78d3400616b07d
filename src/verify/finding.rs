//! What `verify` can find wrong with a locked file: a stable kebab-case code, a severity, and the values
//! that disagree. A finding is a value, never an error: one run reports every problem.

/// How bad a finding is. Every finding fails the run (exit 1, or 3 for integrity codes); the severity
/// only says how loudly to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth acting on, but the file is what the lock says (a yank).
    Warning,
    /// The file or the lock is wrong.
    Error,
}

use crate::finding::Class;
pub use crate::finding::Code;

impl Severity {
    /// How loudly to show a finding of `code`: a yank leaves the file what the lock says.
    pub fn of(code: Code) -> Severity {
        match code {
            Code::Yanked => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Whether a finding of `code` means the bytes are not the locked ones (exit code 3).
pub fn is_integrity(code: Code) -> bool {
    code.class() == Class::Integrity
}

/// One problem with one locked file (or package).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// The package, normalized.
    pub package: String,
    pub version: String,
    /// The file's name, when the finding is about one file.
    pub file: Option<String>,
    /// A sentence for people, naming the file and the values in backticks.
    pub message: String,
    /// What the lock says, when two values disagree.
    pub expected: Option<String>,
    /// What was found instead.
    pub actual: Option<String>,
}

impl Finding {
    /// A finding of `code` about `file` of `package` `version`.
    pub(crate) fn new(
        code: Code,
        package: &impl ToString,
        version: &impl ToString,
        file: Option<&str>,
        message: String,
    ) -> Finding {
        Finding {
            code,
            severity: Severity::of(code),
            package: package.to_string(),
            version: version.to_string(),
            file: file.map(str::to_string),
            message,
            expected: None,
            actual: None,
        }
    }

    /// A finding of `code` about `file` of the locked `package`.
    pub(crate) fn for_file(
        code: Code,
        package: &crate::lock::LockedPackage,
        file: &crate::index::DistFile,
        message: String,
    ) -> Finding {
        Finding::new(
            code,
            &package.name,
            &package.version,
            Some(&file.filename),
            message,
        )
    }

    /// The same finding with the disagreeing values attached.
    pub(crate) fn values(mut self, expected: impl ToString, actual: impl ToString) -> Finding {
        self.expected = Some(expected.to_string());
        self.actual = Some(actual.to_string());
        self
    }
}
