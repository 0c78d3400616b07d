//! A plan on disk, as `fave-lock plan` uses it: read it, and check that the lock files it names are
//! still the bytes it was made from, so a build never stamps an image with the wrong lock's sha256.

use std::path::Path;

use super::build::{read_previous, sha256_hex};
use super::error::PlanError;
use super::model::{BuildPlan, PLAN_FORMAT_VERSION};
use super::settings::PlanSettings;

/// Read the plan of `settings`' image and check its lock files against the disk.
///
/// # Errors
///
/// [`PlanError::Io`] when the plan or a lock file is missing, [`PlanError::Invalid`] for a file that is
/// not a plan of this format, [`PlanError::LockMismatch`] when a lock file changed since.
pub fn read_checked(settings: &PlanSettings) -> Result<BuildPlan, PlanError> {
    let path = settings.plan_path();
    let plan = read_previous(&path)?.ok_or_else(|| PlanError::Io {
        path: path.clone(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no build plan yet: run `fave-lock resolve`",
        ),
    })?;
    if plan.format != PLAN_FORMAT_VERSION {
        return Err(PlanError::Invalid {
            path,
            message: format!(
                "format {} (this fave-lock reads format {PLAN_FORMAT_VERSION})",
                plan.format
            ),
        });
    }
    for lock in &plan.lock_files {
        let file = settings.on_disk(Path::new(&lock.path));
        let bytes = std::fs::read(&file).map_err(|source| PlanError::Io {
            path: file.clone(),
            source,
        })?;
        let actual = sha256_hex(&bytes);
        if actual != lock.sha256 {
            return Err(PlanError::LockMismatch {
                plan: path,
                path: lock.path.clone(),
                expected: lock.sha256.clone(),
                actual,
            });
        }
    }
    Ok(plan)
}
