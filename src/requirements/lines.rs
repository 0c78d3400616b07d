//! Physical lines to logical lines: `\` continuations joined and `#` comments stripped, following pip's
//! `req_file.py` (`join_lines`, then `ignore_comments`) so that a file means here what it means to pip.

/// One logical line: text without comment or continuations, and the line where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogicalLine {
    /// 1-based number of the first physical line.
    pub line: usize,
    /// Trimmed text; never empty.
    pub text: String,
}

/// Split `contents` into logical lines, dropping blank and comment-only ones.
///
/// A line ending in `\` continues on the next one, joined without a separator, as pip does. A comment
/// line ends a continuation instead of being part of it, again as pip does, so commenting out the
/// last line of a continued requirement cannot swallow the requirement itself.
pub(super) fn logical_lines(contents: &str) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, physical) in contents.lines().enumerate() {
        let number = index + 1;
        let continues = physical.ends_with('\\') && !is_comment_line(physical);
        let piece = if continues {
            &physical[..physical.len() - 1]
        } else {
            physical
        };
        let (line, mut text) = pending.take().unwrap_or((number, String::new()));
        if !text.is_empty() && is_comment_line(piece) {
            // pip puts a space before a comment line that ends a continuation, so `six\` then
            // `#note` is `six #note`, a requirement and a comment, not `six#note`.
            text.push(' ');
        }
        text.push_str(piece);
        if continues {
            pending = Some((line, text));
        } else {
            push_logical(&mut lines, line, &text);
        }
    }
    if let Some((line, text)) = pending {
        push_logical(&mut lines, line, &text);
    }
    lines
}

fn push_logical(lines: &mut Vec<LogicalLine>, line: usize, text: &str) {
    let text = strip_comment(text).trim();
    if !text.is_empty() {
        lines.push(LogicalLine {
            line,
            text: text.to_string(),
        });
    }
}

/// Whether the line is only a comment (optionally indented).
fn is_comment_line(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Cut a `#` comment: one that starts the line or follows whitespace. A `#` inside a word is kept, so
/// a URL fragment (`…/pkg.whl#sha256=…`) or a marker string survives, as in pip's `COMMENT_RE`.
fn strip_comment(text: &str) -> &str {
    let mut previous_is_space = true;
    for (index, character) in text.char_indices() {
        if character == '#' && previous_is_space {
            return &text[..index];
        }
        previous_is_space = character.is_whitespace();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(contents: &str) -> Vec<(usize, String)> {
        logical_lines(contents)
            .into_iter()
            .map(|line| (line.line, line.text))
            .collect()
    }

    #[test]
    fn comments_and_blank_lines_are_dropped() {
        let contents =
            "# header\n\nnumpy==2.1.3  # pinned for torch\n   # indented comment\nscipy\n";
        assert_eq!(
            texts(contents),
            [(3, "numpy==2.1.3".into()), (5, "scipy".into())]
        );
    }

    #[test]
    fn hash_inside_a_word_is_not_a_comment() {
        let contents = "pkg @ https://example.org/pkg.whl#sha256=abc # trailing\n";
        assert_eq!(
            texts(contents),
            [(1, "pkg @ https://example.org/pkg.whl#sha256=abc".into())]
        );
    }

    #[test]
    fn continuations_join_and_keep_the_first_line() {
        let contents = "a\nnumpy>=1,\\\n<2 \\\n ; python_version >= '3.9'\nb\n";
        assert_eq!(
            texts(contents),
            [
                (1, "a".into()),
                (2, "numpy>=1,<2  ; python_version >= '3.9'".into()),
                (5, "b".into())
            ]
        );
    }

    #[test]
    fn a_comment_line_ends_a_continuation() {
        let contents = "numpy \\\n# ==2.1.3\nscipy\n";
        assert_eq!(texts(contents), [(1, "numpy".into()), (3, "scipy".into())]);
    }

    #[test]
    fn a_comment_line_glued_to_a_continuation_is_still_a_comment() {
        assert_eq!(
            texts("six\\\n#note\nidna\n"),
            [(1, "six".into()), (3, "idna".into())]
        );
    }

    #[test]
    fn a_comment_ending_in_backslash_does_not_continue() {
        assert_eq!(texts("# note \\\nnumpy\n"), [(2, "numpy".into())]);
    }

    #[test]
    fn continuation_on_the_last_line_is_kept() {
        assert_eq!(texts("numpy\\"), [(1, "numpy".into())]);
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            texts("numpy\r\nscipy # x\r\n"),
            [(1, "numpy".into()), (2, "scipy".into())]
        );
    }
}
