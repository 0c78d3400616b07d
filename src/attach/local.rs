//! The SBOM on disk and the lock it claims to describe: attach only an SBOM made from the lock beside
//! it, since the artifact is labelled with that lock's sha256.

use std::path::PathBuf;

use super::AttachError;
use crate::image::ImageJob;
use crate::plan::{read_checked, sha256_hex};

/// The property of the SBOM's image component that names the lock's input hash (see `sbom::bom`).
const INPUT_HASH_PROPERTY: &str = "fave-lock:input-hash";

/// An SBOM checked against its lock, ready to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSbom {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// sha256 of the lock's `requirements.txt`, lowercase hex: the image's `io.fave.lock.sha256`.
    pub lock_sha256: String,
}

impl LocalSbom {
    /// The file's name, for the layer's `org.opencontainers.image.title`.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Read `job`'s SBOM and check it is the lock's: its `fave-lock:input-hash` equals `pylock.toml`'s,
/// and, when the image has a build plan, the SBOM and `requirements.txt` are the bytes the plan
/// records (the check `fave-lock plan` makes before a build).
///
/// # Errors
///
/// [`AttachError::Io`] for a missing file, [`AttachError::SbomMismatch`] or a
/// [`crate::plan::PlanError::LockMismatch`] when the files disagree.
pub fn read_local(job: &ImageJob) -> Result<LocalSbom, AttachError> {
    let (Some(sbom), Some(requirements), Some(pylock)) =
        (&job.sbom, &job.requirements_txt, &job.pylock_toml)
    else {
        return Err(AttachError::SbomMismatch {
            image: job.name.clone(),
            path: PathBuf::new(),
            message: "the image has no lock folder".into(),
        });
    };
    let read = |path: &PathBuf| {
        crate::fs::read_input(path).map_err(|source| AttachError::Io {
            path: path.clone(),
            source,
        })
    };
    let bytes = read(&sbom.path)?;
    let lock_sha256 = sha256_hex(&read(requirements)?);
    let lock = crate::lock::read_pylock(pylock)?;
    let mismatch = |message: String| AttachError::SbomMismatch {
        image: job.name.clone(),
        path: sbom.path.clone(),
        message,
    };
    match input_hash(&bytes) {
        Some(hash) if hash == lock.context.input_hash => {}
        Some(hash) => {
            return Err(mismatch(format!(
                "it was made from the lock with input hash {hash}; `{}` has {}",
                pylock.display(),
                lock.context.input_hash
            )));
        }
        None => {
            return Err(mismatch(format!(
                "it is not a fave-lock CycloneDX SBOM (no `{INPUT_HASH_PROPERTY}` on its image component)"
            )));
        }
    }
    if let Some(plan) = job.plan.as_ref().filter(|plan| plan.plan_path().exists()) {
        read_checked(plan)?;
    }
    Ok(LocalSbom {
        path: sbom.path.clone(),
        bytes,
        lock_sha256,
    })
}

/// `metadata.component.properties[name = fave-lock:input-hash].value`, if the document has one.
fn input_hash(sbom: &[u8]) -> Option<String> {
    let document: serde_json::Value = serde_json::from_slice(sbom).ok()?;
    document["metadata"]["component"]["properties"]
        .as_array()?
        .iter()
        .find(|property| property["name"] == INPUT_HASH_PROPERTY)?["value"]
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_sbom_names_its_lock() {
        let sbom = include_bytes!("../../locks/fave-base/sbom.cdx.json");
        let pylock = include_str!("../../locks/fave-base/pylock.toml");
        let lock = crate::lock::parse_pylock(pylock, std::path::Path::new("pylock.toml")).unwrap();
        assert_eq!(input_hash(sbom), Some(lock.context.input_hash));
        assert_eq!(input_hash(b"{}"), None);
        assert_eq!(input_hash(b"not json"), None);
    }
}
