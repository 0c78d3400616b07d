//! `fave-lock check`: is what is committed in `locks/` still right?
//!
//! ```text
//! local.rs  config + inputs + lock files ─▶ inputs-changed, lock-format-changed, lock-missing
//! index.rs  lock + project pages (fetched by the caller) ─▶ yanked, hash-mismatch, file-gone, newer-release
//! diff.rs   committed lock vs an in-memory resolution (by the caller) ─▶ old → new, and why
//! registry.rs build plan + what the registry says (read by the caller) ─▶ base-drift, not-rebuilt
//! ```
//!
//! Findings are typed values with a stable kebab-case [`Code`] and a [`Severity`] that decides the exit
//! code. This module neither fetches nor prints: the CLI fetches pages and renders findings.

mod diff;
mod finding;
mod index;
mod local;
mod registry;

pub use diff::{ChangeReason, PackageChange, diff};
pub use finding::{Code, FileLocation, Finding, Severity, resolve_command, worst};
pub use index::{IndexContext, check_index};
pub use local::{CheckError, LocalCheck, check_local};
pub use registry::{LOCK_LABEL, PublishedImage, RegistryObservation, check_registry};
