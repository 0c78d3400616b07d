//! One logical line to one entry: a requirement, an include (`-r`, `-c`) or the index (`-i`).
//!
//! Everything fave-lock cannot honour while locking from one index for a fixed image target is
//! rejected here with the fix in the message: editables, direct URLs and local paths, extra indexes
//! and find-links, and pip options this tool does not interpret.

use pep508_rs::{Requirement, VersionOrUrl};

use super::pep508::{Pep508Error, parse_requirement as parse_pep508};

/// What a logical line asks for; an options line may ask for several things.
#[derive(Debug)]
pub(super) enum Entry {
    /// A PEP 508 requirement by name (never a direct URL), with its `--hash` values (lower-case hex
    /// SHA-256).
    Requirement {
        requirement: Box<Requirement>,
        hashes: Vec<String>,
    },
    /// `-r FILE` or `-c FILE`, the file as written.
    Include { kind: IncludeKind, file: String },
    /// `-i URL`.
    IndexUrl(String),
    /// `--pre`: pre-releases may be chosen like final releases.
    Pre,
    /// `--only-binary`: these packages (`:all:` for every one) may not use an sdist.
    OnlyBinary(Vec<String>),
    /// An option accepted because it does not change the lock; the warning says why.
    Ignored(String),
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
const SUPPORTED_OPTIONS: &str = "`-r`, `-c`, `-i`, `--pre`, `--only-binary`, `--prefer-binary`, \
     `--trusted-host`, `--use-feature`, `--require-hashes` and, after a requirement, `--hash`";

/// Parse one logical line; the error is a message that says how to fix it.
///
/// As in pip (`break_args_options`), the requirement is everything before the first space-separated
/// word that starts with `-`; the rest are options.
pub(super) fn parse_entry(text: &str) -> Result<Vec<Entry>, String> {
    if let Some(variable) = env_variable(text) {
        return Err(format!(
            "`{variable}` is not expanded: a lock must not depend on the environment of the shell \
             that makes it; write the value"
        ));
    }
    let (requirement, options) = split_requirement(text);
    let options = words(options)?;
    if requirement.is_empty() {
        return parse_options(&options);
    }
    let requirement = parse_requirement(requirement)?;
    let mut hashes = Vec::new();
    for (name, value) in options_with_values(&options)? {
        match name {
            "--hash" => hashes.push(parse_hash(value.unwrap_or_default())?),
            "--config-settings" | "--global-option" => {
                return Err(format!(
                    "`{name}` is not supported: it configures a build, and the image installs \
                     wheels only; remove it"
                ));
            }
            _ => {
                return Err(format!(
                    "`{name}` cannot follow a requirement: only `--hash` can; put other options on \
                     their own line"
                ));
            }
        }
    }
    Ok(vec![Entry::Requirement {
        requirement: Box::new(requirement),
        hashes,
    }])
}

/// The first `${NAME}` in `text` (pip's form of an environment variable: upper-case letters, digits
/// and `_`).
fn env_variable(text: &str) -> Option<&str> {
    text.match_indices("${").find_map(|(start, _)| {
        let name_end = start
            + 2
            + text[start + 2..]
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))?;
        (name_end > start + 2 && text[name_end..].starts_with('}')).then(|| &text[start..=name_end])
    })
}

/// `text` cut before the first space-separated word that starts with `-`.
fn split_requirement(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for word in text.split(' ') {
        if word.starts_with('-') {
            return (text[..offset].trim(), &text[offset..]);
        }
        offset += word.len() + 1;
    }
    (text.trim(), "")
}

/// The requirement part of a line that parsed as a requirement: the line without its options.
pub(super) fn requirement_text(text: &str) -> &str {
    split_requirement(text).0
}

/// Split an options string into words, as `shlex.split` does for the forms found in requirement
/// files: whitespace separates, single and double quotes group.
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut quote = None;
    for character in text.chars() {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), c) => current.get_or_insert_default().push(c),
            (None, '"' | '\'') => {
                quote = Some(character);
                current.get_or_insert_default();
            }
            (None, c) if c.is_whitespace() => words.extend(current.take()),
            (None, c) => current.get_or_insert_default().push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in `{}`", text.trim()));
    }
    words.extend(current);
    Ok(words)
}

/// Options that take a value, as pip's option parser knows them.
fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "-r" | "--requirement"
            | "-c"
            | "--constraint"
            | "-e"
            | "--editable"
            | "-i"
            | "--index-url"
            | "--extra-index-url"
            | "-f"
            | "--find-links"
            | "--no-binary"
            | "--only-binary"
            | "--trusted-host"
            | "--use-feature"
            | "--hash"
            | "--config-settings"
            | "--global-option"
    )
}

/// Pair each option with its value: `--name=value`, `--name value`, `-x value` and `-xvalue`
/// (optparse's forms). A word that is not an option is an error.
fn options_with_values(words: &[String]) -> Result<Vec<(&str, Option<&str>)>, String> {
    let mut options = Vec::new();
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        if !word.starts_with('-') || word == "-" {
            return Err(format!(
                "unexpected `{word}`: a line holds one requirement or options; put each \
                 requirement on its own line, and quote a value that contains spaces"
            ));
        }
        let (name, attached) = if word.starts_with("--") {
            match word.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (word.as_str(), None),
            }
        } else {
            let end = word.char_indices().nth(2).map_or(word.len(), |(at, _)| at);
            let (name, value) = word.split_at(end);
            (name, (!value.is_empty()).then_some(value))
        };
        let is_flag = matches!(
            name,
            "--pre" | "--prefer-binary" | "--no-index" | "--require-hashes"
        );
        let value = match attached {
            Some(value) => Some(value),
            None if takes_value(name) => Some(
                words
                    .next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("`{name}` needs a value"))?,
            ),
            // An unknown option may take a value: keep it, so the error is about the option.
            None if !is_flag => words
                .next_if(|word| !word.starts_with('-'))
                .map(String::as_str),
            None => None,
        };
        options.push((name, value));
    }
    Ok(options)
}

fn parse_options(words: &[String]) -> Result<Vec<Entry>, String> {
    options_with_values(words)?
        .into_iter()
        .map(|(name, value)| parse_option(name, value.unwrap_or_default()))
        .collect()
}

fn parse_option(name: &str, value: &str) -> Result<Entry, String> {
    match name {
        "-r" | "--requirement" => Ok(Entry::Include {
            kind: IncludeKind::Requirements,
            file: option_value(name, value, "a file name")?,
        }),
        "-c" | "--constraint" => Ok(Entry::Include {
            kind: IncludeKind::Constraints,
            file: option_value(name, value, "a file name")?,
        }),
        "-i" | "--index-url" => {
            let url = option_value(name, value, "a URL")?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("`{name}` needs an http(s) URL, found `{url}`"));
            }
            Ok(Entry::IndexUrl(url))
        }
        "--pre" => Ok(Entry::Pre),
        "--only-binary" => Ok(Entry::OnlyBinary(package_list(name, value)?)),
        "--no-binary" => {
            if package_list(name, value)? == [":none:"] {
                Ok(Entry::Ignored(
                    "`--no-binary :none:` changes nothing: fave-lock installs wheels".to_string(),
                ))
            } else {
                Err(format!(
                    "`--no-binary {value}` cannot be honoured: the image installs wheels only, \
                     with no compiler to build sdists; remove the line (a package with no wheel \
                     for the image can be listed in `allow-sdist` in fave-lock.toml)"
                ))
            }
        }
        "--prefer-binary" => Ok(Entry::Ignored(
            "`--prefer-binary` changes nothing: fave-lock installs wheels only".to_string(),
        )),
        "--trusted-host" => Ok(Entry::Ignored(format!(
            "`--trusted-host {value}` is ignored: fave-lock always checks the index's TLS \
             certificate"
        ))),
        "--use-feature" => Ok(Entry::Ignored(format!(
            "`--use-feature {value}` is ignored: pip feature flags do not change the lock"
        ))),
        "--require-hashes" => Ok(Entry::Ignored(
            "`--require-hashes` changes nothing here: the lock pins every file by hash".to_string(),
        )),
        "-e" | "--editable" => Err(format!(
            "editable requirement `{name} {value}` is not supported: fave-lock locks released \
             wheels from the index; publish the package and require it by name and version, or \
             install it in the image build"
        )),
        "--extra-index-url" | "-f" | "--find-links" | "--no-index" => Err(format!(
            "`{name}` is not supported: fave-lock resolves from exactly one index; set `index-url` in \
             fave-lock.toml (or use `-i` once)"
        )),
        "--hash" => Err(
            "`--hash` must follow a requirement on the same logical line (`name==1.0 --hash=sha256:...`)"
                .to_string(),
        ),
        _ => Err(format!(
            "unknown option `{name}`: fave-lock requirements files accept {SUPPORTED_OPTIONS}"
        )),
    }
}

/// `--only-binary`/`--no-binary`'s comma-separated package names (or `:all:`/`:none:`).
fn package_list(name: &str, value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(format!("`{name}` needs `:all:`, `:none:` or package names"));
    }
    Ok(names)
}

/// `sha256:HEX` to lower-case hex. Other algorithms pip knows are refused: the index lists SHA-256,
/// so a file could not be matched without downloading every candidate.
fn parse_hash(value: &str) -> Result<String, String> {
    let Some((algorithm, digest)) = value.split_once(':') else {
        return Err(format!(
            "`--hash={value}` needs the form `sha256:<64 hex digits>`"
        ));
    };
    match algorithm {
        "sha256" if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(digest.to_ascii_lowercase())
        }
        "sha256" => Err(format!(
            "`--hash={value}`: a SHA-256 digest is 64 hex digits, found {} characters",
            digest.len()
        )),
        "sha384" | "sha512" => Err(format!(
            "`--hash={algorithm}:...` is not supported: fave-lock matches files by the SHA-256 the \
             index lists; give `--hash=sha256:...` (`pip hash FILE` prints it)"
        )),
        _ => Err(format!(
            "`--hash={value}`: unknown hash algorithm `{algorithm}`; use sha256"
        )),
    }
}

/// An option's value (already unquoted); `what` names it in the error.
fn option_value(name: &str, value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("`{name}` needs {what}"))
    } else {
        Ok(value.to_string())
    }
}

/// `text` as a message shows it: control characters escaped, and cut after 200 characters.
pub(super) fn shown(text: &str) -> String {
    const LIMIT: usize = 200;
    let escaped: String = text
        .chars()
        .take(LIMIT)
        .flat_map(|c| {
            let escape = c.is_control();
            let mut out: Vec<char> = Vec::new();
            if escape {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
            out
        })
        .collect();
    if text.chars().nth(LIMIT).is_some() {
        format!("{escaped}…")
    } else {
        escaped
    }
}

/// Parse a requirement by name, rejecting direct URLs and paths.
fn parse_requirement(text: &str) -> Result<Requirement, String> {
    match parse_pep508(text) {
        Ok(requirement) => match requirement.version_or_url {
            Some(VersionOrUrl::Url(_)) => Err(direct_reference(text)),
            _ => Ok(requirement),
        },
        Err(Pep508Error::Syntax(_)) if looks_like_path_or_url(text) => Err(direct_reference(text)),
        Err(error) => Err(format!(
            "invalid requirement `{}`: {error}{}",
            shown(text),
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
    if has_single_equals(text) {
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

    fn options(text: &str) -> Vec<(String, Option<String>)> {
        let words = words(text).unwrap();
        options_with_values(&words)
            .unwrap()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
            .collect()
    }

    #[test]
    fn option_forms() {
        let pair = |name: &str, value: &str| (name.to_string(), Some(value.to_string()));
        assert_eq!(options("-r a.in"), [pair("-r", "a.in")]);
        assert_eq!(options("-ra.in"), [pair("-r", "a.in")]);
        assert_eq!(
            options("--requirement=a.in"),
            [pair("--requirement", "a.in")]
        );
        assert_eq!(
            options("--requirement \t a.in"),
            [pair("--requirement", "a.in")]
        );
        assert_eq!(options("-r 'my file.in'"), [pair("-r", "my file.in")]);
        assert_eq!(
            options("--pre --only-binary :all: --prefer-binary"),
            [
                ("--pre".to_string(), None),
                pair("--only-binary", ":all:"),
                ("--prefer-binary".to_string(), None)
            ]
        );
        assert_eq!(
            options_with_values(&words("-r a.in b.in").unwrap()).unwrap_err(),
            "unexpected `b.in`: a line holds one requirement or options; put each requirement on \
             its own line, and quote a value that contains spaces"
        );
        assert_eq!(
            words("-r 'a.in").unwrap_err(),
            "unterminated quote in `-r 'a.in`"
        );
    }

    #[test]
    fn requirement_and_options_split_like_pip() {
        assert_eq!(
            split_requirement("six==1 --hash=sha256:ab"),
            ("six==1", "--hash=sha256:ab")
        );
        assert_eq!(split_requirement("--pre"), ("", "--pre"));
        assert_eq!(
            split_requirement("foo-bar>=1 ; os_name == 'x'"),
            ("foo-bar>=1 ; os_name == 'x'", "")
        );
    }

    #[test]
    fn environment_variables_are_found_in_pip_s_form_only() {
        assert_eq!(env_variable("-r ${DIR}/a.in"), Some("${DIR}"));
        assert_eq!(env_variable("six==${SIX_V2}"), Some("${SIX_V2}"));
        assert_eq!(env_variable("six ; os_name == '${lower}'"), None);
        assert_eq!(env_variable("six ; os_name == '${}'"), None);
        assert_eq!(env_variable("six ; os_name == '${X'"), None);
    }

    #[test]
    fn hashes() {
        let digest = "8ABB2F1D86890A2DFB989F9A77CFCFD3E47C2A354B01111771326F8AA26E0254";
        assert_eq!(
            parse_hash(&format!("sha256:{digest}")).unwrap(),
            digest.to_ascii_lowercase()
        );
        assert!(
            parse_hash("sha256:abc")
                .unwrap_err()
                .contains("64 hex digits")
        );
        assert!(
            parse_hash("sha512:abc")
                .unwrap_err()
                .contains("matches files by the SHA-256")
        );
        assert!(
            parse_hash("md5:abc")
                .unwrap_err()
                .contains("unknown hash algorithm `md5`")
        );
        assert!(parse_hash("abc").unwrap_err().contains("needs the form"));
    }

    #[test]
    fn messages_show_control_characters_escaped_and_long_text_cut() {
        assert_eq!(shown("a\0b\u{1b}"), "a\\0b\\u{1b}");
        assert_eq!(shown(&"x".repeat(300)).chars().count(), 201);
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
