//! The build plan: `locks/<image>/build-plan.json`, what `base-image/Dockerfile` and the publishing
//! pipeline consume, and `locks/<image>/docker-bake.json`, the same for `docker buildx bake`.
//!
//! Written by `fave-lock resolve` together with the lock files, from the exact bytes being written, so
//! the `io.fave.lock.sha256` label it asks for always matches the `requirements.txt` beside it. The
//! base image is pinned by the digest its registry reports; when the registry cannot be asked, the
//! previous plan's digest is kept and marked unverified. The plan is deterministic: sorted keys, no
//! time stamps, no machine-specific text.
//!
//! Boundaries: reads the config and the lock; never prints. `fave-lock plan` renders it as JSON,
//! `--build-arg` flags or `--label` flags.

mod base_digest;
mod build;
mod check;
mod error;
pub mod label;
mod model;
mod render;
mod settings;
#[cfg(test)]
mod tests;

pub use base_digest::{BaseReference, DigestSource, Offline, RegistryDigests, is_sha256_digest};
pub use build::{LABEL_ARGS, LockSummary, PlannedFiles, pin_base, read_previous, sha256_hex};
pub use check::{read_checked, replan_rewritten};
pub use error::{DigestError, PlanError};
pub use model::{BAKE_FILE, BaseImage, BuildPlan, LockFile, PLAN_FILE, PLAN_FORMAT_VERSION};
pub use render::{bake_json, build_arg_flags, label_flags, shell_quote};
pub use settings::PlanSettings;
