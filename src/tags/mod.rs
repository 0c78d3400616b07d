//! Wheel and sdist filenames, the target's platform, and wheel tag compatibility (PEP 425, PEP 600).
//!
//! Pure: no I/O. The resolver asks [`Tags::compatibility`] which wheels of a release can install on a
//! target, and the [`Ord`] of [`TagCompatibility`] picks the one pip would pick.
//!
//! - [`python_version`]: the target interpreter, `3.11`.
//! - [`platform`]: the target machine, `x86_64-manylinux_2_28` or OCI `linux/amd64` plus a glibc floor.
//! - [`wheel_filename`] and [`dist_filename`]: what the files on an index page are.
//! - [`order`]: pip's preference order of tags, the one place that encodes `packaging.tags.sys_tags()`.
//! - [`compatibility`]: a wheel's tags against that order.

mod compatibility;
mod dist_filename;
mod order;
mod platform;
mod python_version;
mod wheel_filename;

pub use compatibility::{IncompatibleTag, TagCompatibility, TagPriority, Tags};
pub use dist_filename::{DistFilename, SdistFilename};
pub use platform::{Arch, Platform};
pub use python_version::PythonVersion;
pub use wheel_filename::{FilenameError, WheelFilename};
