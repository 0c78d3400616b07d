//! Whole-file downloads: the last way to a wheel's METADATA, for servers that answer neither PEP 658
//! `.metadata` files nor range requests, and the way `verify` fetches every locked file
//! ([`IndexClient::download`](super::IndexClient::download)).
//!
//! The body streams into a temporary file (wheels reach gigabytes; memory would not do) and through
//! SHA-256 on the way. Since the whole file passed through, its hash is checked against the index's,
//! which the range path cannot do. The zip is then read from the file with the same walk as `range.rs`
//! ([`wheel_metadata`] does the same for a wheel already on disk).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::error::IndexError;
use super::http::{Failure, Http, check_limit, unexpected_status};
use super::metadata;
use super::model::CoreMetadata;
use super::range::{ByteSource, ReadError, TAIL_LEN, read_metadata};

/// The largest file fave-lock downloads (the largest wheels on PyPI are a few GB).
const MAX_DOWNLOAD_LEN: u64 = 16 << 30;

/// A file streamed to disk by [`IndexClient::download`](super::IndexClient::download).
#[derive(Debug)]
pub struct DownloadedFile {
    /// The bytes, in a temporary file that is deleted on drop unless the caller persists it.
    pub file: NamedTempFile,
    /// Lower-case hex SHA-256 of the bytes, computed while they streamed in.
    pub sha256: String,
    /// Number of bytes received.
    pub size: u64,
}

/// A downloaded file to read the zip from.
pub(crate) struct FileSource {
    file: std::fs::File,
    len: u64,
    path: PathBuf,
}

impl FileSource {
    fn io_error(&self, source: std::io::Error) -> ReadError {
        ReadError::Index(IndexError::Cache {
            path: self.path.clone(),
            source,
        })
    }

    /// Read `len` bytes at `offset`; local disk reads are short enough to do in place.
    fn read_at(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        let len =
            usize::try_from(len).map_err(|error| self.io_error(std::io::Error::other(error)))?;
        let mut bytes = vec![0; len];
        let read = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut bytes));
        read.map_err(|error| self.io_error(error))?;
        Ok(bytes)
    }
}

impl ByteSource for FileSource {
    async fn tail(&mut self, len: u64) -> Result<(u64, Vec<u8>), ReadError> {
        let len = len.min(self.len);
        Ok((self.len, self.read_at(self.len - len, len)?))
    }

    async fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ReadError> {
        self.read_at(offset, len)
    }
}

/// Download the wheel at `url` into `temp_dir`, check it against `expected_sha256`, and read its METADATA.
pub(crate) async fn metadata_from_download(
    http: &Http,
    url: &Url,
    wheel_filename: &str,
    expected_sha256: Option<&str>,
    temp_dir: &Path,
) -> Result<Vec<u8>, IndexError> {
    let downloaded = download(http, url, temp_dir, &|_| {}).await?;
    if let Some(expected) =
        expected_sha256.filter(|expected| !expected.eq_ignore_ascii_case(&downloaded.sha256))
    {
        return Err(IndexError::HashMismatch {
            url: url.to_string(),
            expected: expected.to_string(),
            actual: downloaded.sha256,
        });
    }
    metadata_bytes(downloaded.file.path(), wheel_filename, url.as_str()).await
}

/// The parsed METADATA of the wheel `wheel_filename` stored at `path` (a downloaded or cached file).
pub async fn wheel_metadata(path: &Path, wheel_filename: &str) -> Result<CoreMetadata, IndexError> {
    let where_ = path.display().to_string();
    let bytes = metadata_bytes(path, wheel_filename, &where_).await?;
    metadata::parse(&bytes).map_err(|message| IndexError::malformed(where_, message))
}

/// The uncompressed METADATA of the wheel at `path`, unparsed (a wheel an sdist build just made:
/// `crate::sdist` caches the bytes).
pub(crate) async fn wheel_metadata_bytes(
    path: &Path,
    wheel_filename: &str,
) -> Result<Vec<u8>, IndexError> {
    metadata_bytes(path, wheel_filename, &path.display().to_string()).await
}

/// The uncompressed METADATA of the wheel at `path`; `origin` names it in errors.
async fn metadata_bytes(
    path: &Path,
    wheel_filename: &str,
    origin: &str,
) -> Result<Vec<u8>, IndexError> {
    let cache_error = |source| IndexError::Cache {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(cache_error)?;
    let len = file.metadata().map_err(cache_error)?.len();
    let mut source = FileSource {
        file,
        len,
        path: path.to_path_buf(),
    };
    match read_metadata(&mut source, wheel_filename, TAIL_LEN).await {
        Ok(metadata) => Ok(metadata),
        Err(ReadError::Index(error)) => Err(error),
        Err(ReadError::Zip(error)) => Err(IndexError::malformed(origin, error.to_string())),
        // A file source always reads.
        Err(ReadError::Unsupported) => Err(IndexError::malformed(origin, "unreadable file")),
    }
}

/// Stream `url` into a new temporary file, returning it with its SHA-256 and size; `progress` hears the
/// length of each chunk as it arrives. A retry starts a new file (and `progress` hears its bytes again).
pub(crate) async fn download(
    http: &Http,
    url: &Url,
    temp_dir: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<DownloadedFile, IndexError> {
    let mut retrying = http.retrying(url);
    loop {
        let attempt = download_attempt(http, url, temp_dir, progress).await;
        if let Some(answer) = retrying.settle(attempt).await? {
            return Ok(answer);
        }
    }
}

/// One attempt at the download, into a fresh temporary file.
async fn download_attempt(
    http: &Http,
    url: &Url,
    temp_dir: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<DownloadedFile, Failure> {
    let cache_error = |source| {
        Failure::Fatal(IndexError::Cache {
            path: temp_dir.to_path_buf(),
            source,
        })
    };
    let (mut response, _permit) = http.send(url, &HeaderMap::new()).await?;
    if response.status() != StatusCode::OK {
        return Err(unexpected_status(url, response.status()));
    }
    check_limit(
        url,
        response.content_length().unwrap_or(0),
        MAX_DOWNLOAD_LEN,
    )?;
    std::fs::create_dir_all(temp_dir).map_err(cache_error)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(temp_dir)
        .map_err(cache_error)?;
    let mut hasher = Sha256::new();
    let mut len = 0;
    while let Some(chunk) = http.chunk(url, &mut response).await? {
        let chunk = chunk.as_ref();
        len += chunk.len() as u64;
        check_limit(url, len, MAX_DOWNLOAD_LEN)?;
        hasher.update(chunk);
        temp.write_all(chunk).map_err(cache_error)?;
        progress(chunk.len() as u64);
    }
    temp.flush().map_err(cache_error)?;
    Ok(DownloadedFile {
        file: temp,
        sha256: hex::encode(hasher.finalize()),
        size: len,
    })
}
