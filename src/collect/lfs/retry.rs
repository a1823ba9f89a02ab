//! When to try an LFS request again, and how long to wait first.
//!
//! The batch API documents 429 (rate limit) with `Retry-After`, and servers answer 5xx while
//! overloaded or deploying; presigned storage URLs (S3, Azure) do the same. Those are retried
//! a few times; everything else is final (retrying a 401 or a 404 cannot help).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, including the first.
    pub max_attempts: u32,
    /// Wait before the first retry when the server gives no `Retry-After`; doubles each time.
    pub first_backoff: Duration,
    /// Never wait longer than this for one retry; a longer `Retry-After` fails the request.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 4, first_backoff: Duration::from_secs(1), max_wait: Duration::from_secs(120) }
    }
}

pub fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The wait before retry number `attempt` (1 = first retry): the server's `Retry-After` when it
/// gave one, else exponential backoff.
pub fn wait_before(attempt: u32, retry_after: Option<Duration>, policy: &RetryPolicy) -> Duration {
    retry_after.unwrap_or_else(|| policy.first_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(10)))
}

/// `Retry-After`, in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // "Wed, 21 Oct 2015 07:28:00 GMT" is valid RFC 2822 too.
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_date_or_backoff() {
        let policy = RetryPolicy::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        assert_eq!(wait_before(1, None, &policy), Duration::from_secs(1));
        assert_eq!(wait_before(3, None, &policy), Duration::from_secs(4));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(wait_before(1, retry_after(&headers, now), &policy), Duration::from_secs(7));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn only_overload_answers_are_retried() {
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retryable(StatusCode::NOT_FOUND));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
    }
}
