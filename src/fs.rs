//! Writing outputs without losing anything: every output (locks, SBOM, plan, `--apply-fixes`' edits) and
//! every cache entry goes through here, so a failed run never leaves a half-written file behind, and a
//! path that is not a regular file is written the way the user meant it. Scratch files in a temp folder
//! of our own (an sdist being unpacked or built, the `InRelease` handed to gpgv, a download in progress
//! before `persist` moves it into the wheel cache) are written directly: no user path is at stake.
//!
//! ```text
//! path ─▶ destination(): `-`                         ─▶ standard output
//!                        character device, FIFO, socket ─▶ written straight into (a rename would replace
//!                                                        the device: `-o /dev/null` as root broke the
//!                                                        machine's /dev/null)
//!                        symlink                     ─▶ its final target, by the rules here; the link stays
//!                        regular file or missing     ─▶ temp file beside it, then rename (atomic)
//!                        directory                   ─▶ error
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

/// Symlink hops followed before giving up, as the kernel's `ELOOP` limit does.
const MAX_SYMLINK_HOPS: usize = 40;

/// A failure to write an output file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`", path.display())]
pub struct WriteError {
    /// The file that could not be written.
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Where the bytes for one output path end up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A regular file, or none yet: replaced atomically by renaming a temp file over it. For a symlink
    /// this is the link's final target, so the link stays a link.
    Replace(PathBuf),
    /// Something a rename would destroy (a character or block device, a FIFO, a socket): opened and
    /// written in place, as `>` in a shell does.
    Stream(PathBuf),
    /// `-`: standard output.
    Stdout,
}

/// Where writing `path` puts its bytes (see the module's diagram).
///
/// # Errors
///
/// `path` is a directory, a symlink loop, or cannot be inspected.
pub fn destination(path: &Path) -> std::io::Result<Destination> {
    if path == Path::new("-") {
        return Ok(Destination::Stdout);
    }
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINK_HOPS {
        let metadata = match std::fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Destination::Replace(current));
            }
            Err(error) => return Err(error),
        };
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&current)?;
            // A relative link target is relative to the link's folder, not to the working directory.
            current = match current.parent() {
                Some(folder) if target.is_relative() => folder.join(target),
                _ => target,
            };
        } else if kind.is_file() {
            return Ok(Destination::Replace(current));
        } else if kind.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory; name a file in it",
            ));
        } else {
            return Ok(Destination::Stream(current));
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_SYMLINK_HOPS} symlinks in a row (a symlink loop?)"
    )))
}

/// One output waiting for [`Staged::commit`].
enum Pending {
    /// Written to a temp file beside `target`, renamed over it on commit.
    Temp {
        temp: tempfile::NamedTempFile,
        target: PathBuf,
    },
    /// Written into a stream on commit (a device or FIFO at `target`, or stdout for `None`); nothing
    /// to stage it in.
    Direct {
        target: Option<PathBuf>,
        contents: Vec<u8>,
    },
}

/// Files staged in their target folders, not yet visible under their final names.
///
/// Staging every output before renaming any means an error while producing the set (a full disk, a bad
/// path) leaves all previous outputs untouched. Streams cannot be staged: their bytes are written after
/// every rename, so a stream never receives a set that fails half-way.
#[derive(Default)]
pub struct Staged {
    files: Vec<(Pending, PathBuf)>,
}

impl Staged {
    /// Prepare `path` to receive `contents`: a temporary file beside it (or beside its symlink's target),
    /// or, for a stream, the contents kept until commit.
    pub fn stage(&mut self, path: &Path, contents: &[u8]) -> Result<(), WriteError> {
        let wrap = |source| WriteError {
            path: path.to_path_buf(),
            source,
        };
        let pending = match destination(path).map_err(wrap)? {
            Destination::Replace(target) => Pending::Temp {
                temp: temp_beside(&target, contents).map_err(wrap)?,
                target,
            },
            Destination::Stream(target) => Pending::Direct {
                target: Some(target),
                contents: contents.to_vec(),
            },
            Destination::Stdout => Pending::Direct {
                target: None,
                contents: contents.to_vec(),
            },
        };
        self.files.push((pending, path.to_path_buf()));
        Ok(())
    }

    /// Rename every staged file over its target, then write the streams. Returns the paths as given.
    pub fn commit(self) -> Result<Vec<PathBuf>, WriteError> {
        let mut written = Vec::with_capacity(self.files.len());
        let (temps, directs): (Vec<_>, Vec<_>) = self
            .files
            .into_iter()
            .partition(|(pending, _)| matches!(pending, Pending::Temp { .. }));
        for (pending, path) in temps.into_iter().chain(directs) {
            let wrap = |source| WriteError {
                path: path.clone(),
                source,
            };
            match pending {
                Pending::Temp { temp, target } => {
                    temp.persist(&target).map_err(|err| wrap(err.error))?;
                }
                Pending::Direct { target, contents } => {
                    write_stream(target.as_deref(), &contents).map_err(wrap)?;
                }
            }
            written.push(path);
        }
        Ok(written)
    }
}

/// A synced temp file in `target`'s folder holding `contents`, with the mode `target` has (0644 for a
/// new file).
fn temp_beside(target: &Path, contents: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".fave-lock-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    temp.write_all(contents)?;
    set_mode_like(temp.as_file(), target)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// Write into the device or FIFO at `target`, or stdout for `None`.
fn write_stream(target: Option<&Path>, contents: &[u8]) -> std::io::Result<()> {
    match target {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(contents)?;
            stdout.flush()
        }
        // No truncate or create: a device or FIFO exists already, and O_TRUNC means nothing to it.
        Some(path) => std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .write_all(contents),
    }
}

/// Temp files are created 0600; outputs are shared files (committed locks): keep the mode of the file
/// being replaced, else 0644.
#[cfg(unix)]
fn set_mode_like(file: &std::fs::File, target: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(target)
        .map(|metadata| metadata.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode_like(_file: &std::fs::File, _target: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Write one file atomically (temp file in the same folder, then rename), or into a stream.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let mut staged = Staged::default();
    staged.stage(path, contents)?;
    staged.commit().map(|_| ())
}

/// Write a cache entry: a temp file beside `path` (its folder made when missing), renamed over it, so
/// a reader sees the old entry or the new one, never half of one. Unlike [`write_atomic`], nothing is
/// synced to disk: a cache entry only saves work, every reader treats an entry that does not decode as
/// a miss (the page and selection entries check their structure and a CRC, metadata is parsed), and a
/// cold resolve writes hundreds of entries: 478 `fsync` calls for fastapi-template's (strace); without
/// them its system time fell from 0.28–0.34 s to 0.21–0.25 s. Entries are made readable by all (0644
/// before the umask), as a shared cache folder needs.
pub fn write_cache_entry(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let wrap = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".fave-lock-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut temp = match builder.tempfile_in(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(wrap)?;
            builder.tempfile_in(dir).map_err(wrap)?
        }
        other => other.map_err(wrap)?,
    };
    temp.write_all(contents).map_err(wrap)?;
    temp.persist(path).map_err(|error| wrap(error.error))?;
    Ok(())
}

/// Move a finished temp file (a download, say) to `path` by the same rules: renamed when `path` is a
/// regular file or missing (the temp must be on the same file system, as a cache's temp folder is), else
/// copied into the destination.
pub fn persist(temp: tempfile::NamedTempFile, path: &Path) -> Result<(), WriteError> {
    let wrap = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    match destination(path).map_err(wrap)? {
        Destination::Replace(target) if target == path => {
            temp.persist(&target).map_err(|err| wrap(err.error))?;
            Ok(())
        }
        // A symlink's target may be on another file system: copy through a temp beside it instead.
        _ => {
            let contents = std::fs::read(temp.path()).map_err(wrap)?;
            write_atomic(path, &contents)
        }
    }
}

/// The bytes of an input file fave-lock reads (a lock, a plan, a config, an auth file), read as
/// requirement files are ([`crate::requirements::read_regular_file`]: regular files only, at most
/// 10 MB), so that no path (`/dev/zero`, a FIFO) can hang a run or exhaust its memory; the refusal is
/// an `InvalidInput` I/O error for callers that report I/O errors with the path.
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    use crate::requirements::FileError;
    crate::requirements::read_regular_file(path).map_err(|error| match error {
        FileError::Io(error) => error,
        refused => std::io::Error::new(std::io::ErrorKind::InvalidInput, refused.to_string()),
    })
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_input(path)?)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

/// [`read_input_to_string`] for a file that may be absent (a plan, an apt lock or a `requirements.txt`
/// beside a lock): `None` when there is none, every other failure an error.
pub fn read_optional_input(path: &Path) -> std::io::Result<Option<String>> {
    match read_input_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_input_is_none_only_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("apt.lock");
        assert_eq!(read_optional_input(&file).unwrap(), None);
        std::fs::write(&file, "version = 1\n").unwrap();
        assert_eq!(
            read_optional_input(&file).unwrap().as_deref(),
            Some("version = 1\n")
        );
        // A folder where the file should be is an error, not "no file".
        assert!(read_optional_input(dir.path()).is_err());
    }

    #[test]
    fn inputs_are_read_from_regular_files_only() {
        let error = read_input(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("character device"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.toml");
        std::fs::write(&path, "x = 1\n").unwrap();
        assert_eq!(read_input_to_string(&path).unwrap(), "x = 1\n");
    }

    #[test]
    fn a_cache_entry_is_replaced_whole_in_a_folder_made_for_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("simple-v2").join("ab").join("six.bin");
        write_cache_entry(&path, b"first").unwrap();
        write_cache_entry(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044, "readable by all ({mode:o})");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["six.bin"], "no temp file left");
        // A folder in the way is an error naming the entry, not a panic.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("x")).unwrap();
        let error = write_cache_entry(&blocked, b"x").unwrap_err();
        assert_eq!(error.path, blocked);
    }

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

    #[cfg(unix)]
    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real/lock.txt");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("lock.txt");
        std::os::unix::fs::symlink("real/lock.txt", &link).unwrap();
        assert_eq!(
            destination(&link).unwrap(),
            Destination::Replace(real.clone())
        );
        write_atomic(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.txt");
        std::os::unix::fs::symlink("real/new.txt", &dangling).unwrap();
        write_atomic(&dangling, b"created").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("real/new.txt")).unwrap(),
            "created"
        );
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_and_a_directory_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let error = write_atomic(&a, b"x").unwrap_err();
        assert!(
            error.source.to_string().contains("symlink loop"),
            "{error:?}"
        );
        let error = write_atomic(dir.path(), b"x").unwrap_err();
        assert_eq!(error.source.kind(), std::io::ErrorKind::IsADirectory);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.txt");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let fresh = dir.path().join("fresh.txt");
        write_atomic(&fresh, b"new").unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_through_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        use std::os::unix::fs::FileTypeExt;
        assert!(kind.is_fifo(), "the FIFO must stay a FIFO");
    }
}
