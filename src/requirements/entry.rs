//! One logical line to one entry: a requirement, an include (`-r`, `-c`) or the index (`-i`).
//!
//! Everything fave-lock cannot honour while locking from one index for a fixed image target is
//! rejected here with the fix in the message: editables, direct URLs and local paths, extra indexes
//! and find-links, and pip options this tool does not interpret.

use std::str::FromStr;

use pep508_rs::{Requirement, VersionOrUrl};

/// What a logical line asks for.
#[derive(Debug)]
pub(super) enum Entry {
    /// A PEP 508 requirement by name (never a direct URL).
    Requirement(Box<Requirement>),
    /// `-r FILE` or `-c FILE`, the file as written.
    Include { kind: IncludeKind, file: String },
    /// `-i URL`.
    IndexUrl(String),
}

/// Whether a file's lines are requirements or constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IncludeKind {
    /// `-r`: every line is installed.
    Requirements,
    /// `-c`: lines only restrict versions of packages something else requires.
    Constraints,
}

impl IncludeKind {
    /// The kind of a file included with `include` from a file of kind `self`: once inside a
    /// constraints file, everything it includes is a constraint too, as in pip.
    pub(super) fn nested(self, include: IncludeKind) -> IncludeKind {
        match self {
            IncludeKind::Constraints => IncludeKind::Constraints,
            IncludeKind::Requirements => include,
        }
    }
}

/// The options a fave-lock requirements file may use, for the unknown-option message.
const SUPPORTED_OPTIONS: &str = "`-r`/`--requirement`, `-c`/`--constraint` and `-i`/`--index-url`";

/// Parse one logical line; the error is a message that says how to fix it.
pub(super) fn parse_entry(text: &str) -> Result<Entry, String> {
    if text.starts_with('-') {
        parse_option(text)
    } else {
        parse_requirement(text).map(|requirement| Entry::Requirement(Box::new(requirement)))
    }
}

/// Split `--name=value`, `--name value`, `-x value` and `-xvalue` (optparse's forms) into name and value.
fn split_option(text: &str) -> (&str, &str) {
    if text.starts_with("--") {
        let end = text
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(text.len());
        let value = text[end..].strip_prefix('=').unwrap_or(&text[end..]);
        (&text[..end], value.trim())
    } else {
        let end = text
            .char_indices()
            .nth(2)
            .map_or(text.len(), |(index, _)| index);
        (&text[..end], text[end..].trim())
    }
}

fn parse_option(text: &str) -> Result<Entry, String> {
    let (name, value) = split_option(text);
    match name {
        "-r" | "--requirement" => {
            let file = option_value(name, value, "a file name")?;
            Ok(Entry::Include {
                kind: IncludeKind::Requirements,
                file,
            })
        }
        "-c" | "--constraint" => {
            let file = option_value(name, value, "a file name")?;
            Ok(Entry::Include {
                kind: IncludeKind::Constraints,
                file,
            })
        }
        "-i" | "--index-url" => {
            let url = option_value(name, value, "a URL")?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("`{name}` needs an http(s) URL, found `{url}`"));
            }
            Ok(Entry::IndexUrl(url))
        }
        "-e" | "--editable" => Err(format!(
            "editable requirement `{text}` is not supported: fave-lock locks released wheels from the \
             index; publish the package and require it by name and version, or install it in the \
             image build"
        )),
        "--extra-index-url" | "-f" | "--find-links" | "--no-index" => Err(format!(
            "`{name}` is not supported: fave-lock resolves from exactly one index; set `index-url` in \
             fave-lock.toml (or use `-i` once)"
        )),
        _ => Err(format!(
            "unknown option `{name}`: fave-lock requirements files accept only {SUPPORTED_OPTIONS}"
        )),
    }
}

/// The single argument of an option, unquoted; `what` names it in the error.
fn option_value(name: &str, value: &str, what: &str) -> Result<String, String> {
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|quote| value.strip_prefix(*quote)?.strip_suffix(*quote));
    match unquoted {
        Some(inner) if !inner.is_empty() => Ok(inner.to_string()),
        Some(_) => Err(format!("`{name}` needs {what}")),
        None if value.is_empty() => Err(format!("`{name}` needs {what}")),
        None if value.contains(char::is_whitespace) => Err(format!(
            "`{name}` takes one argument, found `{value}`; put each option on its own line, and quote a \
             name that contains spaces"
        )),
        None => Ok(value.to_string()),
    }
}

/// Parse a requirement by name, rejecting direct URLs and paths.
fn parse_requirement(text: &str) -> Result<Requirement, String> {
    match Requirement::from_str(text) {
        Ok(requirement) => match requirement.version_or_url {
            Some(VersionOrUrl::Url(_)) => Err(direct_reference(text)),
            _ => Ok(requirement),
        },
        Err(_) if looks_like_path_or_url(text) => Err(direct_reference(text)),
        Err(error) => Err(format!(
            "invalid requirement `{text}`: {}{}",
            error.message,
            hint(text)
        )),
    }
}

fn direct_reference(text: &str) -> String {
    format!(
        "direct URL or path requirement `{text}` is not supported: fave-lock resolves every package \
         from its index so the lock can be verified; publish the package there and require it by name \
         and version (`name==1.2.3`)"
    )
}

/// Whether a line that failed to parse is a bare path or URL (`./local`, `/abs/pkg`, `https://…`,
/// `pkg-1.0-py3-none-any.whl`), which pip would install directly.
fn looks_like_path_or_url(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or(text);
    first.starts_with(['.', '/', '~', '\\'])
        || first.contains("://")
        || first.starts_with("file:")
        || [".whl", ".tar.gz", ".zip", ".tgz"]
            .iter()
            .any(|suffix| first.ends_with(suffix))
}

/// A fix for a common mistake, appended to the parser's message.
fn hint(text: &str) -> &'static str {
    if text.contains(" --") {
        " (per-requirement options such as `--hash` are not supported: the lock records hashes itself)"
    } else if has_single_equals(text) {
        " (did you mean `==`?)"
    } else {
        ""
    }
}

/// Whether `text` has an `=` that is not part of `==`, `>=`, `<=`, `!=`, `~=` or `===`.
fn has_single_equals(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(index, &byte)| {
        let previous = index.checked_sub(1).map(|before| bytes[before]);
        let next = bytes.get(index + 1).copied();
        byte == b'='
            && !matches!(previous, Some(b'=' | b'<' | b'>' | b'!' | b'~'))
            && next != Some(b'=')
    })
}

/// Constraints name a package and versions only: pip rejects extras in constraints, because a
/// constraint cannot add the extra's dependencies.
pub(super) fn check_constraint(requirement: &Requirement, text: &str) -> Result<(), String> {
    if requirement.extras.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "constraint `{text}` has extras: constraints only restrict versions; drop the `[...]` here \
             and request the extra in the requirements file"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_forms() {
        assert_eq!(split_option("-r a.in"), ("-r", "a.in"));
        assert_eq!(split_option("-ra.in"), ("-r", "a.in"));
        assert_eq!(
            split_option("--requirement=a.in"),
            ("--requirement", "a.in")
        );
        assert_eq!(
            split_option("--requirement   a.in"),
            ("--requirement", "a.in")
        );
        assert_eq!(split_option("--pre"), ("--pre", ""));
        assert_eq!(
            option_value("-r", "'my file.in'", "a file name"),
            Ok("my file.in".to_string())
        );
    }

    #[test]
    fn single_equals_is_told_apart_from_comparison_operators() {
        assert!(has_single_equals("numpy=2"));
        assert!(has_single_equals("numpy = 2"));
        for text in [
            "numpy==2",
            "numpy>=2",
            "numpy<=2",
            "numpy!=2",
            "numpy~=2.1",
            "numpy===2",
            "numpy",
        ] {
            assert!(!has_single_equals(text), "{text}");
        }
    }

    #[test]
    fn constraints_from_a_constraints_file_stay_constraints() {
        use IncludeKind::{Constraints, Requirements};
        assert_eq!(Requirements.nested(Requirements), Requirements);
        assert_eq!(Requirements.nested(Constraints), Constraints);
        assert_eq!(Constraints.nested(Requirements), Constraints);
    }
}
