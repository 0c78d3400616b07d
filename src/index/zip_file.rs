//! A zip on local disk (a wheel in the cache): its central directory, and one entry's bytes as an
//! inflating stream, so that a reader of big entries (the ABI scan's extension modules, the build
//! environment installer's files) never holds one whole in memory. The walk is `zip.rs`'s; this only
//! reads the bytes it asks for from a file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::zip::{self, Entry, ZipError};

/// Why a zip file could not be read: the file itself, or what is in it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ZipFileError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Zip(#[from] ZipError),
}

/// The central directory of the zip `file`.
pub(crate) fn read_directory(file: &mut File) -> Result<Vec<Entry>, ZipFileError> {
    let len = file.metadata()?.len();
    let tail_len = len.min((zip::EOCD_LEN + zip::MAX_COMMENT_LEN + zip::ZIP64_LOCATOR_LEN) as u64);
    let tail = read_at(file, len - tail_len, tail_len)?;
    let (_, mut record) = zip::find_end_record(&tail)?;
    if let Some(offset) = record.zip64_record_offset {
        let bytes = read_at(file, offset, zip::ZIP64_EOCD_LEN as u64)?;
        zip::apply_zip64_record(&mut record, &bytes)?;
    }
    zip::check_directory_bounds(&record, len)?;
    let directory = read_at(file, record.directory_offset, record.directory_len)?;
    Ok(zip::parse_directory(&directory)?)
}

/// Exactly `len` bytes of `file` at `offset`.
pub(crate) fn read_at(file: &mut File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "file ends early",
        ));
    }
    Ok(bytes)
}

/// The inflated bytes of `entry` of the zip `file`, as a stream that stops one byte past the declared
/// length: enough to notice a lie without inflating a bomb. The caller checks the length it read (and
/// the CRC-32, when it reads all).
pub(crate) fn entry_reader(
    mut file: File,
    entry: &Entry,
) -> Result<Box<dyn Read + Send>, ZipFileError> {
    if entry.flags & 1 != 0 {
        return Err(ZipError::Encrypted(entry.name.clone()).into());
    }
    let header = read_at(
        &mut file,
        entry.local_header_offset,
        zip::LOCAL_HEADER_LEN as u64,
    )?;
    let data_offset = entry.local_header_offset + zip::local_header_len(&header)?;
    file.seek(SeekFrom::Start(data_offset))?;
    let compressed = BufReader::with_capacity(256 << 10, file.take(entry.compressed_len));
    let limit = entry.uncompressed_len + 1;
    match entry.method {
        0 => Ok(Box::new(compressed.take(limit))),
        8 => Ok(Box::new(
            flate2::read::DeflateDecoder::new(compressed).take(limit),
        )),
        method => Err(ZipError::Method {
            name: entry.name.clone(),
            method,
        }
        .into()),
    }
}
