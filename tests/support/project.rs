//! A throwaway fave-lock project for command-line tests: a `fave-lock.toml` with one image (`demo`,
//! CPython 3.11 on linux/amd64 and linux/arm64) whose requirements resolve against a given index, its
//! own cache folder, and a runner for the `fave-lock` binary inside it.
//!
//! ```ignore
//! let project = Project::new(&server.url(), "six\nidna\n");
//! let out = project.run(&["resolve"]);
//! assert_eq!(out.status.code(), Some(0), "{}", text(&out));
//! let lock = project.lock_dir().join("pylock.toml");
//! ```

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `exclude-newer` of every test project.
pub const EXCLUDE_NEWER: &str = "2026-01-01T00:00:00Z";

/// A temporary project folder; deleted on drop.
pub struct Project {
    dir: tempfile::TempDir,
    /// The one image's name (its lock folder is `locks/<image>`).
    image: String,
}

impl Project {
    /// A project whose one image `demo` resolves `requirements` against `index_url`.
    pub fn new(index_url: &str, requirements: &str) -> Project {
        Project::with_image(index_url, requirements, "demo", "")
    }

    /// A project whose one image `image` resolves `requirements` against `index_url`, with the
    /// `extra` lines (`registry = …`, `base-image = …`, `tags = […]`) at the end of its table.
    pub fn with_image(index_url: &str, requirements: &str, image: &str, extra: &str) -> Project {
        let dir = tempfile::tempdir().expect("a temp folder");
        let config = format!(
            r#"index-url = "{index_url}"
exclude-newer = "{EXCLUDE_NEWER}"

[[image]]
name = "{image}"
python-version = "3.11"
requirements = "requirements.in"
output = "locks/{image}"
platforms = [
  {{ platform = "linux/amd64", manylinux = "2_36" }},
  {{ platform = "linux/arm64", manylinux = "2_36" }},
]
{extra}"#
        );
        std::fs::write(dir.path().join("fave-lock.toml"), config).expect("write the config");
        std::fs::write(dir.path().join("requirements.in"), requirements)
            .expect("write the requirements");
        Project {
            dir,
            image: image.to_string(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The project's cache folder (`FAVE_LOCK_CACHE_DIR` of every run).
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// `locks/<image>` (`locks/demo`).
    pub fn lock_dir(&self) -> PathBuf {
        self.dir.path().join("locks").join(&self.image)
    }

    /// `fave-lock ARGS` in the project folder, with the project's cache.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fave-lock"))
            .args(args)
            .current_dir(self.dir.path())
            .env("FAVE_LOCK_CACHE_DIR", self.cache_dir())
            .env_remove("FAVE_LOCK_INDEX_URL")
            .output()
            .expect("run fave-lock")
    }

    /// Every file under `locks/`, with its bytes, for before/after comparisons.
    pub fn lock_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.lock_dir()) else {
            return files;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("read a lock file");
                files.push((path, bytes));
            }
        }
        files.sort();
        files
    }
}

/// Exit code, stdout and stderr of a run, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `fave-lock resolve -q -r requirements.in -o OUTPUT` in `dir` (ad hoc, CPython 3.11 on x86_64
/// manylinux 2_36, the test cutoff) against `index_url`, with `dir/cache` as its cache; add arguments
/// and environment, then run it.
pub fn ad_hoc_command(dir: &Path, index_url: &str, output: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
    command
        .args(["resolve", "-q", "-r", "requirements.in"])
        .args(["--python-version", "3.11"])
        .args(["--python-platform", "x86_64-manylinux_2_36"])
        .args([
            "--exclude-newer",
            EXCLUDE_NEWER,
            "--index-url",
            index_url,
            "-o",
        ])
        .arg(output)
        .current_dir(dir)
        .env("FAVE_LOCK_CACHE_DIR", dir.join("cache"))
        .env_remove("FAVE_LOCK_INDEX_URL")
        .stdin(std::process::Stdio::null());
    command
}

/// [`ad_hoc_command`] with `extra` arguments, run.
pub fn ad_hoc_resolve(dir: &Path, index_url: &str, output: &Path, extra: &[&str]) -> Output {
    ad_hoc_command(dir, index_url, output)
        .args(extra)
        .output()
        .expect("run fave-lock")
}
