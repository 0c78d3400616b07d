//! End-to-end tests against live PyPI: fave-lock's pins agree with uv's, its lock files install with pip
//! (`--require-hashes`) and uv, `pylock.toml` passes `packaging.pylock`, and the committed locks are what a
//! fresh run produces.
//!
//! They need the tools venv that `scripts/test.sh` sets up (uv, pip, packaging) and points
//! `FAVE_LOCK_TEST_VENV` at. A bare `cargo test` lists them as ignored; under `scripts/test.sh` (libtest's
//! `--include-ignored`) a missing venv is a failure, never a skip. All fave-lock runs share the cache
//! `<repo>/.cache/fave-lock` (git-ignored) so that repeat runs stay fast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod support;

use support::live::{
    fave_lock, new_venv, normalize_name, pip_for, pip_install_lock, repo, run, tool, tools, try_run,
};

const EXCLUDE_NEWER: &str = "2026-11-01T00:00:00Z";
const INPUT: &str = "base-image/requirements.in";
const LOCK_DIR: &str = "locks/fave-base";
/// The modules the image exists to provide; imported in an installed venv.
const IMPORTS: &str =
    "numpy, scipy, librosa, cv2, onnxruntime, boto3, minio, httpx, pydantic, soundfile";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Does a requirements.txt marker select `machine`? Only the markers fave-lock writes are understood:
/// `platform_machine == 'X'` / `!= 'X'` (either quote style).
fn marker_selects(marker: &str, machine: &str) -> bool {
    let m = marker.trim();
    let (negate, rest) = if let Some(r) = m.strip_prefix("platform_machine ==") {
        (false, r)
    } else if let Some(r) = m.strip_prefix("platform_machine !=") {
        (true, r)
    } else {
        panic!("test parser does not understand the marker `{m}`");
    };
    let value = rest.trim().trim_matches(|c| c == '\'' || c == '"');
    (value == machine) != negate
}

/// The set of normalized `name==version` pins in a pip requirements file, keeping only lines whose marker
/// (if any) selects `machine`. Every requirement must be an exact `==` pin.
fn pins(text: &str, machine: &str) -> BTreeSet<String> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut set = BTreeSet::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap().trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let line = line.split(" --hash").next().unwrap().trim();
        let (req, marker) = match line.split_once(';') {
            Some((req, marker)) => (req, Some(marker)),
            None => (line, None),
        };
        if marker.is_some_and(|m| !marker_selects(m, machine)) {
            continue;
        }
        let (name, version) = req
            .split_once("==")
            .unwrap_or_else(|| panic!("not an exact pin: `{line}`"));
        set.insert(format!("{}=={}", normalize_name(name), version.trim()));
    }
    set
}

/// Assert two pin sets are equal, printing both differences: `(label, set)` pairs.
fn assert_same_pins(
    what: &str,
    (a_name, a): (&str, &BTreeSet<String>),
    (b_name, b): (&str, &BTreeSet<String>),
) {
    let only_a: Vec<_> = a.difference(b).collect();
    let only_b: Vec<_> = b.difference(a).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "{what}: pins differ ({} vs {})\n  only in {a_name}: {only_a:?}\n  only in {b_name}: {only_b:?}",
        a.len(),
        b.len()
    );
}

/// uv's resolution of the repo's input for `arch`, as pins.
fn uv_pins(arch: &str, dir: &Path) -> BTreeSet<String> {
    let out = dir.join(format!("uv-{arch}.txt"));
    run(tool("uv")
        .current_dir(repo())
        .args(["pip", "compile", INPUT, "--python-version", "3.11"])
        .args(["--python-platform", &format!("{arch}-manylinux_2_36")])
        .args(["--exclude-newer", EXCLUDE_NEWER, "--only-binary", ":all:"])
        .args([
            "--index-url",
            "https://pypi.org/simple",
            "--no-header",
            "--no-annotate",
            "-q",
            "-o",
        ])
        .arg(&out));
    pins(&read(&out), arch)
}

fn ad_hoc_matches_uv(arch: &str) {
    tools();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.txt");
    run(fave_lock()
        .current_dir(repo())
        .args(["resolve", "-r", INPUT, "--python-version", "3.11"])
        .args(["--python-platform", &format!("{arch}-manylinux_2_36")])
        .args(["--exclude-newer", EXCLUDE_NEWER, "-o"])
        .arg(&out));
    let ours = pins(&read(&out), arch);
    assert!(
        !ours.is_empty(),
        "fave-lock wrote no pins to {}",
        out.display()
    );
    let uv = uv_pins(arch, tmp.path());
    assert_same_pins(
        &format!("{arch}-manylinux_2_36"),
        ("fave-lock", &ours),
        ("uv", &uv),
    );
}

#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn ad_hoc_resolve_matches_uv_x86_64() {
    ad_hoc_matches_uv("x86_64");
}

#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn ad_hoc_resolve_matches_uv_aarch64() {
    ad_hoc_matches_uv("aarch64");
}

/// A copy of the repo's config and inputs in which `fave-lock resolve` has run once (shared by the tests
/// below, so the committed locks are never rewritten). Kept under the target tmpdir for inspection.
fn resolved_copy() -> &'static Path {
    static COPY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let result = COPY.get_or_init(|| {
        tools();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_pypi-repo-copy");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("base-image")).unwrap();
        let config = repo().join("fave-lock.toml");
        std::fs::copy(&config, dir.join("fave-lock.toml"))
            .map_err(|e| format!("cannot copy {}: {e}", config.display()))?;
        for entry in std::fs::read_dir(repo().join("base-image")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.join("base-image").join(entry.file_name()))
                    .unwrap();
            }
        }
        try_run(fave_lock().current_dir(&dir).arg("resolve"))?;
        Ok(dir)
    });
    match result {
        Ok(dir) => dir,
        Err(message) => panic!("`fave-lock resolve` in a copy of the repo failed:\n{message}"),
    }
}

#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn requirements_txt_installs_with_pip_require_hashes() {
    let lock = resolved_copy().join(LOCK_DIR).join("requirements.txt");
    let tmp = tempfile::tempdir().unwrap();
    let py = new_venv(tmp.path());
    pip_install_lock(&py, &lock);
    run(pip_for(&py).arg("check"));
    run(Command::new(&py).args(["-c", &format!("import {IMPORTS}")]));
}

#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn pylock_toml_installs_with_uv() {
    let lock = resolved_copy().join(LOCK_DIR).join("pylock.toml");
    let tmp = tempfile::tempdir().unwrap();
    let py = new_venv(tmp.path());
    run(tool("uv")
        .args(["pip", "install", "--python"])
        .arg(&py)
        .arg("-r")
        .arg(&lock));
    run(Command::new(&py).args(["-c", &format!("import {IMPORTS}")]));
}

/// `packaging.pylock` accepts the lock, and what it selects for this machine (x86_64, CPython 3.11) is
/// exactly requirements.txt's x86_64 pins.
#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn pylock_toml_validates_with_packaging() {
    let dir = resolved_copy().join(LOCK_DIR);
    const SCRIPT: &str = r#"
import sys, tomllib
from packaging.pylock import Pylock
with open(sys.argv[1], "rb") as f:
    lock = Pylock.from_dict(tomllib.load(f))
lock.validate()
for package, _dist in lock.select():
    print(f"{package.name}=={package.version}")
"#;
    let selected = run(tool("python")
        .args(["-c", SCRIPT])
        .arg(dir.join("pylock.toml")));
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "this check assumes an x86_64 machine"
    );
    let txt = pins(&read(&dir.join("requirements.txt")), "x86_64");
    assert_same_pins(
        "x86_64 packages",
        (
            "pylock.toml (as selected by packaging)",
            &pins(&selected, "x86_64"),
        ),
        ("requirements.txt", &txt),
    );
}

/// The lock for every configured platform agrees with uv's resolution for that platform.
#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn repo_lock_matches_uv_per_platform() {
    let text = read(&resolved_copy().join(LOCK_DIR).join("requirements.txt"));
    let tmp = tempfile::tempdir().unwrap();
    for arch in ["x86_64", "aarch64"] {
        let uv = uv_pins(arch, tmp.path());
        assert_same_pins(
            &format!("{LOCK_DIR} for {arch}"),
            ("fave-lock", &pins(&text, arch)),
            ("uv", &uv),
        );
    }
}

#[test]
#[ignore = "live: needs PyPI and the tools venv (uv, pip); scripts/test.sh runs it"]
fn committed_locks_are_reproducible() {
    let fresh = resolved_copy().join(LOCK_DIR);
    for file in ["requirements.txt", "pylock.toml"] {
        let committed = repo().join(LOCK_DIR).join(file);
        assert!(
            committed.is_file(),
            "{} is missing: run `cargo run --release -- resolve` and commit {LOCK_DIR}/",
            committed.display()
        );
        let (want, got) = (read(&committed), read(&fresh.join(file)));
        if want != got {
            let line = want.lines().zip(got.lines()).position(|(a, b)| a != b);
            panic!(
                "{LOCK_DIR}/{file} differs from a fresh `fave-lock resolve` ({} vs {} bytes; first differing \
                 line: {}). Re-run `cargo run --release -- resolve` and commit, or find the non-determinism.\n\
                 fresh copy: {}",
                want.len(),
                got.len(),
                line.map_or("none (one is a prefix of the other)".into(), |i| (i + 1)
                    .to_string()),
                fresh.join(file).display()
            );
        }
    }
}

/// The requirements parser these tests rely on (no network).
#[test]
fn pins_parser_reads_hashes_markers_and_continuations() {
    let text = "# header\n--index-url https://pypi.org/simple\n\
        Typing_Extensions==4.16.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n\
        numpy==2.1.3 ; platform_machine == 'x86_64' \\\n    --hash=sha256:cc\n\
        numpy==2.1.2 ; platform_machine == \"aarch64\" \\\n    --hash=sha256:dd\n\
        zope.interface==7.0  # via something\n";
    let want = |pins: &[&str]| pins.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        pins(text, "x86_64"),
        want(&[
            "typing-extensions==4.16.0",
            "numpy==2.1.3",
            "zope-interface==7.0"
        ])
    );
    assert_eq!(
        pins(text, "aarch64"),
        want(&[
            "typing-extensions==4.16.0",
            "numpy==2.1.2",
            "zope-interface==7.0"
        ])
    );
}
