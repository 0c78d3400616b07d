//! Atomic file output: every file fave-lock writes goes through here, so a failed run never leaves a
//! half-written lock behind.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A failure to write an output file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`", path.display())]
pub struct WriteError {
    /// The file that could not be written.
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Files staged in their target folders, not yet visible under their final names.
///
/// Staging every output before renaming any means an error while producing the set (a full disk, a bad
/// path) leaves all previous outputs untouched.
#[derive(Default)]
pub struct Staged {
    files: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl Staged {
    /// Write `contents` to a temporary file beside `path`.
    pub fn stage(&mut self, path: &Path, contents: &[u8]) -> Result<(), WriteError> {
        let wrap = |source| WriteError {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(wrap)?;
        let mut temp = tempfile::Builder::new()
            .prefix(".fave-lock-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(wrap)?;
        temp.write_all(contents).map_err(wrap)?;
        set_readable(temp.as_file()).map_err(wrap)?;
        temp.as_file().sync_all().map_err(wrap)?;
        self.files.push((temp, path.to_path_buf()));
        Ok(())
    }

    /// Rename every staged file over its target.
    pub fn commit(self) -> Result<Vec<PathBuf>, WriteError> {
        let mut written = Vec::with_capacity(self.files.len());
        for (temp, path) in self.files {
            temp.persist(&path).map_err(|err| WriteError {
                path: path.clone(),
                source: err.error,
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Temp files are created 0600; outputs are shared files (committed locks), so give them the usual
/// 0644 less the umask's effect on group/other write, which 0644 never grants anyway.
#[cfg(unix)]
fn set_readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Write one file atomically (temp file in the same folder, then rename).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let mut staged = Staged::default();
    staged.stage(path, contents)?;
    staged.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("locks/a.txt");
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::write(&a, "old").unwrap();
        let mut staged = Staged::default();
        staged.stage(&a, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        drop(staged);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        let leftovers: Vec<_> = std::fs::read_dir(a.parent().unwrap()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "a dropped stage must not leave temp files"
        );
        write_atomic(&a, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
    }
}
