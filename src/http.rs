//! The one HTTP client layer, for the forge REST APIs and for Git LFS: how a client is built,
//! when a request is tried again and how long to wait first (`Retry-After`, the rate-limit
//! headers GitHub and GitLab send, else exponential backoff), how credentials go into a header,
//! and the same-origin rule that decides where they may go.
//!
//! reqwest is used here and only here. Callers see the vocabulary types of HTTP (`StatusCode`,
//! headers, `Url`) and this module's `Client`, `Request` and `Response`; an error from sending
//! never carries the URL, which may hold a presigned signature.

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;

pub use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode, Url};

use crate::secret::{redact, Secret};

/// How long a client waits for a server.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the TCP (and TLS) connection; `None` leaves it to `request`.
    pub connect: Option<Duration>,
    /// For a request; in reqwest's blocking client each read of a body counts on its own, so a
    /// stalled transfer fails while a large, steadily arriving one does not.
    pub request: Duration,
}

/// A blocking HTTP client that names itself `forgesafe/<version>` (GitHub requires a
/// `User-Agent`). Redirects are followed; one that leaves the origin drops `Authorization`,
/// so a token never reaches the storage host a forge redirects downloads to.
pub struct Client {
    inner: reqwest::blocking::Client,
}

impl Client {
    pub fn new(timeouts: Timeouts) -> Result<Client> {
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(concat!("forgesafe/", env!("CARGO_PKG_VERSION")))
            .timeout(timeouts.request);
        if let Some(connect) = timeouts.connect {
            builder = builder.connect_timeout(connect);
        }
        Ok(Client {
            inner: builder.build().context("cannot build the HTTP client")?,
        })
    }

    pub fn get(&self, url: &str, headers: HeaderMap) -> Request {
        Request {
            inner: self.inner.get(url).headers(headers),
        }
    }

    pub fn post(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Request {
        Request {
            inner: self.inner.post(url).headers(headers).body(body),
        }
    }

    /// Any method, with an optional body (a forge API's POST, PATCH or PUT).
    pub fn request(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Request {
        let inner = self.inner.request(method, url).headers(headers);
        Request {
            inner: match body {
                Some(body) => inner.body(body),
                None => inner,
            },
        }
    }
}

pub struct Request {
    inner: reqwest::blocking::RequestBuilder,
}

impl Request {
    /// Replaces the client's request timeout for this request (e.g. for a large download).
    pub fn timeout(self, timeout: Duration) -> Request {
        Request {
            inner: self.inner.timeout(timeout),
        }
    }

    pub fn send(self) -> Result<Response, SendError> {
        self.inner
            .send()
            .map(|inner| Response { inner })
            .map_err(SendError::from)
    }
}

/// An answer, any status. Reading its body streams it.
pub struct Response {
    inner: reqwest::blocking::Response,
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// A header's value as text, if present and printable.
    pub fn header_text(&self, name: impl header::AsHeaderName) -> Option<String> {
        self.inner
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn text(self) -> Result<String, SendError> {
        self.inner.text().map_err(SendError::from)
    }

    /// Streams the body into `out`; returns the bytes written.
    pub fn copy_to(mut self, out: &mut impl Write) -> Result<u64, SendError> {
        self.inner.copy_to(out).map_err(SendError::from)
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A request that got no (complete) answer: refused, timed out, broken off, bad TLS. The
/// message is reqwest's chain of causes without the URL, with known secrets starred.
#[derive(Debug, Clone)]
pub struct SendError {
    message: String,
}

impl From<reqwest::Error> for SendError {
    fn from(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        SendError {
            message: redact(&message),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SendError {}

/// The HTTP status carried by an error another crate's use of reqwest raised (gix's smart-HTTP
/// transport reports a failed request so), if `err` is one.
pub fn status_of_foreign_error(err: &(dyn std::error::Error + 'static)) -> Option<u16> {
    err.downcast_ref::<reqwest::Error>()
        .and_then(reqwest::Error::status)
        .map(|s| s.as_u16())
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// An `Authorization` value `<scheme> <credential>`, marked sensitive so reqwest never prints it.
pub fn authorization(scheme: &str, credential: &str) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {credential}"))
        .map_err(|_| anyhow!("the credentials contain characters not allowed in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// HTTP basic auth as git sends it: the user, and the token as password.
pub fn basic_authorization(user: &str, token: &Secret) -> Result<HeaderValue> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", token.expose()));
    // The encoded form is as secret as the token: register it for redaction too.
    crate::secret::register(&encoded);
    authorization("Basic", &encoded)
}

/// Scheme, host and port are the same: the only case in which credentials meant for `a` may
/// be sent to `b` (a link in an answer, a server a repository names).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme().eq_ignore_ascii_case(b.scheme())
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// [`same_origin`] of two URLs given as text; one that does not parse has no origin.
pub fn same_origin_text(a: &str, b: &str) -> bool {
    matches!((Url::parse(a), Url::parse(b)), (Ok(a), Ok(b)) if same_origin(&a, &b))
}

/// A URL as it may appear in logs and errors: no user, password, query or fragment (a query
/// can carry a signature or token).
pub fn safe_display(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// `scheme://host:port` of a URL, for messages that must not show a path or query.
pub fn origin_display(url: &Url) -> String {
    url.origin().ascii_serialization()
}

// ---------------------------------------------------------------------------------------------
// Trying again

/// How often a request is tried and how long forgesafe waits between tries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, including the first.
    pub max_attempts: u32,
    /// Wait before the first retry when the server gives no hint; doubles each time.
    pub first_backoff: Duration,
    /// Never wait longer than this for one retry; a server asking for longer fails the request.
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Forge REST APIs: GitHub's rate limits lift within the hour, and its advice for a
    /// secondary limit without hints is to back off from a minute.
    pub fn forge_api() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            first_backoff: Duration::from_secs(60),
            max_wait: Duration::from_secs(3600),
        }
    }

    /// Git LFS servers and the storage behind their download links: overload (429, 5xx) that
    /// passes within a couple of minutes.
    pub fn lfs() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            first_backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
        }
    }

    /// The wait before retry number `attempt` (1 = first retry): the server's `Retry-After`;
    /// else, with the quota used up, until it refills; else exponential backoff.
    pub fn wait_before(&self, attempt: u32, hints: &WaitHints, now: SystemTime) -> Duration {
        if let Some(wait) = hints.retry_after {
            return wait;
        }
        if let Some(wait) = hints.quota_refills_in(now) {
            return wait;
        }
        self.first_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
    }
}

/// What a server said about when to come back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitHints {
    /// `Retry-After`, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
    /// `x-ratelimit-remaining` (GitLab: `ratelimit-remaining`).
    pub remaining: Option<u64>,
    /// `x-ratelimit-reset`: epoch seconds at which the quota refills.
    pub reset_epoch: Option<u64>,
}

impl WaitHints {
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> WaitHints {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        WaitHints {
            retry_after: retry_after(headers, now),
            // GitLab sends the same facts without the `x-` prefix.
            remaining: number("x-ratelimit-remaining").or_else(|| number("ratelimit-remaining")),
            reset_epoch: number("x-ratelimit-reset").or_else(|| number("ratelimit-reset")),
        }
    }

    /// A 403 is a rate limit only with these hints (or a message saying so); otherwise it is
    /// a permission problem that waiting will not fix.
    pub fn says_limited(&self) -> bool {
        self.retry_after.is_some() || self.remaining == Some(0)
    }

    /// With the quota used up: the time until it refills, plus a second because GitHub rounds
    /// its reset down.
    pub fn quota_refills_in(&self, now: SystemTime) -> Option<Duration> {
        match (self.remaining, self.reset_epoch) {
            (Some(0), Some(reset)) => {
                let now_secs = now
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                Some(Duration::from_secs_f64(
                    (reset as f64 - now_secs).max(0.0) + 1.0,
                ))
            }
            _ => None,
        }
    }
}

/// `Retry-After`, in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // "Wed, 21 Oct 2015 07:28:00 GMT" is valid RFC 2822 too.
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

/// Answers that say "not now": 429 (rate limit) and server errors (overloaded, deploying).
/// Everything else is final: retrying a 401 or a 404 cannot help.
pub fn is_overloaded(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// What one try of a request came to.
pub enum Attempt<T, E> {
    Done(T),
    /// Worth another try, after the wait the server's hints (else the policy's backoff) call for.
    Retry(E, WaitHints),
    /// Worth another try after exactly this wait.
    RetryIn(E, Duration),
    /// Trying again cannot help.
    Final(E),
}

/// Why [`with_retries`] stopped without success.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The last try said that trying again cannot help.
    Final(E),
    /// Trying again was worth it, but the policy ran out after `attempts`: `wait` is what the
    /// next try would have waited for (longer than `max_wait`, when that is why).
    Exhausted {
        last: E,
        attempts: u32,
        wait: Duration,
    },
}

impl<E> GaveUp<E> {
    pub fn into_last(self) -> E {
        match self {
            GaveUp::Final(e) | GaveUp::Exhausted { last: e, .. } => e,
        }
    }
}

/// Calls `attempt` (with the attempt number, from 1) until it is done, final, or `policy` says
/// stop; sleeps between tries. `what` names the request in the log line of each retry.
pub fn with_retries<T, E: fmt::Display>(
    policy: &RetryPolicy,
    what: &str,
    mut attempt: impl FnMut(u32) -> Attempt<T, E>,
) -> Result<T, GaveUp<E>> {
    let mut number = 0;
    loop {
        number += 1;
        let (error, wait) = match attempt(number) {
            Attempt::Done(value) => return Ok(value),
            Attempt::Final(error) => return Err(GaveUp::Final(error)),
            Attempt::Retry(error, hints) => {
                let wait = policy.wait_before(number, &hints, SystemTime::now());
                (error, wait)
            }
            Attempt::RetryIn(error, wait) => (error, wait),
        };
        if number >= policy.max_attempts || wait > policy.max_wait {
            return Err(GaveUp::Exhausted {
                last: error,
                attempts: number,
                wait,
            });
        }
        tracing::warn!(attempt = number, wait_secs = wait.as_secs_f32(), reason = %error, "{what} failed; retrying");
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn retry_after_wins_over_the_quota_reset() {
        let hints = WaitHints {
            retry_after: Some(Duration::from_secs(7)),
            remaining: Some(0),
            reset_epoch: Some(NOW + 100),
        };
        assert_eq!(
            RetryPolicy::forge_api().wait_before(1, &hints, now()),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn an_exhausted_quota_waits_until_reset() {
        let hints = WaitHints {
            retry_after: None,
            remaining: Some(0),
            reset_epoch: Some(NOW + 100),
        };
        assert_eq!(
            RetryPolicy::forge_api().wait_before(1, &hints, now()),
            Duration::from_secs(101)
        );
    }

    #[test]
    fn gitlabs_unprefixed_headers_are_read() {
        let mut map = HeaderMap::new();
        map.insert("ratelimit-remaining", "0".parse().unwrap());
        map.insert("ratelimit-reset", (NOW + 30).to_string().parse().unwrap());
        let hints = WaitHints::from_headers(&map, now());
        assert!(hints.says_limited());
        assert_eq!(
            RetryPolicy::forge_api().wait_before(1, &hints, now()),
            Duration::from_secs(31)
        );
    }

    #[test]
    fn without_hints_the_backoff_doubles_from_the_policys_first_wait() {
        let none = WaitHints::default();
        let api = RetryPolicy::forge_api();
        assert_eq!(api.wait_before(1, &none, now()), Duration::from_secs(60));
        assert_eq!(api.wait_before(2, &none, now()), Duration::from_secs(120));
        assert_eq!(api.wait_before(3, &none, now()), Duration::from_secs(240));
        assert!(!none.says_limited());
        let lfs = RetryPolicy::lfs();
        assert_eq!(lfs.wait_before(1, &none, now()), Duration::from_secs(1));
        assert_eq!(lfs.wait_before(3, &none, now()), Duration::from_secs(4));
    }

    #[test]
    fn retry_after_in_seconds_or_as_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            RetryPolicy::lfs().wait_before(1, &WaitHints::from_headers(&headers, now), now),
            Duration::from_secs(7)
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn only_overload_answers_are_retried() {
        assert!(is_overloaded(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_overloaded(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_overloaded(StatusCode::NOT_FOUND));
        assert!(!is_overloaded(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn with_retries_stops_at_the_attempt_limit_or_a_wait_too_long() {
        let policy = RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::ZERO,
            max_wait: Duration::from_secs(5),
        };
        let mut tries = 0;
        let result: Result<(), _> = with_retries(&policy, "test request", |_| {
            tries += 1;
            Attempt::Retry("busy", WaitHints::default())
        });
        assert!(matches!(result, Err(GaveUp::Exhausted { attempts: 3, .. })));
        assert_eq!(tries, 3);
        let result: Result<(), _> = with_retries(&policy, "test request", |_| {
            Attempt::RetryIn("later", Duration::from_secs(60))
        });
        assert!(
            matches!(result, Err(GaveUp::Exhausted { attempts: 1, wait, .. }) if wait == Duration::from_secs(60))
        );
        let result: Result<(), _> = with_retries(&policy, "test request", |_| Attempt::Final("no"));
        assert!(matches!(result, Err(GaveUp::Final("no"))));
        let result = with_retries(&policy, "test request", |n| {
            if n < 2 {
                Attempt::Retry("once", WaitHints::default())
            } else {
                Attempt::Done(n)
            }
        });
        assert_eq!(result.unwrap(), 2);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://github.com/a.git"),
            &u("https://GitHub.com:443/b/info/lfs")
        ));
        assert!(!same_origin(
            &u("https://github.com/a.git"),
            &u("http://github.com/a.git")
        ));
        assert!(!same_origin(
            &u("https://github.com/a.git"),
            &u("https://github.com:8443/a.git")
        ));
        assert!(!same_origin(
            &u("https://github.com/a.git"),
            &u("https://github.com.evil.example/a.git")
        ));
        assert!(!same_origin(
            &u("https://github.com/a.git"),
            &u("https://lfs.github.com/a.git")
        ));
        assert!(same_origin_text(
            "https://api.github.com",
            "https://api.github.com/user/repos?page=2"
        ));
        assert!(same_origin_text(
            "http://127.0.0.1:8080/api/v3",
            "http://127.0.0.1:8080/user/repos"
        ));
        assert!(!same_origin_text(
            "https://api.github.com",
            "https://evil.example/user/repos"
        ));
        assert!(!same_origin_text(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:9090/x"
        ));
        assert!(
            !same_origin_text("https://api.github.com", "/user/repos"),
            "a relative link has no origin"
        );
    }

    #[test]
    fn display_hides_userinfo_and_query() {
        let url = Url::parse("https://user:pa55word@h.example/o/r?sig=abc#x").unwrap();
        assert_eq!(safe_display(&url), "https://h.example/o/r");
        assert_eq!(origin_display(&url), "https://h.example");
    }

    #[test]
    fn credentials_headers_are_sensitive_and_basic_auth_is_redacted() {
        assert!(authorization("Bearer", "tok").unwrap().is_sensitive());
        let token = Secret::new("tok-http-unit-test-secret");
        let value = basic_authorization("x-access-token", &token).unwrap();
        assert!(value.is_sensitive());
        let encoded = value
            .to_str()
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap()
            .to_string();
        assert_eq!(redact(&format!("sent {encoded}")), "sent ***");
    }
}
