//! Source archives (`.tar.gz`, `.tar.bz2`, `.tar.xz`, `.tar`, `.zip`): read one member of the top-level folder (`PKG-INFO`) without
//! unpacking, or unpack the whole tree for a build.
//!
//! An sdist comes from the index, so nothing in it is trusted: members that would land outside the
//! target folder (absolute paths, `..`, links) are refused, and the unpacked size is capped so a
//! decompression bomb stops early.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most bytes an sdist may unpack to (the largest real ones are a few hundred MB).
const MAX_UNPACKED_LEN: u64 = 2 << 30;
/// The most bytes read for one member read in place (`PKG-INFO`, `pyproject.toml`).
const MAX_MEMBER_LEN: u64 = 16 << 20;

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(
        "`{0}` is not a source archive fave-lock reads (.tar.gz, .tar.bz2, .tar.xz, .tar or .zip)"
    )]
    Format(String),
    #[error("cannot read the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read the zip archive: {0}")]
    Zip(String),
    #[error("member `{0}` would be written outside the source folder")]
    UnsafePath(String),
    #[error("the archive unpacks to more than {} MiB", MAX_UNPACKED_LEN >> 20)]
    TooLarge,
}

/// The kinds of source archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tar(Compression),
    Zip,
}

/// How a tar sdist is compressed: gzip today, bzip2 and xz in old uploads (PyPI accepted them until
/// PEP 625), none in a few.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Bzip2,
    Xz,
    None,
}

fn kind(filename: &str) -> Result<Kind, ArchiveError> {
    let lower = filename.to_ascii_lowercase();
    let suffixes = [
        (".tar.gz", Kind::Tar(Compression::Gzip)),
        (".tgz", Kind::Tar(Compression::Gzip)),
        (".tar.bz2", Kind::Tar(Compression::Bzip2)),
        (".tbz", Kind::Tar(Compression::Bzip2)),
        (".tar.xz", Kind::Tar(Compression::Xz)),
        (".txz", Kind::Tar(Compression::Xz)),
        (".tar", Kind::Tar(Compression::None)),
        (".zip", Kind::Zip),
    ];
    suffixes
        .iter()
        .find(|(suffix, _)| lower.ends_with(suffix))
        .map(|(_, kind)| *kind)
        .ok_or_else(|| ArchiveError::Format(filename.to_string()))
}

/// The tar stream of `archive`, decompressed.
fn tar_archive(
    archive: &Path,
    compression: Compression,
) -> std::io::Result<tar::Archive<Box<dyn Read>>> {
    let file = std::fs::File::open(archive)?;
    let reader: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(file)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(file)),
        Compression::None => Box::new(file),
    };
    Ok(tar::Archive::new(reader))
}

/// `top/name` → `name` when the path is exactly one folder deep: an sdist keeps everything in one
/// top-level folder (`webrtcvad-2.0.10/`), and `PKG-INFO` of a vendored package deeper down is not ours.
fn top_level_member(path: &str, name: &str) -> bool {
    let mut parts = path.trim_start_matches("./").split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(top), Some(member), None) if !top.is_empty() && member == name)
}

/// The bytes of the top-level member `name` (`PKG-INFO`), or `None` when the archive has none.
pub fn read_member(
    archive: &Path,
    filename: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    match kind(filename)? {
        Kind::Tar(compression) => {
            let mut tar = tar_archive(archive, compression)?;
            for entry in tar.entries()? {
                let entry = entry?;
                let path = entry.path()?.to_string_lossy().into_owned();
                if top_level_member(&path, name) && entry.header().entry_type().is_file() {
                    let mut bytes = Vec::new();
                    entry.take(MAX_MEMBER_LEN).read_to_end(&mut bytes)?;
                    return Ok(Some(bytes));
                }
            }
            Ok(None)
        }
        Kind::Zip => {
            let bytes = std::fs::read(archive)?;
            for (entry, data) in zip_entries(&bytes).map_err(zip_error)? {
                if top_level_member(&entry.name, name) {
                    return Ok(Some(extract(&entry, data)?));
                }
            }
            Ok(None)
        }
    }
}

/// Unpack `archive` into `into` and return the source tree's root: the single top-level folder, as an
/// sdist has, else `into` itself.
pub fn unpack(archive: &Path, filename: &str, into: &Path) -> Result<PathBuf, ArchiveError> {
    let mut total = 0_u64;
    match kind(filename)? {
        Kind::Tar(compression) => {
            let mut tar = tar_archive(archive, compression)?;
            for entry in tar.entries()? {
                let mut entry = entry?;
                let path = entry.path()?.into_owned();
                let kind = entry.header().entry_type();
                if kind.is_symlink() || kind.is_hard_link() {
                    // Links in sdists are rare and a link out of the folder is an attack: skip them.
                    continue;
                }
                let target = safe_join(into, &path)?;
                total += entry.header().size()?;
                if total > MAX_UNPACKED_LEN {
                    return Err(ArchiveError::TooLarge);
                }
                if kind.is_dir() {
                    std::fs::create_dir_all(&target)?;
                } else if kind.is_file() {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    entry.unpack(&target)?;
                }
            }
        }
        Kind::Zip => {
            let bytes = std::fs::read(archive)?;
            for (entry, data) in zip_entries(&bytes).map_err(zip_error)? {
                let target = safe_join(into, Path::new(&entry.name))?;
                total += entry.uncompressed_len;
                if total > MAX_UNPACKED_LEN {
                    return Err(ArchiveError::TooLarge);
                }
                if entry.name.ends_with('/') {
                    std::fs::create_dir_all(&target)?;
                    continue;
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, extract(&entry, data)?)?;
            }
        }
    }
    let mut tops = std::fs::read_dir(into)?.collect::<Result<Vec<_>, _>>()?;
    if tops.len() == 1 && tops[0].file_type()?.is_dir() {
        return Ok(tops.remove(0).path());
    }
    Ok(into.to_path_buf())
}

fn zip_error(error: crate::index::zip::ZipError) -> ArchiveError {
    ArchiveError::Zip(error.to_string())
}

fn extract(entry: &crate::index::zip::Entry, data: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    crate::index::zip::extract(entry, data).map_err(zip_error)
}

/// `into/path`, refusing a path that is absolute or climbs out with `..`.
fn safe_join(into: &Path, path: &Path) -> Result<PathBuf, ArchiveError> {
    let mut joined = into.to_path_buf();
    for component in path.components() {
        match component {
            Component::Normal(part) => joined.push(part),
            Component::CurDir => {}
            _ => return Err(ArchiveError::UnsafePath(path.display().to_string())),
        }
    }
    Ok(joined)
}

/// Every entry of a zip held in memory, with its compressed bytes.
fn zip_entries(
    bytes: &[u8],
) -> Result<Vec<(crate::index::zip::Entry, &[u8])>, crate::index::zip::ZipError> {
    use crate::index::zip::{self, ZipError};
    let (_, mut record) = zip::find_end_record(bytes)?;
    if let Some(offset) = record.zip64_record_offset {
        let at = usize::try_from(offset).map_err(|_| ZipError::Truncated("ZIP64 record"))?;
        let zip64 = bytes.get(at..).ok_or(ZipError::Truncated("ZIP64 record"))?;
        zip::apply_zip64_record(&mut record, zip64)?;
    }
    zip::check_directory_bounds(&record, bytes.len() as u64)?;
    let start = usize::try_from(record.directory_offset).map_err(|_| ZipError::Truncated("zip"))?;
    let len = usize::try_from(record.directory_len).map_err(|_| ZipError::Truncated("zip"))?;
    let directory = bytes
        .get(start..start.saturating_add(len))
        .ok_or(ZipError::Truncated("central directory"))?;
    let mut entries = Vec::new();
    for entry in zip::parse_directory(directory)? {
        let offset = usize::try_from(entry.local_header_offset)
            .map_err(|_| ZipError::Truncated("zip entry"))?;
        let local = bytes
            .get(offset..)
            .ok_or(ZipError::Truncated("local header"))?;
        let header = usize::try_from(zip::local_header_len(local)?)
            .map_err(|_| ZipError::Truncated("local header"))?;
        let compressed =
            usize::try_from(entry.compressed_len).map_err(|_| ZipError::Truncated("zip entry"))?;
        let data = local
            .get(header..header.saturating_add(compressed))
            .ok_or(ZipError::Truncated("zip entry"))?;
        entries.push((entry, data));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(members: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new()
            .suffix(".tar.gz")
            .tempfile()
            .unwrap();
        let encoder =
            flate2::write::GzEncoder::new(file.reopen().unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(encoder);
        for (path, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // `append_data` refuses `..`; write the name raw to build a hostile archive.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        file
    }

    #[test]
    fn reads_the_top_level_pkg_info_only() {
        let archive = tar_gz(&[
            ("demo-1.0/vendor/x/PKG-INFO", b"Name: x\n"),
            ("demo-1.0/PKG-INFO", b"Name: demo\n"),
        ]);
        let bytes = read_member(archive.path(), "demo-1.0.tar.gz", "PKG-INFO").unwrap();
        assert_eq!(bytes.as_deref(), Some(&b"Name: demo\n"[..]));
        let none = read_member(archive.path(), "demo-1.0.tar.gz", "pyproject.toml").unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn unpacks_into_the_single_top_folder_and_refuses_escapes() {
        let archive = tar_gz(&[("demo-1.0/setup.py", b"print()\n")]);
        let dir = tempfile::tempdir().unwrap();
        let root = unpack(archive.path(), "demo-1.0.tar.gz", dir.path()).unwrap();
        assert_eq!(root, dir.path().join("demo-1.0"));
        assert!(root.join("setup.py").is_file());

        let hostile = tar_gz(&[("demo-1.0/../../escape.py", b"x")]);
        let dir = tempfile::tempdir().unwrap();
        let error = unpack(hostile.path(), "demo-1.0.tar.gz", dir.path()).unwrap_err();
        assert!(matches!(error, ArchiveError::UnsafePath(_)), "{error}");
    }

    #[test]
    fn old_tar_compressions_are_read_too() {
        let plain = {
            let mut builder = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_gnu();
            header.set_size(11);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, "demo-1.0/PKG-INFO", &b"Name: demo\n"[..])
                .unwrap();
            builder.into_inner().unwrap()
        };
        let compressed: [(&str, Vec<u8>); 3] = [
            ("demo-1.0.tar", plain.clone()),
            ("demo-1.0.tar.bz2", {
                let mut encoder =
                    bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                std::io::Write::write_all(&mut encoder, &plain).unwrap();
                encoder.finish().unwrap()
            }),
            ("demo-1.0.tar.xz", {
                let mut encoder = xz2::write::XzEncoder::new(Vec::new(), 1);
                std::io::Write::write_all(&mut encoder, &plain).unwrap();
                encoder.finish().unwrap()
            }),
        ];
        for (filename, bytes) in compressed {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), bytes).unwrap();
            let member = read_member(file.path(), filename, "PKG-INFO").unwrap();
            assert_eq!(member.as_deref(), Some(&b"Name: demo\n"[..]), "{filename}");
        }
    }

    #[test]
    fn other_formats_are_named() {
        let error = read_member(Path::new("/nonexistent"), "demo-1.0.tar.zst", "PKG-INFO");
        assert!(matches!(error, Err(ArchiveError::Format(_))));
        let egg = read_member(Path::new("/nonexistent"), "demo-1.0-py2.7.egg", "PKG-INFO");
        assert!(matches!(egg, Err(ArchiveError::Format(_))));
    }
}
