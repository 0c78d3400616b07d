//! [`IndexClient`]: project pages and core metadata, each from the disk cache when it can be and from the
//! index otherwise.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jiff::Timestamp;
use pep508_rs::PackageName;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};

use super::cache::{Cache, DerivedKey, PageStamp};
use super::download::{DownloadedFile, download, metadata_from_download};
use super::error::IndexError;
use super::http::{Failure, Http, Transient, unexpected_status};
use super::model::{
    CoreMetadata, DistFile, IndexSettings, IndexStats, ProjectPage, ProjectResponse,
};
use super::page_codec::Writer;
use super::partial::{PartialError, PartialWheel, fetch_entries};
use super::range::{HttpRanges, ReadError, TAIL_LEN, read_metadata};
use super::{metadata, simple_html, simple_json};

/// PEP 691 content negotiation: JSON preferred, HTML accepted. PyPI answers JSON only to the exact `v1`
/// type (`latest+json` gets HTML), hence no `latest`.
const PAGE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// The largest project page fave-lock reads (botocore's, the biggest seen, is 2 MB).
const MAX_PAGE_LEN: u64 = 256 << 20;
/// The largest `.metadata` file fave-lock reads.
const MAX_METADATA_FILE_LEN: u64 = 64 << 20;

/// How much of an error page's text an error quotes.
const SNIPPET_CHARS: usize = 120;

/// Client for one index, shared across tasks.
pub struct IndexClient {
    settings: IndexSettings,
    /// Counters the CLI reads to draw progress.
    pub stats: Arc<IndexStats>,
    http: Http,
    cache: Cache,
}

impl IndexClient {
    /// A client for `settings.index_url`, with one connection pool for all its requests.
    pub fn new(settings: IndexSettings) -> Result<IndexClient, IndexError> {
        let stats = Arc::<IndexStats>::default();
        let http = Http::new(settings.concurrency, stats.clone())?;
        let cache = Cache::new(settings.cache_dir.clone()).inline_reads(settings.offline);
        Ok(IndexClient {
            settings,
            stats,
            http,
            cache,
        })
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// Every file the index lists for `name`: a cached page younger than `page_ttl` (any age when
    /// offline, none with `refresh`), else `GET {index_url}/{name}/` (PEP 503 URL, normalized name).
    pub async fn project(&self, name: &PackageName) -> Result<ProjectResponse, IndexError> {
        Ok(self.project_stamped(name).await?.0)
    }

    /// [`project`](Self::project), with the stamp of the cache entry that holds the page answered (`None`
    /// for a project the index does not have), for keying entries derived from it.
    pub(crate) async fn project_stamped(
        &self,
        name: &PackageName,
    ) -> Result<(ProjectResponse, Option<PageStamp>), IndexError> {
        let index_url = self.settings.index_url.as_str();
        if self.may_use_cached_page()
            && let Some((cached, stamp)) = self.cache.read_page(index_url, name).await
            && self.is_usable(stamp)
        {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((ProjectResponse::Found(Arc::new(cached.page)), Some(stamp)));
        }
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the index page of `{name}`"),
            });
        }
        let fetched_at = Timestamp::now();
        let Some(page) = self.fetch_page(name).await? else {
            return Ok((ProjectResponse::NotFound, None));
        };
        let page = Arc::new(page);
        let stamp = self
            .cache
            .write_page(index_url, page.clone(), fetched_at)
            .await?;
        Ok((ProjectResponse::Found(page), Some(stamp)))
    }

    /// The page of `name` as the cache entry stamped `stamp` holds it, whatever its age or `refresh`
    /// say: a run that let go of a page it fetched reads that same page back rather than asking the
    /// index again. When the entry is another (a run sharing the cache replaced it) or gone:
    /// [`project_stamped`](Self::project_stamped).
    pub(crate) async fn project_again(
        &self,
        name: &PackageName,
        stamp: PageStamp,
    ) -> Result<(ProjectResponse, Option<PageStamp>), IndexError> {
        let index_url = self.settings.index_url.as_str();
        if let Some((cached, found)) = self.cache.read_page(index_url, name).await
            && found == stamp
        {
            return Ok((ProjectResponse::Found(Arc::new(cached.page)), Some(found)));
        }
        self.project_stamped(name).await
    }

    /// The payload of the entry derived with `key` from the page of `name` that
    /// [`project`](Self::project) would answer from the cache right now, read from the page entry's
    /// header only and passed through `decode`; `None` when `project` would not use a cached page or no
    /// such entry decodes. A hit counts as a cache hit, as the page would have.
    pub(crate) async fn derived<T: Send + 'static>(
        &self,
        name: &PackageName,
        key: DerivedKey,
        decode: impl FnOnce(&Arc<Vec<u8>>, usize) -> Option<T> + Send + 'static,
    ) -> Option<T> {
        if !self.may_use_cached_page() {
            return None;
        }
        let (offline, page_ttl) = (self.settings.offline, self.settings.page_ttl);
        let usable = move |stamp: PageStamp| offline || is_fresh(stamp.fetched_at, page_ttl);
        let index_url = self.settings.index_url.as_str();
        let value = self
            .cache
            .read_derived(index_url, name, usable, key, decode)
            .await?;
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(value)
    }

    /// Store what `encode` writes as the entry derived with `key` from the page stamped `stamp`. A failed
    /// write is dropped: the entry only saves work, and a cache that can be read but not written (a
    /// read-only folder, an offline run on a shared cache) must still serve every run.
    pub(crate) async fn store_derived(
        &self,
        name: &PackageName,
        stamp: PageStamp,
        key: DerivedKey,
        encode: impl FnOnce(&mut Writer) + Send + 'static,
    ) {
        let index_url = self.settings.index_url.as_str();
        let _ = self
            .cache
            .write_derived(index_url, name, stamp, key, encode)
            .await;
    }

    /// The core metadata of `file` (a wheel), from the first source that has it: the disk cache, the
    /// PEP 658 `.metadata` file, range reads of the wheel's zip directory, the whole wheel.
    pub async fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>, IndexError> {
        if let Some(cached) = self.cache.read_metadata(&file.url).await {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::new(cached));
        }
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the metadata of `{}`", file.filename),
            });
        }
        let url = Url::parse(&file.url)
            .map_err(|error| IndexError::malformed(&file.url, error.to_string()))?;
        let (source_url, bytes) = self.fetch_metadata(file, &url).await?;
        let parsed = metadata::parse(&bytes)
            .map_err(|message| IndexError::malformed(source_url, message))?;
        let parsed = Arc::new(parsed);
        self.cache.write_metadata(&file.url, parsed.clone()).await?;
        Ok(parsed)
    }

    /// Stream `file` into a new temporary file in `temp_dir`, hashing it on the way; `progress` hears the
    /// length of each chunk. The hash is returned, not compared: judging it is the caller's job (`verify`).
    pub async fn download(
        &self,
        file: &DistFile,
        temp_dir: &std::path::Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<DownloadedFile, IndexError> {
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the file `{}`", file.filename),
            });
        }
        let url = Url::parse(&file.url)
            .map_err(|error| IndexError::malformed(&file.url, error.to_string()))?;
        download(&self.http, &url, temp_dir, progress).await
    }

    /// A sparse copy of the wheel `file` in `temp_dir` holding only the zip entries `wanted` picks by
    /// name, fetched with range requests (see `partial.rs`); unhashed, so what is read from it is advisory.
    ///
    /// # Errors
    ///
    /// Offline, a server that does not answer ranges, a malformed zip or a size other than the lock's:
    /// the caller downloads the whole file instead.
    pub async fn fetch_entries(
        &self,
        file: &DistFile,
        temp_dir: &std::path::Path,
        wanted: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<PartialWheel, PartialError> {
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the file `{}`", file.filename),
            }
            .into());
        }
        let url = Url::parse(&file.url)
            .map_err(|error| IndexError::malformed(&file.url, error.to_string()))?;
        fetch_entries(&self.http, &url, file.size, temp_dir, wanted).await
    }

    /// Whether a cached page may answer at all: always offline, never with `refresh`.
    fn may_use_cached_page(&self) -> bool {
        self.settings.offline || !self.settings.refresh
    }

    /// Whether the cached page stamped `stamp` answers as is: any age offline, else while fresh.
    fn is_usable(&self, stamp: PageStamp) -> bool {
        self.settings.offline || is_fresh(stamp.fetched_at, self.settings.page_ttl)
    }

    /// `{index_url}/{name}/`: PEP 503 wants the trailing slash, and relative links resolve against it.
    fn project_url(&self, name: &PackageName) -> Result<Url, IndexError> {
        let url = format!("{}/{name}/", self.settings.index_url.trim_end_matches('/'));
        Url::parse(&url).map_err(|error| IndexError::malformed(url, error.to_string()))
    }

    /// Fetch and parse the project page; `None` on 404 (or 410: the project is gone).
    async fn fetch_page(&self, name: &PackageName) -> Result<Option<ProjectPage>, IndexError> {
        let url = self.project_url(name)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(PAGE_ACCEPT));
        let mut retrying = self.http.retrying(&url);
        loop {
            let attempt = self.page_attempt(name, &url, &headers).await;
            if let Some(page) = retrying.settle(attempt).await? {
                return Ok(page);
            }
        }
    }

    /// One attempt at the page. Parsing is part of it: an error page served with status 200 may be a
    /// passing fault of a proxy, worth asking again.
    async fn page_attempt(
        &self,
        name: &PackageName,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<Option<ProjectPage>, Failure> {
        let (response, _permit) = self.http.send(url, headers).await?;
        match response.status() {
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            status if status.is_success() => {
                // Redirects were followed: relative links resolve against where the page really is.
                let page_url = response.url().clone();
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok());
                let is_json = is_json(content_type);
                let body = self.http.body(url, response, MAX_PAGE_LEN).await?;
                parse_page(&body, is_json, &page_url, name, url).map(Some)
            }
            status => Err(unexpected_status(url, status)),
        }
    }

    /// The metadata file's bytes and the URL they came from (for error messages).
    ///
    /// Where the page advertises a PEP 658 `.metadata` file, that file. Otherwise a wheel's METADATA
    /// is read with range requests first, as uv does: on PyPI as served here an unadvertised
    /// `.metadata` file the CDN has not cached costs ~145 ms and those of recent uploads answer 404
    /// (~140 ms, never cached), while a suffix range of the wheel itself answers in a few ms (one
    /// request for most wheels). The `.metadata` file is still asked for when the server answers no
    /// ranges, before downloading the whole wheel.
    async fn fetch_metadata(
        &self,
        file: &DistFile,
        url: &Url,
    ) -> Result<(String, Vec<u8>), IndexError> {
        let mut metadata_url = url.clone();
        metadata_url.set_path(&format!("{}.metadata", url.path()));
        let is_wheel = file.filename.to_ascii_lowercase().ends_with(".whl");
        if (file.core_metadata || !is_wheel)
            && let Some(bytes) = self.fetch_metadata_file(&metadata_url).await?
        {
            return Ok((metadata_url.into(), bytes));
        }
        if !is_wheel {
            let message = "no `.metadata` file, and fave-lock reads metadata from wheels only";
            return Err(IndexError::malformed(url.as_str(), message));
        }
        let mut ranges = HttpRanges {
            http: &self.http,
            url,
        };
        let bytes = match read_metadata(&mut ranges, &file.filename, first_read_len(file)).await {
            Ok(bytes) => bytes,
            Err(ReadError::Unsupported) => {
                if !file.core_metadata
                    && let Some(bytes) = self.fetch_metadata_file(&metadata_url).await?
                {
                    return Ok((metadata_url.into(), bytes));
                }
                let temp_dir = self.settings.cache_dir.join("downloads");
                metadata_from_download(
                    &self.http,
                    url,
                    &file.filename,
                    file.sha256.as_deref(),
                    &temp_dir,
                )
                .await?
            }
            Err(ReadError::Index(error)) => return Err(error),
            Err(ReadError::Zip(error)) => {
                return Err(IndexError::malformed(url.as_str(), error.to_string()));
            }
        };
        Ok((url.to_string(), bytes))
    }

    /// The `.metadata` file, or `None` when the server has none (any 4xx: a missing file is not an error
    /// here, there are other ways to the metadata).
    async fn fetch_metadata_file(&self, url: &Url) -> Result<Option<Vec<u8>>, IndexError> {
        let mut retrying = self.http.retrying(url);
        loop {
            let attempt = async {
                let (response, _permit) = self.http.send(url, &HeaderMap::new()).await?;
                match response.status() {
                    status if status.is_success() => Ok(Some(
                        self.http.body(url, response, MAX_METADATA_FILE_LEN).await?,
                    )),
                    status if status.is_client_error() => Ok(None),
                    status => Err(unexpected_status(url, status)),
                }
            }
            .await;
            if let Some(answer) = retrying.settle(attempt).await? {
                return Ok(answer);
            }
        }
    }
}

/// Wheels up to this size are read whole by the first range request: the transfer costs less than
/// a second round trip (PyPI serves ~135 MB/s here), and many small wheels (fastapi's, built by
/// pdm-backend) put METADATA at the start of the zip, outside the usual tail.
const WHOLE_READ_MAX: u64 = 256 << 10;

/// How many bytes from the end the first range request asks for: the whole file when the page says it
/// is small, else [`TAIL_LEN`].
fn first_read_len(file: &DistFile) -> u64 {
    match file.size {
        Some(size) if size <= WHOLE_READ_MAX => size.max(TAIL_LEN),
        _ => TAIL_LEN,
    }
}

/// Whether a page fetched at `fetched_at` is younger than `page_ttl`.
fn is_fresh(fetched_at: Timestamp, page_ttl: std::time::Duration) -> bool {
    let age = Timestamp::now().duration_since(fetched_at);
    // A page from the future (a clock that moved back) is not trusted to be fresh.
    !age.is_negative() && age.unsigned_abs() < page_ttl
}

/// The project page in `body`, JSON or HTML as `is_json` (the Content-Type) or else the body says. A body
/// that is no project page (an HTML error page, whatever the Content-Type claimed) is a transient
/// [`IndexError::ErrorPage`], never an empty project.
fn parse_page(
    body: &[u8],
    is_json: Option<bool>,
    page_url: &Url,
    name: &PackageName,
    url: &Url,
) -> Result<ProjectPage, Failure> {
    let error_page = |html: &str| {
        let snippet = simple_html::text_snippet(html, SNIPPET_CHARS);
        Failure::Transient(Transient::Answer(IndexError::ErrorPage {
            name: name.to_string(),
            url: url.to_string(),
            snippet: if snippet.is_empty() {
                "(no text)".to_string()
            } else {
                snippet
            },
        }))
    };
    if is_json.unwrap_or_else(|| looks_like_json(body)) {
        return simple_json::parse(body, page_url, name).map_err(|message| {
            if looks_like_markup(body) {
                error_page(&String::from_utf8_lossy(body))
            } else {
                Failure::Fatal(IndexError::malformed(url.as_str(), message))
            }
        });
    }
    let html = String::from_utf8_lossy(body);
    let page = simple_html::parse(&html, page_url, name);
    if !simple_html::is_project_page(&html, &page) {
        return Err(error_page(&html));
    }
    Ok(page)
}

/// Whether a `Content-Type` says PEP 691 JSON (`Some(true)`) or HTML (`Some(false)`); `None` when it is
/// missing or unknown and the body has to tell.
fn is_json(content_type: Option<&str>) -> Option<bool> {
    let content_type = content_type?;
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        JSON_TYPE | "application/json" => Some(true),
        "text/html" | "application/vnd.pypi.simple.v1+html" => Some(false),
        _ => None,
    }
}

/// A body whose first non-blank byte opens an object is JSON; anything else is treated as HTML.
fn looks_like_json(body: &[u8]) -> bool {
    body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{')
}

/// A body whose first non-blank byte opens a tag.
fn looks_like_markup(body: &[u8]) -> bool {
    body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(is_json(Some(JSON_TYPE)), Some(true));
        assert_eq!(is_json(Some("Text/HTML; charset=utf-8")), Some(false));
        assert_eq!(is_json(Some("application/octet-stream")), None);
        assert_eq!(is_json(None), None);
        assert!(looks_like_json(b"  \n{\"files\": []}"));
        assert!(!looks_like_json(b"<html>"));
    }

    #[test]
    fn error_pages_are_not_empty_projects() {
        let url = Url::parse("https://index.example/simple/numpy/").unwrap();
        let name = PackageName::new("numpy".to_string()).unwrap();
        let parse = |body: &str, is_json| parse_page(body.as_bytes(), is_json, &url, &name, &url);
        let error_page = |outcome: Result<ProjectPage, Failure>| match outcome {
            Err(Failure::Transient(Transient::Answer(error))) => error.to_string(),
            Err(Failure::Transient(_)) => panic!("another transient failure"),
            Err(Failure::Fatal(error)) => panic!("fatal: {error}"),
            Ok(page) => panic!("a page: {page:?}"),
        };
        let nginx = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>";
        assert_eq!(
            error_page(parse(nginx, Some(false))),
            "the index answered an error page for `numpy` (`https://index.example/simple/numpy/`): \
             \"502 Bad Gateway Bad Gateway\""
        );
        // Claimed JSON, sent HTML; sent no type at all; sent nothing.
        assert!(error_page(parse(nginx, Some(true))).contains("502 Bad Gateway"));
        assert!(error_page(parse("Access denied.", None)).ends_with("\"Access denied.\""));
        assert!(error_page(parse("", None)).ends_with("\"(no text)\""));
        // Broken JSON stays what it is, and is not asked for again.
        assert!(matches!(
            parse("{\"files\": 3}", Some(true)),
            Err(Failure::Fatal(IndexError::Malformed { .. }))
        ));
        // A project with no files yet is a page, not an error.
        let empty = parse(
            "<html><head><title>Links for numpy</title></head><body></body></html>",
            Some(false),
        );
        assert!(empty.unwrap().files.is_empty());
    }

    /// Callers spawn these futures on a multi-threaded runtime.
    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let client = IndexClient::new(IndexSettings::default()).unwrap();
        let name = PackageName::new("six".to_string()).unwrap();
        assert_send(&client.project(&name));
        let file = DistFile {
            filename: String::new(),
            url: String::new(),
            sha256: None,
            size: None,
            upload_time: None,
            requires_python: None,
            yanked: None,
            core_metadata: false,
        };
        assert_send(&client.metadata(&file));
    }
}
