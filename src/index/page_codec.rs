//! The disk encoding of a cached project page: a compact, length-prefixed binary form.
//!
//! Every run loads each project page it needs from the cache (24 MB of JSON for the repo's own input), so
//! the encoding is chosen for reading speed: no escapes to scan, no field names, timestamps as integers.
//! Layout, all integers little-endian:
//!
//! ```text
//! magic "FLP\x01" · str index_url · time fetched_at · str name · u32 count · count × file
//! file = str filename · str url · opt<str> sha256 · opt<u64> size · opt<time> upload_time
//!        · opt<str> requires_python · opt<str> yanked · u8 core_metadata
//! str  = u32 length · UTF-8 bytes          opt<T> = u8 0 | u8 1 · T
//! time = i64 seconds · i32 nanoseconds (a `jiff::Timestamp`, exactly)
//! ```
//!
//! Decoding checks every length and the UTF-8 of every string, and any surprise (truncation, trailing
//! bytes, a bad tag) makes the whole entry unreadable, which the cache treats as a miss.

use std::str::FromStr;

use std::borrow::Cow;

use jiff::Timestamp;
use pep508_rs::PackageName;

use super::cache::CachedPage;
use super::model::{DistFile, ProjectPage};
use super::page_files::{FileFields, PageFilesBuilder};

/// The first bytes of an entry; the last one is the format version.
const MAGIC: &[u8; 4] = b"FLP\x01";

/// Encode a page as fetched from `index_url` at `fetched_at`.
pub(crate) fn encode(index_url: &str, fetched_at: Timestamp, page: &ProjectPage) -> Vec<u8> {
    let estimate = page
        .files
        .iter()
        .map(|file| file.filename().len() + file.url_len() + 160)
        .sum::<usize>();
    let mut out = Writer(Vec::with_capacity(64 + index_url.len() + estimate));
    out.0.extend_from_slice(MAGIC);
    out.str(index_url);
    out.time(fetched_at);
    out.str(page.name.as_ref());
    out.len(page.files.len());
    for file in page.files.iter() {
        out.fields(&file.fields());
    }
    out.0
}

/// What an entry says about itself, read from its first bytes only: where and when the page was fetched,
/// and for which project. `None` when the bytes do not start an entry (the rest is not checked).
pub(crate) fn decode_header(bytes: &[u8]) -> Option<(&str, Timestamp, &str)> {
    let mut input = Reader(bytes.strip_prefix(MAGIC)?);
    let index_url = input.str()?;
    let fetched_at = input.time()?;
    let name = input.str()?;
    Some((index_url, fetched_at, name))
}

/// Decode an entry written by [`encode`]; `None` when it is not one.
pub(crate) fn decode(bytes: &[u8]) -> Option<CachedPage> {
    let mut input = Reader(bytes.strip_prefix(MAGIC)?);
    let index_url = input.str()?.to_string();
    let fetched_at = input.time()?;
    let name = PackageName::from_str(input.str()?).ok()?;
    let count = input.len()?;
    // Each file takes at least 14 bytes, so a corrupt count cannot make us reserve gigabytes.
    let mut files = PageFilesBuilder::default();
    for _ in 0..count {
        files.push(input.fields()?);
    }
    input.is_empty().then(|| CachedPage {
        index_url,
        fetched_at,
        page: ProjectPage {
            name,
            files: files.build(),
        },
    })
}

/// Appends the encoding's primitives; shared with the other binary cache entries (the resolver's
/// selections), so that every entry spells a string, a time and a file the same way.
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn len(&mut self, len: usize) {
        // Strings and file lists past 4 GiB cannot come from a page we accepted (pages are capped far
        // below that); saturate rather than wrap, so such an entry fails to decode instead of misreading.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_le_bytes());
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    pub(crate) fn time(&mut self, time: Timestamp) {
        self.0.extend_from_slice(&time.as_second().to_le_bytes());
        self.0
            .extend_from_slice(&time.subsec_nanosecond().to_le_bytes());
    }

    pub(crate) fn opt<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Writer, T)) {
        match value {
            None => self.0.push(0),
            Some(value) => {
                self.0.push(1);
                write(self, value);
            }
        }
    }

    pub(crate) fn file(&mut self, file: &DistFile) {
        self.fields(&file.fields());
    }

    pub(crate) fn fields(&mut self, file: &FileFields<'_>) {
        self.str(file.filename);
        self.str(&file.url);
        self.opt(file.sha256.as_deref(), Writer::str);
        self.opt(file.size, Writer::u64);
        self.opt(file.upload_time, Writer::time);
        self.opt(file.requires_python, Writer::str);
        self.opt(file.yanked, Writer::str);
        self.0.push(u8::from(file.core_metadata));
    }
}

/// Reads what [`Writer`] wrote; every method checks lengths and returns `None` on any surprise.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[byte]| byte)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    pub(crate) fn len(&mut self) -> Option<usize> {
        usize::try_from(u32::from_le_bytes(self.take()?)).ok()
    }

    pub(crate) fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.len()?;
        let (bytes, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(bytes)
    }

    pub(crate) fn time(&mut self) -> Option<Timestamp> {
        let seconds = i64::from_le_bytes(self.take()?);
        let nanoseconds = i32::from_le_bytes(self.take()?);
        Timestamp::new(seconds, nanoseconds).ok()
    }

    pub(crate) fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Reader<'a>) -> Option<T>,
    ) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
    }

    pub(crate) fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    pub(crate) fn file(&mut self) -> Option<DistFile> {
        self.fields().map(FileFields::into_owned)
    }

    /// A file as [`Writer::fields`] wrote it, borrowing its text from the entry.
    pub(crate) fn fields(&mut self) -> Option<FileFields<'a>> {
        Some(FileFields {
            filename: self.str()?,
            url: Cow::Borrowed(self.str()?),
            sha256: self.opt(|input| input.str().map(Cow::Borrowed))?,
            size: self.opt(Reader::u64)?,
            upload_time: self.opt(Reader::time)?,
            requires_python: self.opt(Reader::str)?,
            yanked: self.opt(Reader::str)?,
            core_metadata: self.bool()?,
        })
    }

    /// Whether every byte has been read: an entry with bytes left over is not one we wrote.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> ProjectPage {
        let file = DistFile {
            filename: "six-1.0-py3-none-any.whl".to_string(),
            url: "https://files.example/six-1.0-py3-none-any.whl".to_string(),
            sha256: Some("ab".repeat(32)),
            size: Some(10),
            upload_time: Some("2024-01-02T03:04:05.123456Z".parse().unwrap()),
            requires_python: Some(">=3.8".to_string()),
            yanked: Some(String::new()),
            core_metadata: true,
        };
        let bare = DistFile {
            filename: "six-1.0.tar.gz".to_string(),
            url: "https://files.example/six-1.0.tar.gz".to_string(),
            sha256: None,
            size: None,
            upload_time: None,
            requires_python: None,
            yanked: None,
            core_metadata: false,
        };
        ProjectPage {
            name: PackageName::from_str("six").unwrap(),
            files: vec![file, bare].into(),
        }
    }

    #[test]
    fn pages_round_trip_exactly() {
        let fetched_at: Timestamp = "2026-11-27T09:00:00.987654321Z".parse().unwrap();
        let bytes = encode("https://pypi.org/simple", fetched_at, &page());
        let cached = decode(&bytes).unwrap();
        assert_eq!(cached.index_url, "https://pypi.org/simple");
        assert_eq!(cached.fetched_at, fetched_at);
        assert_eq!(cached.page, page());
    }

    /// Files the compact page keeps in its fallback forms (a hash that is not lower-case hex, a URL
    /// that does not end with the filename) are stored and read back exactly.
    #[test]
    fn odd_files_round_trip() {
        let mut files = page().files.to_dist_files();
        files.push(DistFile {
            url: "https://mirror.example/download?id=7".to_string(),
            sha256: Some("AB".repeat(32)),
            ..files[0].clone()
        });
        files.push(DistFile {
            url: "relative/six-1.0-py2-none-any.whl".to_string(),
            filename: "six-1.0-py2-none-any.whl".to_string(),
            ..files[1].clone()
        });
        let page = ProjectPage {
            files: files.into(),
            ..page()
        };
        let bytes = encode("https://pypi.org/simple", Timestamp::UNIX_EPOCH, &page);
        assert_eq!(decode(&bytes).unwrap().page, page);
    }

    #[test]
    fn every_truncation_and_trailing_bytes_are_rejected() {
        let bytes = encode("https://pypi.org/simple", Timestamp::UNIX_EPOCH, &page());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_none(), "prefix of {len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        assert!(decode(b"{\"index_url\": \"x\"}").is_none());
    }
}
