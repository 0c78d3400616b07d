//! Tests of the compact file list: every file comes back exactly as pushed, whatever its shape, and
//! what a page repeats is stored once.

use std::str::FromStr;

use pep508_rs::PackageName;
use reqwest::Url;

use super::*;

const REQUESTS: &str = include_str!("../../tests/fixtures/pages/requests.json");

fn file(filename: &str, url: &str) -> DistFile {
    DistFile {
        filename: filename.to_string(),
        url: url.to_string(),
        sha256: Some("0123456789abcdef".repeat(4)),
        size: Some(1234),
        upload_time: Some("2024-05-20T16:08:19.530618Z".parse().unwrap()),
        requires_python: Some(">=3.8".to_string()),
        yanked: None,
        core_metadata: true,
    }
}

fn round_trip(files: &[DistFile]) -> PageFiles {
    let compact: PageFiles = files.iter().cloned().collect();
    assert_eq!(compact.len(), files.len());
    assert_eq!(compact.to_dist_files(), files);
    for (index, original) in files.iter().enumerate() {
        let stored = compact.get(index).unwrap();
        assert_eq!(stored.fields(), original.fields(), "file {index}");
        assert_eq!(stored.url_len(), original.url.len(), "file {index}");
    }
    compact
}

#[test]
fn a_real_page_round_trips_and_shares_its_repeated_text() {
    let page_url = Url::parse("https://pypi.org/simple/requests/").unwrap();
    let name = PackageName::from_str("requests").unwrap();
    let page = super::super::simple_json::parse(REQUESTS.as_bytes(), &page_url, &name).unwrap();
    let files = page.files.to_dist_files();
    let compact = round_trip(&files);
    assert_eq!(compact, page.files);
    // One prefix (besides the empty one) for every file of files.pythonhosted.org.
    assert_eq!(
        &*compact.prefixes,
        [
            Box::from(""),
            Box::from("https://files.pythonhosted.org/packages/")
        ]
    );
    // Each filename is the end of its URL, so the text holds each URL once, less its prefix.
    let url_bytes: usize = files.iter().map(|file| file.url.len() - 40).sum();
    assert_eq!(compact.text.len(), url_bytes);
    // `>=3.7`, `>=3.8` (on three files) and two yank reasons (one with a trailing space), each once;
    // no hash needs text.
    assert_eq!(compact.strings.len(), 4);
}

#[test]
fn odd_files_come_back_exactly() {
    let mut no_hash = file("a-1.0.tar.gz", "https://h.example/a-1.0.tar.gz");
    no_hash.sha256 = None;
    no_hash.size = None;
    no_hash.upload_time = None;
    no_hash.requires_python = None;
    no_hash.core_metadata = false;
    let mut upper_hash = file("a-1.1.tar.gz", "https://h.example/a-1.1.tar.gz");
    upper_hash.sha256 = Some("ABCDEF0123456789".repeat(4));
    let mut short_hash = file("a-1.2.tar.gz", "https://h.example/a-1.2.tar.gz");
    short_hash.sha256 = Some("ab".to_string());
    let mut yanked = file("a-1.3.tar.gz", "https://h.example/a-1.3.tar.gz");
    yanked.yanked = Some(String::new());
    let mut extremes = file("a-1.4.tar.gz", "https://h.example/a-1.4.tar.gz");
    extremes.size = Some(u64::MAX);
    extremes.upload_time = Some(jiff::Timestamp::new(-1_000_000, -5).unwrap());
    let files = [
        no_hash,
        upper_hash,
        short_hash,
        yanked,
        extremes,
        // A query string after the filename, a filename the URL does not end with.
        file(
            "a-2.0-py3-none-any.whl",
            "https://h.example/download?file=a-2.0-py3-none-any.whl&x=1",
        ),
        file("a-2.1.tar.gz", "https://h.example/dl/12345"),
        // Percent-encoding: `+` in a local version is `%2B` in the URL.
        file(
            "a-2.2+local.tar.gz",
            "https://h.example/pkgs/x/a-2.2%2Blocal.tar.gz",
        ),
        // Not absolute (the parsers always resolve, but the model does not depend on it), no slash at
        // all, empty, and a URL that is nothing but the filename.
        file("a-3.0.tar.gz", "files/a-3.0.tar.gz"),
        file("a-3.1.tar.gz", "a-3.1.tar.gz"),
        file("", ""),
        file("a-3.2.tar.gz", ""),
        file("ünï-1.0.tar.gz", "https://h.example/ünï/ünï-1.0.tar.gz"),
        // The filename longer than what follows the prefix.
        file("example/a-3.3.tar.gz", "https://h.example/a-3.3.tar.gz"),
        // A URL that is its prefix alone, after one with that prefix; then the other host again.
        file("a-3.4.tar.gz", "https://h.example/pkgs/a-3.4.tar.gz"),
        file("a-3.5.tar.gz", "https://h.example/pkgs/"),
        file("a-3.6.tar.gz", "https://h.example/a-3.6.tar.gz"),
    ];
    let compact = round_trip(&files);
    // The two hashes that are not lower-case hex are kept as text, the rest as bytes.
    let as_text = compact
        .entries
        .iter()
        .filter(|entry| entry.flags & SHA256_TEXT != 0)
        .count();
    assert_eq!(as_text, 2);
}

#[test]
fn a_page_with_more_prefixes_than_fit_stores_the_rest_whole() {
    let files: Vec<DistFile> = (0..600)
        .map(|index| {
            file(
                &format!("a-{index}.tar.gz"),
                &format!("https://mirror{index}.example/pkgs/a-{index}.tar.gz"),
            )
        })
        .collect();
    let compact = round_trip(&files);
    assert_eq!(compact.prefixes.len(), MAX_PREFIXES);
    assert_eq!(
        compact
            .entries
            .iter()
            .filter(|entry| entry.prefix == 0)
            .count(),
        600 - (MAX_PREFIXES - 1)
    );
}

#[test]
fn equal_pages_compare_equal_and_any_difference_shows() {
    let files = vec![
        file("a-1.0.tar.gz", "https://h.example/x/a-1.0.tar.gz"),
        file("a-1.1.tar.gz", "https://other.example/y/a-1.1.tar.gz"),
    ];
    let compact = PageFiles::from(files.clone());
    assert_eq!(compact, PageFiles::from(files.clone()));
    let mut changed = files.clone();
    changed[1].yanked = Some("broken".to_string());
    assert_ne!(compact, PageFiles::from(changed));
    assert_ne!(compact, PageFiles::from(files[..1].to_vec()));
    let [first, second] = [compact.get(0).unwrap(), compact.get(1).unwrap()];
    assert!(first.is_same_entry(&compact.get(0).unwrap()));
    assert!(!first.is_same_entry(&second));
    assert!(compact.get(2).is_none());
}

#[test]
fn an_entry_stays_small() {
    // 115,107 files on home-assistant's pages: each byte here is 115 KB there.
    assert!(std::mem::size_of::<Entry>() <= 80);
}
