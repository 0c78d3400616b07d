//! Helpers for the tests that use live PyPI and the tools venv (`.venv/tools`: Python 3.11, pip, uv,
//! packaging) that `scripts/test.sh` sets up and points `FAVE_LOCK_TEST_VENV` at. Those tests are
//! #[ignore]d in a bare `cargo test`; when run (`--include-ignored`) without the venv they fail rather
//! than skip. Every fave-lock run shares the cache `<repo>/.cache/fave-lock` (git-ignored) so
//! that repeat runs stay fast.

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The tools venv (`.venv/tools`): its `bin/` has python, pip and uv.
pub fn tools() -> PathBuf {
    let Some(venv) = std::env::var_os("FAVE_LOCK_TEST_VENV") else {
        panic!(
            "FAVE_LOCK_TEST_VENV is not set. These tests need the tools venv (uv, pip, packaging): \
             run them with `scripts/test.sh`, which creates .venv/tools and sets the variable."
        );
    };
    let venv = PathBuf::from(venv);
    for tool in ["python", "uv"] {
        assert!(
            venv.join("bin").join(tool).is_file(),
            "FAVE_LOCK_TEST_VENV={} has no bin/{tool}: run scripts/setup/test-env.sh (or scripts/test.sh)",
            venv.display()
        );
    }
    venv
}

/// A project name as PEP 503 normalizes it (`Foo_Bar.baz` → `foo-bar-baz`), to compare locks.
pub fn normalize_name(name: &str) -> String {
    super::index_server::normalize(name.trim())
}

/// The target and cutoff of the live comparisons with uv (the same flag names in both tools).
pub const UV_TARGET: [&str; 6] = [
    "--python-version",
    "3.11",
    "--python-platform",
    "x86_64-manylinux_2_28",
    "--exclude-newer",
    "2026-11-01T00:00:00Z",
];

pub fn tool(name: &str) -> Command {
    Command::new(tools().join("bin").join(name))
}

pub fn fave_lock() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
    cmd.env("FAVE_LOCK_CACHE_DIR", repo().join(".cache/fave-lock"));
    cmd.env_remove("FAVE_LOCK_INDEX_URL"); // the config's / default index (PyPI), whatever the shell has
    cmd
}

/// Run `cmd`; on failure (or if it cannot start) return a message with the command, exit status, stdout
/// and stderr.
pub fn try_run(cmd: &mut Command) -> Result<Output, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "command failed ({}): {shown}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Run `cmd` and assert it succeeds; returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    match try_run(cmd) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(message) => panic!("{message}"),
    }
}

/// A fresh venv (without pip) made by the tools venv's Python 3.11; returns its python.
pub fn new_venv(dir: &Path) -> PathBuf {
    let venv = dir.join("venv");
    run(tool("python")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv));
    venv.join("bin/python")
}

/// pip (the tools venv's pinned pip) acting on the venv of `py`.
pub fn pip_for(py: &Path) -> Command {
    let mut cmd = tool("python");
    cmd.args([
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--no-input",
        "--python",
    ])
    .arg(py);
    cmd
}

/// Install `lock` (a requirements.txt) with pip into the venv of `py` as a user of the lock would:
/// `--require-hashes`, no dependency resolution of pip's own, wheels only.
pub fn pip_install_lock(py: &Path, lock: &Path) {
    // --no-compile: byte-compiling every package would double the time and tests nothing of ours.
    run(pip_for(py)
        .args([
            "install",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "--no-compile",
            "-r",
        ])
        .arg(lock));
}
