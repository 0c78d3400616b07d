//! Records the git commit the binary is built from, for `/metrics`' `fave_lock_build_info{git=…}`:
//! a scrape then says which commit is running, not only the crate version (which changes rarely).
//! Outside a git checkout (a source tarball) the value is `unknown`.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FAVE_LOCK_GIT_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself (a checkout), the branch it names (a commit), and
    // packed-refs (a branch that git packed). A worktree keeps HEAD apart from the shared refs.
    println!("cargo:rerun-if-changed=build.rs");
    if let (Some(git_dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        let head = PathBuf::from(&git_dir).join("HEAD");
        println!("cargo:rerun-if-changed={}", head.display());
        println!("cargo:rerun-if-changed={common}/packed-refs");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={common}/{branch}");
        }
    }
}
