//! fave-lock: lock the FAVE base image's Python requirements for its exact target.
//!
//! Data flows one way:
//!
//! ```text
//! config (fave-lock.toml) ─┐
//! requirements (pip syntax)┴▶ index (PyPI simple API, metadata, cache) ▶ resolve (PubGrub, per platform)
//!                                                                       ▶ lock (requirements.txt, pylock.toml)
//!                                                                       ▶ plan (build-plan.json, docker-bake.json)
//! ```
//!
//! The CLI (`src/main.rs`, `cli`) is a thin layer over these library calls; only it turns errors into
//! messages and exit codes.

pub mod abi;
pub mod apt;
pub mod attach;
pub mod check;
pub mod config;
pub mod diagnose;
pub(crate) mod dns;
pub mod finding;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
pub mod image;
pub mod index;
pub mod lock;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod requirements;
pub mod resolve;
pub mod sbom;
pub mod sdist;
pub mod server;
pub mod tags;
pub mod typo;
pub mod verify;
