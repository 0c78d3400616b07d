//! `--apply-fixes`: write each problem's first fix into the input files, keeping their comments and
//! layout, with a comment above each changed line saying why and what it was.
//!
//! Two problems whose fixes set one line two ways (raise a pin for one, lower it back for the other)
//! would alternate: each run writes the fix of the problem it sees first, which brings up the other.
//! The comments are the memory across runs: a fix that would set a line back to a text an earlier
//! `--apply-fixes` replaced there is not written, and the diagnosis says so, so the runs stop.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Diagnosis, Edit};
use crate::fs::{Staged, WriteError};

/// Why fixes could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("{}:{line}: the file changed since it was read (expected `{expected}`); run fave-lock resolve again", path.display())]
    Changed {
        path: PathBuf,
        line: usize,
        expected: String,
    },
}

/// What an earlier `--apply-fixes` wrote above a line it changed: `# fave-lock: WHY (was `TEXT`)`.
const COMMENT: &str = "# fave-lock: ";
const WAS: &str = " (was `";

/// Apply every problem's first fix (those the combined check kept); returns the files written. All
/// files are staged first, so a failure changes none. A fix that would undo an earlier `--apply-fixes`
/// on its line is not written: [`Diagnosis::not_applied`] says which and why.
pub fn apply_fixes(diagnosis: &mut Diagnosis) -> Result<Vec<PathBuf>, ApplyError> {
    let mut per_file: BTreeMap<PathBuf, Vec<Planned<'_>>> = BTreeMap::new();
    // A problem left out of the combined check (its fix sets a line another fix sets otherwise) is
    // left to the user: its fix is not written.
    let left_out = diagnosis
        .combined
        .as_ref()
        .map(|combined| combined.left_out.as_slice())
        .unwrap_or_default();
    for (index, problem) in diagnosis.problems.iter().enumerate() {
        if left_out.contains(&(index + 1)) {
            continue;
        }
        let Some(fix) = problem.fixes.first() else {
            continue;
        };
        for edit in &fix.edits {
            let why = format!(
                "{}: {}",
                super::title(problem.kind),
                problem.summary.replace('`', "")
            );
            // Line 0 stands for "a new line at the end of the input".
            let place = match (&edit.location, &diagnosis.input) {
                (Some(location), _) => Some((location.path.clone(), location.line)),
                (None, Some(input)) if edit.replacement.is_some() => Some((input.clone(), 0)),
                (None, _) => None,
            };
            if let Some((path, line)) = place {
                per_file.entry(path).or_default().push(Planned {
                    line,
                    edit,
                    why,
                    problem: index + 1,
                });
            }
        }
    }
    let mut staged = Staged::default();
    let mut not_applied = Vec::new();
    for (path, mut edits) in per_file {
        let text = std::fs::read_to_string(&path).map_err(|source| ApplyError::Read {
            path: path.clone(),
            source,
        })?;
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // Bottom-up, so earlier line numbers stay valid while comments are inserted.
        edits.sort_by_key(|edit| std::cmp::Reverse(edit.line));
        let mut written = 0;
        for Planned { edit, why, .. } in edits.iter().filter(|edit| edit.line == 0) {
            lines.push(format!("{COMMENT}{why}"));
            lines.extend(edit.replacement.clone());
            written += 1;
        }
        for Planned {
            line,
            edit,
            why,
            problem,
        } in edits.into_iter().filter(|edit| edit.line != 0)
        {
            let index = line.checked_sub(1).filter(|i| *i < lines.len());
            let Some(index) = index.filter(|i| {
                edit.original
                    .as_ref()
                    .is_none_or(|o| lines[*i].contains(o.as_str()))
            }) else {
                return Err(ApplyError::Changed {
                    path,
                    line,
                    expected: edit.original.clone().unwrap_or_default(),
                });
            };
            if let Some(replacement) = &edit.replacement
                && earlier_texts(&lines, index).contains(&replacement.as_str())
            {
                not_applied.push(format!(
                    "problem {problem}'s fix would set {}:{line} back to `{replacement}`, which an earlier \
                     --apply-fixes replaced (see the `{}` comments above it): the fixes clash, so choose \
                     by hand",
                    path.display(),
                    COMMENT.trim_end(),
                ));
                continue;
            }
            written += 1;
            let comment = match &edit.original {
                Some(original) => format!("{COMMENT}{why}{WAS}{original}`)"),
                None => format!("{COMMENT}{why}"),
            };
            match &edit.replacement {
                Some(replacement) => {
                    // Replace only the requirement, so a trailing comment on the line survives.
                    lines[index] = match &edit.original {
                        Some(original) => lines[index].replacen(original.as_str(), replacement, 1),
                        None => replacement.clone(),
                    };
                    lines.insert(index, comment);
                }
                None => {
                    lines[index] = format!("# {}", lines[index]);
                    lines.insert(index, comment);
                }
            }
        }
        if written == 0 {
            continue;
        }
        let mut contents = lines.join("\n");
        contents.push('\n');
        staged.stage(&path, contents.as_bytes())?;
    }
    let written = staged.commit()?;
    diagnosis.not_applied.extend(not_applied);
    Ok(written)
}

/// One edit to write: its line (0: a new line at the end), the problem it fixes, and why.
struct Planned<'a> {
    line: usize,
    edit: &'a Edit,
    why: String,
    problem: usize,
}

/// The texts earlier `--apply-fixes` runs replaced on the line at `index`, read from the comments
/// they wrote right above it.
fn earlier_texts(lines: &[String], index: usize) -> Vec<&str> {
    lines[..index]
        .iter()
        .rev()
        .map_while(|line| line.strip_prefix(COMMENT))
        .filter_map(|comment| {
            let (_, was) = comment.rsplit_once(WAS)?;
            was.strip_suffix("`)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::earlier_texts;

    #[test]
    fn the_texts_a_line_had_are_read_from_the_comments_right_above_it() {
        let lines: Vec<String> = [
            "# fave-lock: older, not right above (was `six==1.14.0`)",
            "idna",
            "# fave-lock: two requirements conflict: a (was `six==1.16.0`)",
            "# fave-lock: a note without a previous text",
            "# fave-lock: two requirements conflict: b (was `six==1.15.0`)",
            "six==1.16.0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(earlier_texts(&lines, 5), ["six==1.15.0", "six==1.16.0"]);
        assert_eq!(earlier_texts(&lines, 1), ["six==1.14.0"]);
        assert!(earlier_texts(&lines, 0).is_empty());
    }
}
