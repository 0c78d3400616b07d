//! `fave-lock plan`: the committed plan against the committed locks, the flag formats a shell reads back,
//! and the exit codes for a changed lock (3) and for usage errors (2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fave_lock(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fave-lock"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fave-lock")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The words a POSIX shell makes of `flags` (as `eval "set -- $flags"` would).
fn shell_words(flags: &str) -> Vec<String> {
    let mut child = Command::new("sh")
        .args([
            "-c",
            r#"eval "set -- $(cat)"; for word in "$@"; do printf '%s\0' "$word"; done"#,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sh");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), flags.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "sh could not read the flags:\n{flags}"
    );
    text(&output.stdout)
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

/// `--flag NAME=value` pairs → `(NAME, value)`.
fn pairs(words: &[String], flag: &str) -> Vec<(String, String)> {
    assert_eq!(words.len() % 2, 0, "{words:?}");
    words
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], flag, "{words:?}");
            let (key, value) = pair[1].split_once('=').expect("NAME=value");
            (key.to_string(), value.to_string())
        })
        .collect()
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A copy of the repository's config, input and lock folder, to change without touching the repository.
fn copy_of_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("fave-lock.toml"),
        dir.path().join("fave-lock.toml"),
    )
    .unwrap();
    for folder in ["base-image", "locks/fave-base"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        for entry in std::fs::read_dir(repo().join(folder)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(
                    entry.path(),
                    dir.path().join(folder).join(entry.file_name()),
                )
                .unwrap();
            }
        }
    }
    dir
}

#[test]
fn build_args_of_the_committed_plan() {
    let output = fave_lock(repo(), &["plan", "fave-base", "--format", "build-args"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let args = pairs(&shell_words(&text(&output.stdout)), "--build-arg");
    let get = |name: &str| {
        args.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("no --build-arg {name} in {args:?}"))
    };
    let requirements: PathBuf = repo().join("locks/fave-base/requirements.txt");
    assert_eq!(get("LOCK_SHA256"), sha256_of(&requirements));
    assert!(
        get("BASE_IMAGE").starts_with("python:3.11-slim"),
        "{args:?}"
    );
    assert_eq!(get("PYTHON_VERSION"), "3.11");
    // The exact versions of apt.lock, each requested package among them.
    let apt_path = repo().join("locks/fave-base/apt.lock");
    let apt_lock =
        fave_lock::apt::AptLock::parse(&std::fs::read_to_string(&apt_path).unwrap(), &apt_path)
            .unwrap();
    let apt_packages = get("APT_PACKAGES");
    assert_eq!(
        apt_packages,
        apt_lock.install_args(&["amd64", "arm64"]).join(" ")
    );
    for name in ["ffmpeg", "libgl1", "libglib2.0-0", "libsndfile1"] {
        assert!(
            apt_packages
                .split(' ')
                .any(|pin| pin.starts_with(&format!("{name}="))),
            "{name} is not pinned: {apt_packages}"
        );
    }
    let header = std::fs::read_to_string(&requirements).unwrap();
    let input_hash = get("LOCK_INPUT_HASH");
    assert!(
        header.contains(&format!("# input-hash: {input_hash}")),
        "{input_hash}"
    );
    let mut names: Vec<&str> = args.iter().map(|(key, _)| key.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), args.len(), "each arg once: {names:?}");
}

#[test]
fn labels_and_revision() {
    let output = fave_lock(
        repo(),
        &[
            "plan",
            "fave-base",
            "--format",
            "labels",
            "--revision",
            "0123abcd",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let labels = pairs(&shell_words(&text(&output.stdout)), "--label");
    let requirements = repo().join("locks/fave-base/requirements.txt");
    assert!(
        labels.contains(&("io.fave.lock.sha256".into(), sha256_of(&requirements))),
        "{labels:?}"
    );
    assert!(labels.contains(&(
        "org.opencontainers.image.revision".into(),
        "0123abcd".into()
    )));
    assert!(labels.contains(&("org.opencontainers.image.version".into(), "0.1".into())));
    let output = fave_lock(repo(), &["plan", "fave-base", "--revision", "$(touch x)"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

#[test]
fn the_json_plan_is_the_committed_file() {
    let output = fave_lock(repo(), &["plan", "fave-base"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let committed = std::fs::read(repo().join("locks/fave-base/build-plan.json")).unwrap();
    assert_eq!(text(&output.stdout), text(&committed));
    let bake = fave_lock(repo(), &["plan", "fave-base", "--format", "bake"]);
    let committed = std::fs::read(repo().join("locks/fave-base/docker-bake.json")).unwrap();
    assert_eq!(text(&bake.stdout), text(&committed));
}

#[test]
fn a_changed_lock_is_an_integrity_error() {
    let dir = copy_of_repo();
    let requirements = dir.path().join("locks/fave-base/requirements.txt");
    let mut contents = std::fs::read_to_string(&requirements).unwrap();
    contents.push_str("# edited\n");
    std::fs::write(&requirements, contents).unwrap();
    let output = fave_lock(dir.path(), &["plan", "fave-base", "--format", "build-args"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "no flags for a changed lock");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("locks/fave-base/requirements.txt")
            && stderr.contains(&sha256_of(&requirements)),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = fave_lock(repo(), &["plan", "no-such-image"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no image `no-such-image`"),
        "{}",
        text(&output.stderr)
    );
    let dir = copy_of_repo();
    let config = dir.path().join("fave-lock.toml");
    let without_base: String = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("base-image"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&config, without_base).unwrap();
    let output = fave_lock(dir.path(), &["plan", "fave-base"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("has no `base-image`"),
        "{}",
        text(&output.stderr)
    );
    let dir = copy_of_repo();
    std::fs::remove_file(dir.path().join("locks/fave-base/build-plan.json")).unwrap();
    let output = fave_lock(dir.path(), &["plan", "fave-base"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("run `fave-lock resolve`"),
        "{}",
        text(&output.stderr)
    );
}
