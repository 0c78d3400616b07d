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
/// together. A server's `Retry-After` raises the wait, within [`MAX_DELAY`].
pub(crate) fn backoff(retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = BASE_DELAY.saturating_mul(1 << retry.saturating_sub(1).min(16));
    let jittered = exponential.mul_f64(0.5 + fastrand::f64() / 2.0);
    jittered.max(retry_after.unwrap_or_default()).min(MAX_DELAY)
}

/// A `Retry-After` header (RFC 9110 §10.2.3): a number of seconds, or an HTTP date to wait until (a
/// date already past means "now"). [`backoff`] caps whatever it says.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    retry_after_value(value.trim(), jiff::Timestamp::now())
}

fn retry_after_value(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // The preferred IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`) is RFC 2822 syntax; the obsolete
    // RFC 850 and asctime forms are not seen in practice and count as absent.
    let until = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = now.duration_until(until);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
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
    fn retry_after_takes_seconds_or_a_date() {
        let now: jiff::Timestamp = "2026-12-04T17:00:00Z".parse().unwrap();
        let wait = |value| retry_after_value(value, now);
        assert_eq!(wait("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            wait("Fri, 04 Dec 2026 17:00:42 GMT"),
            Some(Duration::from_secs(42))
        );
        assert_eq!(wait("Fri, 04 Dec 2026 16:59:00 GMT"), Some(Duration::ZERO));
        assert_eq!(wait("soon"), None);
        assert_eq!(wait("-3"), None);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, " 3 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        // However far the date, the wait stays within the cap.
        let far = wait("Thu, 01 Jan 2099 00:00:00 GMT");
        assert_eq!(backoff(1, far), MAX_DELAY);
    }

    #[test]
    fn only_transient_statuses_retry() {
        assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable_status(StatusCode::NOT_FOUND));
        assert!(!is_retryable_status(StatusCode::FORBIDDEN));
    }
}
