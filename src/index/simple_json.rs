//! PEP 691 JSON project pages (`application/vnd.pypi.simple.v1+json`).
//!
//! Fields read per file: `filename`, `url`, `hashes.sha256`, `requires-python`, `size` and `upload-time`
//! (PEP 700), `yanked` (PEP 592: `true` or a reason string), and the PEP 658/714 metadata flag under its
//! current name `core-metadata` or its old name `dist-info-metadata` (a bool or a hash dict). Strings are
//! borrowed from the body while parsing, because pages are big (numpy's is 1.9 MB with 4,415 files).

use std::borrow::Cow;

use jiff::Timestamp;
use pep508_rs::PackageName;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::model::{DistFile, ProjectPage};

/// The JSON API major version this parser understands; PEP 691 says clients must refuse another major.
const SUPPORTED_MAJOR: &str = "1";

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    files: Vec<File<'a>>,
    #[serde(default, borrow)]
    meta: Option<Meta<'a>>,
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
    yanked: Option<Value>,
    #[serde(default)]
    core_metadata: Option<Value>,
    #[serde(default)]
    dist_info_metadata: Option<Value>,
}

#[derive(Deserialize)]
struct Hashes<'a> {
    #[serde(default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

/// Parse a PEP 691 page for `name` fetched from `page_url` (relative file URLs resolve against it).
pub(crate) fn parse(
    body: &[u8],
    page_url: &Url,
    name: &PackageName,
) -> Result<ProjectPage, String> {
    let page: Page =
        serde_json::from_slice(body).map_err(|error| format!("invalid JSON page: {error}"))?;
    let version = page
        .meta
        .as_ref()
        .and_then(|meta| meta.api_version.as_deref());
    if let Some(version) = version
        && version.split('.').next() != Some(SUPPORTED_MAJOR)
    {
        return Err(format!("unsupported simple API version {version}"));
    }
    let files = page
        .files
        .into_iter()
        .filter_map(|file| convert(file, page_url))
        .collect();
    Ok(ProjectPage {
        name: name.clone(),
        files,
    })
}

/// One file entry; `None` for an entry whose URL cannot be resolved (it could not be fetched anyway).
fn convert(file: File<'_>, page_url: &Url) -> Option<DistFile> {
    let url = resolve_url(page_url, &file.url)?;
    let metadata_flag = file.core_metadata.or(file.dist_info_metadata);
    Some(DistFile {
        filename: file.filename.into_owned(),
        url,
        sha256: file
            .hashes
            .and_then(|hashes| hashes.sha256)
            .and_then(|hash| normalize_sha256(&hash)),
        size: file.size,
        // A timestamp that does not parse is dropped rather than failing the whole page.
        upload_time: file
            .upload_time
            .and_then(|time| time.parse::<Timestamp>().ok()),
        requires_python: file.requires_python.map(Cow::into_owned),
        yanked: yanked(file.yanked),
        core_metadata: metadata_flag.is_some_and(|flag| is_truthy_flag(&flag)),
    })
}

/// PEP 592 in JSON: `true` or a reason string means yanked.
fn yanked(value: Option<Value>) -> Option<String> {
    match value? {
        Value::Bool(true) => Some(String::new()),
        Value::String(reason) => Some(reason),
        _ => None,
    }
}

/// PEP 691/714: the metadata flag is `true` or a dict of hashes when the file exists.
fn is_truthy_flag(value: &Value) -> bool {
    matches!(value, Value::Bool(true) | Value::Object(_))
}

/// `href` made absolute against `base`, without a fragment.
pub(crate) fn resolve_url(base: &Url, href: &str) -> Option<String> {
    let mut url = base.join(href).ok()?;
    url.set_fragment(None);
    Some(url.into())
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

    #[test]
    fn parses_a_trimmed_real_page() {
        let page = parse(REQUESTS.as_bytes(), &page_url(), &name()).unwrap();
        assert_eq!(page.files.len(), 5);
        let sdist = &page.files[0];
        assert_eq!(sdist.filename, "requests-0.2.0.tar.gz");
        assert_eq!(sdist.requires_python, None);
        assert_eq!(sdist.yanked, None);
        assert_eq!(sdist.size, Some(5533));
        assert_eq!(
            sdist.upload_time,
            Some("2011-02-14T08:49:42.641660Z".parse().unwrap())
        );
        let yanked = &page.files[2];
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
        let [first, second, third] = page.files.as_slice() else {
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
