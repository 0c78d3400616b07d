//! What a freshness check reports: typed findings with a stable code, a severity that decides the exit
//! code, and the command that fixes them. Rendering is the CLI's job.

use std::path::PathBuf;

use serde::Serialize;

use crate::finding::Class;
pub use crate::finding::Code;

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
    /// The severity of every finding of `code`: its exit class.
    pub fn of(code: Code) -> Severity {
        match code.class() {
            Class::Info => Severity::Info,
            Class::Finding => Severity::Stale,
            Class::Integrity => Severity::Integrity,
        }
    }

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
}
