//! "Did you mean": a requirement naming a project the index does not have (`pstuil`) gets the projects
//! it most likely meant (`psutil`), each offered as a fix that renames the line.
//!
//! PyPI has no search API, and its full name listing (`/simple/`) is about 30 MB, so the index is asked
//! about a small, bounded set of candidate names instead, concurrently and through the same cached client
//! as every other page: the usual slips of a typed name (two adjacent letters swapped, a letter dropped or
//! doubled, a separator dropped or added, a `python-`/`py` prefix or `-python` suffix added or dropped),
//! and the names this run has already found on the index that are close to it. Only names the index has
//! are suggested, nearest first.

use pep508_rs::PackageName;

use super::{Edit, Fix};
use crate::requirements::InputRequirement;
use crate::resolve::Resolver;

/// Names asked of the index for one missing project, at most: each is a page request on a cold cache.
pub const MAX_PROBES: usize = 30;
/// How far a name this run already found may be from the missing one to be suggested.
const MAX_SEEN_DISTANCE: usize = 2;
/// Suggestions (and so rename fixes) per missing project.
const MAX_SUGGESTIONS: usize = 3;

/// A name that exists on the index, and how far it is from the one typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub name: PackageName,
    /// Edits between the two names (an adjacent swap counts one, and so does a whole `python-`/`py`
    /// prefix or `-python` suffix).
    pub distance: usize,
}

/// What asking the index about similar names found.
#[derive(Debug, Clone, Default)]
pub struct Suggestions {
    /// Nearest first; empty when no similar name exists.
    pub found: Vec<Suggestion>,
    /// How many names were asked about (for "N similar names tried").
    pub tried: usize,
}

/// Ask the index about the names `missing` was likely meant to be, at most [`MAX_PROBES`] of them, all
/// at once. A name the index cannot answer for (offline and not cached, a network error) is skipped:
/// a suggestion is a help, never a reason for the diagnosis to fail.
pub async fn suggest(resolver: &Resolver, missing: &PackageName) -> Suggestions {
    let typed = missing.as_ref();
    let found = resolver.found_projects();
    let seen: Vec<&str> = found.iter().map(AsRef::as_ref).collect();
    let names = candidates(typed, &seen);
    let probes = names.iter().map(|(name, _)| async move {
        match resolver.page(name).await {
            Ok(Some(_)) => true,
            Ok(None) | Err(_) => false,
        }
    });
    let exists = futures::future::join_all(probes).await;
    let mut found: Vec<Suggestion> = names
        .iter()
        .zip(exists)
        .filter(|(_, exists)| *exists)
        .map(|((name, distance), _)| Suggestion {
            name: name.clone(),
            distance: *distance,
        })
        .collect();
    // Among names as far, one as long as the typed name (letters swapped) before one that drops or
    // adds letters, then by name: the order never depends on what this run happened to fetch first.
    found.sort_by_key(|suggestion| {
        let length = suggestion.name.as_ref().chars().count();
        (
            suggestion.distance,
            length.abs_diff(typed.chars().count()),
            suggestion.name.clone(),
        )
    });
    found.truncate(MAX_SUGGESTIONS);
    Suggestions {
        found,
        tried: names.len(),
    }
}

/// The fix that renames the project on `line` to `suggestion`, keeping its extras, version specifier
/// and markers as written.
pub fn rename_fix(line: &InputRequirement, suggestion: &Suggestion) -> Fix {
    let name = &suggestion.name;
    let replacement = renamed_line(&line.text, &line.requirement.name, name);
    Fix::edits(
        format!(
            "did you mean `{name}`? it is on the index, `{}` is not",
            line.requirement.name
        ),
        vec![Edit {
            location: Some(line.location.clone()),
            original: Some(line.text.clone()),
            replacement: Some(replacement),
        }],
    )
}

/// `text` (a requirement line naming `old`) with the name as written replaced by `new`.
fn renamed_line(text: &str, old: &PackageName, new: &PackageName) -> String {
    let trimmed = text.trim_start();
    let end = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(trimmed.len());
    let written = &trimmed[..end];
    if PackageName::new(written.to_string()).is_ok_and(|name| &name == old) {
        format!("{new}{}", &trimmed[end..])
    } else {
        new.to_string()
    }
}

/// The names to ask the index about for the missing `typed` (a normalized name), each with its
/// distance from it, commonest slips first, at most [`MAX_PROBES`]; `seen` are names this run found
/// on the index (those within [`MAX_SEEN_DISTANCE`] come first: asking about them again costs nothing).
pub fn candidates(typed: &str, seen: &[&str]) -> Vec<(PackageName, usize)> {
    let mut out: Vec<(PackageName, usize)> = Vec::new();
    let mut add = |text: &str, distance: usize| {
        if out.len() >= MAX_PROBES {
            return;
        }
        let Ok(name) = PackageName::new(text.to_string()) else {
            return;
        };
        if name.as_ref() != typed && !out.iter().any(|(known, _)| known == &name) {
            out.push((name, distance));
        }
    };
    let mut near: Vec<(usize, &str)> = seen
        .iter()
        .map(|name| (crate::typo::distance(typed, name), *name))
        .filter(|(distance, _)| (1..=MAX_SEEN_DISTANCE).contains(distance))
        .collect();
    near.sort();
    for (distance, name) in near {
        add(name, distance);
    }
    let chars: Vec<char> = typed.chars().collect();
    let text = |chars: &[char]| chars.iter().collect::<String>();
    for i in 1..chars.len() {
        if chars[i - 1] != chars[i] {
            let mut swapped = chars.clone();
            swapped.swap(i - 1, i);
            add(&text(&swapped), 1);
        }
    }
    for (i, c) in chars.iter().enumerate() {
        if *c == '-' {
            let mut joined = chars.clone();
            joined.remove(i);
            add(&text(&joined), 1);
        }
    }
    for (prefixed, distance) in affixes(typed) {
        add(&prefixed, distance);
    }
    for i in 0..chars.len() {
        if i == 0 || chars[i - 1] != chars[i] {
            let mut dropped = chars.clone();
            dropped.remove(i);
            add(&text(&dropped), 1);
        }
    }
    for i in 0..chars.len() {
        if chars[i] != '-' && (i + 1 == chars.len() || chars[i + 1] != chars[i]) {
            let mut doubled = chars.clone();
            doubled.insert(i, chars[i]);
            add(&text(&doubled), 1);
        }
    }
    // A separator added between two letters or a letter and a digit (`scikitlearn`): many places, so
    // last, where the bound cuts them first.
    for i in 1..chars.len() {
        if chars[i - 1] != '-' && chars[i] != '-' {
            let mut split = chars.clone();
            split.insert(i, '-');
            add(&text(&split), 1);
        }
    }
    out
}

/// `python-`/`py` prefixes and the `-python` suffix, added or dropped: PyPI names bindings both ways
/// (`python-dateutil`, `pyyaml`, `opencv-python`). Each counts as one edit.
fn affixes(typed: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for prefix in ["python-", "py-", "py"] {
        if let Some(rest) = typed.strip_prefix(prefix).filter(|rest| !rest.is_empty()) {
            out.push((rest.to_string(), 1));
        }
    }
    if let Some(rest) = typed
        .strip_suffix("-python")
        .filter(|rest| !rest.is_empty())
    {
        out.push((rest.to_string(), 1));
    }
    if !typed.starts_with("py") {
        out.push((format!("python-{typed}"), 1));
        out.push((format!("py{typed}"), 1));
    }
    if !typed.ends_with("-python") {
        out.push((format!("{typed}-python"), 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(typed: &str, seen: &[&str]) -> Vec<String> {
        candidates(typed, seen)
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    #[test]
    fn a_swapped_pair_of_letters_is_among_the_first_candidates() {
        let found = names("pstuil", &[]);
        let position = found.iter().position(|n| n == "psutil");
        assert!(position.is_some_and(|p| p < 5), "{found:?}");
        assert!(!found.contains(&"pstuil".to_string()), "{found:?}");
    }

    #[test]
    fn dropped_and_doubled_letters_separators_and_affixes_are_tried() {
        for (typed, meant) in [
            ("numpyy", "numpy"),
            ("reqests", "reqqests"),
            ("dateutil", "python-dateutil"),
            ("yaml", "pyyaml"),
            ("opencv", "opencv-python"),
            ("python-psutil", "psutil"),
            ("scikit-learn", "scikitlearn"),
            ("mkl", "mk-l"),
        ] {
            let found = names(typed, &[]);
            assert!(found.contains(&meant.to_string()), "{meant} in {found:?}");
        }
    }

    #[test]
    fn names_found_in_the_run_come_first_when_close_and_not_at_all_when_far() {
        let found = candidates("reqeusts", &["requests", "urllib3", "reqeusts"]);
        assert_eq!(found[0].0.as_ref(), "requests");
        assert_eq!(found[0].1, 1);
        assert!(!found.iter().any(|(n, _)| n.as_ref() == "urllib3"));
        // A missing letter is no generated slip, but a name the run found two edits away is offered.
        let found = candidates("rquest", &["requests"]);
        assert_eq!(found[0], (PackageName::new("requests".into()).unwrap(), 2));
    }

    #[test]
    fn the_candidates_are_bounded_distinct_and_valid_names() {
        let long = "a-very-long-project-name-that-nobody-has-published";
        let found = names(long, &[]);
        assert_eq!(found.len(), MAX_PROBES);
        let mut unique = found.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), found.len());
        for name in ["x", "-", ""] {
            let found = candidates(name, &[]);
            assert!(found.len() <= MAX_PROBES, "{found:?}");
            assert!(found.iter().all(|(n, _)| n.as_ref() != name));
        }
    }

    #[test]
    fn a_rename_keeps_what_follows_the_name_as_written() {
        let old = PackageName::new("pstuil".into()).unwrap();
        let new = PackageName::new("psutil".into()).unwrap();
        assert_eq!(
            renamed_line("PStuil[x]>=5 ; python_version > '3'", &old, &new),
            "psutil[x]>=5 ; python_version > '3'"
        );
        assert_eq!(renamed_line("pstuil", &old, &new), "psutil");
    }
}
