//! `--apply-fixes`: write each problem's first fix into the input files, keeping their comments and
//! layout, with a comment above each changed line saying why.

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

/// Apply every problem's first fix (those the combined check kept); returns the files written. All files are staged first, so a
/// failure changes none.
pub fn apply_fixes(diagnosis: &Diagnosis) -> Result<Vec<PathBuf>, ApplyError> {
    let mut per_file: BTreeMap<PathBuf, Vec<(usize, &Edit, String)>> = BTreeMap::new();
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
                per_file.entry(path).or_default().push((line, edit, why));
            }
        }
    }
    let mut staged = Staged::default();
    for (path, mut edits) in per_file {
        let text = std::fs::read_to_string(&path).map_err(|source| ApplyError::Read {
            path: path.clone(),
            source,
        })?;
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // Bottom-up, so earlier line numbers stay valid while comments are inserted.
        edits.sort_by_key(|edit| std::cmp::Reverse(edit.0));
        for (_, edit, why) in edits.iter().filter(|edit| edit.0 == 0) {
            lines.push(format!("# fave-lock: {why}"));
            lines.extend(edit.replacement.clone());
        }
        for (line, edit, why) in edits.into_iter().filter(|edit| edit.0 != 0) {
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
            let comment = format!("# fave-lock: {why}");
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
        let mut contents = lines.join("\n");
        contents.push('\n');
        staged.stage(&path, contents.as_bytes())?;
    }
    Ok(staged.commit()?)
}
