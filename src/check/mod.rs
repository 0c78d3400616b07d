//! `fave-lock check`: is what is committed in `locks/` still right?
//!
//! ```text
//! local.rs    config + inputs + lock files ─▶ inputs-changed, lock-format-changed, lock-missing
//! index.rs    lock + project pages + dependents' Requires-Dist ─▶ yanked, index-hash-mismatch,
//!             not-on-index, newer-release
//! apt.rs      apt.lock + config + the archive's suites ─▶ lock-missing, inputs-changed,
//!             not-on-index, index-hash-mismatch, newer-release, security-update
//! registry.rs build plan + what the registry says ─▶ base-drift, not-rebuilt, sbom-missing
//! diff.rs     committed lock vs an in-memory resolution ─▶ old → new, and why
//! run.rs      the above for the selected images, fetching what they need ─▶ report.rs (CheckReport)
//! ```
//!
//! Findings are typed values with a stable kebab-case [`Code`] and a [`Severity`] that decides the
//! verdict. The checks are pure; [`run`] fetches for them, and the CLI and the server render its
//! [`CheckReport`], so `fave-lock check` and `/api/check` cannot disagree. Nothing here prints.

mod apt;
mod diff;
mod error;
mod finding;
mod index;
mod local;
mod registry;
mod report;
mod run;

pub use apt::{check_apt_archive, check_apt_local};
pub use diff::{ChangeReason, PackageChange, diff};
pub use error::CheckError;
pub use finding::{Code, FileLocation, Finding, Severity, resolve_command, worst};
pub use index::{IndexContext, check_index, dependents_to_read};
pub use local::{LocalCheck, check_local};
pub use registry::{PublishedImage, PublishedSbom, RegistryObservation, check_registry};
pub use report::{CheckReport, ImageCheck, Verdict};
pub use run::{CheckClients, CheckOptions, run};
