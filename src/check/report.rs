//! The result of a check run as plain data: per image its verdict, findings and per-package diff, and
//! the overall verdict. The CLI renders it (human, JSON, GitHub, JUnit); the server serves its JSON, so
//! `fave-lock check --format json` and `/api/check` share one schema.

use std::collections::BTreeMap;

use serde::Serialize;

use super::diff::PackageChange;
use super::finding::{FileLocation, Finding, Severity, worst};

/// A lock's state as a whole; the order is the order of badness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do (informational findings at most).
    Fresh,
    /// The lock should be resolved again (or the image rebuilt).
    Stale,
    /// What the lock pins is no longer what the index serves.
    Integrity,
}

impl Verdict {
    /// The verdict of `findings`, counting informational ones as stale when `strict`.
    pub fn of(findings: &[Finding], strict: bool) -> Verdict {
        match worst(findings, strict) {
            Some(Severity::Integrity) => Verdict::Integrity,
            Some(Severity::Stale) => Verdict::Stale,
            Some(Severity::Info) | None => Verdict::Fresh,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fresh => "fresh",
            Verdict::Stale => "stale",
            Verdict::Integrity => "integrity",
        }
    }

    /// The exit code `fave-lock check` documents for it (an error, which is no verdict, exits 2).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Fresh => 0,
            Verdict::Stale => 1,
            Verdict::Integrity => 3,
        }
    }
}

/// Everything found about one image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageCheck {
    pub image: String,
    pub status: Verdict,
    /// The checks that ran (`inputs`, `index`, `registry`): JUnit has one test case per check.
    pub checks: Vec<&'static str>,
    pub findings: Vec<Finding>,
    /// Each package a fresh resolution moves, when the image is stale.
    #[serde(rename = "diff")]
    pub changes: Vec<PackageChange>,
    /// Why there is no diff although the image is stale.
    pub diff_error: Option<String>,
    /// Where each top-level package is written in the input, so GitHub annotations can point at the line
    /// of a package the diff moves.
    #[serde(skip)]
    pub input_lines: BTreeMap<String, FileLocation>,
}

/// One check run over the selected images.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckReport {
    pub status: Verdict,
    pub exit_code: u8,
    /// Whether informational findings counted as stale.
    pub strict: bool,
    pub images: Vec<ImageCheck>,
}

impl CheckReport {
    /// The report over `images`; each image's status and the overall one follow from the findings.
    pub fn new(mut images: Vec<ImageCheck>, strict: bool) -> CheckReport {
        for image in &mut images {
            image.status = Verdict::of(&image.findings, strict);
        }
        let status = images
            .iter()
            .map(|image| image.status)
            .max()
            .unwrap_or(Verdict::Fresh);
        CheckReport {
            status,
            exit_code: status.exit_code(),
            strict,
            images,
        }
    }

    /// Every finding of every image, in order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.images.iter().flat_map(|image| &image.findings)
    }

    /// The report as JSON text: pretty, keys sorted (so that the CLI's output and the API's are the same
    /// bytes run to run), newline-terminated.
    pub fn to_json(&self) -> String {
        // Through `Value`, whose map sorts keys: struct field order stays free to follow the reader.
        let value = serde_json::to_value(self).expect("a report serialises");
        let mut text = serde_json::to_string_pretty(&value).expect("a value serialises");
        text.push('\n');
        text
    }
}
