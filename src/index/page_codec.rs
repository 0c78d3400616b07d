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

use jiff::Timestamp;
use pep508_rs::PackageName;

use super::cache::CachedPage;
use super::model::{DistFile, ProjectPage};

/// The first bytes of an entry; the last one is the format version.
const MAGIC: &[u8; 4] = b"FLP\x01";

/// Encode a page as fetched from `index_url` at `fetched_at`.
pub(crate) fn encode(index_url: &str, fetched_at: Timestamp, page: &ProjectPage) -> Vec<u8> {
    let estimate = page
        .files
        .iter()
        .map(|file| file.filename.len() + file.url.len() + 160)
        .sum::<usize>();
    let mut out = Writer(Vec::with_capacity(64 + index_url.len() + estimate));
    out.0.extend_from_slice(MAGIC);
    out.str(index_url);
    out.time(fetched_at);
    out.str(page.name.as_ref());
    out.len(page.files.len());
    for file in &page.files {
        out.str(&file.filename);
        out.str(&file.url);
        out.opt(file.sha256.as_deref(), Writer::str);
        out.opt(file.size, |out, size| {
            out.0.extend_from_slice(&size.to_le_bytes())
        });
        out.opt(file.upload_time, Writer::time);
        out.opt(file.requires_python.as_deref(), Writer::str);
        out.opt(file.yanked.as_deref(), Writer::str);
        out.0.push(u8::from(file.core_metadata));
    }
    out.0
}

/// Decode an entry written by [`encode`]; `None` when it is not one.
pub(crate) fn decode(bytes: &[u8]) -> Option<CachedPage> {
    let mut input = Reader(bytes.strip_prefix(MAGIC)?);
    let index_url = input.str()?.to_string();
    let fetched_at = input.time()?;
    let name = PackageName::from_str(input.str()?).ok()?;
    let count = input.len()?;
    // Each file takes at least 14 bytes, so a corrupt count cannot make us reserve gigabytes.
    let mut files = Vec::with_capacity(count.min(input.0.len() / 14));
    for _ in 0..count {
        files.push(DistFile {
            filename: input.str()?.to_string(),
            url: input.str()?.to_string(),
            sha256: input.opt(|input| input.str().map(str::to_string))?,
            size: input.opt(Reader::u64)?,
            upload_time: input.opt(Reader::time)?,
            requires_python: input.opt(|input| input.str().map(str::to_string))?,
            yanked: input.opt(|input| input.str().map(str::to_string))?,
            core_metadata: match input.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            },
        });
    }
    input.0.is_empty().then_some(CachedPage {
        index_url,
        fetched_at,
        page: ProjectPage { name, files },
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, len: usize) {
        // Strings and file lists past 4 GiB cannot come from a page we accepted (pages are capped far
        // below that); saturate rather than wrap, so such an entry fails to decode instead of misreading.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_le_bytes());
    }

    fn str(&mut self, text: &str) {
        self.len(text.len());
        self.0.extend_from_slice(text.as_bytes());
    }

    fn time(&mut self, time: Timestamp) {
        self.0.extend_from_slice(&time.as_second().to_le_bytes());
        self.0
            .extend_from_slice(&time.subsec_nanosecond().to_le_bytes());
    }

    fn opt<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Writer, T)) {
        match value {
            None => self.0.push(0),
            Some(value) => {
                self.0.push(1);
                write(self, value);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[byte]| byte)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(u32::from_le_bytes(self.take()?)).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.len()?;
        if len > self.0.len() {
            return None;
        }
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(text).ok()
    }

    fn time(&mut self) -> Option<Timestamp> {
        let seconds = i64::from_le_bytes(self.take()?);
        let nanoseconds = i32::from_le_bytes(self.take()?);
        Timestamp::new(seconds, nanoseconds).ok()
    }

    fn opt<T>(&mut self, read: impl FnOnce(&mut Reader<'a>) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => read(self).map(Some),
            _ => None,
        }
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
            files: vec![file, bare],
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
