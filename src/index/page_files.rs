//! A project page's files, held compactly: a run keeps every page it reads until it ends, and their
//! files were most of a cold run's heap (heaptrack, home-assistant's cold diagnosis: 60 of 81 MB for
//! 115,107 files, each a [`DistFile`] of five `String`s in a `Vec` grown by doubling).
//!
//! Each file is one fixed-size entry. Its text lives in one buffer per page: the URL after a prefix that
//! the page's files share (`https://files.pythonhosted.org/packages/`), then the filename only when the
//! URL does not end with it. A SHA-256 given as 64 lower-case hex digits (what the parsers write) is
//! kept as its 32 bytes; `requires-python` values and yank reasons, which a page repeats release after
//! release, are stored once each. Nothing is lost: [`FileRef::to_dist_file`] gives back exactly the
//! file that was pushed, odd values included (a hash that is not hex, a URL without the filename).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use jiff::Timestamp;

use super::model::DistFile;

/// A file's fields as borrowed text: what a parser hands to [`PageFilesBuilder::push`], and what
/// [`FileRef::fields`] gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFields<'a> {
    pub filename: &'a str,
    pub url: Cow<'a, str>,
    pub sha256: Option<Cow<'a, str>>,
    pub size: Option<u64>,
    pub upload_time: Option<Timestamp>,
    pub requires_python: Option<&'a str>,
    pub yanked: Option<&'a str>,
    pub core_metadata: bool,
}

impl FileFields<'_> {
    /// The same file as an owned [`DistFile`].
    pub fn into_owned(self) -> DistFile {
        DistFile {
            filename: self.filename.to_string(),
            url: self.url.into_owned(),
            sha256: self.sha256.map(Cow::into_owned),
            size: self.size,
            upload_time: self.upload_time,
            requires_python: self.requires_python.map(str::to_string),
            yanked: self.yanked.map(str::to_string),
            core_metadata: self.core_metadata,
        }
    }
}

impl DistFile {
    /// This file's fields, borrowed.
    pub fn fields(&self) -> FileFields<'_> {
        FileFields {
            filename: &self.filename,
            url: Cow::Borrowed(&self.url),
            sha256: self.sha256.as_deref().map(Cow::Borrowed),
            size: self.size,
            upload_time: self.upload_time,
            requires_python: self.requires_python.as_deref(),
            yanked: self.yanked.as_deref(),
            core_metadata: self.core_metadata,
        }
    }
}

/// Every file of one page, in the page's order.
#[derive(Clone, Default)]
pub struct PageFiles {
    entries: Box<[Entry]>,
    /// Each file's URL (after its prefix) and, where the URL does not end with it, its filename.
    text: Box<str>,
    /// URL prefixes; an entry names one by index, and index 0 is the empty prefix.
    prefixes: Box<[Box<str>]>,
    /// Text stored once however many files carry it: `requires-python` values, yank reasons, and hashes
    /// that are not 64 lower-case hex digits.
    strings: Box<[Box<str>]>,
}

/// One file. Text is named by byte ranges into [`PageFiles::text`] and by indexes into
/// [`PageFiles::strings`], where [`NONE`] means the field is absent.
#[derive(Clone, Copy)]
struct Entry {
    /// The SHA-256 (when [`SHA256_BYTES`]), or the index of its text in its first four bytes (when
    /// [`SHA256_TEXT`]).
    sha256: [u8; 32],
    size: u64,
    upload_second: i64,
    upload_nanosecond: i32,
    url_start: u32,
    url_end: u32,
    filename_start: u32,
    filename_end: u32,
    requires_python: u32,
    yanked: u32,
    prefix: u8,
    flags: u8,
}

const NONE: u32 = u32::MAX;
const SHA256_BYTES: u8 = 1;
const SHA256_TEXT: u8 = 1 << 1;
const HAS_SIZE: u8 = 1 << 2;
const HAS_UPLOAD_TIME: u8 = 1 << 3;
const CORE_METADATA: u8 = 1 << 4;

/// Most prefixes a page keeps; a URL whose prefix does not fit is stored whole.
const MAX_PREFIXES: usize = u8::MAX as usize + 1;

impl PageFiles {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The file at `index`, in page order.
    pub fn get(&self, index: usize) -> Option<FileRef<'_>> {
        let entry = self.entries.get(index)?;
        Some(FileRef { files: self, entry })
    }

    /// The files in page order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = FileRef<'_>> + ExactSizeIterator {
        self.entries
            .iter()
            .map(|entry| FileRef { files: self, entry })
    }

    /// Every file as an owned [`DistFile`].
    pub fn to_dist_files(&self) -> Vec<DistFile> {
        self.iter().map(|file| file.to_dist_file()).collect()
    }

    fn string(&self, index: u32) -> Option<&str> {
        (index != NONE).then(|| &*self.strings[index as usize])
    }
}

impl FromIterator<DistFile> for PageFiles {
    fn from_iter<I: IntoIterator<Item = DistFile>>(files: I) -> PageFiles {
        let mut builder = PageFilesBuilder::default();
        for file in files {
            builder.push(file.fields());
        }
        builder.build()
    }
}

impl From<Vec<DistFile>> for PageFiles {
    fn from(files: Vec<DistFile>) -> PageFiles {
        files.into_iter().collect()
    }
}

impl PartialEq for PageFiles {
    /// The same files in the same order, however each was stored.
    fn eq(&self, other: &PageFiles) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for PageFiles {}

impl fmt::Debug for PageFiles {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

/// One file of a [`PageFiles`], read in place.
#[derive(Clone, Copy)]
pub struct FileRef<'a> {
    files: &'a PageFiles,
    entry: &'a Entry,
}

impl<'a> FileRef<'a> {
    pub fn filename(&self) -> &'a str {
        self.text(self.entry.filename_start, self.entry.filename_end)
    }

    /// The absolute URL, without the `#sha256=` fragment.
    pub fn url(&self) -> Cow<'a, str> {
        let rest = self.text(self.entry.url_start, self.entry.url_end);
        match &*self.files.prefixes[usize::from(self.entry.prefix)] {
            "" => Cow::Borrowed(rest),
            prefix => Cow::Owned([prefix, rest].concat()),
        }
    }

    /// The length of [`url`](Self::url), without building it.
    pub fn url_len(&self) -> usize {
        let prefix = &self.files.prefixes[usize::from(self.entry.prefix)];
        prefix.len() + (self.entry.url_end - self.entry.url_start) as usize
    }

    /// The SHA-256 as the index gave it (lower-case hex from the parsers).
    pub fn sha256(&self) -> Option<Cow<'a, str>> {
        let entry = self.entry;
        if entry.flags & SHA256_BYTES != 0 {
            Some(Cow::Owned(lower_hex(&entry.sha256)))
        } else if entry.flags & SHA256_TEXT != 0 {
            let [a, b, c, d, ..] = entry.sha256;
            self.files
                .string(u32::from_le_bytes([a, b, c, d]))
                .map(Cow::Borrowed)
        } else {
            None
        }
    }

    pub fn size(&self) -> Option<u64> {
        (self.entry.flags & HAS_SIZE != 0).then_some(self.entry.size)
    }

    /// PEP 700 `upload-time`.
    pub fn upload_time(&self) -> Option<Timestamp> {
        if self.entry.flags & HAS_UPLOAD_TIME == 0 {
            return None;
        }
        // Only a timestamp that was valid when pushed is stored, so this cannot fail.
        Timestamp::new(self.entry.upload_second, self.entry.upload_nanosecond).ok()
    }

    /// `requires-python` as written.
    pub fn requires_python(&self) -> Option<&'a str> {
        self.files.string(self.entry.requires_python)
    }

    /// PEP 592: `Some(reason)` when yanked (an empty reason when none was given).
    pub fn yanked(&self) -> Option<&'a str> {
        self.files.string(self.entry.yanked)
    }

    /// Whether the index advertises a PEP 658 `.metadata` file.
    pub fn core_metadata(&self) -> bool {
        self.entry.flags & CORE_METADATA != 0
    }

    /// Whether `self` and `other` are the same entry of the same page (not merely equal files).
    pub fn is_same_entry(&self, other: &FileRef<'_>) -> bool {
        std::ptr::eq(self.entry, other.entry)
    }

    pub fn fields(&self) -> FileFields<'a> {
        FileFields {
            filename: self.filename(),
            url: self.url(),
            sha256: self.sha256(),
            size: self.size(),
            upload_time: self.upload_time(),
            requires_python: self.requires_python(),
            yanked: self.yanked(),
            core_metadata: self.core_metadata(),
        }
    }

    pub fn to_dist_file(&self) -> DistFile {
        self.fields().into_owned()
    }

    fn text(&self, start: u32, end: u32) -> &'a str {
        &self.files.text[start as usize..end as usize]
    }
}

impl PartialEq for FileRef<'_> {
    fn eq(&self, other: &FileRef<'_>) -> bool {
        self.fields() == other.fields()
    }
}

impl fmt::Debug for FileRef<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fields().fmt(formatter)
    }
}

/// Collects a page's files one by one, as its parser reads them.
#[derive(Default)]
pub struct PageFilesBuilder {
    entries: Vec<Entry>,
    text: String,
    prefixes: Vec<Box<str>>,
    strings: Vec<Box<str>>,
    string_indexes: HashMap<Box<str>, u32>,
    /// The prefix and `requires-python` of the file pushed last: a page lists a release's files
    /// together, so the next file most often has the same (checked before searching or hashing).
    last_prefix: u8,
    last_requires_python: u32,
}

impl PageFilesBuilder {
    pub fn push(&mut self, file: FileFields<'_>) {
        if self.prefixes.is_empty() {
            self.prefixes.push(Box::from(""));
        }
        let (prefix, url_rest) = self.prefix_of(&file.url);
        let url_start = self.offset();
        self.text.push_str(url_rest);
        let url_end = self.offset();
        let (filename_start, filename_end) = if url_rest.ends_with(file.filename) {
            (url_end - offset_of(file.filename.len()), url_end)
        } else {
            self.text.push_str(file.filename);
            (url_end, self.offset())
        };
        let mut flags = 0;
        let mut sha256 = [0; 32];
        match file
            .sha256
            .as_deref()
            .map(|hash| (hash, sha256_bytes(hash)))
        {
            None => {}
            Some((_, Some(bytes))) => {
                sha256 = bytes;
                flags |= SHA256_BYTES;
            }
            Some((hash, None)) => {
                let index = self.intern(hash);
                sha256[..4].copy_from_slice(&index.to_le_bytes());
                flags |= SHA256_TEXT;
            }
        }
        if file.size.is_some() {
            flags |= HAS_SIZE;
        }
        if file.upload_time.is_some() {
            flags |= HAS_UPLOAD_TIME;
        }
        if file.core_metadata {
            flags |= CORE_METADATA;
        }
        let requires_python = match file.requires_python {
            None => NONE,
            Some(text) if self.string(self.last_requires_python) == Some(text) => {
                self.last_requires_python
            }
            Some(text) => {
                self.last_requires_python = self.intern(text);
                self.last_requires_python
            }
        };
        let yanked = file.yanked.map_or(NONE, |text| self.intern(text));
        let upload_time = file.upload_time.unwrap_or_default();
        self.entries.push(Entry {
            sha256,
            size: file.size.unwrap_or_default(),
            upload_second: upload_time.as_second(),
            upload_nanosecond: upload_time.subsec_nanosecond(),
            url_start,
            url_end,
            filename_start,
            filename_end,
            requires_python,
            yanked,
            prefix,
            flags,
        });
    }

    /// The files pushed so far, with no spare capacity left over.
    pub fn build(self) -> PageFiles {
        PageFiles {
            entries: self.entries.into_boxed_slice(),
            text: self.text.into_boxed_str(),
            prefixes: self.prefixes.into_boxed_slice(),
            strings: self.strings.into_boxed_slice(),
        }
    }

    /// The index of `url`'s prefix (added when new and there is room) and the rest of `url`.
    fn prefix_of<'u>(&mut self, url: &'u str) -> (u8, &'u str) {
        let last = &self.prefixes[usize::from(self.last_prefix)];
        if self.last_prefix != 0
            && let Some(rest) = url.strip_prefix(&**last)
            && !rest.is_empty()
        {
            return (self.last_prefix, rest);
        }
        let prefix = shared_prefix(url);
        if prefix.is_empty() {
            return (0, url);
        }
        let index = match self.prefixes.iter().rposition(|known| **known == *prefix) {
            Some(index) => index,
            None if self.prefixes.len() < MAX_PREFIXES => {
                self.prefixes.push(Box::from(prefix));
                self.prefixes.len() - 1
            }
            None => return (0, url),
        };
        match u8::try_from(index) {
            Ok(index) => {
                self.last_prefix = index;
                (index, &url[prefix.len()..])
            }
            Err(_) => (0, url),
        }
    }

    fn string(&self, index: u32) -> Option<&str> {
        self.strings.get(index as usize).map(|text| &**text)
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(index) = self.string_indexes.get(text) {
            return *index;
        }
        let index = offset_of(self.strings.len());
        self.strings.push(Box::from(text));
        self.string_indexes.insert(Box::from(text), index);
        index
    }

    fn offset(&self) -> u32 {
        offset_of(self.text.len())
    }
}

/// A length as a `u32` offset. A page is parsed from at most a few tens of megabytes, so its text
/// cannot reach 4 GiB; past that the offset saturates rather than wraps.
fn offset_of(length: usize) -> u32 {
    u32::try_from(length).unwrap_or(u32::MAX)
}

/// The part of `url` that files of one index share: through the first path segment
/// (`https://files.pythonhosted.org/packages/`), and never past the last `/`, so that the filename
/// stays in the rest. Empty when the URL has no such part.
fn shared_prefix(url: &str) -> &str {
    let last_slash = url.rfind('/');
    let fourth_slash = url.match_indices('/').nth(3).map(|(index, _)| index);
    match (fourth_slash, last_slash) {
        (Some(fourth), Some(last)) => &url[..=fourth.min(last)],
        _ => "",
    }
}

/// The 32 bytes of a SHA-256 written as 64 lower-case hex digits; `None` for any other text, which
/// could not be written back the same from bytes.
fn sha256_bytes(hash: &str) -> Option<[u8; 32]> {
    fn nibble(digit: u8) -> Option<u8> {
        match digit {
            b'0'..=b'9' => Some(digit - b'0'),
            b'a'..=b'f' => Some(digit - b'a' + 10),
            _ => None,
        }
    }
    let digits = hash.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

/// A SHA-256 as 64 lower-case hex digits. `hex::encode` collects one `char` at a time (2,200
/// instructions a hash; every file of every page passes here when a page is stored: callgrind), its
/// `encode_to_slice` writes bytes.
fn lower_hex(bytes: &[u8; 32]) -> String {
    let mut digits = [0; 64];
    // The output is exactly twice the input's length, so this cannot fail.
    let _ = hex::encode_to_slice(bytes, &mut digits);
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
#[path = "page_files_tests.rs"]
mod tests;
