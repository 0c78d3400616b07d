//! The one place requests are sent: a shared `reqwest::Client`, a semaphore that bounds requests in
//! flight, retries of transient failures, counters, and body reads with a size cap so no server answer
//! can make fave-lock allocate without bound.
//!
//! Every request also has deadlines ([`Deadlines`]), so that no server can keep a run waiting: the
//! response head must arrive in time, and a body must keep a minimum pace (a trickle is abandoned and
//! retried). Requests register in a process-wide table while they last, so that the overall `--timeout`
//! of a command can say what it was still waiting for ([`requests_in_flight`]).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode, Url};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::error::IndexError;
use super::model::IndexStats;
use super::retry::{MAX_RETRIES, backoff, is_retryable_error, is_retryable_status, retry_after};

/// Give up on a connection that is not established after this long (or the response deadline, if shorter).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take, read once per client from the environment ([`Deadlines::from_env`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Deadlines {
    /// The longest wait for a response's head (connecting included), and the longest silence within a
    /// body.
    pub(crate) response: Duration,
    /// The slowest body accepted, in bytes per second, judged over each [`rate_window`](Self::rate_window):
    /// a body that delivers less is abandoned and the request retried. 0 turns the check off.
    pub(crate) min_rate: u64,
    pub(crate) rate_window: Duration,
}

impl Default for Deadlines {
    /// 30 s for a response; at least 1 KB/s over every 30 s of a body (curl's `--speed-limit` idea: a
    /// stalled mirror is dropped, a slow but moving download of a big wheel is not).
    fn default() -> Deadlines {
        Deadlines {
            response: Duration::from_secs(30),
            min_rate: 1024,
            rate_window: Duration::from_secs(30),
        }
    }
}

impl Deadlines {
    /// The defaults, changed by `FAVE_LOCK_HTTP_TIMEOUT` (seconds, for [`response`](Self::response)),
    /// `FAVE_LOCK_LOW_SPEED_LIMIT` (bytes per second) and `FAVE_LOCK_LOW_SPEED_TIME` (seconds, the
    /// window), named after curl's `--speed-limit` and `--speed-time`. Seconds may have a fraction, which
    /// lets tests use short deadlines. This is the only place these variables are read.
    pub(crate) fn from_env() -> Result<Deadlines, IndexError> {
        Deadlines::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Deadlines, IndexError> {
        let mut deadlines = Deadlines::default();
        let invalid = |variable: &str, value: &str, expected: &str| IndexError::Setting {
            variable: variable.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        };
        let seconds = |variable: &str| -> Result<Option<Duration>, IndexError> {
            let Some(value) = lookup(variable) else {
                return Ok(None);
            };
            let parsed = value.trim().parse::<f64>().ok().filter(|secs| *secs > 0.0);
            let duration = parsed.and_then(|secs| Duration::try_from_secs_f64(secs).ok());
            match duration {
                Some(duration) => Ok(Some(duration)),
                None => Err(invalid(variable, &value, "a number of seconds above 0")),
            }
        };
        if let Some(response) = seconds("FAVE_LOCK_HTTP_TIMEOUT")? {
            deadlines.response = response;
        }
        if let Some(window) = seconds("FAVE_LOCK_LOW_SPEED_TIME")? {
            deadlines.rate_window = window;
        }
        if let Some(value) = lookup("FAVE_LOCK_LOW_SPEED_LIMIT") {
            deadlines.min_rate = value.trim().parse().map_err(|_| {
                invalid(
                    "FAVE_LOCK_LOW_SPEED_LIMIT",
                    &value,
                    "a whole number of bytes per second (0 turns the check off)",
                )
            })?;
        }
        Ok(deadlines)
    }
}

/// Why a request was abandoned although the connection still worked.
#[derive(Debug, thiserror::Error)]
enum Overdue {
    #[error("no response within {:.1} s", .0.as_secs_f64())]
    NoResponse(Duration),
    #[error(
        "the body arrived at {rate} bytes/s over {:.1} s, below the minimum of {min_rate} bytes/s",
        .window.as_secs_f64()
    )]
    TooSlow {
        rate: u64,
        window: Duration,
        min_rate: u64,
    },
}

/// Why one attempt at a request failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Asking again may succeed: a 5xx or 429 answer, a timeout, a refused or reset connection.
    Transient(Transient),
    /// Asking again would fail the same way.
    Fatal(IndexError),
}

/// The cause of a transient failure, kept to build the error if every retry fails too.
#[derive(Debug)]
pub(crate) enum Transient {
    /// The server answered 5xx or 429, maybe with a `Retry-After`.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    /// The transport failed, or the server missed a deadline.
    Error(Box<dyn std::error::Error + Send + Sync>),
    /// An answer that is wrong in a way a passing fault explains (a proxy's error page with status 200);
    /// the error stands if every retry gets it too.
    Answer(IndexError),
}

impl Transient {
    /// A few words for the table of requests in flight.
    fn summary(&self) -> String {
        match self {
            Transient::Status { status, .. } => format!("HTTP {}", status.as_u16()),
            Transient::Error(error) => match error.downcast_ref::<reqwest::Error>() {
                Some(error) if error.is_timeout() => "a timeout".to_string(),
                Some(error) if error.is_connect() => "a failed connection".to_string(),
                Some(_) => "a broken connection".to_string(),
                None => error.to_string(),
            },
            Transient::Answer(_) => "an error page".to_string(),
        }
    }
}

impl From<IndexError> for Failure {
    fn from(error: IndexError) -> Failure {
        Failure::Fatal(error)
    }
}

/// The retry state of one request; see [`Http::retrying`]. While it lives, the request is listed by
/// [`requests_in_flight`].
pub(crate) struct Retrying<'a> {
    url: &'a Url,
    retries: u32,
    stats: &'a IndexStats,
    registration: Registration,
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
        self.registration.update(self.retries, transient.summary());
        let hint = match &transient {
            Transient::Status { retry_after, .. } => *retry_after,
            Transient::Error(_) | Transient::Answer(_) => None,
        };
        tokio::time::sleep(backoff(self.retries, hint)).await;
        Ok(None)
    }
}

/// A response, with the watch over its body's pace. It reads like the [`Response`] it wraps; its body
/// is read through [`Http::chunk`] or [`Http::body`], which keep the deadlines.
pub(crate) struct Answer {
    response: Response,
    pace: Pace,
}

impl Deref for Answer {
    type Target = Response;

    fn deref(&self) -> &Response {
        &self.response
    }
}

/// The bytes of a body received in the current window of the minimum-throughput check.
#[derive(Debug, Clone, Copy)]
struct Pace {
    window_start: Instant,
    window_bytes: u64,
}

impl Pace {
    fn new(now: Instant) -> Pace {
        Pace {
            window_start: now,
            window_bytes: 0,
        }
    }

    /// When the current window ends, if the check is on.
    fn window_end(&self, deadlines: &Deadlines) -> Option<Instant> {
        (deadlines.min_rate > 0).then(|| self.window_start + deadlines.rate_window)
    }

    /// Count `len` more bytes at `now`; once a window is over, judge it and start the next one.
    fn observe(&mut self, len: usize, now: Instant, deadlines: &Deadlines) -> Result<(), Overdue> {
        self.window_bytes += len as u64;
        let elapsed = now.saturating_duration_since(self.window_start);
        if deadlines.min_rate == 0 || elapsed < deadlines.rate_window {
            return Ok(());
        }
        // Judged over the time that really passed, which can exceed the window after a long read.
        let rate = self.window_bytes as f64 / elapsed.as_secs_f64();
        if rate < deadlines.min_rate as f64 {
            return Err(Overdue::TooSlow {
                rate: rate as u64,
                window: elapsed,
                min_rate: deadlines.min_rate,
            });
        }
        *self = Pace::new(now);
        Ok(())
    }
}

/// What a request holds until its body is read: one of the client's permits, and for a speculative
/// request one of the speculative share too.
pub(crate) struct Permit<'a> {
    _client: Option<SemaphorePermit<'a>>,
    _gate: super::priority::Gate<'a>,
}

/// Shared HTTP machinery for one index client.
pub(crate) struct Http {
    /// Built at the first request: building it loads the system's TLS roots (a few milliseconds, a
    /// tenth of an offline run), which a run answered from the cache never needs.
    client: OnceCell<reqwest::Client>,
    permits: Semaphore,
    /// The share of `permits` speculative requests may hold (see `priority.rs`).
    speculative: Semaphore,
    stats: Arc<IndexStats>,
    deadlines: Deadlines,
}

impl Http {
    /// One client for every request, so connections (HTTP/2 included) are pooled and reused; deadlines
    /// from the environment ([`Deadlines::from_env`]).
    pub(crate) fn new(concurrency: usize, stats: Arc<IndexStats>) -> Result<Http, IndexError> {
        Http::with_deadlines(concurrency, stats, Deadlines::from_env()?)
    }

    pub(crate) fn with_deadlines(
        concurrency: usize,
        stats: Arc<IndexStats>,
        deadlines: Deadlines,
    ) -> Result<Http, IndexError> {
        Ok(Http {
            client: OnceCell::new(),
            permits: Semaphore::new(concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            speculative: Semaphore::new(
                super::priority::speculative_share(concurrency).clamp(1, Semaphore::MAX_PERMITS),
            ),
            stats,
            deadlines,
        })
    }

    /// The client, built on first use; a failure to build it (TLS setup) fails the request that needed
    /// it.
    async fn client(&self) -> Result<&reqwest::Client, IndexError> {
        self.client
            .get_or_try_init(|| async {
                // reqwest is built with `rustls-no-provider`: pick ring (no C build) before the first
                // client. A second call finds a provider already installed, which is fine.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .user_agent(concat!("fave-lock/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(CONNECT_TIMEOUT.min(self.deadlines.response))
                    .dns_resolver(Arc::new(crate::dns::SharedResolver::system()))
                    // A body that goes silent is caught by the pace check too, but only when it is on.
                    .read_timeout(self.deadlines.response)
                    .build()
                    .map_err(|source| IndexError::Client {
                        source: Box::new(source),
                    })
            })
            .await
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
            registration: Registration::new(url),
        }
    }

    /// Send a GET, holding a permit (returned with the response) until the caller has read the body. A 5xx
    /// or 429 answer is a transient failure, never returned; so is a response head that misses the
    /// deadline.
    pub(crate) async fn send(
        &self,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<(Answer, Permit<'_>), Failure> {
        // A guess first waits for the speculative share, so it never holds every permit.
        let gate = super::priority::pass(&self.speculative).await;
        // The semaphore is never closed, so `acquire` cannot fail; without a permit we would still be
        // correct, only less polite.
        let permit = Permit {
            _client: self.permits.acquire().await.ok(),
            _gate: gate,
        };
        let client = self.client().await.map_err(Failure::Fatal)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let request = client.get(url.clone()).headers(headers.clone());
        let started = Instant::now();
        let response = tokio::time::timeout(self.deadlines.response, request.send())
            .await
            .map_err(|_| overdue(Overdue::NoResponse(self.deadlines.response)))?
            .map_err(|error| transport(url, error))?;
        let status = response.status();
        tracing::debug!(
            %url,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "GET"
        );
        if is_retryable_status(status) {
            let retry_after = retry_after(response.headers());
            return Err(Failure::Transient(Transient::Status {
                status,
                retry_after,
            }));
        }
        let pace = Pace::new(Instant::now());
        Ok((Answer { response, pace }, permit))
    }

    /// The next chunk of a body, counted in the stats; `None` at the end. A body slower than the
    /// deadlines allow is a transient failure.
    pub(crate) async fn chunk(
        &self,
        url: &Url,
        answer: &mut Answer,
    ) -> Result<Option<impl AsRef<[u8]> + use<>>, Failure> {
        let deadlines = &self.deadlines;
        loop {
            let read = answer.response.chunk();
            let read = match answer.pace.window_end(deadlines) {
                Some(window_end) => tokio::time::timeout_at(window_end, read).await.ok(),
                None => Some(read.await),
            };
            let Some(read) = read else {
                // Nothing arrived by the end of the window: judge what did.
                answer
                    .pace
                    .observe(0, Instant::now(), deadlines)
                    .map_err(overdue)?;
                continue;
            };
            let chunk = read.map_err(|error| transport(url, error))?;
            if let Some(chunk) = &chunk {
                self.stats
                    .bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                answer
                    .pace
                    .observe(chunk.len(), Instant::now(), deadlines)
                    .map_err(overdue)?;
            }
            return Ok(chunk);
        }
    }

    /// The whole body, refusing (without retrying) one larger than `limit` bytes.
    pub(crate) async fn body(
        &self,
        url: &Url,
        mut answer: Answer,
        limit: u64,
    ) -> Result<Vec<u8>, Failure> {
        let declared = answer.content_length().unwrap_or(0);
        check_limit(url, declared, limit)?;
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = self.chunk(url, &mut answer).await? {
            let chunk = chunk.as_ref();
            check_limit(url, (body.len() + chunk.len()) as u64, limit)?;
            body.extend_from_slice(chunk);
        }
        Ok(body)
    }
}

/// A request listed by [`requests_in_flight`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub url: String,
    /// Since the first attempt started.
    pub elapsed: Duration,
    /// Attempts repeated so far.
    pub retries: u32,
    /// What went wrong with the last failed attempt (`HTTP 503`, `a timeout`).
    pub last_failure: Option<String>,
}

impl fmt::Display for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (for {:.1} s", self.url, self.elapsed.as_secs_f64())?;
        if let Some(failure) = &self.last_failure {
            let plural = if self.retries == 1 {
                "retry"
            } else {
                "retries"
            };
            write!(
                f,
                "; {} {plural} so far, last failure: {failure}",
                self.retries
            )?;
        }
        f.write_str(")")
    }
}

/// A request's entry in [`IN_FLIGHT`], kept while the request lasts.
struct Entry {
    url: String,
    started: Instant,
    retries: u32,
    last_failure: Option<String>,
}

/// Every request of the process still going, by registration number. Process-wide rather than per
/// client, because a command may build several clients and the deadline that reads it wraps the
/// whole command, which never sees them.
static IN_FLIGHT: Mutex<BTreeMap<u64, Entry>> = Mutex::new(BTreeMap::new());
static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(0);

/// The requests going on right now, oldest first: what a run that ran out of time was waiting for.
pub fn requests_in_flight() -> Vec<InFlight> {
    let now = Instant::now();
    in_flight_table()
        .values()
        .map(|entry| InFlight {
            url: entry.url.clone(),
            elapsed: now.saturating_duration_since(entry.started),
            retries: entry.retries,
            last_failure: entry.last_failure.clone(),
        })
        .collect()
}

fn in_flight_table() -> MutexGuard<'static, BTreeMap<u64, Entry>> {
    // A panic while holding the lock cannot leave an entry half-written: keep going.
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Lists one request in [`IN_FLIGHT`] until dropped.
struct Registration(u64);

impl Registration {
    fn new(url: &Url) -> Registration {
        let id = NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            url: url.to_string(),
            started: Instant::now(),
            retries: 0,
            last_failure: None,
        };
        in_flight_table().insert(id, entry);
        Registration(id)
    }

    fn update(&self, retries: u32, failure: String) {
        if let Some(entry) = in_flight_table().get_mut(&self.0) {
            entry.retries = retries;
            entry.last_failure = Some(failure);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        in_flight_table().remove(&self.0);
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
        Failure::Transient(Transient::Error(Box::new(error)))
    } else {
        Failure::Fatal(IndexError::Request {
            url: url.to_string(),
            retries: 0,
            source: Box::new(error),
        })
    }
}

/// A missed deadline: worth another attempt, since the next connection may be faster.
fn overdue(overdue: Overdue) -> Failure {
    Failure::Transient(Transient::Error(Box::new(overdue)))
}

/// The error after the last retry failed.
fn give_up(url: &Url, retries: u32, transient: Transient) -> IndexError {
    match transient {
        Transient::Status { status, .. } => IndexError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        },
        Transient::Error(source) => IndexError::Request {
            url: url.to_string(),
            retries,
            source,
        },
        Transient::Answer(error) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_from_the_environment() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert_eq!(
            Deadlines::from_lookup(lookup(&[])).unwrap(),
            Deadlines::default()
        );
        let short = Deadlines::from_lookup(lookup(&[
            ("FAVE_LOCK_HTTP_TIMEOUT", "2.5"),
            ("FAVE_LOCK_LOW_SPEED_LIMIT", " 4096 "),
            ("FAVE_LOCK_LOW_SPEED_TIME", "0.5"),
        ]))
        .unwrap();
        assert_eq!(
            short,
            Deadlines {
                response: Duration::from_millis(2500),
                min_rate: 4096,
                rate_window: Duration::from_millis(500),
            }
        );
        for bad in [
            ("FAVE_LOCK_HTTP_TIMEOUT", "0"),
            ("FAVE_LOCK_HTTP_TIMEOUT", "soon"),
            ("FAVE_LOCK_LOW_SPEED_TIME", "-1"),
            ("FAVE_LOCK_LOW_SPEED_TIME", "inf"),
            ("FAVE_LOCK_LOW_SPEED_LIMIT", "1.5"),
        ] {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([bad]));
            let error = Deadlines::from_lookup(lookup(pairs))
                .unwrap_err()
                .to_string();
            assert!(error.contains(bad.0) && error.contains(bad.1), "{error}");
        }
    }

    #[test]
    fn a_body_below_the_minimum_pace_is_abandoned() {
        let deadlines = Deadlines {
            response: Duration::from_secs(30),
            min_rate: 1000,
            rate_window: Duration::from_secs(10),
        };
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut pace = Pace::new(start);
        // Bursty but fast enough: 12,000 bytes in the first 10 s window, judged at its end.
        pace.observe(2000, at(1), &deadlines).unwrap();
        pace.observe(10_000, at(9), &deadlines).unwrap();
        pace.observe(0, at(10), &deadlines).unwrap();
        assert_eq!(pace.window_start, at(10));
        // The next window gets 5,000 bytes in 10 s: 500 bytes/s.
        pace.observe(5000, at(15), &deadlines).unwrap();
        let error = pace.observe(0, at(20), &deadlines).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the body arrived at 500 bytes/s over 10.0 s, below the minimum of 1000 bytes/s"
        );
        // A silence longer than the window is judged over all of it.
        let mut pace = Pace::new(start);
        let error = pace.observe(15_000, at(25), &deadlines).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the body arrived at 600 bytes/s over 25.0 s")
        );
        // Off: anything goes.
        let off = Deadlines {
            min_rate: 0,
            ..deadlines
        };
        let mut pace = Pace::new(start);
        assert_eq!(pace.window_end(&off), None);
        pace.observe(0, at(3600), &off).unwrap();
    }

    #[test]
    fn requests_are_listed_while_they_last() {
        let url = Url::parse("http://127.0.0.1:9/simple/listed-while-they-last/").unwrap();
        let listed = || {
            requests_in_flight()
                .into_iter()
                .filter(|request| request.url == url.as_str())
                .collect::<Vec<_>>()
        };
        let registration = Registration::new(&url);
        assert_eq!(listed().len(), 1);
        assert!(
            listed()[0]
                .to_string()
                .starts_with(&format!("`{url}` (for 0."))
        );
        registration.update(2, "HTTP 503".to_string());
        let text = listed()[0].to_string();
        assert!(
            text.ends_with(" s; 2 retries so far, last failure: HTTP 503)"),
            "{text}"
        );
        drop(registration);
        assert!(listed().is_empty());
    }
}
