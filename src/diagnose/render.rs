//! The diagnosis for people (text) and for tools (JSON): the same data, two renderings.

use std::fmt::Write;

use serde_json::{Value, json};

use super::{Combined, Diagnosis, Edit, Fix, Problem, number_list};

/// Knock-on changes named in a fix's text line before "and N more".
const MAX_CHANGES: usize = 4;

/// Plain text, one numbered block per problem.
pub fn render_text(diagnosis: &Diagnosis) -> String {
    let mut out = String::new();
    let count = diagnosis.problems.len();
    let plural = if count == 1 { "" } else { "s" };
    if diagnosis.is_abi_only() {
        let _ = writeln!(
            out,
            "the requirements resolve, but the lock fails the numpy ABI check: {count} problem{plural}"
        );
    } else {
        let _ = writeln!(
            out,
            "the requirements cannot be resolved: {count} problem{plural}"
        );
    }
    for (index, problem) in diagnosis.problems.iter().enumerate() {
        let _ = writeln!(out);
        write_problem(&mut out, index + 1, problem);
    }
    if let Some(combined) = diagnosis.combined.as_ref().filter(|c| c.fixes > 0) {
        let _ = writeln!(out);
        write_combined(&mut out, combined);
    }
    if !diagnosis.incomplete.is_empty() {
        let _ = writeln!(out);
        for note in &diagnosis.incomplete {
            let _ = writeln!(out, "incomplete: {note}");
        }
    }
    if !diagnosis.not_applied.is_empty() {
        let _ = writeln!(out);
        for note in &diagnosis.not_applied {
            let _ = writeln!(out, "not applied: {note}");
        }
    }
    out
}

fn write_combined(out: &mut String, combined: &Combined) {
    let left_out = if combined.left_out.is_empty() {
        String::new()
    } else {
        let plural = if combined.left_out.len() == 1 {
            ""
        } else {
            "s"
        };
        format!(
            " with the lines of problem{plural} {} left out",
            number_list(&combined.left_out)
        )
    };
    if combined.resolves {
        let _ = writeln!(
            out,
            "checked: the {} first fixes together resolve ({} packages){left_out}; `fave-lock resolve --apply-fixes` writes them into the input",
            combined.fixes, combined.packages
        );
    } else {
        let _ = writeln!(
            out,
            "the {} first fixes together still do not resolve{left_out}: apply them and run again",
            combined.fixes
        );
    }
    for clash in &combined.clashes {
        let _ = writeln!(out, "   {clash}");
    }
    let clashing = combined.clashes.len();
    let unfixed = combined.left_out.len().saturating_sub(clashing);
    if unfixed > 0 {
        let _ = writeln!(
            out,
            "   {unfixed} problem{} left out ha{} no checked fix: change or remove {} by hand",
            if unfixed == 1 { "" } else { "s" },
            if unfixed == 1 { "s" } else { "ve" },
            if unfixed == 1 {
                "its lines"
            } else {
                "their lines"
            },
        );
    }
}

fn write_problem(out: &mut String, number: usize, problem: &Problem) {
    let _ = writeln!(
        out,
        "{number}. [{}] {}",
        problem.kind.as_str(),
        problem.summary
    );
    let places = places(&problem.locations);
    let mut place = String::new();
    if !places.is_empty() {
        let _ = write!(place, "at {}", places.join(", "));
    }
    if !problem.targets.is_empty() {
        let _ = write!(
            place,
            "{}on {}",
            if place.is_empty() { "" } else { "; " },
            problem.targets.join(", ")
        );
    }
    if !place.is_empty() {
        let _ = writeln!(out, "   {place}");
    }
    for detail in &problem.details {
        let _ = writeln!(out, "   {detail}");
    }
    if problem.fixes.is_empty() && problem.not_confirmed.is_empty() {
        let _ = writeln!(out, "   no fix could be checked");
    }
    for fix in &problem.fixes {
        write_fix(out, fix);
    }
    for not_confirmed in &problem.not_confirmed {
        let _ = writeln!(out, "   fix (not confirmed): {}", not_confirmed.fix.summary);
        write_fix_body(out, &not_confirmed.fix);
        let _ = writeln!(out, "      {}", not_confirmed.why);
    }
}

fn write_fix(out: &mut String, fix: &Fix) {
    let _ = writeln!(out, "   fix (checked): {}", fix.summary);
    write_fix_body(out, fix);
    if !fix.left_out.is_empty() {
        let plural = if fix.left_out.len() == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "      checked with the lines of problem{plural} {} left out: it does not resolve with their first fixes",
            number_list(&fix.left_out)
        );
    }
}

/// `a.txt:4, 9, 18, b.txt:2`: each file named once, so that a problem on many lines of one file
/// stays a short line.
fn places(locations: &[crate::requirements::Location]) -> Vec<String> {
    let mut places = Vec::new();
    let mut last_path = None;
    for location in locations {
        if last_path == Some(&location.path) {
            places.push(location.line.to_string());
        } else {
            places.push(location.to_string());
            last_path = Some(&location.path);
        }
    }
    places
}

/// A fix's edits, config snippet and knock-on changes.
fn write_fix_body(out: &mut String, fix: &Fix) {
    for edit in &fix.edits {
        match (&edit.original, &edit.replacement) {
            (Some(original), Some(replacement)) => {
                let _ = writeln!(out, "      {original}  →  {replacement}");
            }
            (Some(original), None) => {
                let _ = writeln!(out, "      remove: {original}");
            }
            (None, Some(replacement)) => {
                let _ = writeln!(out, "      add: {replacement}");
            }
            (None, None) => {}
        }
    }
    if let Some(config) = &fix.config {
        for line in config.lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    if !fix.also_changes.is_empty() {
        // A few names keep the line readable; the JSON report lists them all.
        let shown: Vec<&str> = fix
            .also_changes
            .iter()
            .take(MAX_CHANGES)
            .map(String::as_str)
            .collect();
        let more = fix.also_changes.len().saturating_sub(MAX_CHANGES);
        let _ = writeln!(
            out,
            "      compared with the other fix, also changes: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
}

/// The same report as data.
pub fn render_json(diagnosis: &Diagnosis) -> Value {
    json!({
        "resolved": false,
        "problems": diagnosis.problems.iter().map(problem_json).collect::<Vec<_>>(),
        "combined": diagnosis.combined.as_ref().map(|c| json!({
            "resolves": c.resolves,
            "fixes": c.fixes,
            "packages": c.packages,
            "left-out": c.left_out,
            "clashes": c.clashes,
        })),
        "incomplete": diagnosis.incomplete,
        "not-applied": diagnosis.not_applied,
    })
}

fn problem_json(problem: &Problem) -> Value {
    let mut value = json!({
        "kind": problem.kind.as_str(),
        "summary": problem.summary,
        "packages": problem.packages.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "locations": problem.locations.iter().zip(problem.requirements.iter()).map(|(location, text)| json!({
            "file": location.path.display().to_string(),
            "line": location.line,
            "requirement": text,
        })).collect::<Vec<_>>(),
        "targets": problem.targets,
        "details": problem.details,
        "fixes": problem.fixes.iter().map(fix_json).collect::<Vec<_>>(),
        "not-confirmed": problem.not_confirmed.iter().map(|n| {
            let mut fix = fix_json(&n.fix);
            fix["why"] = json!(n.why);
            fix
        }).collect::<Vec<_>>(),
    });
    if !problem.modules.is_empty() {
        value["wheels"] = problem
            .modules
            .iter()
            .map(|(wheel, modules)| json!({"filename": wheel, "numpy-1.x-modules": modules}))
            .collect();
    }
    value
}

fn fix_json(fix: &Fix) -> Value {
    json!({
        "summary": fix.summary,
        "edits": fix.edits.iter().map(edit_json).collect::<Vec<_>>(),
        "also-changes": fix.also_changes,
        "config": fix.config,
        "left-out": fix.left_out,
    })
}

fn edit_json(edit: &Edit) -> Value {
    json!({
        "file": edit.location.as_ref().map(|l| l.path.display().to_string()),
        "line": edit.location.as_ref().map(|l| l.line),
        "original": edit.original,
        "replacement": edit.replacement,
    })
}

#[cfg(test)]
mod tests {
    use super::places;
    use crate::requirements::Location;

    #[test]
    fn lines_of_one_file_name_the_file_once() {
        let at = |path: &str, line| Location {
            path: path.into(),
            line,
        };
        let locations = [
            at("a.txt", 4),
            at("a.txt", 9),
            at("b.txt", 2),
            at("a.txt", 18),
        ];
        assert_eq!(places(&locations), ["a.txt:4", "9", "b.txt:2", "a.txt:18"]);
    }
}
