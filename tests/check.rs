//! `fave-lock check` end to end: the repo's own locks pass offline; a lock resolved by fave-lock against
//! the local test index (real wheel files) goes stale or fails integrity as the inputs and the index
//! change underneath it, with the exit code and message of each finding.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::demo::{FAKE_SHA256, IDNA, PACKAGING, SIX, index as server, json};
use support::index_server::{IndexServer, Wheel};
use support::project::{Project, text};

/// A project resolved by fave-lock itself against `server`: `six==1.16.0` pinned, `idna` and `packaging`
/// unpinned.
fn resolved(server: &IndexServer) -> Project {
    support::demo::resolved(server, "six==1.16.0\nidna\npackaging\n")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A wheel that is not on the fixture list: `base` with another version in its name and metadata.
fn release(base: &str, old: &str, new: &str) -> Wheel {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wheels");
    let bytes = std::fs::read(dir.join(base)).unwrap();
    let metadata = std::fs::read_to_string(dir.join(format!("{base}.metadata")))
        .unwrap()
        .replace(&format!("Version: {old}"), &format!("Version: {new}"));
    // The version is in the `.metadata` file only (advertised, so that is where it is read).
    Wheel::from_bytes(&base.replace(old, new), bytes, metadata.into_bytes())
        .advertise_metadata()
        .upload_time("2025-06-01T00:00:00Z")
}

#[test]
fn the_repos_own_locks_are_fresh_offline() {
    let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(["check", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("fave-base: fresh"), "{}", text(&out));
}

/// A lock does not depend on the folder `resolve` or `check` runs from: with `--config` naming the
/// repo's config from elsewhere (relative and absolute), the committed locks are still fresh.
#[test]
fn the_repos_own_locks_are_fresh_from_another_folder() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let elsewhere = tempfile::tempdir().unwrap();
    let relative = format!(
        "--config={}",
        pathdiff(elsewhere.path(), &repo.join("fave-lock.toml")).display()
    );
    for config in [
        format!("--config={}", repo.join("fave-lock.toml").display()),
        relative,
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fave-lock"))
            .args(["check", "--offline", &config])
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{config}: {}", text(&out));
        assert!(stdout(&out).contains("fave-vad: fresh"), "{}", text(&out));
    }
}

/// `to` as a path relative to the folder `from` (both absolute).
fn pathdiff(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path: PathBuf = std::iter::repeat_n("..", from.len() - common).collect();
    path.extend(&to[common..]);
    path
}

/// A copy of the repo's config, inputs and locks in a temp folder.
fn repo_copy() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("fave-lock.toml"),
        dir.path().join("fave-lock.toml"),
    )
    .unwrap();
    copy_dir(&root.join("base-image"), &dir.path().join("base-image"));
    copy_dir(&root.join("locks"), &dir.path().join("locks"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .args(args)
        .current_dir(dir)
        .env("FAVE_LOCK_CACHE_DIR", dir.join("cache"))
        .env_remove("FAVE_LOCK_INDEX_URL")
        .output()
        .unwrap()
}

#[test]
fn editing_a_requirements_line_of_the_repo_makes_its_lock_stale() {
    let dir = repo_copy();
    let input = dir.path().join("base-image/requirements.in");
    let text_before = std::fs::read_to_string(&input).unwrap();
    std::fs::write(
        &input,
        text_before.replace("minio==7.2.15", "minio==7.2.14"),
    )
    .unwrap();

    let out = run_in(dir.path(), &["check", "--offline", "--no-diff"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("stale [inputs-changed] fave-base:"),
        "{printed}"
    );
    assert!(
        printed.contains("fix: fave-lock resolve --image=fave-base"),
        "{printed}"
    );
    assert!(printed.contains("fave-stt: fresh"), "{printed}");

    let out = run_in(
        dir.path(),
        &["check", "--offline", "--no-diff", "--format", "github"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("::error file=base-image/requirements.in,title=fave-lock check%3A inputs-changed (fave-base)::"),
        "{}",
        text(&out)
    );

    // Only the named image is checked.
    let out = run_in(dir.path(), &["check", "--offline", "fave-stt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_lock_format_change_and_a_missing_lock_file_are_stale() {
    let dir = repo_copy();
    let pylock = dir.path().join("locks/fave-stt/pylock.toml");
    let lock = std::fs::read_to_string(&pylock).unwrap();
    std::fs::write(&pylock, lock.replace("lock-format = 1", "lock-format = 0")).unwrap();
    std::fs::remove_file(dir.path().join("locks/fave-base/sbom.cdx.json")).unwrap();

    let out = run_in(dir.path(), &["check", "--offline", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let codes: Vec<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|image| image["findings"].as_array().unwrap())
        .map(|finding| finding["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["lock-missing", "lock-format-changed"],
        "{}",
        text(&out)
    );
    assert_eq!(report["exit-code"], 1);
}

#[test]
fn a_config_error_exits_2_not_stale() {
    let dir = repo_copy();
    let out = run_in(dir.path(), &["check", "--offline", "no-such-image"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run_in(
        dir.path(),
        &["check", "--offline", "--config", "missing.toml"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_fresh_lock_passes_online_and_offline() {
    let server = server();
    let project = resolved(&server);
    for args in [&["check"][..], &["check", "--offline"]] {
        let out = project.run(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(stdout(&out), "demo: fresh\n", "{}", text(&out));
    }
    let out = project.run(&["check", "--format", "junit"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let xml = stdout(&out);
    assert!(
        xml.contains(r#"<testcase classname="fave-lock.demo" name="inputs">"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase classname="fave-lock.demo" name="index">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="0""#), "{xml}");
}

#[test]
fn an_input_change_shows_the_per_package_diff() {
    let server = server();
    let project = resolved(&server);
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna\n",
    )
    .unwrap();

    // The diff resolves in memory from the cache that `resolve` filled.
    let out = project.run(&["check", "--offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("stale [inputs-changed] demo:"),
        "{printed}"
    );
    assert!(
        printed.contains("  packaging 24.2 → (none) (input change)\n"),
        "{printed}"
    );
    // GitHub: the file-level annotation, then one on the line of each top-level package that moves.
    server.add(release(IDNA, "3.10", "3.11"));
    std::fs::write(
        project.root().join("requirements.in"),
        "six==1.16.0\nidna>=3.11\npackaging\n",
    )
    .unwrap();
    let out = project.run(&["check", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let errors: Vec<String> = stdout(&out)
        .lines()
        .filter(|line| line.starts_with("::error"))
        .map(str::to_string)
        .collect();
    assert_eq!(errors.len(), 2, "{}", text(&out));
    assert!(
        errors[0].starts_with("::error file=requirements.in,title=fave-lock check%3A inputs-changed (demo)::demo: the inputs changed"),
        "{}",
        text(&out)
    );
    assert_eq!(
        errors[1],
        "::error file=requirements.in,line=2,title=fave-lock check%3A inputs-changed (demo)::demo: idna 3.10 → 3.11 (input change). Fix: fave-lock resolve --image=demo"
    );
    // Nothing was written.
    assert!(
        std::fs::read_to_string(project.lock_dir().join("requirements.txt"))
            .unwrap()
            .contains("packaging==24.2")
    );
}

#[test]
fn a_yanked_file_is_stale_with_its_reason() {
    let server = server();
    let project = resolved(&server);
    server.yank(IDNA, Some("broken on 3.11"));

    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains(&format!(
            "stale [yanked] demo: idna==3.10: `{IDNA}` was yanked (reason: broken on 3.11); fix: fave-lock resolve --image=demo"
        )),
        "{printed}"
    );
    // With idna's only release yanked nothing can replace it: the diff says why, on one line.
    assert!(
        printed.contains("  (no per-package diff: the requirements cannot be resolved; run `fave-lock resolve --image=demo` for the full report)\n"),
        "{printed}"
    );

    // Once a newer release is out, the diff names it, and why the package moves.
    server.add(release(IDNA, "3.10", "3.11"));
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("  idna 3.10 → 3.11 (yank)\n"),
        "{}",
        text(&out)
    );
    // Offline skips the index.
    assert_eq!(project.run(&["check", "--offline"]).status.code(), Some(0));
}

#[test]
fn a_changed_hash_is_an_integrity_failure() {
    let server = server();
    let project = resolved(&server);
    server.set_sha256(SIX, FAKE_SHA256);

    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout(&out).contains("integrity [index-hash-mismatch] demo: six==1.16.0:"),
        "{}",
        text(&out)
    );

    let out = project.run(&["check", "--format", "github"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        stdout(&out).starts_with("::error file=requirements.in,line=1,title=fave-lock check%3A index-hash-mismatch (demo)::demo: six==1.16.0:"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_removed_file_is_stale() {
    let server = server();
    let project = resolved(&server);
    server.remove(PACKAGING);

    // The lock can no longer be installed, but no bytes changed: stale, as in `verify`.
    let out = project.run(&["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let finding = &report["images"][0]["findings"][0];
    assert_eq!(finding["code"], "not-on-index", "{report}");
    assert_eq!(finding["severity"], "stale");
    assert_eq!(finding["package"], "packaging");
    assert_eq!(finding["fix"], "fave-lock resolve --image=demo");
    assert_eq!(report["status"], "stale");
}

#[test]
fn a_newer_release_is_informational_and_stale_with_strict() {
    let server = server();
    let project = resolved(&server);
    server.add(release(IDNA, "3.10", "3.11"));
    // A newer minor release of the pinned six is outside its policy (patch releases only).
    server.add(release(SIX, "1.16.0", "1.17.0"));

    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains("info [newer-release] demo: idna==3.10: idna 3.11 is available (newer release; locked 3.10)"),
        "{printed}"
    );
    assert!(!printed.contains("six 1.17.0"), "{printed}");

    let out = project.run(&["check", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("stale [newer-release] demo: idna==3.10"),
        "{}",
        text(&out)
    );

    // A patch release of the pinned six is within policy.
    server.add(release(SIX, "1.16.0", "1.16.1"));
    let out = project.run(&["check"]);
    assert!(
        stdout(&out)
            .contains("six 1.16.1 is available (patch release of a pinned package; locked 1.16.0)"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_index_exits_2_not_stale() {
    let server = server();
    let project = resolved(&server);
    drop(server);
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[path = "serve_support/mod.rs"]
mod serve_support;

/// A resolved project whose image builds FROM `base:1.0` of a local registry and is published there as
/// `fave-base:0.1`.
fn resolved_with_registry(server: &IndexServer, registry: &serve_support::Registry) -> Project {
    support::demo::resolved_with_registry(server, &registry.authority())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn registry_findings_base_drift_and_not_rebuilt() {
    let registry = serve_support::Registry::start().await;
    let first = registry
        .push_image("base", &["1.0"], "linux/amd64", &[("version", "first")])
        .await;
    let server = server();
    let project = resolved_with_registry(&server, &registry);
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.lock_dir().join("build-plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["base_image"]["digest"], first.as_str(), "{plan}");

    // Nothing published yet, base unchanged: fresh.
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Published from the current lock: fresh; from another lock: not rebuilt.
    let lock_sha256 = serve_support::oci::sha256_hex(
        &std::fs::read(project.lock_dir().join("requirements.txt")).unwrap(),
    );
    registry
        .push_image(
            "fave-base",
            &["0.1"],
            "linux/amd64",
            &[("io.fave.lock.sha256", &lock_sha256)],
        )
        .await;
    // … but without its SBOM in the registry until `fave-lock attach`.
    let reference = format!("{}/fave-base:0.1", registry.authority());
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        stdout(&out).lines().next().unwrap_or_default(),
        format!(
            "stale [sbom-missing] demo: `{reference}` has no SBOM attached in the registry; fix: fave-lock attach demo {reference}"
        ),
        "{}",
        text(&out)
    );
    let attach = project.run(&["attach", "demo", &reference]);
    assert_eq!(attach.status.code(), Some(0), "{}", text(&attach));
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    registry
        .push_image(
            "fave-base",
            &["0.1"],
            "linux/amd64",
            &[("io.fave.lock.sha256", "0ld")],
        )
        .await;
    let out = project.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!(
            "stale [not-rebuilt] demo: `{}/fave-base:0.1` (linux/amd64) was built from lock sha256 0ld; the current lock is {lock_sha256}; fix: rebuild and push",
            registry.authority()
        )),
        "{}",
        text(&out)
    );

    // Move the base tag: base drift.
    registry
        .push_image(
            "fave-base",
            &["0.1"],
            "linux/amd64",
            &[("io.fave.lock.sha256", &lock_sha256)],
        )
        .await;
    let moved = registry
        .push_image("base", &["1.0"], "linux/amd64", &[("version", "second")])
        .await;
    assert_ne!(moved, first);
    let out = project.run(&["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let finding = &report["images"][0]["findings"][0];
    assert_eq!(finding["code"], "base-drift", "{report}");
    assert_eq!(
        finding["reason"],
        format!(
            "base image `{}/base:1.0` now points to {moved}; the build plan pins {first}",
            registry.authority()
        )
    );
    // Offline, and with --no-registry, the registry is not asked.
    assert_eq!(project.run(&["check", "--offline"]).status.code(), Some(0));
    assert_eq!(
        project.run(&["check", "--no-registry"]).status.code(),
        Some(0)
    );
}

/// Issue 14: an image labelled `sha256:<HEX>` (prefix, uppercase) was built from the lock `<hex>`: the
/// dashboard's tag badge always read it so, `check` compared the text literally and called it
/// not rebuilt. Both now ask one function, so the badge and the check card agree.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "registry: starts Debian's docker-registry (scripts/setup/serve-deps.sh); scripts/test.sh runs it"]
async fn a_prefixed_lock_label_is_fresh_on_the_badge_and_in_the_check() {
    let registry = serve_support::Registry::start().await;
    registry
        .push_image("base", &["1.0"], "linux/amd64", &[])
        .await;
    let server = server();
    let project = resolved_with_registry(&server, &registry);
    let lock_sha256 = serve_support::oci::sha256_hex(
        &std::fs::read(project.lock_dir().join("requirements.txt")).unwrap(),
    );
    let label = format!("sha256:{}", lock_sha256.to_uppercase());
    registry
        .push_image(
            "fave-base",
            &["0.1"],
            "linux/amd64",
            &[("io.fave.lock.sha256", &label)],
        )
        .await;
    let out = project.run(&["check", "--format", "json"]);
    let codes = |report: &serde_json::Value| -> Vec<String> {
        report["images"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|finding| finding["code"].as_str().unwrap().to_string())
            .collect()
    };
    // Fresh: only the SBOM is missing.
    let report = json(&out);
    assert_eq!(codes(&report), ["sbom-missing"], "{report:#}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    let serve = serve_support::Serve::start_indexed(
        project.root(),
        &project.cache_dir(),
        &server.url(),
        &[],
    )
    .await;
    let tag = serve.json("/api/images/demo/tags/0.1").await;
    assert_eq!(tag["freshness"], "fresh", "{tag:#}");
    let check = serve.json("/api/check").await;
    assert_eq!(codes(&check), codes(&report), "{check:#}");
}
