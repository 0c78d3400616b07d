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

/// The kind of a finding; [`FindingCode::as_str`] is its stable name in text and JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    /// The downloaded bytes hash to something other than the lock's sha256: the file changed or was
    /// altered on the way. An integrity failure.
    HashMismatch,
    /// The index now lists another sha256 for the file than the lock. An integrity failure.
    IndexHashMismatch,
    /// The file's hash matches but its size is not the lock's: the lock's `size` is wrong.
    SizeMismatch,
    /// The index lists another size for the file than the lock.
    IndexSizeMismatch,
    /// The lock has no sha256 for the file, so nothing can be verified against it.
    MissingHash,
    /// The index does not list the file (or the project) any more.
    NotOnIndex,
    /// Downloading the file answered 404 or 410.
    Unavailable,
    /// The index marks the file yanked (PEP 592).
    Yanked,
    /// The file was uploaded after the lock's `exclude-newer` cutoff.
    UploadedAfterCutoff,
    /// The wheel's filename does not parse, or names another package or version.
    FilenameMismatch,
    /// The wheel's `*.dist-info/METADATA` names another package or version than the lock.
    MetadataMismatch,
    /// The wheel's METADATA cannot be read (a damaged zip, no METADATA).
    UnreadableMetadata,
    /// The wheel's tags fit none of the targets the lock installs it on.
    IncompatibleWheel,
    /// A target the package installs on has no file that fits it.
    NoFileForTarget,
    /// The wheel has extension modules built against numpy 1.x headers and the lock installs numpy ≥ 2.
    NumpyAbi,
}

impl FindingCode {
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::HashMismatch => "hash-mismatch",
            FindingCode::IndexHashMismatch => "index-hash-mismatch",
            FindingCode::SizeMismatch => "size-mismatch",
            FindingCode::IndexSizeMismatch => "index-size-mismatch",
            FindingCode::MissingHash => "missing-hash",
            FindingCode::NotOnIndex => "not-on-index",
            FindingCode::Unavailable => "unavailable",
            FindingCode::Yanked => "yanked",
            FindingCode::UploadedAfterCutoff => "uploaded-after-cutoff",
            FindingCode::FilenameMismatch => "filename-mismatch",
            FindingCode::MetadataMismatch => "metadata-mismatch",
            FindingCode::UnreadableMetadata => "unreadable-metadata",
            FindingCode::IncompatibleWheel => "incompatible-wheel",
            FindingCode::NoFileForTarget => "no-file-for-target",
            FindingCode::NumpyAbi => "numpy-abi",
        }
    }

    /// Whether the finding means the bytes are not the locked ones (exit code 3).
    pub fn is_integrity(self) -> bool {
        matches!(
            self,
            FindingCode::HashMismatch | FindingCode::IndexHashMismatch
        )
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingCode::Yanked => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// One problem with one locked file (or package).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    pub code: FindingCode,
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
        code: FindingCode,
        package: &impl ToString,
        version: &impl ToString,
        file: Option<&str>,
        message: String,
    ) -> Finding {
        Finding {
            code,
            severity: code.severity(),
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
        code: FindingCode,
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
