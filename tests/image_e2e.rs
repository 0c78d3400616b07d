//! The base image end to end: `scripts/e2e-image.sh` builds base-image/Dockerfile with buildah from the
//! committed build plan, pushes it to a local docker-registry, checks through the registry's API that the
//! image's `io.fave.lock.sha256` label equals the sha256 of `locks/fave-base/requirements.txt`, and runs a
//! sample stage in the image. The script installs its tools (buildah, debootstrap, docker-registry,
//! skopeo) when missing, so a machine without them fails here rather than skipping.
//!
//! Takes about 8 minutes with the debootstrap tarball cached, 11 without (see the script's timings).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn base_image_builds_pushes_and_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let status = Command::new("bash")
        .arg(root.join("scripts/e2e-image.sh"))
        .current_dir(root)
        .env("FAVE_LOCK_BIN", env!("CARGO_BIN_EXE_fave-lock"))
        .status()
        .expect("run scripts/e2e-image.sh");
    eprintln!(
        "scripts/e2e-image.sh: {status} after {:.0?}",
        started.elapsed()
    );
    assert!(
        status.success(),
        "scripts/e2e-image.sh failed ({status}); its output above names the step"
    );
}
