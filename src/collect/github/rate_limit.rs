//! How long to wait when GitHub says "slow down", following GitHub's documented rules:
//! `retry-after` first; else, with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset`;
//! else (a secondary limit without hints) exponential backoff starting at one minute.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct RateLimitPolicy {
    /// Give up instead of waiting longer than this for one limit to lift.
    pub max_wait: Duration,
    /// First wait for a limit that gives no hint; doubles on each repeat.
    pub first_backoff: Duration,
    /// Attempts per request, including the first.
    pub max_attempts: u32,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        RateLimitPolicy { max_wait: Duration::from_secs(3600), first_backoff: Duration::from_secs(60), max_attempts: 6 }
    }
}

/// The headers that matter, already read from a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitHeaders {
    pub retry_after_secs: Option<u64>,
    pub remaining: Option<u64>,
    /// Epoch seconds at which the quota refills.
    pub reset_epoch: Option<u64>,
}

impl LimitHeaders {
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Self {
        let number = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        LimitHeaders {
            retry_after_secs: number("retry-after"),
            // GitLab sends the same facts without the `x-` prefix.
            remaining: number("x-ratelimit-remaining").or_else(|| number("ratelimit-remaining")),
            reset_epoch: number("x-ratelimit-reset").or_else(|| number("ratelimit-reset")),
        }
    }

    /// A 403 is a rate limit only with these hints (or a message saying so); otherwise it is
    /// a permission problem that waiting will not fix.
    pub fn says_limited(&self) -> bool {
        self.retry_after_secs.is_some() || self.remaining == Some(0)
    }
}

/// The wait before retry number `attempt` (1 = first retry).
pub fn wait_for(headers: &LimitHeaders, attempt: u32, policy: &RateLimitPolicy, now: SystemTime) -> Duration {
    if let Some(seconds) = headers.retry_after_secs {
        return Duration::from_secs(seconds);
    }
    if let (Some(0), Some(reset)) = (headers.remaining, headers.reset_epoch) {
        return until_epoch(reset, now);
    }
    policy.first_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
}

/// Time until `epoch` seconds, plus one second because GitHub's reset is rounded down.
pub fn until_epoch(epoch: u64, now: SystemTime) -> Duration {
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    Duration::from_secs_f64((epoch as f64 - now_secs).max(0.0) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn retry_after_wins() {
        let headers = LimitHeaders { retry_after_secs: Some(7), remaining: Some(0), reset_epoch: Some(NOW + 100) };
        assert_eq!(wait_for(&headers, 1, &RateLimitPolicy::default(), now()), Duration::from_secs(7));
    }

    #[test]
    fn exhausted_quota_waits_until_reset() {
        let headers = LimitHeaders { retry_after_secs: None, remaining: Some(0), reset_epoch: Some(NOW + 100) };
        assert_eq!(wait_for(&headers, 1, &RateLimitPolicy::default(), now()), Duration::from_secs(101));
    }

    #[test]
    fn gitlabs_unprefixed_headers_are_read() {
        let mut map = reqwest::header::HeaderMap::new();
        map.insert("ratelimit-remaining", "0".parse().unwrap());
        map.insert("ratelimit-reset", (NOW + 30).to_string().parse().unwrap());
        let headers = LimitHeaders::from_headers(&map);
        assert!(headers.says_limited());
        assert_eq!(wait_for(&headers, 1, &RateLimitPolicy::default(), now()), Duration::from_secs(31));
    }

    #[test]
    fn no_hints_backs_off_exponentially_from_a_minute() {
        let policy = RateLimitPolicy::default();
        let none = LimitHeaders::default();
        assert_eq!(wait_for(&none, 1, &policy, now()), Duration::from_secs(60));
        assert_eq!(wait_for(&none, 2, &policy, now()), Duration::from_secs(120));
        assert_eq!(wait_for(&none, 3, &policy, now()), Duration::from_secs(240));
        assert!(!none.says_limited());
    }
}
