//! Entry points for the fuzz targets in `fuzz/` and for `tests/fuzz_regressions.rs`, which replays their
//! corpora and crash inputs on stable Rust without libFuzzer.
//!
//! Each function feeds arbitrary bytes to one reader of untrusted input, as the program reads it, and
//! drops the result: the only property checked is that no input panics, overflows the stack or hangs.
//! They are thin on purpose (no parsing logic of their own), so that a crash found through them is a
//! crash of the program. Not part of the supported API.

use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName};

use crate::requirements::pep508::{parse_index_requirement, parse_requirement};
use reqwest::Url;
use version_ranges::Ranges;

use crate::index::{range, simple_html, simple_json};
use crate::registry::{
    Digest, ImageConfigBlob, ImageReference, Manifest, Repository, auth, link, media,
};
use crate::resolve::{Policy, Target, VersionMap};
use crate::tags::{Arch, DistFilename, Platform, PythonVersion, SdistFilename, WheelFilename};

/// What a fuzz target calls with each input.
pub type FuzzEntry = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and the folders under `fuzz/corpus` and
/// `fuzz/regressions` are named.
pub const TARGETS: &[(&str, FuzzEntry)] = &[
    ("requirements", requirements),
    ("marker", marker),
    ("filename", filename),
    ("metadata", metadata),
    ("simple_json", simple_json_page),
    ("simple_html", simple_html_page),
    ("page_cache", page_cache),
    ("selection_cache", selection_cache),
    ("zip_metadata", zip_metadata),
    ("pylock", pylock),
    ("config", config),
    ("registry_json", registry_json),
    ("registry_text", registry_text),
];

/// The project a fuzzed index page is listed under: a name whose files spell it differently
/// (`typing_extensions-4.12.2-…`), so that name normalization is on the path.
const PAGE_PROJECT: &str = "typing-extensions";

/// A file name in a folder that does not exist: relative includes fail fast instead of reading the disk.
const MISSING_FILE: &str = "/nonexistent/fave-lock-fuzz/input";

/// The image target most locks are written for: CPython 3.11 on x86_64 with glibc 2.36.
fn target() -> Target {
    let platform = Platform::new(Arch::X86_64, (2, 36)).expect("glibc 2.36 has manylinux wheels");
    let python = PythonVersion {
        major: 3,
        minor: 11,
    };
    Target::new("linux/amd64", python, platform)
}

/// A requirements file (`-r` includes resolve next to a file that does not exist).
pub fn requirements(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::requirements::parse_str(text, Path::new(MISSING_FILE));
    }
}

/// A PEP 508 requirement, or a bare marker, as index metadata and requirements files carry them: parsed
/// the way fave-lock parses them (through its guard, `requirements::pep508`), evaluated for the target
/// with and without an extra, and printed.
pub fn marker(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let environment = target().markers;
    let extras = [ExtraName::from_str("test").expect("a valid extra")];
    let markers = parse_requirement(text)
        .map(|requirement| requirement.marker)
        .into_iter()
        .chain(parse_requirement(&format!("fuzz ; {text}")).map(|requirement| requirement.marker));
    for marker in markers {
        let _ = marker.evaluate(&environment, &extras);
        let _ = marker.evaluate(&environment, &[]);
        let simplified = marker.clone().simplify_extras_with(|_| true);
        let _ = simplified.contents().map(|contents| contents.to_string());
    }
}

/// A file name from an index page: a wheel's tags matched against the target, an sdist's name and
/// version against the project named by the text before the first `-`.
pub fn filename(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(wheel) = WheelFilename::from_str(text) {
        let _ = target().tags.compatibility(&wheel);
        let _ = wheel.to_string();
    }
    let project = text.split('-').next().unwrap_or_default();
    if let Ok(project) = PackageName::from_str(project) {
        let _ = DistFilename::parse(text, &project);
        let _ = SdistFilename::parse(text, &project);
    }
}

/// A core metadata file, with its `Requires-Dist` and `Requires-Python` read as the resolver reads them.
pub fn metadata(data: &[u8]) {
    let Ok(metadata) = crate::index::metadata::parse(data) else {
        return;
    };
    let environment = target().markers;
    for text in &metadata.requires_dist {
        if let Ok(requirement) = parse_index_requirement(text) {
            let _ = requirement.marker.evaluate(&environment, &[]);
        }
    }
    if let Some(text) = &metadata.requires_python {
        let _ = VersionSpecifiers::from_str(text);
    }
}

/// The page's URL, as if fetched from PyPI (relative file URLs resolve against it).
fn page_url() -> Url {
    Url::parse("https://pypi.org/simple/typing-extensions/").expect("a valid URL")
}

/// What the resolver does with a page: group its files by release and pick each release's file for the
/// target.
fn select_files(page: &crate::index::ProjectPage) {
    let allow_sdist = crate::resolve::SdistPolicy::only([page.name.clone()]);
    let target = target();
    let policy = Policy {
        target: &target,
        exclude_newer: None,
        allow_sdist: &allow_sdist,
        allowed_hashes: None,
    };
    // The compact file list gives back every file as stored: building it again from them changes nothing.
    let files = crate::index::PageFiles::from(page.files.to_dist_files());
    assert_eq!(files, page.files, "the page's files round trip");
    let versions = VersionMap::new(page, &policy);
    let _ = versions.best(&Ranges::full(), false);
    let _ = versions.best_unusable(&Ranges::higher_than(Version::new([0])));
}

/// A PEP 691 JSON project page.
pub fn simple_json_page(data: &[u8]) {
    let name = PackageName::from_str(PAGE_PROJECT).expect("a valid name");
    if let Ok(page) = simple_json::parse(data, &page_url(), &name) {
        select_files(&page);
    }
}

/// A PEP 503 HTML project page.
pub fn simple_html_page(data: &[u8]) {
    let name = PackageName::from_str(PAGE_PROJECT).expect("a valid name");
    let html = String::from_utf8_lossy(data);
    select_files(&simple_html::parse(&html, &page_url(), &name));
}

/// An entry of the on-disk page cache.
pub fn page_cache(data: &[u8]) {
    if let Some(cached) = crate::index::page_codec::decode(data) {
        select_files(&cached.page);
    }
}

/// The payload of a stored file selection (`resolve::selection_cache`) for one target, then what the
/// solver asks of it. The payload's CRC is set to match the input first: a forged entry that passes
/// the check must still never panic, and the fuzzer would not find one that does by guessing CRCs.
pub fn selection_cache(data: &[u8]) {
    let mut bytes = data.to_vec();
    if bytes.len() >= 4 {
        let crc = crc32fast::hash(&bytes[4..]);
        bytes[..4].copy_from_slice(&crc.to_le_bytes());
    }
    let bytes = std::sync::Arc::new(bytes);
    if let Some(maps) = crate::resolve::selection_cache::decode(&bytes, 0, 1) {
        for map in &maps {
            let _ = map.best(&Ranges::full(), false);
            let _ = map.best_unusable(&Ranges::full());
            for unusable in map.unusable.values() {
                let _ = unusable.to_string();
            }
            for (version, _) in map.usable.iter().rev().take(3) {
                let _ = map.usable.get(version);
                let _ = map.usable.range(version.clone()..).count();
                let _ = map.next_below(&Ranges::full(), version, false, 2).len();
            }
        }
    }
}

/// METADATA read from a wheel's bytes through its zip directory, as range requests read it. The input is
/// a 2-byte little-endian length of the first read (the tail), the wheel's file name, a newline, and the
/// file's bytes.
pub fn zip_metadata(data: &[u8]) {
    let Some((tail, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Some(newline) = rest.iter().position(|&byte| byte == b'\n') else {
        return;
    };
    let Ok(wheel_filename) = std::str::from_utf8(&rest[..newline]) else {
        return;
    };
    let mut source = range::SliceSource(&rest[newline + 1..]);
    let tail_len = u64::from(u16::from_le_bytes(*tail));
    // The slice source never waits, so polling once on this thread completes the read.
    let read = range::read_metadata(&mut source, wheel_filename, tail_len);
    if let Ok(bytes) = futures::executor::block_on(read) {
        metadata(&bytes);
    }
}

/// A `pylock.toml` written by fave-lock.
pub fn pylock(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::lock::parse_pylock(text, Path::new(MISSING_FILE));
    }
}

/// A `fave-lock.toml`.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::load_str(text, Path::new(MISSING_FILE));
    }
}

/// A JSON body from a registry, read as each kind of registry JSON: a manifest under every content type,
/// an image config, a token answer, a Docker `config.json`.
pub fn registry_json(data: &[u8]) {
    let content_types = [
        None,
        Some(media::OCI_MANIFEST),
        Some(media::OCI_INDEX),
        Some(media::DOCKER_MANIFEST),
        Some(media::DOCKER_MANIFEST_LIST),
    ];
    for content_type in content_types {
        if let Ok(manifest) = Manifest::parse(data, content_type) {
            let _ = manifest.media_type();
        }
    }
    if let Ok(config) = ImageConfigBlob::parse(data) {
        let _ = config.platform().map(|platform| platform.to_string());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = auth::parse_docker_config(text);
    }
    if let Ok(token) = serde_json::from_slice::<auth::TokenResponse>(data) {
        let _ = token.token();
    }
}

/// A header or name from a registry or the user: digest, image reference, repository, tag,
/// `WWW-Authenticate` challenges, a `Link` header.
pub fn registry_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Digest::from_str(text);
    let _ = ImageReference::from_str(text).map(|reference| reference.to_string());
    let _ = Repository::from_str(text).map(|repository| repository.to_string());
    let _ = crate::registry::is_valid_tag(text);
    let _ = auth::parse_challenges(text);
    let page =
        Url::parse("http://127.0.0.1:5000/v2/fave-base/tags/list?n=100").expect("a valid URL");
    let _ = link::next_page(&page, text);
}
