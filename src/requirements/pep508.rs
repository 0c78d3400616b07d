//! The one way fave-lock parses PEP 508 text, whether a user wrote it or an index sent it as
//! `Requires-Dist`: a pass over the text comes before `pep508_rs` sees it.
//!
//! The pass does three things:
//! - refuses what would crash the parser: a requirement longer than [`MAX_LEN`], parentheses nested
//!   deeper than [`MAX_NESTING`] (its recursive descent overflows the stack at ~100,000), and a
//!   `~=` comparison with a string marker such as `'2.7.0' ~= os_name`, which its marker algebra
//!   meets with `unreachable!()` (pep508_rs 0.9.2, `Edges::from_string`) and which packaging
//!   calls undefined (pip fails with `UndefinedComparison` when it evaluates the marker);
//! - accepts spellings packaging accepts and pep508_rs does not: tabs as whitespace, a trailing
//!   comma after the last specifier (`pyzmq >=3.6,`);
//! - reads the `extras` marker variable (`"foo" in extras`, packaging 22+) as the `extra` test it
//!   means: true when extra `foo` is active, which for an input line is never.

use std::str::FromStr;

use pep508_rs::Requirement;

/// The longest PEP 508 requirement accepted, in bytes. Real ones, markers included, stay under 1 KB;
/// the cap bounds the parser's and the marker algebra's work on hostile text.
pub const MAX_LEN: usize = 16 * 1024;

/// The deepest parenthesis nesting accepted in a requirement. Real markers nest two or three deep.
pub const MAX_NESTING: usize = 32;

/// Marker variables whose values are strings, not versions (with their deprecated dotted spellings).
const STRING_MARKERS: &[&str] = &[
    "implementation_name",
    "os_name",
    "os.name",
    "platform_machine",
    "platform.machine",
    "platform_python_implementation",
    "platform.python_implementation",
    "python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "platform.version",
    "sys_platform",
    "sys.platform",
];

/// Why a PEP 508 requirement was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pep508Error {
    #[error("requirement is {len} bytes long; the limit is {MAX_LEN}")]
    TooLong { len: usize },
    #[error("parentheses nest more than {MAX_NESTING} deep")]
    TooDeep,
    #[error(
        "marker `{expression}` compares a string with `~=`, which is undefined for strings \
         (packaging raises UndefinedComparison); use `==`, `!=` or `in`"
    )]
    UndefinedComparison { expression: String },
    /// What `pep508_rs` said.
    #[error("{0}")]
    Syntax(String),
}

/// Parse `text` as a PEP 508 requirement, after the checks and rewrites described in the module docs.
///
/// # Errors
///
/// Text too long or too deeply nested, an undefined comparison, or what `pep508_rs` rejects.
pub fn parse_requirement(text: &str) -> Result<Requirement, Pep508Error> {
    let normalized = normalize(text)?;
    Requirement::from_str(&normalized)
        .map_err(|error| Pep508Error::Syntax(error.message.to_string()))
}

/// As [`parse_requirement`], for `Requires-Dist` from an index: metadata uploaded years ago breaks
/// PEP 440 in ways installers accept, and so does this, as uv's lenient parser does. Today: a `.*`
/// after an ordered comparison (`numpy>=1.19.*`, torchsde 0.2.5; `PyYAML>=5.1.*`, omegaconf 2.0.6),
/// which means the version without it.
///
/// # Errors
///
/// As [`parse_requirement`], with the strict parser's message when the relaxed text fails too.
pub fn parse_index_requirement(text: &str) -> Result<Requirement, Pep508Error> {
    let strict = parse_requirement(text);
    match &strict {
        Err(Pep508Error::Syntax(_)) => {
            let relaxed = drop_ordered_wildcards(text);
            if relaxed != text
                && let Ok(requirement) = parse_requirement(&relaxed)
            {
                return Ok(requirement);
            }
            strict
        }
        _ => strict,
    }
}

/// `>=1.19.*` → `>=1.19` (also after `<=`, `>`, `<`, `~=`); `==` and `!=` wildcards are valid and stay.
fn drop_ordered_wildcards(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(".*") {
        let before = &rest[..position];
        // The operator before this version: the last run of comparison characters.
        // Past the whole character, which may be several bytes (the text is untrusted metadata).
        let version_start = before
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '.'))
            .map_or(0, |(index, c)| index + c.len_utf8());
        let operator = before[..version_start].trim_end();
        let ordered = [">=", "<=", "~=", ">", "<"]
            .iter()
            .any(|op| operator.ends_with(op))
            && !operator.ends_with("==")
            && !operator.ends_with("!=");
        out.push_str(before);
        if !ordered {
            out.push_str(".*");
        }
        rest = &rest[position + 2..];
    }
    out.push_str(rest);
    out
}

/// One token of the pass: quoted strings, words (names, marker variables, versions), operator runs,
/// and single characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Quoted,
    Word,
    Operator,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

/// Split `text` into tokens; whitespace is dropped. An unterminated quote ends the list: the parser
/// reports it.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let start = index;
        let kind = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                index += 1;
                continue;
            }
            b'\'' | b'"' => match bytes[index + 1..].iter().position(|&b| b == byte) {
                Some(offset) => {
                    index += offset + 2;
                    Kind::Quoted
                }
                None => break,
            },
            b'<' | b'>' | b'=' | b'!' | b'~' => {
                while index < bytes.len() && b"<>=!~".contains(&bytes[index]) {
                    index += 1;
                }
                Kind::Operator
            }
            _ if is_word_byte(byte) => {
                while index < bytes.len() && is_word_byte(bytes[index]) {
                    index += 1;
                }
                Kind::Word
            }
            _ => {
                // One character, however many bytes it takes.
                index += text[index..].chars().next().map_or(1, char::len_utf8);
                Kind::Other
            }
        };
        tokens.push(Token {
            kind,
            text: &text[start..index],
            start,
            end: index,
        });
    }
    tokens
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'*' | b'+')
}

/// The text `pep508_rs` gets, or why it gets none.
fn normalize(text: &str) -> Result<String, Pep508Error> {
    let tokens = tokens(text);
    let mut depth = 0usize;
    for token in &tokens {
        match token.text {
            "(" => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Pep508Error::TooDeep);
                }
            }
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // After the nesting check, so that a deep marker is reported as such however long it is.
    if text.len() > MAX_LEN {
        return Err(Pep508Error::TooLong { len: text.len() });
    }
    check_string_tilde(text, &tokens)?;
    check_names(&tokens)?;
    check_ascii(&tokens)?;
    // Edits as (start, end, replacement), in order, never overlapping.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let marker_start = tokens
        .iter()
        .position(|token| token.text == ";")
        .unwrap_or(tokens.len());
    for pair in tokens[..marker_start].windows(2) {
        if pair[0].text == "," && pair[1].text == ")" {
            edits.push((pair[0].start, pair[0].end, String::new()));
        }
    }
    if marker_start > 0 && tokens[marker_start - 1].text == "," {
        let comma = tokens[marker_start - 1];
        edits.push((comma.start, comma.end, String::new()));
    }
    edits.extend(extras_rewrites(&tokens[marker_start..]));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for (start, end, replacement) in edits {
        push_untabbed(&mut out, &text[cursor..start], &tokens, cursor);
        out.push_str(&replacement);
        cursor = end;
    }
    push_untabbed(&mut out, &text[cursor..], &tokens, cursor);
    Ok(out)
}

/// Append `piece` (which starts at byte `offset` of the text) with tabs outside quoted strings made
/// spaces: pep508_rs's name and version scanners stop at a tab, packaging's treat it as whitespace.
/// Every `Requires-Dist` entry of a run passes here, so text without a tab is copied as is, and a
/// tab's quoting is looked up by binary search (the tokens are in order): a per-character scan over
/// every token made a long entry quadratic.
fn push_untabbed(out: &mut String, piece: &str, tokens: &[Token<'_>], offset: usize) {
    if !piece.contains('\t') {
        out.push_str(piece);
        return;
    }
    for (index, character) in piece.char_indices() {
        let at = offset + index;
        // The last token starting at or before `at` is the only one that can contain it.
        let quoted = || {
            let next = tokens.partition_point(|token| token.start <= at);
            next > 0 && tokens[next - 1].kind == Kind::Quoted && at < tokens[next - 1].end
        };
        out.push(if character == '\t' && !quoted() {
            ' '
        } else {
            character
        });
    }
}

/// Refuse a name or extra that ends in `-`, `_` or `.` (`six_ ; …`, `requests[socks_`): PEP 508 names
/// end in a letter or digit, and pep508_rs 0.9.2 meets some of these with a panic ("`PackageName`
/// validation should match PEP 508 parsing", found by `fuzz/`) instead of an error.
fn check_names(tokens: &[Token<'_>]) -> Result<(), Pep508Error> {
    let Some(first) = tokens.first().filter(|token| token.kind == Kind::Word) else {
        return Ok(());
    };
    let mut names = vec![first];
    if tokens.get(1).is_some_and(|token| token.text == "[") {
        names.extend(
            tokens[2..]
                .iter()
                .take_while(|token| token.text != "]" && token.text != ";")
                .filter(|token| token.kind == Kind::Word),
        );
    }
    for name in names {
        if !name.text.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(Pep508Error::Syntax(format!(
                "`{}` is not a valid name: names start and end with a letter or digit",
                name.text
            )));
        }
    }
    Ok(())
}

/// Refuse a non-ASCII character outside quoted strings: PEP 508 has none there, and pep508_rs 0.9.2
/// panics slicing its error message inside such a character (`a ; os_name == "x" é`, found by `fuzz/`).
fn check_ascii(tokens: &[Token<'_>]) -> Result<(), Pep508Error> {
    match tokens
        .iter()
        .filter(|token| token.kind != Kind::Quoted)
        .find_map(|token| token.text.chars().find(|c| !c.is_ascii()))
    {
        Some(character) => Err(Pep508Error::Syntax(format!(
            "non-ASCII character `{character}` outside quotes"
        ))),
        None => Ok(()),
    }
}

/// Refuse `'x' ~= os_name` and `os_name ~= 'x'`.
fn check_string_tilde(text: &str, tokens: &[Token<'_>]) -> Result<(), Pep508Error> {
    for triple in tokens.windows(3) {
        let [left, operator, right] = triple else {
            continue;
        };
        let is_string_marker =
            |token: &Token<'_>| token.kind == Kind::Word && STRING_MARKERS.contains(&token.text);
        let quoted_and_marker = (left.kind == Kind::Quoted && is_string_marker(right))
            || (is_string_marker(left) && right.kind == Kind::Quoted);
        if operator.text == "~=" && quoted_and_marker {
            return Err(Pep508Error::UndefinedComparison {
                expression: text[left.start..right.end].to_string(),
            });
        }
    }
    Ok(())
}

/// `"foo" in extras` becomes `extra == "foo"`, `"foo" not in extras` becomes `extra != "foo"`.
fn extras_rewrites(marker: &[Token<'_>]) -> Vec<(usize, usize, String)> {
    let mut edits = Vec::new();
    let mut index = 0;
    while index < marker.len() {
        let rest = &marker[index..];
        let (negated, length) = match rest {
            [value, word, variable, ..]
                if value.kind == Kind::Quoted && word.text == "in" && variable.text == "extras" =>
            {
                (false, 3)
            }
            [value, not, word, variable, ..]
                if value.kind == Kind::Quoted
                    && not.text == "not"
                    && word.text == "in"
                    && variable.text == "extras" =>
            {
                (true, 4)
            }
            _ => {
                index += 1;
                continue;
            }
        };
        let operator = if negated { "!=" } else { "==" };
        edits.push((
            rest[0].start,
            rest[length - 1].end,
            format!("extra {operator} {}", rest[0].text),
        ));
        index += length;
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        parse_requirement(text).unwrap().to_string()
    }

    #[test]
    fn spellings_packaging_accepts() {
        assert_eq!(
            shown("six\t>=1.0\t;\tpython_version\t>=\t'3'"),
            "six>=1.0 ; python_full_version >= '3'"
        );
        assert_eq!(shown("pyzmq >=3.6,"), "pyzmq>=3.6");
        assert_eq!(
            shown("pyzmq >=3.6, ; os_name == 'posix'"),
            "pyzmq>=3.6 ; os_name == 'posix'"
        );
        assert_eq!(shown("name[extra](>=2.2,<3)"), "name[extra]>=2.2,<3");
        assert_eq!(
            shown("name [extra] ( >=2.2 , <3 , )"),
            "name[extra]>=2.2,<3"
        );
        // A tab inside a quoted marker value is the value's own.
        assert_eq!(
            shown("six ; platform_version == 'a\tb'"),
            "six ; platform_version == 'a\tb'"
        );
    }

    #[test]
    fn extras_marker_is_the_extra_test() {
        let requirement = parse_requirement("six ; \"foo\" in extras").unwrap();
        assert!(!requirement.marker.evaluate(&env(), &[]));
        assert!(
            requirement
                .marker
                .evaluate(&env(), &["foo".parse().unwrap()])
        );
        let negated =
            parse_requirement("six ; 'foo' not in extras and os_name == 'posix'").unwrap();
        assert!(negated.marker.evaluate(&env(), &[]));
        assert!(!negated.marker.evaluate(&env(), &["foo".parse().unwrap()]));
    }

    fn env() -> pep508_rs::MarkerEnvironment {
        pep508_rs::MarkerEnvironment::try_from(pep508_rs::MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: "3.11.0",
            os_name: "posix",
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: "3.11.0",
            python_version: "3.11",
            sys_platform: "linux",
        })
        .unwrap()
    }

    #[test]
    fn string_tilde_comparisons_are_errors_not_panics() {
        for text in [
            "six ; '2.7.0' ~= os_name",
            "six ; os_name ~= \"2.7\"",
            "six ; python_version >= '3' and ('x' ~= sys.platform)",
        ] {
            assert!(
                matches!(
                    parse_requirement(text),
                    Err(Pep508Error::UndefinedComparison { .. })
                ),
                "{text}"
            );
        }
        // Versions compare with `~=`.
        assert!(parse_requirement("six ; python_version ~= '3.11'").is_ok());
        assert!(parse_requirement("six ; '3.11' ~= python_version").is_ok());
        assert!(parse_requirement("six ~= 1.16").is_ok());
    }

    #[test]
    fn deep_nesting_and_long_text_are_refused_before_parsing() {
        let deep = format!(
            "six ; {}os_name == 'posix'{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert_eq!(parse_requirement(&deep).unwrap_err(), Pep508Error::TooDeep);
        let long = format!("six ; {}", "os_name == 'posix' or ".repeat(1000));
        assert_eq!(
            parse_requirement(&long).unwrap_err(),
            Pep508Error::TooLong { len: long.len() }
        );
        let nested = |depth: usize| {
            format!(
                "six ; {}os_name == 'posix'{}",
                "(".repeat(depth),
                ")".repeat(depth)
            )
        };
        assert!(parse_requirement(&nested(MAX_NESTING)).is_ok());
        assert_eq!(
            parse_requirement(&nested(MAX_NESTING + 1)).unwrap_err(),
            Pep508Error::TooDeep
        );
        // Parentheses inside a quoted string do not count.
        let quoted = format!("six ; os_name == '{}'", "(".repeat(100));
        assert!(parse_requirement(&quoted).is_ok());
    }

    #[test]
    fn other_errors_are_the_parser_s() {
        assert!(matches!(
            parse_requirement("six >="),
            Err(Pep508Error::Syntax(_))
        ));
        assert!(matches!(
            parse_requirement("six ; os_name == 'x"),
            Err(Pep508Error::Syntax(_))
        ));
    }

    /// Seeded random markers over every kind of variable, operator and value, evaluated and
    /// simplified: the guard plus pep508_rs must never panic (300,000 rounds ran clean once; this
    /// keeps 20,000 as a regression check).
    #[test]
    fn random_markers_never_panic() {
        let operands = [
            "os_name",
            "python_version",
            "python_full_version",
            "extra",
            "extras",
            "sys.platform",
            "platform_release",
            "implementation_version",
            "platform_version",
            "'3.11'",
            "'posix'",
            "'x'",
            "'1.0.*'",
            "''",
            "'==1'",
            "'a b'",
            "dependency_groups",
        ];
        let operators = [
            "==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in",
        ];
        let mut random = fastrand::Rng::with_seed(7);
        let mut pick = |items: &[&'static str]| items[random.usize(..items.len())];
        for _ in 0..20_000 {
            let mut text = String::from("six ; ");
            for index in 0..4 {
                if index > 0 {
                    text.push_str(pick(&[" and ", " or ", " and ("]));
                }
                text.push_str(&format!(
                    "{} {} {}",
                    pick(&operands),
                    pick(&operators),
                    pick(&operands)
                ));
            }
            let outcome = std::panic::catch_unwind(|| {
                if let Ok(requirement) = parse_requirement(&text) {
                    let extra = ["x".parse().unwrap()];
                    let simplified = requirement.marker.clone().simplify_extras(&extra);
                    (
                        requirement.marker.evaluate(&env(), &extra),
                        simplified.try_to_string(),
                        requirement.marker.negate().try_to_string(),
                    )
                } else {
                    (false, None, None)
                }
            });
            assert!(outcome.is_ok(), "panicked on `{text}`");
        }
    }

    #[test]
    fn index_metadata_with_ordered_wildcards_is_read_as_uv_reads_it() {
        for (text, expected) in [
            ("numpy>=1.19.*", "numpy>=1.19"),
            ("PyYAML>=5.1.*", "pyyaml>=5.1"),
            ("foo<2.*,>=1.0", "foo>=1.0,<2"),
        ] {
            assert!(parse_requirement(text).is_err(), "{text} is not PEP 440");
            let requirement = parse_index_requirement(text).unwrap();
            assert_eq!(
                requirement.to_string().to_lowercase().replace(' ', ""),
                expected.to_lowercase(),
                "{text}"
            );
        }
        // Valid wildcards are untouched, and text that is broken otherwise stays an error.
        assert_eq!(drop_ordered_wildcards("six==1.*"), "six==1.*");
        assert_eq!(drop_ordered_wildcards("six!=1.2.*"), "six!=1.2.*");
        assert!(parse_index_requirement("numpy>=>1.19.*").is_err());
    }

    #[test]
    fn names_and_extras_ending_badly_and_non_ascii_are_errors_not_panics() {
        for text in [
            "six_ ; os_name == \"posix\"",
            "a- x",
            "b- ; extra == \"x\"",
            "requests[socks_",
            "requests[security,socks.]>=2",
        ] {
            let error = parse_requirement(text).unwrap_err();
            assert!(
                error.to_string().contains("is not a valid name"),
                "{text}: {error}"
            );
        }
        let error = parse_requirement("a ; os_name == \"x\" \u{e9}").unwrap_err();
        assert!(error.to_string().contains("non-ASCII"), "{error}");
        // Non-ASCII inside quotes and ordinary names stay fine.
        assert!(parse_requirement("a ; os_name == \"\u{e9}\"").is_ok());
        assert!(parse_requirement("zope.interface[test]>=5").is_ok());
        assert!(parse_requirement("a-b_c.d").is_ok());
    }
}
