//! Reading a wheel's METADATA through its zip central directory, fetching only the bytes needed.
//!
//! For an index without PEP 658 `.metadata` files this replaces downloading the wheel: one suffix range
//! (`Range: bytes=-65536`) usually holds the end-of-central-directory record and the whole directory, a
//! second range (or none, when it is already in the tail) holds METADATA's local header and data. A 36 MB
//! wheel costs about 100 KB instead of 36 MB.
//!
//! The same walk runs over any [`ByteSource`]: HTTP ranges here, a downloaded file in `download.rs`
//! (when the server does not answer ranges), bytes in memory in tests.

use std::borrow::Cow;

use reqwest::header::{CONTENT_RANGE, HeaderMap, HeaderValue, RANGE};
use reqwest::{StatusCode, Url};

use super::error::IndexError;
use super::http::{Failure, Http, unexpected_status};
use super::zip::{
    self, EOCD_LEN, Entry, LOCAL_HEADER_LEN, MAX_COMMENT_LEN, ZIP64_EOCD_LEN, ZIP64_LOCATOR_LEN,
    ZipError,
};

/// The first read: the last 64 KiB, which for most wheels holds the EOCD record and the whole central
/// directory.
pub(crate) const TAIL_LEN: u64 = 64 << 10;

/// Bytes read beyond METADATA's local header (fixed part and name) in the same request as its data, so
/// that a local extra field (usually empty, sometimes a few dozen bytes) costs no second request.
const LOCAL_EXTRA_ALLOWANCE: u64 = 1024;

/// Why reading METADATA from a [`ByteSource`] stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The server does not answer range requests (it sent 200 or 416): download the file instead.
    Unsupported,
    /// The request itself failed.
    Index(IndexError),
    /// The bytes are not a zip with a METADATA file.
    Zip(ZipError),
}

impl From<ZipError> for ReadError {
    fn from(error: ZipError) -> ReadError {
        ReadError::Zip(error)
    }
}

impl From<IndexError> for ReadError {
    fn from(error: IndexError) -> ReadError {
        ReadError::Index(error)
    }
}

/// Random access to a file's bytes.
pub(crate) trait ByteSource {
    /// The file's length and its last `min(len, file length)` bytes.
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError>;
    /// Exactly `len` bytes at `offset` (the caller keeps within the file).
    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError>;
}

/// A whole file already in memory: the fuzz target's input, and tests.
pub(crate) struct SliceSource<'a>(pub &'a [u8]);

impl ByteSource for SliceSource<'_> {
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError> {
        let file_len = self.0.len() as u64;
        let start = usize::try_from(file_len - len.min(file_len)).unwrap_or_default();
        Ok((file_len, self.0[start..].to_vec()))
    }

    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        let range = usize::try_from(offset).ok().zip(usize::try_from(len).ok());
        let slice = range.and_then(|(offset, len)| self.0.get(offset..offset.checked_add(len)?));
        slice
            .map(<[u8]>::to_vec)
            .ok_or(ReadError::Zip(ZipError::Truncated("bytes in memory")))
    }
}

/// The bytes known so far: the file from `start` to its end.
struct Window {
    start: u64,
    bytes: Vec<u8>,
}

impl Window {
    /// `len` bytes at `offset`, if the window holds them.
    fn get(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let from = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        let len = usize::try_from(len).ok()?;
        self.bytes.get(from..from.checked_add(len)?)
    }

    /// Grow the window back to `offset` with one read.
    async fn extend_to(
        &mut self,
        source: &mut impl ByteSource,
        offset: u64,
    ) -> Result<(), ReadError> {
        if offset >= self.start {
            return Ok(());
        }
        let mut bytes = source.read(offset, self.start - offset).await?;
        // Exactly: a plain extend doubles the capacity, and a torch wheel's directory is 2 MB.
        bytes.reserve_exact(self.bytes.len());
        bytes.extend_from_slice(&self.bytes);
        self.bytes = bytes;
        self.start = offset;
        Ok(())
    }
}

/// The uncompressed METADATA of the wheel `wheel_filename`, read from `source`, starting with a tail of
/// `tail_len` bytes. Of the directory only METADATA's entry is kept, and the bytes read so far only
/// when they hold its data: what waits for the data's read holds next to nothing.
pub(crate) async fn read_metadata(
    source: &mut impl ByteSource,
    wheel_filename: &str,
    tail_len: u64,
) -> Result<Vec<u8>, ReadError> {
    let (file_len, mut window, record) = locate_directory(source, tail_len).await?;
    let entry = zip::find_metadata_in(
        &directory(source, &mut window, &record).await?,
        wheel_filename,
    )?;
    zip::check_entry(&entry)?;
    let data = entry_data(source, window, &entry, file_len).await?;
    Ok(zip::extract(&entry, &data)?)
}

/// A zip's central directory, read from its end.
pub(crate) struct Directory {
    /// The whole file's length.
    pub(crate) file_len: u64,
    /// Where the central directory starts: every entry's data ends before it.
    pub(crate) directory_offset: u64,
    pub(crate) entries: Vec<Entry>,
}

/// The central directory of the zip in `source`, starting with a tail of `tail_len` bytes (which for
/// most wheels holds the directory, so one read does).
pub(crate) async fn read_directory(
    source: &mut impl ByteSource,
    tail_len: u64,
) -> Result<Directory, ReadError> {
    let (file_len, mut window, record) = locate_directory(source, tail_len).await?;
    let entries = zip::parse_directory(&directory(source, &mut window, &record).await?)?;
    Ok(Directory {
        file_len,
        directory_offset: record.directory_offset,
        entries,
    })
}

/// The file's length, the bytes read from its end, and its EOCD record, checked against the length.
async fn locate_directory(
    source: &mut impl ByteSource,
    tail_len: u64,
) -> Result<(u64, Window, zip::EndRecord), ReadError> {
    let (file_len, tail) = source.tail(tail_len).await?;
    let mut window = Window {
        start: file_len.saturating_sub(tail.len() as u64),
        bytes: tail,
    };
    let record = end_record(source, &mut window, file_len).await?;
    zip::check_directory_bounds(&record, file_len)?;
    Ok((file_len, window, record))
}

/// The central directory's bytes. When it ends inside the window, the window grows back to its start (one
/// read, and the entry's data may then be in the window too); when it ends before the window (bytes
/// between directory and EOCD record), it is read on its own, so a lying offset cannot make us read the
/// whole file.
async fn directory<'w>(
    source: &mut impl ByteSource,
    window: &'w mut Window,
    record: &zip::EndRecord,
) -> Result<Cow<'w, [u8]>, ReadError> {
    let (offset, len) = (record.directory_offset, record.directory_len);
    if offset + len < window.start {
        return Ok(Cow::Owned(source.read(offset, len).await?));
    }
    window.extend_to(source, offset).await?;
    let bytes = window.get(offset, len);
    Ok(Cow::Borrowed(
        bytes.ok_or(ZipError::Truncated("central directory"))?,
    ))
}

/// The EOCD record, with its ZIP64 values applied. If the tail is too short to hold the record behind a
/// long archive comment, the window grows once to the longest possible comment.
async fn end_record(
    source: &mut impl ByteSource,
    window: &mut Window,
    file_len: u64,
) -> Result<zip::EndRecord, ReadError> {
    let (position, mut record) = match zip::find_end_record(&window.bytes) {
        Err(ZipError::NoEndRecord) if window.start > 0 => {
            let longest = (EOCD_LEN + MAX_COMMENT_LEN + ZIP64_LOCATOR_LEN) as u64;
            window
                .extend_to(source, file_len.saturating_sub(longest))
                .await?;
            zip::find_end_record(&window.bytes)?
        }
        other => other?,
    };
    // A ZIP64 locator cut off by the start of the window would go unseen: look again with it.
    if record.zip64_record_offset.is_none() && position < ZIP64_LOCATOR_LEN && window.start > 0 {
        window
            .extend_to(
                source,
                window.start.saturating_sub(ZIP64_LOCATOR_LEN as u64),
            )
            .await?;
        (_, record) = zip::find_end_record(&window.bytes)?;
    }
    if let Some(offset) = record.zip64_record_offset {
        let len = ZIP64_EOCD_LEN as u64;
        if offset.checked_add(len).is_none_or(|end| end > file_len) {
            return Err(ZipError::Truncated("ZIP64 end-of-central-directory record").into());
        }
        let bytes = match window.get(offset, len) {
            Some(bytes) => Cow::Borrowed(bytes),
            None => Cow::Owned(source.read(offset, len).await?),
        };
        zip::apply_zip64_record(&mut record, &bytes)?;
    }
    Ok(record)
}

/// The compressed bytes of `entry`, from the window when the tail already holds them (METADATA is
/// usually among the last entries), else with one read of header and data together.
async fn entry_data(
    source: &mut impl ByteSource,
    window: Window,
    entry: &Entry,
    file_len: u64,
) -> Result<Vec<u8>, ReadError> {
    let start = entry.local_header_offset;
    let available = file_len.checked_sub(start).filter(|&len| len > 0);
    let available = available.ok_or(ZipError::Truncated("local file header"))?;
    let guess = LOCAL_HEADER_LEN as u64
        + entry.name.len() as u64
        + LOCAL_EXTRA_ALLOWANCE
        + entry.compressed_len;
    let guess = guess.min(available);
    let chunk = if let Some(bytes) = window.get(start, guess) {
        Cow::Borrowed(bytes)
    } else {
        // Not held while the read waits for a permit, behind a diagnosis's other reads.
        drop(window);
        Cow::Owned(source.read(start, guess).await?)
    };
    let header_len = zip::local_header_len(&chunk)?;
    let end = header_len + entry.compressed_len;
    if end > available {
        return Err(ZipError::Truncated("METADATA data").into());
    }
    match chunk.get(
        usize::try_from(header_len).unwrap_or(usize::MAX)
            ..usize::try_from(end).unwrap_or(usize::MAX),
    ) {
        Some(data) => Ok(data.to_vec()),
        None => source.read(start + header_len, entry.compressed_len).await,
    }
}

/// HTTP range requests against one file URL.
pub(crate) struct HttpRanges<'a> {
    pub(crate) http: &'a Http,
    pub(crate) url: &'a Url,
}

/// A `Content-Range: bytes <first>-<last>/<total>` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub(crate) first: u64,
    pub(crate) last: u64,
    pub(crate) total: Option<u64>,
}

impl HttpRanges<'_> {
    /// Send `range`; `None` when the server does not answer it with 206.
    async fn fetch(
        &self,
        range: String,
        limit: u64,
    ) -> Result<Option<(ContentRange, Vec<u8>)>, ReadError> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&range)
            .map_err(|error| IndexError::malformed(self.url.as_str(), error.to_string()))?;
        headers.insert(RANGE, value);
        let mut retrying = self.http.retrying(self.url);
        loop {
            let attempt = self.attempt(&headers, limit).await;
            if let Some(answer) = retrying.settle(attempt).await? {
                return Ok(answer);
            }
        }
    }

    async fn attempt(
        &self,
        headers: &HeaderMap,
        limit: u64,
    ) -> Result<Option<(ContentRange, Vec<u8>)>, Failure> {
        let (response, _permit) = self.http.send(self.url, headers).await?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = content_range(response.headers());
                let range =
                    range.ok_or_else(|| self.malformed("a 206 without a usable Content-Range"))?;
                let body = self.http.body(self.url, response, limit).await?;
                Ok(Some((range, body)))
            }
            StatusCode::OK | StatusCode::RANGE_NOT_SATISFIABLE => Ok(None),
            status => Err(unexpected_status(self.url, status)),
        }
    }

    fn malformed(&self, message: &str) -> Failure {
        Failure::Fatal(IndexError::malformed(self.url.as_str(), message))
    }

    fn mismatch(&self, what: &str) -> ReadError {
        ReadError::Index(IndexError::malformed(
            self.url.as_str(),
            format!("the 206 answer does not match the {what} asked for"),
        ))
    }
}

impl ByteSource for HttpRanges<'_> {
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError> {
        let (range, body) = self
            .fetch(format!("bytes=-{len}"), len)
            .await?
            .ok_or(ReadError::Unsupported)?;
        let total = range.total.ok_or_else(|| self.mismatch("file length"))?;
        let consistent = range.last.checked_add(1) == Some(total)
            && range
                .last
                .checked_sub(range.first)
                .and_then(|span| span.checked_add(1))
                == Some(body.len() as u64);
        if !consistent {
            return Err(self.mismatch("suffix"));
        }
        Ok((total, body))
    }

    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let last = offset.saturating_add(len - 1);
        let (range, body) = self
            .fetch(format!("bytes={offset}-{last}"), len)
            .await?
            .ok_or(ReadError::Unsupported)?;
        if range.first != offset || range.last != last || body.len() as u64 != len {
            return Err(self.mismatch("range"));
        }
        Ok(body)
    }
}

/// Parse `Content-Range: bytes <first>-<last>/<total or *>` (RFC 9110 §14.4).
pub(crate) fn content_range(headers: &HeaderMap) -> Option<ContentRange> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let (unit, rest) = value.trim().split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let range = ContentRange {
        first: first.trim().parse().ok()?,
        last: last.trim().parse().ok()?,
        total: match total.trim() {
            "*" => None,
            total => Some(total.parse().ok()?),
        },
    };
    (range.first <= range.last).then_some(range)
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
