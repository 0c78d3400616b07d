//! The one place requests are sent: a shared `reqwest::Client`, a semaphore that bounds requests in
//! flight, retries of transient failures, counters, and body reads with a size cap so no server answer
//! can make fave-lock allocate without bound.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode, Url};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::IndexError;
use super::model::IndexStats;
use super::retry::{MAX_RETRIES, backoff, is_retryable_error, is_retryable_status, retry_after};

/// Give up on a connection that is not established after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Give up on a response that sends nothing for this long (a whole download may take longer).
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why one attempt at a request failed.
pub(crate) enum Failure {
    /// Asking again may succeed: a 5xx or 429 answer, a timeout, a refused or reset connection.
    Transient(Transient),
    /// Asking again would fail the same way.
    Fatal(IndexError),
}

/// The cause of a transient failure, kept to build the error if every retry fails too.
pub(crate) enum Transient {
    /// The server answered 5xx or 429, maybe with a `Retry-After`.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    /// The transport failed.
    Error(reqwest::Error),
}

impl From<IndexError> for Failure {
    fn from(error: IndexError) -> Failure {
        Failure::Fatal(error)
    }
}

/// The retry state of one request; see [`Http::retrying`].
pub(crate) struct Retrying<'a> {
    url: &'a Url,
    retries: u32,
    stats: &'a IndexStats,
}

impl Retrying<'_> {
    /// Judge one attempt: `Some(value)` when it succeeded, `None` after waiting out the backoff when it
    /// should be repeated, an error when it failed for good or [`MAX_RETRIES`] retries are used up.
    pub(crate) async fn settle<T>(
        &mut self,
        attempt: Result<T, Failure>,
    ) -> Result<Option<T>, IndexError> {
        let transient = match attempt {
            Ok(value) => return Ok(Some(value)),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Transient(transient)) => transient,
        };
        if self.retries == MAX_RETRIES {
            return Err(give_up(self.url, self.retries, transient));
        }
        self.retries += 1;
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        let hint = match &transient {
            Transient::Status { retry_after, .. } => *retry_after,
            Transient::Error(_) => None,
        };
        tokio::time::sleep(backoff(self.retries, hint)).await;
        Ok(None)
    }
}

/// Shared HTTP machinery for one index client.
pub(crate) struct Http {
    client: reqwest::Client,
    permits: Semaphore,
    stats: Arc<IndexStats>,
}

impl Http {
    /// One client for every request, so connections (HTTP/2 included) are pooled and reused.
    pub(crate) fn new(concurrency: usize, stats: Arc<IndexStats>) -> Result<Http, IndexError> {
        // reqwest is built with `rustls-no-provider`: pick ring (no C build) before the first client.
        // A second call finds a provider already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("fave-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|source| IndexError::Client {
                source: Box::new(source),
            })?;
        Ok(Http {
            client,
            permits: Semaphore::new(concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            stats,
        })
    }

    /// Start the retry bookkeeping for one request to `url`. The caller loops:
    ///
    /// ```text
    /// let mut retrying = http.retrying(&url);
    /// let value = loop {
    ///     let attempt = async { let (response, _permit) = http.send(&url, &headers).await?; … }.await;
    ///     if let Some(value) = retrying.settle(attempt).await? { break value; }
    /// };
    /// ```
    ///
    /// The whole exchange, body read included, is one attempt, since a connection can reset mid-body.
    /// (A closure-taking helper would be shorter, but async closures borrowing from the caller make the
    /// returned futures fail `Send` checks under `tokio::spawn`.)
    pub(crate) fn retrying<'a>(&'a self, url: &'a Url) -> Retrying<'a> {
        Retrying {
            url,
            retries: 0,
            stats: &self.stats,
        }
    }

    /// Send a GET, holding a permit (returned with the response) until the caller has read the body. A 5xx
    /// or 429 answer is a transient failure, never returned.
    pub(crate) async fn send(
        &self,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<(Response, Option<SemaphorePermit<'_>>), Failure> {
        // The semaphore is never closed, so `acquire` cannot fail; without a permit we would still be
        // correct, only less polite.
        let permit = self.permits.acquire().await.ok();
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let request = self.client.get(url.clone()).headers(headers.clone());
        let response = request
            .send()
            .await
            .map_err(|error| transport(url, error))?;
        let status = response.status();
        if is_retryable_status(status) {
            let retry_after = retry_after(response.headers());
            return Err(Failure::Transient(Transient::Status {
                status,
                retry_after,
            }));
        }
        Ok((response, permit))
    }

    /// The next chunk of a body, counted in the stats; `None` at the end.
    pub(crate) async fn chunk(
        &self,
        url: &Url,
        response: &mut Response,
    ) -> Result<Option<impl AsRef<[u8]> + use<>>, Failure> {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| transport(url, error))?;
        if let Some(chunk) = &chunk {
            self.stats
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        Ok(chunk)
    }

    /// The whole body, refusing (without retrying) one larger than `limit` bytes.
    pub(crate) async fn body(
        &self,
        url: &Url,
        mut response: Response,
        limit: u64,
    ) -> Result<Vec<u8>, Failure> {
        let declared = response.content_length().unwrap_or(0);
        check_limit(url, declared, limit)?;
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = self.chunk(url, &mut response).await? {
            let chunk = chunk.as_ref();
            check_limit(url, (body.len() + chunk.len()) as u64, limit)?;
            body.extend_from_slice(chunk);
        }
        Ok(body)
    }
}

/// A fatal [`Failure`] when `size` exceeds `limit`.
pub(crate) fn check_limit(url: &Url, size: u64, limit: u64) -> Result<(), Failure> {
    if size > limit {
        return Err(Failure::Fatal(IndexError::malformed(
            url.as_str(),
            format!("the response exceeds fave-lock's limit of {limit} bytes"),
        )));
    }
    Ok(())
}

/// The error for a status `handle` does not expect (transient statuses never get there).
pub(crate) fn unexpected_status(url: &Url, status: StatusCode) -> Failure {
    Failure::Fatal(IndexError::Status {
        url: url.to_string(),
        status: status.as_u16(),
    })
}

/// Classify a transport error.
fn transport(url: &Url, error: reqwest::Error) -> Failure {
    if is_retryable_error(&error) {
        Failure::Transient(Transient::Error(error))
    } else {
        Failure::Fatal(IndexError::Request {
            url: url.to_string(),
            retries: 0,
            source: Box::new(error),
        })
    }
}

/// The error after the last retry failed.
fn give_up(url: &Url, retries: u32, transient: Transient) -> IndexError {
    match transient {
        Transient::Status { status, .. } => IndexError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        },
        Transient::Error(error) => IndexError::Request {
            url: url.to_string(),
            retries,
            source: Box::new(error),
        },
    }
}
