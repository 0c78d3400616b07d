//! A sparse local copy of a wheel that holds only the zip entries a caller asks for, fetched with HTTP
//! range requests: the numpy ABI check reads a wheel's extension modules without downloading its
//! vendored libraries, data and Python files (about half of the base image's wheel bytes).
//!
//! The copy is a temporary file of the wheel's full length whose unfetched parts are holes: the end of
//! the file (EOCD record, central directory, as `range.rs` reads them) and each chosen entry's local
//! header and data sit at their real offsets, so a reader that walks a wheel on disk reads it unchanged
//! and a gap it should never touch reads as zeros (which no deflate stream or CRC accepts).
//!
//! The bytes are not hashed (a range read cannot check the whole file's sha256): what is read from the
//! copy is advisory, and `verify` remains the integrity gate.
//!
//! Everything from the server is hostile: the file length must match the lock's size and fit the
//! download limit, every span stays between an entry's header and the central directory, and a 206 must
//! answer exactly the range asked. Any failure is an error for the caller to fall back on a download.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
use reqwest::{StatusCode, Url};
use tempfile::NamedTempFile;

use super::error::IndexError;
use super::http::{Failure, Http, unexpected_status};
use super::range::{ByteSource, Directory, HttpRanges, ReadError, TAIL_LEN, content_range};
use super::zip::{Entry, LOCAL_HEADER_LEN, ZipError};

/// The largest wheel a partial copy is made of (as for whole downloads).
const MAX_FILE_LEN: u64 = 16 << 30;
/// Neighbouring spans closer than this are fetched in one request: the bytes between cost less than a
/// round trip.
const MAX_GAP: u64 = 64 << 10;
/// Coalescing stops at this many bytes per request, so one wheel's spans still arrive in parallel.
const MAX_MERGED_LEN: u64 = 8 << 20;
/// Range requests in flight per wheel (the client's own limit bounds them across wheels).
const SPANS_IN_FLIGHT: usize = 4;
/// A data descriptor (signature, CRC-32, two ZIP64 sizes) may follow an entry's data.
const DATA_DESCRIPTOR_LEN: u64 = 24;

/// The chosen entries of a wheel, in a sparse temporary file.
#[derive(Debug)]
pub struct PartialWheel {
    /// The copy, deleted on drop.
    pub file: NamedTempFile,
    /// The wheel's length at the server (the copy's length).
    pub len: u64,
    /// Bytes received: directory reads and entry spans.
    pub fetched: u64,
    /// Range requests sent.
    pub requests: usize,
}

/// Why a partial copy could not be made; the caller downloads the whole wheel instead.
#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    /// The server answered a range request with the whole file (200) or 416.
    #[error("the server does not answer range requests for `{url}`")]
    Unsupported { url: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("`{url}` is not a readable wheel: {message}")]
    Zip { url: String, message: String },
    #[error("`{url}` is {actual} bytes at the server, but the lock lists {expected}")]
    Size {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error("cannot write the partial copy of `{url}` in `{}`", path.display())]
    Io {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Every read of a [`ByteSource`], kept to be written into the copy at its offset. The first read
/// learns the file's length, checked against the lock's before anything more is read.
struct Recording<S> {
    inner: S,
    pieces: Vec<(u64, Vec<u8>)>,
    expected_len: Option<u64>,
    /// The server's length, when it differs from `expected_len`.
    wrong_len: Option<u64>,
}

impl<S> Recording<S> {
    /// Whether a recorded read already holds `[start, end)`.
    fn holds(&self, (start, end): (u64, u64)) -> bool {
        self.pieces
            .iter()
            .any(|(offset, bytes)| *offset <= start && end <= offset + bytes.len() as u64)
    }
}

impl<S: ByteSource> ByteSource for Recording<S> {
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError> {
        let (file_len, bytes) = self.inner.tail(len).await?;
        if self
            .expected_len
            .is_some_and(|expected| expected != file_len)
        {
            self.wrong_len = Some(file_len);
            return Err(ReadError::Unsupported);
        }
        self.pieces
            .push((file_len.saturating_sub(bytes.len() as u64), bytes.clone()));
        Ok((file_len, bytes))
    }

    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        let bytes = self.inner.read(offset, len).await?;
        self.pieces.push((offset, bytes.clone()));
        Ok(bytes)
    }
}

/// Make a partial copy of the wheel at `url` in `temp_dir` holding the entries `wanted` picks by name.
/// `expected_len` is the lock's size of the file, when it has one.
pub(crate) async fn fetch_entries(
    http: &Http,
    url: &Url,
    expected_len: Option<u64>,
    temp_dir: &Path,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> Result<PartialWheel, PartialError> {
    let name = url.as_str();
    let mut source = Recording {
        inner: HttpRanges { http, url },
        pieces: Vec::new(),
        expected_len,
        wrong_len: None,
    };
    let read = super::range::read_directory(&mut source, TAIL_LEN).await;
    if let (Some(expected), Some(actual)) = (expected_len, source.wrong_len) {
        return Err(PartialError::Size {
            url: name.to_string(),
            expected,
            actual,
        });
    }
    let directory = match read {
        Ok(directory) => directory,
        Err(ReadError::Unsupported) => return Err(unsupported(name)),
        Err(ReadError::Index(error)) => return Err(error.into()),
        Err(ReadError::Zip(error)) => return Err(zip_error(name, &error)),
    };
    let len = directory.file_len;
    if len > MAX_FILE_LEN {
        let error = ZipError::TooLarge {
            what: "wheel",
            len,
            limit: MAX_FILE_LEN,
        };
        return Err(zip_error(name, &error));
    }
    let mut spans = coalesce(spans(&directory, wanted).map_err(|error| zip_error(name, &error))?);
    // A small wheel's tail read may hold its modules already.
    spans.retain(|&span| !source.holds(span));
    let io_error = |source| PartialError::Io {
        url: name.to_string(),
        path: temp_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(temp_dir).map_err(io_error)?;
    let mut file = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(temp_dir)
        .map_err(io_error)?;
    // A sparse file: what is never written takes no disk.
    file.as_file().set_len(len).map_err(io_error)?;
    let mut fetched = 0;
    for (offset, bytes) in &source.pieces {
        write_at(file.as_file_mut(), *offset, bytes).map_err(io_error)?;
        fetched += bytes.len() as u64;
    }
    let path = file.path().to_path_buf();
    let requests = source.pieces.len() + spans.len();
    let span_bytes: Vec<u64> = futures::stream::iter(spans)
        .map(|(start, end)| fetch_span(http, url, &path, start, end))
        .buffer_unordered(SPANS_IN_FLIGHT)
        .try_collect()
        .await?;
    fetched += span_bytes.iter().sum::<u64>();
    Ok(PartialWheel {
        file,
        len,
        fetched,
        requests,
    })
}

fn unsupported(url: &str) -> PartialError {
    PartialError::Unsupported {
        url: url.to_string(),
    }
}

fn zip_error(url: &str, error: &ZipError) -> PartialError {
    PartialError::Zip {
        url: url.to_string(),
        message: error.to_string(),
    }
}

fn write_at(file: &mut std::fs::File, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

/// The byte span `[start, end)` of each wanted entry: its local header, data and data descriptor. An
/// entry ends where the next one (or the central directory) starts; the longest a header, data and
/// descriptor can be bounds it too, so a lying offset costs at most the wheel's own bytes.
pub(crate) fn spans(
    directory: &Directory,
    wanted: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<(u64, u64)>, ZipError> {
    let mut starts: Vec<u64> = directory
        .entries
        .iter()
        .map(|entry| entry.local_header_offset)
        .chain([directory.directory_offset])
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let mut spans = Vec::new();
    for entry in directory.entries.iter().filter(|entry| wanted(&entry.name)) {
        let start = entry.local_header_offset;
        if start >= directory.directory_offset {
            return Err(ZipError::Truncated("local file header"));
        }
        // The first boundary after `start`; the directory's offset is one, so there always is one.
        let next = starts[starts.partition_point(|&offset| offset <= start)..]
            .first()
            .copied()
            .unwrap_or(directory.directory_offset);
        let end = next.min(start.saturating_add(longest_span(entry)));
        spans.push((start, end));
    }
    Ok(spans)
}

/// The most bytes an entry's local header, data and data descriptor can take.
fn longest_span(entry: &Entry) -> u64 {
    (LOCAL_HEADER_LEN as u64 + u64::from(u16::MAX) * 2 + DATA_DESCRIPTOR_LEN)
        .saturating_add(entry.compressed_len)
}

/// Merge spans that overlap or lie within [`MAX_GAP`] of each other, up to [`MAX_MERGED_LEN`] per
/// request (a single larger span stays whole).
pub(crate) fn coalesce(mut spans: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    spans.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last)
                if start <= last.1.saturating_add(MAX_GAP)
                    && end.max(last.1) - last.0 <= MAX_MERGED_LEN =>
            {
                last.1 = last.1.max(end);
            }
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Fetch `[start, end)` into the copy at `path`, retrying as every request does. Returns the bytes
/// written.
async fn fetch_span(
    http: &Http,
    url: &Url,
    path: &Path,
    start: u64,
    end: u64,
) -> Result<u64, PartialError> {
    let mut headers = HeaderMap::new();
    let range = format!("bytes={start}-{}", end - 1);
    let value = HeaderValue::from_str(&range)
        .map_err(|error| IndexError::malformed(url.as_str(), error.to_string()))?;
    headers.insert(RANGE, value);
    let mut retrying = http.retrying(url);
    loop {
        let attempt = span_attempt(http, url, &headers, path, (start, end)).await;
        match retrying.settle(attempt).await? {
            Some(Some(written)) => return Ok(written),
            Some(None) => return Err(unsupported(url.as_str())),
            None => {}
        }
    }
}

/// One attempt at a span: `None` when the server answers without a range.
async fn span_attempt(
    http: &Http,
    url: &Url,
    headers: &HeaderMap,
    path: &Path,
    (start, end): (u64, u64),
) -> Result<Option<u64>, Failure> {
    let (mut response, _permit) = http.send(url, headers).await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT => {}
        StatusCode::OK | StatusCode::RANGE_NOT_SATISFIABLE => return Ok(None),
        status => return Err(unexpected_status(url, status)),
    }
    let malformed = |message: &str| Failure::Fatal(IndexError::malformed(url.as_str(), message));
    let range = content_range(response.headers());
    if !range.is_some_and(|range| range.first == start && range.last == end - 1) {
        return Err(malformed(
            "the 206 answer does not match the range asked for",
        ));
    }
    let cache_error = |source| {
        Failure::Fatal(IndexError::Cache {
            path: path.to_path_buf(),
            source,
        })
    };
    // Each span has its own handle (and file position); the spans never overlap.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(cache_error)?;
    file.seek(SeekFrom::Start(start)).map_err(cache_error)?;
    let len = end - start;
    let mut written = 0;
    while let Some(chunk) = http.chunk(url, &mut response).await? {
        let chunk = chunk.as_ref();
        written += chunk.len() as u64;
        if written > len {
            return Err(malformed(
                "the 206 answer is longer than the range asked for",
            ));
        }
        file.write_all(chunk).map_err(cache_error)?;
    }
    if written != len {
        return Err(malformed(
            "the 206 answer is shorter than the range asked for",
        ));
    }
    Ok(Some(written))
}

#[cfg(test)]
#[path = "partial_tests.rs"]
mod tests;
