//! PEP 691 JSON project pages (`application/vnd.pypi.simple.v1+json`).
//!
//! Fields read per file: `filename`, `url`, `hashes.sha256`, `requires-python`, `size` and `upload-time`
//! (PEP 700), `yanked` (PEP 592: `true` or a reason string), and the PEP 658/714 metadata flag under its
//! current name `core-metadata` or its old name `dist-info-metadata` (a bool or a hash dict). Strings are
//! borrowed from the body while parsing, because pages are big (numpy's is 1.9 MB with 4,415 files).

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use pep508_rs::PackageName;
use reqwest::Url;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::model::ProjectPage;
use super::page_files::{FileFields, PageFiles, PageFilesBuilder};

/// The JSON API major version this parser understands; PEP 691 says clients must refuse another major.
const SUPPORTED_MAJOR: &str = "1";

/// The page's top level. Each file entry is stored as soon as it is read, so a big page never exists
/// twice over (entries as parsed, then as stored files): that doubled the parse's peak, 19 MB of a cold
/// resolve's 57 MB heap (heaptrack, base image).
struct PageSeed<'u> {
    page_url: &'u Url,
}

struct Parsed {
    files: PageFiles,
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "api-version", borrow)]
    api_version: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(default, borrow)]
    hashes: Option<Hashes<'a>>,
    #[serde(default, borrow)]
    requires_python: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, borrow)]
    upload_time: Option<Cow<'a, str>>,
    #[serde(default)]
    yanked: Option<Flag>,
    #[serde(default)]
    core_metadata: Option<Flag>,
    #[serde(default)]
    dist_info_metadata: Option<Flag>,
}

#[derive(Deserialize)]
struct Hashes<'a> {
    #[serde(default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

/// A PEP 592/658/714 value: `true`/`false`, a string (a yank reason) or an object (metadata hashes);
/// anything else is read and ignored. Objects are skipped without being built.
enum Flag {
    Bool(bool),
    Text(String),
    Object,
    Other,
}

/// Parse a PEP 691 page for `name` fetched from `page_url` (relative file URLs resolve against it).
pub(crate) fn parse(
    body: &[u8],
    page_url: &Url,
    name: &PackageName,
) -> Result<ProjectPage, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let page = PageSeed { page_url }
        .deserialize(&mut deserializer)
        .and_then(|page| deserializer.end().map(|()| page))
        .map_err(|error| format!("invalid JSON page: {error}"))?;
    if let Some(version) = &page.api_version
        && version.split('.').next() != Some(SUPPORTED_MAJOR)
    {
        return Err(format!("unsupported simple API version {version}"));
    }
    Ok(ProjectPage {
        name: name.clone(),
        files: page.files,
    })
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Parsed;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a PEP 691 project page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut files = None;
        let mut api_version = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "files" if files.is_none() => {
                    files = Some(map.next_value_seed(FilesSeed {
                        page_url: self.page_url,
                    })?);
                }
                "meta" => {
                    let meta: Option<Meta<'de>> = map.next_value()?;
                    api_version = meta.and_then(|meta| meta.api_version).map(Cow::into_owned);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let files = files.ok_or_else(|| serde::de::Error::missing_field("files"))?;
        Ok(Parsed { files, api_version })
    }
}

struct FilesSeed<'u> {
    page_url: &'u Url,
}

impl<'de> DeserializeSeed<'de> for FilesSeed<'_> {
    type Value = PageFiles;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PageFiles, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FilesSeed<'_> {
    type Value = PageFiles;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of files")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PageFiles, A::Error> {
        let mut files = PageFilesBuilder::default();
        while let Some(file) = seq.next_element::<File<'de>>()? {
            push(&mut files, file, self.page_url);
        }
        Ok(files.build())
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Flag, D::Error> {
        deserializer.deserialize_any(FlagVisitor)
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = Flag;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a flag, a string or an object")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Flag, E> {
        Ok(Flag::Bool(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Flag, E> {
        Ok(Flag::Text(value.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flag, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Flag::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Flag::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Flag, E> {
        Ok(Flag::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Flag, E> {
        Ok(Flag::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Flag, E> {
        Ok(Flag::Other)
    }

    fn visit_unit<E>(self) -> Result<Flag, E> {
        Ok(Flag::Other)
    }
}

/// Store one file entry; an entry whose URL cannot be resolved is left out (it could not be fetched
/// anyway).
fn push(files: &mut PageFilesBuilder, file: File<'_>, page_url: &Url) {
    let Some(url) = resolve_url(page_url, &file.url) else {
        return;
    };
    let metadata_flag = file.core_metadata.or(file.dist_info_metadata);
    files.push(FileFields {
        filename: &file.filename,
        url,
        sha256: file
            .hashes
            .and_then(|hashes| hashes.sha256)
            .and_then(|hash| normalize_sha256(&hash))
            .map(Cow::Owned),
        size: file.size,
        // A timestamp that does not parse is dropped rather than failing the whole page.
        upload_time: file
            .upload_time
            .and_then(|time| time.parse::<Timestamp>().ok()),
        requires_python: file.requires_python.as_deref(),
        yanked: match &file.yanked {
            // PEP 592 in JSON: `true` or a reason string means yanked.
            Some(Flag::Bool(true)) => Some(""),
            Some(Flag::Text(reason)) => Some(reason),
            _ => None,
        },
        // PEP 691/714: the metadata flag is `true` or a dict of hashes when the file exists.
        core_metadata: matches!(metadata_flag, Some(Flag::Bool(true) | Flag::Object)),
    });
}

/// `href` made absolute against `base`, without a fragment.
pub(crate) fn resolve_url<'a>(base: &Url, href: &'a str) -> Option<Cow<'a, str>> {
    if is_normal_absolute_url(href) {
        return Some(Cow::Borrowed(href));
    }
    let mut url = base.join(href).ok()?;
    url.set_fragment(None);
    Some(Cow::Owned(url.into()))
}

/// Whether `href` is an absolute `https` URL that URL parsing would give back unchanged, whatever the
/// base: PyPI's JSON pages give every file so, and parsing 59,000 of them was 18 % of a cold
/// resolve's instructions (callgrind, fastapi-template: `url::ParseOptions::parse` 496 M of 2,727 M). Anything the
/// parser could rewrite takes the slow path: a host that is not plain lower-case DNS (upper case, a
/// port, user info, a number the parser reads as IPv4), a byte it would percent-encode, a dot segment
/// (also spelled `%2e`), a backslash, a query or fragment.
fn is_normal_absolute_url(href: &str) -> bool {
    let Some(rest) = href.strip_prefix("https://") else {
        return false;
    };
    let bytes = rest.as_bytes();
    // The host: lower-case DNS labels, the last one not a number, none in punycode. One pass over
    // the bytes: this runs for every file of every page.
    let mut at = 0;
    let mut label_start = 0;
    let mut label_has_letter = false;
    loop {
        let byte = bytes.get(at).copied();
        match byte {
            Some(b'a'..=b'z') => label_has_letter = true,
            Some(b'0'..=b'9' | b'-') => {}
            Some(b'.' | b'/') | None => {
                let label = &bytes[label_start..at];
                if label.is_empty() || label.starts_with(b"xn--") {
                    return false;
                }
                if byte != Some(b'.') {
                    // The parser reads a host whose last label is a number as an IPv4 address.
                    if !label_has_letter || byte.is_none() {
                        return false;
                    }
                    break;
                }
                label_start = at + 1;
                label_has_letter = false;
            }
            Some(_) => return false,
        }
        at += 1;
    }
    // The path, from its first `/`: bytes the parser keeps as they are, no dot segment.
    let path = &bytes[at..];
    let mut segment_start = 1;
    for (index, &byte) in path.iter().enumerate().skip(1) {
        match byte {
            b'/' => {
                if is_dot_segment(&path[segment_start..index]) {
                    return false;
                }
                segment_start = index + 1;
            }
            b'%' => {
                // `%2e` is a dot to the parser.
                if path
                    .get(index + 1..index + 3)
                    .is_some_and(|hex| hex.eq_ignore_ascii_case(b"2e"))
                {
                    return false;
                }
            }
            _ if KEPT_IN_PATH[usize::from(byte)] => {}
            _ => return false,
        }
    }
    !is_dot_segment(&path[segment_start.min(path.len())..])
}

/// The bytes URL parsing keeps as they are in a path (besides `/` and `%`, handled apart).
const KEPT_IN_PATH: [bool; 256] = {
    let mut kept = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        kept[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        byte += 1;
    }
    kept
};

fn is_dot_segment(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

/// A SHA-256 as lower-case hex, or `None` when it is not 64 hex digits.
pub(crate) fn normalize_sha256(hash: &str) -> Option<String> {
    let hash = hash.trim();
    (hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .then(|| hash.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const REQUESTS: &str = include_str!("../../tests/fixtures/pages/requests.json");

    fn name() -> PackageName {
        PackageName::from_str("requests").unwrap()
    }

    fn page_url() -> Url {
        Url::parse("https://pypi.org/simple/requests/").unwrap()
    }

    /// Whatever `resolve_url`'s shortcut accepts, URL parsing gives back unchanged: checked on the
    /// fixture pages' URLs, on hand-picked traps, and on random strings over the characters that matter.
    #[test]
    fn the_url_shortcut_agrees_with_url_parsing() {
        let slow = |base: &Url, href: &str| {
            let mut url = base.join(href).ok()?;
            url.set_fragment(None);
            Some(String::from(url))
        };
        let base = page_url();
        let real: Vec<String> = parse(REQUESTS.as_bytes(), &base, &name())
            .unwrap()
            .files
            .to_dist_files()
            .into_iter()
            .map(|file| file.url)
            .collect();
        assert!(
            real.iter().all(|url| is_normal_absolute_url(url)),
            "{real:?}"
        );
        let traps = [
            "https://files.pythonhosted.org/packages/a/b.whl",
            "https://Files.example/a.whl",
            "https://files.example:443/a.whl",
            "https://user@files.example/a.whl",
            "https://1.2.3.4/a.whl",
            "https://0x7f.1/a.whl",
            "https://files.example/a/../b.whl",
            "https://files.example/a/%2E%2e/b.whl",
            "https://files.example/a/./b.whl",
            "https://files.example/a b.whl",
            "https://files.example/a\\b.whl",
            "https://files.example/a.whl#sha256=00",
            "https://files.example/a.whl?x=1",
            "https://files.example",
            "https://xn--nxasmq6b.example/a.whl",
            "https://files.example/%zz/a.whl",
            "https://files..example/a.whl",
            "http://files.example/a.whl",
            "/packages/a.whl",
            "../../packages/a.whl",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        let mut pick = |alphabet: &str, max: usize| -> String {
            let alphabet: Vec<char> = alphabet.chars().collect();
            let len = rng.usize(0..=max);
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        };
        // Mostly hosts of DNS-ish characters and a path, some of it anything at all.
        let random: Vec<String> = (0..20_000)
            .map(|round| match round % 4 {
                0 => format!("https://{}", pick("ab9.-/%2eE:@?#\\ XN~+", 24)),
                1 => format!("https://{}/{}", pick("ab9.-", 10), pick("ab9.-/~+%:", 16)),
                _ => format!(
                    "https://{}/{}",
                    pick("ab9.-ab9.-X:", 10),
                    pick("ab9.-/%2eE:@?#\\ ~+é", 16)
                ),
            })
            .collect();
        let mut accepted = 0;
        for href in real
            .into_iter()
            .chain(traps.map(String::from))
            .chain(random)
        {
            if is_normal_absolute_url(&href) {
                accepted += 1;
                assert_eq!(slow(&base, &href).as_deref(), Some(href.as_str()), "{href}");
            }
            assert_eq!(
                resolve_url(&base, &href).map(Cow::into_owned),
                slow(&base, &href),
                "{href}"
            );
        }
        assert!(
            accepted > 1_000,
            "the random strings exercise the shortcut ({accepted})"
        );
    }

    #[test]
    fn parses_a_trimmed_real_page() {
        let page = parse(REQUESTS.as_bytes(), &page_url(), &name()).unwrap();
        let files = page.files.to_dist_files();
        assert_eq!(files.len(), 5);
        let sdist = &files[0];
        assert_eq!(sdist.filename, "requests-0.2.0.tar.gz");
        assert_eq!(sdist.requires_python, None);
        assert_eq!(sdist.yanked, None);
        assert_eq!(sdist.size, Some(5533));
        assert_eq!(
            sdist.upload_time,
            Some("2011-02-14T08:49:42.641660Z".parse().unwrap())
        );
        let yanked = &files[2];
        assert_eq!(yanked.filename, "requests-2.32.0-py3-none-any.whl");
        assert_eq!(yanked.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            yanked.yanked.as_deref(),
            Some("Yanked due to conflicts with CVE-2024-35195 mitigation")
        );
        assert_eq!(
            yanked.sha256.as_deref(),
            Some("f2c3881dddb70d056c5bd7600a4fae312b2a300e39be6a118d30b90bd27262b5")
        );
        assert!(
            yanked
                .url
                .starts_with("https://files.pythonhosted.org/packages/24/e8/")
        );
        assert!(!yanked.core_metadata);
    }

    #[test]
    fn reads_flags_relative_urls_and_odd_values() {
        let body = r##"{"meta": {"api-version": "1.3"}, "files": [
            {"filename": "a-1.0-py3-none-any.whl", "url": "../../files/a-1.0-py3-none-any.whl#sha256=00",
             "hashes": {"sha256": "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", "md5": "x"},
             "yanked": true, "core-metadata": {"sha256": "00"}, "upload-time": "not a time"},
            {"filename": "a-1.1.tar.gz", "url": "https://h.example/a-1.1.tar.gz", "hashes": {"sha256": "short"},
             "yanked": false, "dist-info-metadata": true, "requires-python": "&gt;=3.8"},
            {"filename": "a-1.2.tar.gz", "url": "https://h.example/a-1.2.tar.gz", "core-metadata": false,
             "dist-info-metadata": true, "unknown-field": [1, 2]}
        ]}"##;
        let page = parse(body.as_bytes(), &page_url(), &name()).unwrap();
        let files = page.files.to_dist_files();
        let [first, second, third] = files.as_slice() else {
            panic!("{page:?}")
        };
        assert_eq!(first.url, "https://pypi.org/files/a-1.0-py3-none-any.whl");
        assert_eq!(
            first.sha256.as_deref(),
            Some(&*"abcdef0123456789".repeat(4))
        );
        assert_eq!(first.yanked.as_deref(), Some(""));
        assert!(first.core_metadata);
        assert_eq!(first.upload_time, None);
        assert_eq!(second.sha256, None);
        assert!(second.core_metadata);
        assert_eq!(second.yanked, None);
        // JSON carries no HTML entities: the value is kept as written.
        assert_eq!(second.requires_python.as_deref(), Some("&gt;=3.8"));
        // `core-metadata` wins over the older name (PEP 714).
        assert!(!third.core_metadata);
    }

    #[test]
    fn reads_entries_in_any_key_order_escaped_keys_and_odd_flag_types() {
        // PyPI writes `meta` after `files`; a key may be escaped; flags of other types mean "no".
        let body = r#"{"files": [
            {"fil\u0065name": "a-1.0.tar.gz", "url": "https://h.example/a-1.0.tar.gz", "yanked": 1,
             "core-metadata": [true], "extra": {"nested": [{"x": null}]}},
            {"filename": "a-2.0.tar.gz", "url": "https://h.example/a-2.0.tar.gz", "yanked": null,
             "core-metadata": null, "dist-info-metadata": {"sha256": "00"}}
        ], "name": "a", "versions": ["1.0", "2.0"], "meta": {"api-version": "1.1"}}"#;
        let page = parse(body.as_bytes(), &page_url(), &name()).unwrap();
        let files = page.files.to_dist_files();
        let [first, second] = files.as_slice() else {
            panic!("{page:?}")
        };
        assert_eq!(first.filename, "a-1.0.tar.gz");
        assert_eq!(
            (first.yanked.as_deref(), first.core_metadata),
            (None, false)
        );
        // A null `core-metadata` is no value: the older name then answers.
        assert_eq!(
            (second.yanked.as_deref(), second.core_metadata),
            (None, true)
        );
        let late_v2 = r#"{"files": [], "meta": {"api-version": "2.0"}}"#;
        assert!(parse(late_v2.as_bytes(), &page_url(), &name()).is_err());
        let trailing = r#"{"files": []} {"files": []}"#;
        assert!(parse(trailing.as_bytes(), &page_url(), &name()).is_err());
    }

    #[test]
    fn refuses_garbage_and_other_major_versions() {
        for body in [
            "",
            "{",
            "[]",
            "{\"files\": 3}",
            "{\"files\": [{\"url\": 1}]}",
            "\u{0}",
        ] {
            assert!(
                parse(body.as_bytes(), &page_url(), &name()).is_err(),
                "{body:?}"
            );
        }
        let v2 = r#"{"meta": {"api-version": "2.0"}, "files": []}"#;
        assert_eq!(
            parse(v2.as_bytes(), &page_url(), &name()).unwrap_err(),
            "unsupported simple API version 2.0"
        );
    }
}
