//! Local checks: does the committed lock still match its inputs? Recomputes the input hash exactly as
//! `resolve` does ([`ImageJob::input_hash`]) and compares it with the one recorded in `pylock.toml` and
//! `requirements.txt`; reports a lock written in another lock format, and missing lock files.
//!
//! Reads only local files: the config's inputs and the lock. Never touches the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::image::ImageJob;
use crate::lock::{LOCK_FORMAT_VERSION, Lock, read_pylock};
use crate::requirements::RequirementsInput;

use super::error::CheckError;
use super::finding::{Code, FileLocation, Finding, Severity, resolve_command};

/// What the local check found, and what later checks need from it.
#[derive(Debug, Clone)]
pub struct LocalCheck {
    pub findings: Vec<Finding>,
    /// The committed lock, when it exists and is in this fave-lock's format.
    pub lock: Option<Lock>,
    /// The requirements input as it is now.
    pub input: RequirementsInput,
    /// The input hash recomputed from the current config and inputs.
    pub current_input_hash: String,
}

impl LocalCheck {
    /// Whether the inputs (or the lock format) changed, so that a fresh resolution would differ.
    pub fn is_inputs_changed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.code, Code::InputsChanged | Code::LockFormatChanged))
    }
}

/// Check one image's committed lock against its current inputs.
pub fn check_local(job: &ImageJob) -> Result<LocalCheck, CheckError> {
    let input = job.read_input()?;
    let current_input_hash = job.input_hash(&input)?;
    let mut findings = Vec::new();
    let fix = resolve_command(&job.name);
    let finding = |code: Code, reason: String, location: Option<FileLocation>| Finding {
        code,
        severity: Severity::of(code),
        image: job.name.clone(),
        package: None,
        version: None,
        reason,
        fix: fix.clone(),
        location,
    };
    let input_location = Some(FileLocation {
        path: job.requirements.clone(),
        line: None,
    });
    for path in expected_files(job) {
        if !path.exists() {
            findings.push(finding(
                Code::LockMissing,
                format!("`{}` does not exist", path.display()),
                Some(FileLocation { path, line: None }),
            ));
        }
    }
    let mut lock = None;
    if let Some(pylock) = job.pylock_toml.as_ref().filter(|path| path.exists()) {
        match lock_format(pylock)? {
            Some(format) if format == i64::from(LOCK_FORMAT_VERSION) => {
                let read = read_pylock(pylock)?;
                if read.context.input_hash != current_input_hash {
                    let changed = changed_inputs(&read.context.inputs, &job.input_hashes(&input)?);
                    // Point at the first input file that changed; the config's parts have no file
                    // of their own here.
                    let location = changed
                        .iter()
                        .find_map(|change| change.file.clone())
                        .map(|path| FileLocation { path, line: None })
                        .or_else(|| input_location.clone());
                    let what = if changed.is_empty() {
                        String::new()
                    } else {
                        let said: Vec<&str> =
                            changed.iter().map(|change| change.text.as_str()).collect();
                        format!(": {}", said.join("; "))
                    };
                    findings.push(finding(
                        Code::InputsChanged,
                        format!(
                            "the inputs changed since `{}` was written{what} (input hash {} in the lock, {} now)",
                            pylock.display(),
                            short(&read.context.input_hash),
                            short(&current_input_hash)
                        ),
                        location,
                    ));
                }
                lock = Some(read);
            }
            format => findings.push(finding(
                Code::LockFormatChanged,
                format!(
                    "`{}` has lock-format {}; this fave-lock writes {LOCK_FORMAT_VERSION}",
                    pylock.display(),
                    format.map_or_else(|| "(none)".to_string(), |f| f.to_string())
                ),
                Some(FileLocation {
                    path: pylock.clone(),
                    line: None,
                }),
            )),
        }
    }
    if let Some(txt) = job.requirements_txt.as_ref().filter(|path| path.exists()) {
        let recorded = requirements_txt_hash(txt)?;
        // Reported once: the pylock.toml finding already says the inputs changed.
        let already = findings.iter().any(|f| f.code == Code::InputsChanged);
        if recorded.as_deref() != Some(current_input_hash.as_str()) && !already {
            findings.push(finding(
                Code::InputsChanged,
                format!(
                    "the inputs changed since `{}` was written (input hash {} in the lock, {} now)",
                    txt.display(),
                    recorded.as_deref().map_or("(none)", short),
                    short(&current_input_hash)
                ),
                input_location.clone(),
            ));
        }
    }
    Ok(LocalCheck {
        findings,
        lock,
        input,
        current_input_hash,
    })
}

/// The lock files the image's config calls for.
fn expected_files(job: &ImageJob) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [job.requirements_txt.clone(), job.pylock_toml.clone()]
        .into_iter()
        .flatten()
        .collect();
    if let Some(plan) = &job.plan {
        files.push(plan.plan_path());
    }
    if let Some(sbom) = &job.sbom {
        files.push(sbom.path.clone());
    }
    files
}

/// `[tool.fave-lock] lock-format`, read before the whole lock so an old format is "stale", not an error.
fn lock_format(path: &Path) -> Result<Option<i64>, CheckError> {
    let text =
        crate::fs::read_input_to_string(path).map_err(|source| CheckError::io(path, source))?;
    let Ok(document) = text.parse::<toml_edit::Document<String>>() else {
        // Let the lock reader report the syntax error with its line.
        return Ok(Some(i64::from(LOCK_FORMAT_VERSION)));
    };
    Ok(document
        .get("tool")
        .and_then(|tool| tool.get("fave-lock"))
        .and_then(|ours| ours.get("lock-format"))
        .and_then(toml_edit::Item::as_integer))
}

/// The `# input-hash:` header of a requirements.txt.
fn requirements_txt_hash(path: &Path) -> Result<Option<String>, CheckError> {
    let text =
        crate::fs::read_input_to_string(path).map_err(|source| CheckError::io(path, source))?;
    Ok(text
        .lines()
        .take_while(|line| line.starts_with('#') || line.trim().is_empty())
        .find_map(|line| line.strip_prefix("# input-hash: "))
        .map(|hash| hash.trim().to_string()))
}

/// `sha256:` and the first 12 hex digits, for messages.
fn short(hash: &str) -> &str {
    let end = hash.len().min("sha256:".len() + 12);
    &hash[..end]
}

/// One input part whose hash differs from the one the lock recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChangedInput {
    /// What changed, in words: "`base-image/requirements.in` changed".
    text: String,
    /// The input file, when the part is one.
    file: Option<PathBuf>,
}

/// The parts of the input hash that differ between the lock's record (`recorded`, empty for a lock
/// written before the parts were recorded: then nothing can be named) and now.
fn changed_inputs(
    recorded: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<ChangedInput> {
    if recorded.is_empty() {
        return Vec::new();
    }
    let names: std::collections::BTreeSet<&String> = recorded.keys().chain(now.keys()).collect();
    let mut changed = Vec::new();
    for name in names {
        let (was, is) = (recorded.get(name), now.get(name));
        if was == is {
            continue;
        }
        let file = name.strip_prefix("file ").map(PathBuf::from);
        let subject = match (name.as_str(), &file) {
            (_, Some(path)) => format!("`{}`", path.display()),
            ("config", None) => "the image's section of the config".to_string(),
            ("settings", None) => {
                "the image's settings (Python, platforms, index URL, exclude-newer, sdist policy)"
                    .to_string()
            }
            (other, None) => format!("`{other}`"),
        };
        let text = match (was, is) {
            (None, _) => format!("{subject} is a new input"),
            (_, None) => format!("{subject} is no longer an input"),
            _ => format!("{subject} changed"),
        };
        changed.push(ChangedInput { text, file });
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(parts: &[(&str, &str)]) -> BTreeMap<String, String> {
        parts
            .iter()
            .map(|(name, hash)| (name.to_string(), hash.to_string()))
            .collect()
    }

    /// Issue 14: `check` names the input that changed, not only the lock.
    #[test]
    fn the_changed_input_is_named() {
        let recorded = hashes(&[
            ("config", "sha256:1"),
            ("file a.in", "sha256:2"),
            ("file b.in", "sha256:3"),
            ("settings", "sha256:4"),
        ]);
        let now = hashes(&[
            ("config", "sha256:1"),
            ("file a.in", "sha256:20"),
            ("file c.in", "sha256:5"),
            ("settings", "sha256:40"),
        ]);
        let changed = changed_inputs(&recorded, &now);
        let texts: Vec<&str> = changed.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "`a.in` changed",
                "`b.in` is no longer an input",
                "`c.in` is a new input",
                "the image's settings (Python, platforms, index URL, exclude-newer, sdist policy) changed",
            ]
        );
        assert_eq!(changed[0].file.as_deref(), Some(Path::new("a.in")));
        assert_eq!(changed[3].file, None);
        // A lock from before the parts were recorded names nothing.
        assert!(changed_inputs(&BTreeMap::new(), &now).is_empty());
    }
}
