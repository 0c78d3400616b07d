//! PEP 503 HTML project pages, for indexes that do not speak PEP 691 JSON.
//!
//! Only anchors matter: `href` (with an optional `#sha256=` fragment), `data-requires-python` (HTML-escaped:
//! `&gt;=3.8`), `data-yanked` (PEP 592, the value is the reason), and the PEP 658/714 metadata flag
//! `data-core-metadata` or its old name `data-dist-info-metadata`. A `<base href>` changes how relative links
//! resolve, as in any browser.
//!
//! The reader is a small hand-written scanner rather than an HTML parser: it only needs start tags, their
//! attributes and an anchor's text, and it must accept anything without panicking (every slice is taken with
//! `str::get`). Comments are skipped so a commented-out link does not count.

use std::borrow::Cow;

use pep508_rs::PackageName;
use reqwest::Url;

use super::model::{DistFile, ProjectPage};
use super::page_files::PageFilesBuilder;
use super::simple_json::{normalize_sha256, resolve_url};

/// A start tag: lower-cased name, attributes with decoded values, and the byte offsets of its `<` and
/// after its `>`.
struct Tag<'a> {
    name: String,
    attributes: Vec<(String, Option<Cow<'a, str>>)>,
    start: usize,
    end: usize,
}

impl Tag<'_> {
    /// The attribute `name`: `None` when absent, `Some(None)` when present without a value.
    fn attribute(&self, name: &str) -> Option<Option<&str>> {
        let (_, value) = self.attributes.iter().find(|(key, _)| key == name)?;
        Some(value.as_deref())
    }
}

/// Parse a PEP 503 page for `name` fetched from `page_url`. Never fails: anything that is not a usable
/// anchor is ignored.
pub(crate) fn parse(html: &str, page_url: &Url, name: &PackageName) -> ProjectPage {
    let mut base = page_url.clone();
    let mut files = PageFilesBuilder::default();
    let mut tags = Tags { html, position: 0 };
    while let Some(tag) = tags.next() {
        match tag.name.as_str() {
            "base" => {
                if let Some(Some(href)) = tag.attribute("href") {
                    base = base.join(href).unwrap_or(base);
                }
            }
            "a" => {
                let (text, after) = anchor_text(html, tag.end);
                tags.position = after;
                if let Some(file) = dist_file(&tag, &text, &base) {
                    files.push(file.fields());
                }
            }
            _ => {}
        }
    }
    ProjectPage {
        name: name.clone(),
        files: files.build(),
    }
}

/// Whether `html` presents itself as a simple API project page: it has PEP 629's
/// `pypi:repository-version` meta tag, or a title or heading "Links for …" (which warehouse, pypiserver,
/// devpi, Artifactory, Nexus and GitLab all write), or it links at least one distribution file. A page
/// with none of these, answered with status 200, is an error page, a login portal or the like.
pub(crate) fn is_project_page(html: &str, page: &ProjectPage) -> bool {
    const DISTRIBUTION_SUFFIXES: [&str; 8] = [
        ".whl", ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".egg",
    ];
    let links_a_distribution = page.files.iter().any(|file| {
        let filename = file.filename().to_ascii_lowercase();
        DISTRIBUTION_SUFFIXES
            .iter()
            .any(|suffix| filename.ends_with(suffix))
    });
    if links_a_distribution {
        return true;
    }
    for tag in (Tags { html, position: 0 }) {
        let marked = match tag.name.as_str() {
            "meta" => tag
                .attribute("name")
                .flatten()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("pypi:repository-version")),
            "title" | "h1" => text_before_tag(html, tag.end)
                .trim_start()
                .get(..9)
                .is_some_and(|start| start.eq_ignore_ascii_case("links for")),
            _ => false,
        };
        if marked {
            return true;
        }
    }
    false
}

/// The start of a page's text as a reader sees it (tags, comments, scripts and styles left out,
/// whitespace collapsed), at most `max_chars` characters, `…` marking a cut: enough to recognise an
/// error page by ("502 Bad Gateway nginx").
pub(crate) fn text_snippet(html: &str, max_chars: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    // The length of the words so far with a space after each. Collecting stops well past `max_chars`,
    // so that a repeated title can be dropped and a cut still shows.
    let mut chars = 0;
    let enough = 2 * max_chars + 2;
    let mut tags = Tags { html, position: 0 };
    let mut text_start = 0;
    loop {
        let tag = tags.next();
        let text_end = tag.as_ref().map_or(html.len(), |tag| tag.start);
        // Text between tags; end tags and doctypes (which the scanner skips) are cut out of it.
        let text = html.get(text_start..text_end).unwrap_or_default();
        for word in text.split('<').enumerate().flat_map(|(index, piece)| {
            let visible = if index == 0 {
                piece
            } else {
                piece.split_once('>').map_or("", |(_, after)| after)
            };
            visible.split_whitespace()
        }) {
            if chars >= enough {
                break;
            }
            let word = decode_entities(word);
            chars += word.chars().count() + 1;
            words.push(word.into_owned());
        }
        let Some(tag) = tag else { break };
        if chars >= enough {
            break;
        }
        text_start = tag.end;
        if matches!(tag.name.as_str(), "script" | "style") {
            let close = format!("</{}", tag.name);
            let end = find_ignore_case(html, &close, tag.end).unwrap_or(html.len());
            tags.position = end;
            text_start = end;
        }
    }
    // Error pages often repeat their title as the first heading ("502 Bad Gateway 502 Bad Gateway").
    if let Some(half) = (1..=words.len() / 2).find(|&half| words[..half] == words[half..2 * half]) {
        words.drain(half..2 * half);
    }
    let text = words.join(" ");
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text,
    }
}

/// The start tags of a page in order, comments skipped. `position` may be moved ahead by the caller to
/// skip content.
struct Tags<'a> {
    html: &'a str,
    position: usize,
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        let html = self.html;
        while let Some(offset) = html.get(self.position..).and_then(|rest| rest.find('<')) {
            let start = self.position + offset;
            if html
                .get(start..)
                .is_some_and(|rest| rest.starts_with("<!--"))
            {
                self.position = find(html, "-->", start + 4).map_or(html.len(), |end| end + 3);
                continue;
            }
            match parse_tag(html, start) {
                Some(tag) => {
                    self.position = tag.end;
                    return Some(tag);
                }
                None => self.position = start + 1,
            }
        }
        self.position = html.len();
        None
    }
}

/// The `DistFile` an anchor describes, if it has a usable `href`.
fn dist_file(tag: &Tag<'_>, text: &str, base: &Url) -> Option<DistFile> {
    let href = tag.attribute("href")??;
    let joined = base.join(href).ok()?;
    let sha256 = joined
        .fragment()
        .and_then(|fragment| fragment.strip_prefix("sha256="))
        .and_then(normalize_sha256);
    let url = resolve_url(base, href)?.into_owned();
    let filename = match text.trim() {
        "" => joined.path_segments()?.next_back()?.to_string(),
        text => text.to_string(),
    };
    let requires_python = tag
        .attribute("data-requires-python")
        .flatten()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string);
    let yanked = tag
        .attribute("data-yanked")
        .map(|reason| reason.unwrap_or_default().to_string());
    let metadata_flag = tag
        .attribute("data-core-metadata")
        .or_else(|| tag.attribute("data-dist-info-metadata"));
    Some(DistFile {
        filename,
        url,
        sha256,
        size: None,
        upload_time: None,
        requires_python,
        yanked,
        core_metadata: metadata_flag.is_some_and(is_truthy_flag),
    })
}

/// PEP 658: the attribute is `true` or `<hash name>=<hex>`; a bare attribute counts as present.
fn is_truthy_flag(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None => true,
        Some(value) => value.eq_ignore_ascii_case("true") || value.contains('='),
    }
}

/// Parse the start tag at `start` (the `<`). `None` when no tag name follows (`</a>`, `<!DOCTYPE>`, `< `).
fn parse_tag(html: &str, start: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let name_start = start + 1;
    let mut index = name_start;
    while bytes.get(index).is_some_and(u8::is_ascii_alphanumeric) {
        index += 1;
    }
    if index == name_start {
        return None;
    }
    let name = html.get(name_start..index)?.to_ascii_lowercase();
    let mut attributes = Vec::new();
    loop {
        while bytes
            .get(index)
            .is_some_and(|&byte| byte.is_ascii_whitespace() || byte == b'/')
        {
            index += 1;
        }
        match bytes.get(index) {
            None => break,
            Some(b'>') => {
                index += 1;
                break;
            }
            Some(_) => {
                let (attribute, next) = parse_attribute(html, index);
                attributes.push(attribute);
                index = next;
            }
        }
    }
    Some(Tag {
        name,
        attributes,
        start,
        end: index,
    })
}

/// Parse one attribute starting at `start` (not whitespace, `/` or `>`); returns it and the offset after it.
/// Always consumes at least one byte, so the caller's loop ends.
fn parse_attribute(html: &str, start: usize) -> ((String, Option<Cow<'_, str>>), usize) {
    let bytes = html.as_bytes();
    let is_name_end = |byte: u8| byte.is_ascii_whitespace() || matches!(byte, b'=' | b'>' | b'/');
    let mut index = start;
    while bytes.get(index).is_some_and(|&byte| !is_name_end(byte)) {
        index += 1;
    }
    let name = html
        .get(start..index)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut after_name = index;
    while bytes.get(after_name).is_some_and(u8::is_ascii_whitespace) {
        after_name += 1;
    }
    if bytes.get(after_name) != Some(&b'=') {
        // A bare attribute; a lone `/` or `>` right here is handled by the caller.
        return ((name, None), index.max(start + 1));
    }
    index = after_name + 1;
    while bytes.get(index).is_some_and(u8::is_ascii_whitespace) {
        index += 1;
    }
    let (raw, next) = match bytes.get(index) {
        Some(&quote @ (b'"' | b'\'')) => {
            let close = memchr(bytes, quote, index + 1).unwrap_or(bytes.len());
            (
                html.get(index + 1..close).unwrap_or_default(),
                (close + 1).min(bytes.len()),
            )
        }
        _ => {
            let mut end = index;
            while bytes
                .get(end)
                .is_some_and(|&byte| !byte.is_ascii_whitespace() && byte != b'>')
            {
                end += 1;
            }
            (html.get(index..end).unwrap_or_default(), end)
        }
    };
    ((name, Some(decode_entities(raw))), next.max(start + 1))
}

/// The decoded text of an anchor whose start tag ends at `start`, and where to continue scanning.
///
/// The text ends at the next tag, which is the anchor's `</a>` on any real index page. Stopping there,
/// rather than searching ahead for `</a>`, keeps the scan linear on a page full of unclosed anchors; an
/// anchor with markup inside loses its text, and its filename then comes from the URL.
fn anchor_text(html: &str, start: usize) -> (Cow<'_, str>, usize) {
    let text = text_before_tag(html, start);
    let text_end = start + text.len();
    let closes = html
        .as_bytes()
        .get(text_end..text_end + 3)
        .is_some_and(|tag| tag.eq_ignore_ascii_case(b"</a"));
    // Past `</a`; the `>` left over is plain text to the scanner, which only looks for `<`.
    let after = if closes { text_end + 3 } else { text_end };
    (decode_entities(text), after)
}

/// The raw text from `start` to the next tag (or the end).
fn text_before_tag(html: &str, start: usize) -> &str {
    let end = find(html, "<", start).unwrap_or(html.len());
    html.get(start..end).unwrap_or_default()
}

/// Decode the character references an index may use: the named ones PEP 503 pages need (`&lt;`, `&gt;`,
/// `&amp;`, `&quot;`, `&apos;`, `&nbsp;`) and numeric ones (`&#62;`, `&#x3E;`). Anything else stays as written.
pub(crate) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // The longest reference we decode is `&#x10FFFF;`; look no further for the `;`.
        let semicolon = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(index, _)| index);
        match semicolon.and_then(|semicolon| Some((entity(&rest[1..semicolon])?, semicolon))) {
            Some((character, semicolon)) => {
                decoded.push(character);
                rest = &rest[semicolon + 1..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    Cow::Owned(decoded)
}

/// The character a reference body (between `&` and `;`) stands for.
fn entity(body: &str) -> Option<char> {
    let code = if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else if let Some(decimal) = body.strip_prefix('#') {
        decimal.parse().ok()?
    } else {
        return match body {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => None,
        };
    };
    // HTML maps NUL, surrogates and out-of-range code points to U+FFFD.
    Some(
        char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or(char::REPLACEMENT_CHARACTER),
    )
}

/// The first `needle` in `html` at or after `from`.
fn find(html: &str, needle: &str, from: usize) -> Option<usize> {
    html.get(from..)?.find(needle).map(|offset| from + offset)
}

/// The first `needle` (ASCII) in `html` at or after `from`, in any case.
fn find_ignore_case(html: &str, needle: &str, from: usize) -> Option<usize> {
    let needle = needle.as_bytes();
    html.as_bytes()
        .get(from..)?
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
        .map(|offset| from + offset)
}

/// The first `byte` in `bytes` at or after `from`.
fn memchr(bytes: &[u8], byte: u8, from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&candidate| candidate == byte)
        .map(|offset| from + offset)
}

#[cfg(test)]
#[path = "simple_html_tests.rs"]
mod tests;
