//! Just enough of the zip format (APPNOTE.TXT) to pull `*.dist-info/METADATA` out of a wheel without
//! reading the whole archive: the end-of-central-directory record (and its ZIP64 form), the central
//! directory, one local file header, and stored or deflated data.
//!
//! Everything here is pure and works on byte slices; `range.rs` decides which bytes to fetch. Every read is
//! bounds-checked and every size is capped, because the bytes come from a server.

use std::io::Read;

/// End-of-central-directory record: signature, fixed size, and longest trailing comment.
const EOCD_SIGNATURE: u32 = 0x0605_4b50;
pub(crate) const EOCD_LEN: usize = 22;
pub(crate) const MAX_COMMENT_LEN: usize = u16::MAX as usize;
/// ZIP64 end-of-central-directory locator, which sits right before the EOCD record.
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
pub(crate) const ZIP64_LOCATOR_LEN: usize = 20;
/// ZIP64 end-of-central-directory record (fixed part).
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
pub(crate) const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_HEADER_LEN: usize = 46;
const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
pub(crate) const LOCAL_HEADER_LEN: usize = 30;
/// Extra-field tag of the ZIP64 sizes and offset.
const ZIP64_EXTRA_TAG: u16 = 0x0001;

/// The largest central directory fave-lock reads. A torch wheel's is a few MB; this is far above that.
pub(crate) const MAX_DIRECTORY_LEN: u64 = 256 << 20;
/// The largest METADATA, compressed or not. Long READMEs make some over a megabyte; none is near this.
pub(crate) const MAX_METADATA_LEN: u64 = 64 << 20;

/// Why a wheel's bytes could not be read as a zip with a METADATA file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ZipError {
    #[error("no zip end-of-central-directory record")]
    NoEndRecord,
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("bad signature on the {0}")]
    Signature(&'static str),
    #[error("the central directory ({offset}+{len}) does not fit in a {file_len}-byte file")]
    DirectoryBounds {
        offset: u64,
        len: u64,
        file_len: u64,
    },
    #[error("the {what} is {len} bytes, over fave-lock's limit of {limit}")]
    TooLarge {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("no top-level `*.dist-info/METADATA` in the wheel")]
    NoMetadata,
    #[error("several top-level `*.dist-info/METADATA` files and none matches the wheel name: {0}")]
    AmbiguousMetadata(String),
    #[error("`{0}` is encrypted")]
    Encrypted(String),
    #[error(
        "`{name}` uses compression method {method}; only stored (0) and deflate (8) are supported"
    )]
    Method { name: String, method: u16 },
    #[error("`{name}` does not inflate: {message}")]
    Inflate { name: String, message: String },
    #[error("`{0}` does not match its size or CRC-32 in the central directory")]
    Checksum(String),
}

/// Where the central directory is, from the EOCD record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndRecord {
    pub(crate) entries: u64,
    pub(crate) directory_len: u64,
    pub(crate) directory_offset: u64,
    /// Where the ZIP64 EOCD record is, when a ZIP64 locator precedes the EOCD: its values then replace
    /// the 16/32-bit ones above.
    pub(crate) zip64_record_offset: Option<u64>,
}

/// One central directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) flags: u16,
    pub(crate) method: u16,
    pub(crate) crc32: u32,
    pub(crate) compressed_len: u64,
    pub(crate) uncompressed_len: u64,
    pub(crate) local_header_offset: u64,
    /// The Unix mode in the high half of the external attributes (0 when the archiver wrote none):
    /// an installer keeps the executable bits of tools shipped as data (cmake's, ninja's binaries).
    pub(crate) unix_mode: u32,
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { bytes, what }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ZipError> {
        if len > self.bytes.len() {
            return Err(ZipError::Truncated(self.what));
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, ZipError> {
        let bytes = self.take(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, ZipError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, ZipError> {
        let low = u64::from(self.u32()?);
        let high = u64::from(self.u32()?);
        Ok(low | high << 32)
    }

    fn signature(&mut self, expected: u32) -> Result<(), ZipError> {
        if self.u32()? == expected {
            Ok(())
        } else {
            Err(ZipError::Signature(self.what))
        }
    }
}

/// Find the EOCD record in `tail`, the last bytes of the file. Scans backwards, because the record ends
/// the file unless an archive comment follows it, and takes the first candidate whose comment length
/// reaches exactly to the end (a signature inside a comment does not). Returns the record's position in
/// `tail` too: a ZIP64 locator, if any, is in the 20 bytes before it.
pub(crate) fn find_end_record(tail: &[u8]) -> Result<(usize, EndRecord), ZipError> {
    let last_start = tail
        .len()
        .checked_sub(EOCD_LEN)
        .ok_or(ZipError::NoEndRecord)?;
    let position = (0..=last_start)
        .rev()
        .take(MAX_COMMENT_LEN + 1)
        .find(|&position| is_end_record_at(tail, position))
        .ok_or(ZipError::NoEndRecord)?;
    let mut reader = Reader::new(&tail[position + 4..], "end-of-central-directory record");
    let _disk = reader.u16()?;
    let _directory_disk = reader.u16()?;
    let _disk_entries = reader.u16()?;
    let entries = reader.u16()?;
    let directory_len = reader.u32()?;
    let directory_offset = reader.u32()?;
    let record = EndRecord {
        entries: u64::from(entries),
        directory_len: u64::from(directory_len),
        directory_offset: u64::from(directory_offset),
        zip64_record_offset: zip64_locator(tail, position),
    };
    Ok((position, record))
}

fn is_end_record_at(tail: &[u8], position: usize) -> bool {
    let Some(record) = tail.get(position..position + EOCD_LEN) else {
        return false;
    };
    let signature = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
    let comment_len = usize::from(u16::from_le_bytes([record[20], record[21]]));
    signature == EOCD_SIGNATURE && position + EOCD_LEN + comment_len == tail.len()
}

/// The ZIP64 EOCD record's offset, from the locator right before the EOCD record at `eocd_position`.
fn zip64_locator(tail: &[u8], eocd_position: usize) -> Option<u64> {
    let start = eocd_position.checked_sub(ZIP64_LOCATOR_LEN)?;
    let mut reader = Reader::new(&tail[start..eocd_position], "ZIP64 locator");
    reader.signature(ZIP64_LOCATOR_SIGNATURE).ok()?;
    let _disk = reader.u32().ok()?;
    reader.u64().ok()
}

/// Apply the ZIP64 EOCD record (`bytes` start at its signature) to `record`.
pub(crate) fn apply_zip64_record(record: &mut EndRecord, bytes: &[u8]) -> Result<(), ZipError> {
    let mut reader = Reader::new(bytes, "ZIP64 end-of-central-directory record");
    reader.signature(ZIP64_EOCD_SIGNATURE)?;
    let _record_len = reader.u64()?;
    let _versions = reader.u32()?;
    let _disks = reader.u64()?;
    let _disk_entries = reader.u64()?;
    record.entries = reader.u64()?;
    record.directory_len = reader.u64()?;
    record.directory_offset = reader.u64()?;
    Ok(())
}

/// Check the central directory fits in the file and under [`MAX_DIRECTORY_LEN`].
pub(crate) fn check_directory_bounds(record: &EndRecord, file_len: u64) -> Result<(), ZipError> {
    let end = record.directory_offset.checked_add(record.directory_len);
    if end.is_none_or(|end| end > file_len) {
        return Err(ZipError::DirectoryBounds {
            offset: record.directory_offset,
            len: record.directory_len,
            file_len,
        });
    }
    if record.directory_len > MAX_DIRECTORY_LEN {
        return Err(ZipError::TooLarge {
            what: "central directory",
            len: record.directory_len,
            limit: MAX_DIRECTORY_LEN,
        });
    }
    Ok(())
}

/// Parse the central directory (`bytes` is exactly the directory).
pub(crate) fn parse_directory(bytes: &[u8]) -> Result<Vec<Entry>, ZipError> {
    parse_entries(bytes, |_| true)
}

/// The METADATA entry of the central directory `bytes`, as [`find_metadata`] picks it from
/// [`parse_directory`]'s entries, with only the candidates kept on the way: a torch wheel's directory
/// holds some 15,000 entries (2 MB parsed), and a diagnosis reads dozens of them at once.
pub(crate) fn find_metadata_in(bytes: &[u8], wheel_filename: &str) -> Result<Entry, ZipError> {
    let candidates = parse_entries(bytes, |name| metadata_folder(name).is_some())?;
    find_metadata(&candidates, wheel_filename).cloned()
}

/// The entries of the central directory `bytes` whose name `keep` accepts; every entry is checked
/// alike, so a damaged one fails the parse whether it is kept or not.
fn parse_entries(bytes: &[u8], keep: impl Fn(&str) -> bool) -> Result<Vec<Entry>, ZipError> {
    let mut reader = Reader::new(bytes, "central directory");
    let mut entries = Vec::new();
    while !reader.bytes.is_empty() {
        entries.extend(parse_entry(&mut reader, &keep)?);
    }
    Ok(entries)
}

fn parse_entry(
    reader: &mut Reader<'_>,
    keep: &impl Fn(&str) -> bool,
) -> Result<Option<Entry>, ZipError> {
    reader.signature(CENTRAL_HEADER_SIGNATURE)?;
    let mut fixed = Reader::new(reader.take(CENTRAL_HEADER_LEN - 4)?, "central directory");
    let _versions = fixed.u32()?;
    let flags = fixed.u16()?;
    let method = fixed.u16()?;
    let _time_and_date = fixed.u32()?;
    let crc32 = fixed.u32()?;
    let compressed_len = fixed.u32()?;
    let uncompressed_len = fixed.u32()?;
    let name_len = usize::from(fixed.u16()?);
    let extra_len = usize::from(fixed.u16()?);
    let comment_len = usize::from(fixed.u16()?);
    let _disk = fixed.u16()?;
    let _internal_attributes = fixed.u16()?;
    let external_attributes = fixed.u32()?;
    let local_header_offset = fixed.u32()?;
    let name = String::from_utf8_lossy(reader.take(name_len)?);
    let extra = reader.take(extra_len)?;
    reader.take(comment_len)?;
    let mut entry = Entry {
        // Filled in only when kept: an entry left out costs no allocation.
        name: String::new(),
        flags,
        method,
        crc32,
        compressed_len: u64::from(compressed_len),
        uncompressed_len: u64::from(uncompressed_len),
        local_header_offset: u64::from(local_header_offset),
        unix_mode: external_attributes >> 16,
    };
    apply_zip64_extra(
        &mut entry,
        extra,
        [uncompressed_len, compressed_len, local_header_offset],
    )?;
    if !keep(&name) {
        return Ok(None);
    }
    entry.name = name.into_owned();
    Ok(Some(entry))
}

/// Replace the 32-bit fields saturated at `0xFFFFFFFF` with the ZIP64 extra field's 64-bit values, which
/// appear in this order and only for the saturated fields (APPNOTE 4.5.3).
fn apply_zip64_extra(entry: &mut Entry, mut extra: &[u8], raw: [u32; 3]) -> Result<(), ZipError> {
    if !raw.contains(&u32::MAX) {
        return Ok(());
    }
    while extra.len() >= 4 {
        let mut header = Reader::new(extra, "extra field");
        let tag = header.u16()?;
        let len = usize::from(header.u16()?);
        let body = header.take(len)?;
        extra = header.bytes;
        if tag != ZIP64_EXTRA_TAG {
            continue;
        }
        let mut values = Reader::new(body, "ZIP64 extra field");
        let fields = [
            &mut entry.uncompressed_len,
            &mut entry.compressed_len,
            &mut entry.local_header_offset,
        ];
        for (field, raw) in fields.into_iter().zip(raw) {
            if raw == u32::MAX {
                *field = values.u64()?;
            }
        }
        return Ok(());
    }
    Err(ZipError::Truncated("ZIP64 extra field"))
}

/// The wheel's `METADATA`: the only top-level `<name>-<version>.dist-info/METADATA`, or, if a wheel has
/// several, the one whose folder matches the wheel filename (PEP 427: `{distribution}-{version}` with
/// `-` escaped to `_`).
pub(crate) fn find_metadata<'a>(
    entries: &'a [Entry],
    wheel_filename: &str,
) -> Result<&'a Entry, ZipError> {
    let candidates: Vec<&Entry> = entries
        .iter()
        .filter(|entry| metadata_folder(&entry.name).is_some())
        .collect();
    match candidates.as_slice() {
        [] => Err(ZipError::NoMetadata),
        [only] => Ok(only),
        several => {
            let mut parts = wheel_filename.split('-');
            let expected = format!(
                "{}-{}",
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default()
            );
            let expected = normalize_folder(&expected);
            let matching = several.iter().find(|entry| {
                metadata_folder(&entry.name)
                    .is_some_and(|folder| normalize_folder(folder) == expected)
            });
            matching.copied().ok_or_else(|| {
                let names: Vec<&str> = several.iter().map(|entry| entry.name.as_str()).collect();
                ZipError::AmbiguousMetadata(names.join(", "))
            })
        }
    }
}

/// `<folder>` when `name` is `<folder>.dist-info/METADATA` at the top level.
fn metadata_folder(name: &str) -> Option<&str> {
    let folder = name.strip_suffix(".dist-info/METADATA")?;
    (!folder.is_empty() && !folder.contains('/')).then_some(folder)
}

/// Compare dist-info folder names the way installers do: case-insensitive, `-`, `_` and `.` alike.
fn normalize_folder(folder: &str) -> String {
    folder
        .chars()
        .map(|c| {
            if matches!(c, '-' | '.') {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The length of the local file header (fixed part, name and extra field) at the start of `bytes`; the
/// entry's data follows it. The local extra field may differ from the central one, so it must be read.
pub(crate) fn local_header_len(bytes: &[u8]) -> Result<u64, ZipError> {
    let mut reader = Reader::new(bytes, "local file header");
    reader.signature(LOCAL_HEADER_SIGNATURE)?;
    reader.take(22)?;
    let name_len = u64::from(reader.u16()?);
    let extra_len = u64::from(reader.u16()?);
    Ok(LOCAL_HEADER_LEN as u64 + name_len + extra_len)
}

/// Check that an entry is one fave-lock can and will extract.
pub(crate) fn check_entry(entry: &Entry) -> Result<(), ZipError> {
    if entry.flags & 1 != 0 {
        return Err(ZipError::Encrypted(entry.name.clone()));
    }
    if !matches!(entry.method, 0 | 8) {
        return Err(ZipError::Method {
            name: entry.name.clone(),
            method: entry.method,
        });
    }
    for (what, len) in [
        ("compressed METADATA", entry.compressed_len),
        ("METADATA", entry.uncompressed_len),
    ] {
        if len > MAX_METADATA_LEN {
            return Err(ZipError::TooLarge {
                what,
                len,
                limit: MAX_METADATA_LEN,
            });
        }
    }
    Ok(())
}

/// Decompress `data` (exactly the entry's compressed bytes) and check its size and CRC-32.
pub(crate) fn extract(entry: &Entry, data: &[u8]) -> Result<Vec<u8>, ZipError> {
    check_entry(entry)?;
    let content = if entry.method == 0 {
        data.to_vec()
    } else {
        let mut content = Vec::with_capacity(usize::try_from(entry.uncompressed_len).unwrap_or(0));
        let decoder = flate2::read::DeflateDecoder::new(data);
        // One byte over the declared length is enough to detect a lie without inflating a bomb.
        decoder
            .take(entry.uncompressed_len + 1)
            .read_to_end(&mut content)
            .map_err(|error| ZipError::Inflate {
                name: entry.name.clone(),
                message: error.to_string(),
            })?;
        content
    };
    let mut crc = flate2::Crc::new();
    crc.update(&content);
    if content.len() as u64 != entry.uncompressed_len || crc.sum() != entry.crc32 {
        return Err(ZipError::Checksum(entry.name.clone()));
    }
    Ok(content)
}

#[cfg(test)]
#[path = "zip_tests.rs"]
pub(crate) mod tests;
