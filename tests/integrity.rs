//! "Never a lock that lies": what `resolve` writes when the index lies about a hash or gives none,
//! against the local index serving real wheels. The config's images download every locked file and
//! check it (exit 3, previous lock untouched, on a lie or a missing hash); ad hoc runs hash what the index
//! gave no hash for, as pip-compile does, and check the rest with `--verify`.

mod support;

use std::path::Path;
use std::process::Output;

use support::demo::{self, FAKE_SHA256, SIX, SIX_SHA256};
use support::project::{Project, ad_hoc_resolve, text};

fn ad_hoc(dir: &Path, index_url: &str, extra: &[&str]) -> Output {
    ad_hoc_resolve(dir, index_url, Path::new("out.txt"), extra)
}

#[test]
fn a_lying_index_hash_fails_the_config_lock_with_exit_3_and_keeps_the_old_one() {
    let server = demo::index();
    let project = demo::resolved(&server, "six\n");
    let before = project.lock_files();
    server.set_sha256(SIX, FAKE_SHA256);
    // A page fetched now, not the one cached by the first run.
    let out = project.run(&["resolve", "--refresh"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(SIX) && stderr.contains(FAKE_SHA256),
        "{stderr}"
    );
    assert!(
        stderr.contains(SIX_SHA256),
        "the real hash is named: {stderr}"
    );
    assert_eq!(project.lock_files(), before, "the previous lock must stay");
    // Opting out trusts the index: the lie is written, which is what --no-verify asks for.
    let out = project.run(&["resolve", "-q", "--no-verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(project.lock_dir().join("requirements.txt")).unwrap();
    assert!(lock.contains(FAKE_SHA256), "{lock}");
}

#[test]
fn a_missing_index_hash_fails_the_config_lock_with_exit_3() {
    let server = demo::index();
    let project = demo::resolved(&server, "six\nidna\n");
    let before = project.lock_files();
    server.set_sha256(SIX, "");
    for flags in [&["resolve", "--refresh"][..], &["resolve", "--no-verify"]] {
        let out = project.run(flags);
        assert_eq!(out.status.code(), Some(3), "{flags:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("lists no sha256") && stderr.contains(SIX),
            "{stderr}"
        );
        assert_eq!(project.lock_files(), before, "the previous lock must stay");
    }
}

#[test]
fn ad_hoc_hashes_a_file_the_index_gives_no_hash_for() {
    let server = demo::index();
    server.set_sha256(SIX, "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.in"), "six\n").unwrap();
    let out = ad_hoc(dir.path(), &server.url(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(
        lock.contains(&format!("--hash=sha256:{SIX_SHA256}")),
        "the hash of the real bytes: {lock}"
    );
    let downloads = server
        .requests()
        .iter()
        // Whole downloads: the range read of its METADATA is not one.
        .filter(|request| {
            request.method == "GET" && request.path.ends_with(SIX) && request.range.is_none()
        })
        .count();
    assert_eq!(downloads, 1, "{:?}", server.requests());
}

#[test]
fn ad_hoc_verify_catches_a_lying_hash() {
    let server = demo::index();
    server.set_sha256(SIX, FAKE_SHA256);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.in"), "six\n").unwrap();
    std::fs::write(dir.path().join("out.txt"), "previous\n").unwrap();
    let out = ad_hoc(dir.path(), &server.url(), &["--verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "previous\n"
    );
}

#[test]
fn config_verify_downloads_each_locked_file_once_and_trusts_the_cache_after() {
    let server = demo::index();
    let project = Project::new(&server.url(), "six\n");
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let downloads = |server: &support::index_server::IndexServer| {
        server
            .requests()
            .iter()
            // Whole downloads: the range read of its METADATA is not one.
            .filter(|request| {
                request.method == "GET" && request.path.ends_with(SIX) && request.range.is_none()
            })
            .count()
    };
    assert_eq!(downloads(&server), 1, "{:?}", server.requests());
    server.clear_requests();
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(downloads(&server), 0, "the wheel cache holds it now");
}

#[test]
fn bytes_that_do_not_match_are_fetched_once_more_before_failing() {
    let server = demo::index();
    // One bad download (a flaky proxy): the second fetch matches, and the lock is written.
    server.corrupt_next_downloads(1);
    let project = Project::new(&server.url(), "six\n");
    let out = project.run(&["resolve", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lock = std::fs::read_to_string(project.lock_dir().join("requirements.txt")).unwrap();
    assert!(lock.contains(SIX_SHA256), "{lock}");
    // Bad twice in a row: an integrity failure, nothing written.
    let server = demo::index();
    server.corrupt_next_downloads(2);
    let project = Project::new(&server.url(), "six\n");
    let out = project.run(&["resolve"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(project.lock_files().is_empty(), "nothing written");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hash-mismatch"), "{stderr}");
}
