//! A plan on disk, as `fave-lock plan` uses it: read it, and check that the lock files it names are
//! still the bytes it was made from, so a build never stamps an image with the wrong lock's sha256.

use std::path::Path;

use super::build::{read_previous, sha256_hex};
use super::error::PlanError;
use super::model::{BuildPlan, LockFile, PLAN_FORMAT_VERSION};
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
        check_on_disk(settings, &path, lock)?;
    }
    Ok(plan)
}

/// The plan file after another command rewrote some of the lock files it lists (`fave-lock sbom`
/// rewriting `sbom.cdx.json`): the same plan with those files' new sha256, to stage with them so the
/// two land together. Every other listed file must still match. `None` when the image has no plan yet.
///
/// # Errors
///
/// [`PlanError::LockMismatch`] when a file not being rewritten changed since the plan,
/// [`PlanError::InstalledFileRewritten`] for the file the image installs (only `resolve` may change it,
/// since its sha256 is a label), and the errors of reading the plan.
pub fn replan_rewritten(
    settings: &PlanSettings,
    rewritten: &[(std::path::PathBuf, String)],
) -> Result<Option<(std::path::PathBuf, String)>, PlanError> {
    let path = settings.plan_path();
    let Some(mut plan) = read_previous(&path)? else {
        return Ok(None);
    };
    let rewritten: Vec<(String, String)> = rewritten
        .iter()
        .map(|(file, contents)| (settings.plan_text(file), sha256_hex(contents.as_bytes())))
        .collect();
    for (file, _) in &rewritten {
        if plan
            .context_files
            .values()
            .any(|installed| installed == file)
        {
            return Err(PlanError::InstalledFileRewritten { path: file.clone() });
        }
    }
    for lock in &mut plan.lock_files {
        if let Some((_, sha256)) = rewritten.iter().find(|(file, _)| *file == lock.path) {
            lock.sha256.clone_from(sha256);
            continue;
        }
        check_on_disk(settings, &path, lock)?;
    }
    for (file, sha256) in rewritten {
        if !plan.lock_files.iter().any(|lock| lock.path == file) {
            plan.lock_files.push(super::LockFile { path: file, sha256 });
        }
    }
    plan.lock_files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Some((path, plan.to_json())))
}

/// A listed lock file must still hash to what the plan at `plan_path` recorded.
fn check_on_disk(
    settings: &PlanSettings,
    plan_path: &Path,
    lock: &LockFile,
) -> Result<(), PlanError> {
    let file = settings.on_disk(Path::new(&lock.path));
    let bytes = crate::fs::read_input(&file).map_err(|source| PlanError::Io {
        path: file.clone(),
        source,
    })?;
    let actual = sha256_hex(&bytes);
    if actual != lock.sha256 {
        return Err(PlanError::LockMismatch {
            plan: plan_path.to_path_buf(),
            path: lock.path.clone(),
            expected: lock.sha256.clone(),
            actual,
        });
    }
    Ok(())
}
