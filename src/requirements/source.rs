//! Bytes of an input file, read so that no file can hang or exhaust the reader, and their text as pip
//! and uv decode it.
//!
//! Only regular files are read (`-r /dev/zero` or a FIFO would never end), at most [`MAX_FILE_SIZE`]
//! bytes. Text is UTF-8, with or without a byte-order mark, or UTF-16 with its mark; anything else is
//! an error at the line of the first bad byte.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest input file read: real requirement files and configs are a few KB.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Why an input file's bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("it is {0}, not a regular file: input files are read only from regular files")]
    NotRegular(&'static str),
    #[error("it is larger than {} MB; input files are read only up to that size", MAX_FILE_SIZE / 1024 / 1024)]
    TooLarge,
}

/// Text that is not valid in its encoding: the 1-based line of the first bad byte and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub line: usize,
    pub message: String,
}

/// The bytes of the regular file at `path` (symlinks followed), at most [`MAX_FILE_SIZE`] of them.
///
/// # Errors
///
/// The file cannot be opened, is not a regular file, or is too large.
pub fn read_regular_file(path: &Path) -> Result<Vec<u8>, FileError> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    check_regular(&std::fs::metadata(path)?.file_type())?;
    // Non-blocking, so that a FIFO swapped in after the check cannot block the open either.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    check_regular(&file.metadata()?.file_type())?;
    read_capped(file)
}

fn read_capped(file: File) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(FileError::TooLarge);
    }
    Ok(bytes)
}

fn check_regular(kind: &std::fs::FileType) -> Result<(), FileError> {
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(FileError::NotRegular(what))
}

/// The text of a requirements file, decoded as pip and uv decode it: a UTF-8 byte-order mark is
/// dropped, a UTF-16 one (either byte order) selects UTF-16, and everything else must be UTF-8.
///
/// # Errors
///
/// Bytes invalid in the chosen encoding, or a UTF-32 mark (which uv does not read).
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Err(DecodeError {
            line: 1,
            message: "the file is UTF-32, which uv does not read; save it as UTF-8".to_string(),
        });
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes, "UTF-16LE");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes, "UTF-16BE");
    }
    utf8(bytes)
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            Err(DecodeError {
                line: line_of(valid.iter().filter(|&&byte| byte == b'\n').count()),
                message: format!(
                    "byte 0x{:02X} is not UTF-8; save the file as UTF-8",
                    bytes[error.valid_up_to()]
                ),
            })
        }
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, encoding: &str) -> Result<String, DecodeError> {
    let (pairs, odd) = bytes.split_at(bytes.len() & !1);
    let invalid = |text: &str, what: &str| DecodeError {
        line: line_of(text.matches('\n').count()),
        message: format!("{what} in a {encoding} file; save it as UTF-8"),
    };
    let mut text = String::with_capacity(pairs.len() / 2);
    let units = pairs.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    for character in char::decode_utf16(units) {
        match character {
            Ok(character) => text.push(character),
            Err(_) => return Err(invalid(&text, "an unpaired surrogate")),
        }
    }
    if !odd.is_empty() {
        return Err(invalid(&text, "an odd trailing byte"));
    }
    Ok(text)
}

fn line_of(newlines_before: usize) -> usize {
    newlines_before + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_marks() {
        assert_eq!(decode(b"\xEF\xBB\xBFsix\n").unwrap(), "six\n");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("six\nidna\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&le).unwrap(), "six\nidna\n");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("six\nidna\n".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).unwrap(), "six\nidna\n");
        assert_eq!(decode(b"six").unwrap(), "six");
    }

    #[test]
    fn bad_bytes_name_their_line() {
        assert_eq!(
            decode(b"six\nidna\nfoo\xE9\n").unwrap_err(),
            DecodeError {
                line: 3,
                message: "byte 0xE9 is not UTF-8; save the file as UTF-8".into()
            }
        );
        let mut le = vec![0xFF, 0xFE];
        le.extend("a\nb\n".encode_utf16().flat_map(u16::to_le_bytes));
        le.extend(0xD800u16.to_le_bytes());
        assert_eq!(decode(&le).unwrap_err().line, 3);
        le.push(b'x');
        assert_eq!(decode(&le).unwrap_err().line, 3);
        assert!(
            decode(b"\xFF\xFE\0\0s\0\0\0")
                .unwrap_err()
                .message
                .contains("UTF-32")
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let error = read_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a character device, not a regular file: input files are read only from regular files"
        );
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_regular_file(dir.path()),
            Err(FileError::NotRegular("a folder"))
        ));
        let big = dir.path().join("big.in");
        let file = File::create(&big).unwrap();
        file.set_len(MAX_FILE_SIZE + 1).unwrap();
        assert!(matches!(read_regular_file(&big), Err(FileError::TooLarge)));
        file.set_len(MAX_FILE_SIZE).unwrap();
        assert_eq!(read_regular_file(&big).unwrap().len() as u64, MAX_FILE_SIZE);
    }
}
