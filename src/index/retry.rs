//! When to repeat a request and how long to wait first.
//!
//! Only failures that a later attempt can fix are retried: 5xx and 429 answers, timeouts, refused or
//! reset connections. A 4xx is the server's final word and is returned at once.

use std::time::Duration;

use reqwest::StatusCode;

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 3;

/// The wait before the first retry; each later retry doubles it.
const BASE_DELAY: Duration = Duration::from_millis(200);

/// The longest wait between two attempts, `Retry-After` included, so a hostile or confused server
/// cannot stall a run.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Whether an answer with this status is worth asking again for.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Whether a transport error is worth retrying: everything but a malformed request or a redirect loop,
/// which would fail the same way again.
pub(crate) fn is_retryable_error(error: &reqwest::Error) -> bool {
    !(error.is_builder() || error.is_redirect())
}

/// The wait before retry number `retry` (1-based): exponential backoff with "full jitter" (a random
/// wait between half and all of the exponential delay), so clients that failed together do not retry
/// together. A server's `Retry-After` (in seconds) raises the wait, within [`MAX_DELAY`].
pub(crate) fn backoff(retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = BASE_DELAY.saturating_mul(1 << retry.saturating_sub(1).min(16));
    let jittered = exponential.mul_f64(0.5 + fastrand::f64() / 2.0);
    jittered.max(retry_after.unwrap_or_default()).min(MAX_DELAY)
}

/// A `Retry-After: <seconds>` header; the HTTP-date form is rare enough to ignore.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for _ in 0..100 {
            let first = backoff(1, None);
            assert!(first >= BASE_DELAY / 2 && first <= BASE_DELAY, "{first:?}");
            let third = backoff(3, None);
            assert!(
                third >= BASE_DELAY * 2 && third <= BASE_DELAY * 4,
                "{third:?}"
            );
            assert!(backoff(u32::MAX, None) <= MAX_DELAY);
        }
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_DELAY);
    }

    #[test]
    fn only_transient_statuses_retry() {
        assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable_status(StatusCode::NOT_FOUND));
        assert!(!is_retryable_status(StatusCode::FORBIDDEN));
    }
}
