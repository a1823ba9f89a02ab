//! The REST client every forge module uses: the token in the `Authorization` header and
//! nowhere else, only for URLs on the API's own origin; conditional GETs (`If-None-Match`);
//! `Link` pagination; rate limits waited out as GitHub documents them (GitLab sends the same
//! headers); and counts of requests and 304s for the run summary. What each forge asks for,
//! and how it spells it, lives in its own module.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::link::next_link;
use crate::http::{
    self, header, Attempt, GaveUp, HeaderMap, HeaderValue, Method, RetryPolicy, StatusCode,
    WaitHints,
};
use crate::secret::Secret;

/// Requests sent to a forge's API and how many of them were answered 304 (which costs no
/// rate limit).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ApiCounts {
    pub requests: u64,
    pub not_modified: u64,
}

impl std::ops::AddAssign for ApiCounts {
    fn add_assign(&mut self, other: ApiCounts) {
        self.requests += other.requests;
        self.not_modified += other.not_modified;
    }
}

/// The HTTP status of a failed forge request, under the error's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(pub u16);

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.0)
    }
}

impl std::error::Error for HttpStatus {}

/// The status of a failed forge request, if that is what `err` is.
pub fn http_status(err: &anyhow::Error) -> Option<u16> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<HttpStatus>())
        .map(|s| s.0)
}

/// One page of a GET.
#[derive(Debug)]
pub enum PageResponse {
    /// 304: the `ETag` we sent still matches; costs no rate limit.
    NotModified,
    Fresh {
        body: String,
        etag: Option<String>,
        next: Option<String>,
    },
}

/// How a forge wants to be asked: its name for messages, how its token is presented, and the
/// headers it expects on every request.
pub struct Dialect {
    /// `GitHub`, `Gitea`, `GitLab`.
    pub forge: &'static str,
    /// `Authorization: <scheme> <token>`.
    pub token_scheme: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
}

pub struct RestClient {
    forge: &'static str,
    http: http::Client,
    api_base: String,
    headers: HeaderMap,
    /// `<scheme> <token>`, sensitive; `None` for anonymous access.
    authorization: Option<HeaderValue>,
    policy: RetryPolicy,
    /// Set when a response said the quota is used up: the next request waits until then
    /// instead of spending a request on a certain 403.
    quota_refills_at: Mutex<Option<Instant>>,
    /// Set when a request was told to slow down (429, a secondary rate limit): the other
    /// threads using this token hold their next request until then too, so the client backs
    /// off as a whole instead of each thread finding the limit on its own.
    paused_until: Mutex<Option<Instant>>,
    requests: AtomicU64,
    not_modified: AtomicU64,
}

/// Why one try of a request did not succeed.
enum TryFailed {
    /// The forge said "slow down".
    RateLimited {
        status: StatusCode,
        message: String,
    },
    Other(anyhow::Error),
}

impl std::fmt::Display for TryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryFailed::RateLimited { status, message } => {
                write!(f, "rate limit ({status}: {message})")
            }
            TryFailed::Other(err) => write!(f, "{err:#}"),
        }
    }
}

impl RestClient {
    /// `api_base` is the API's root, e.g. `https://api.github.com` or `https://host/api/v4`.
    pub fn new(dialect: &Dialect, api_base: &str, token: Option<&Secret>) -> Result<Self> {
        let http = http::Client::new(http::Timeouts {
            connect: None,
            request: Duration::from_secs(60),
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in dialect.headers {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        let authorization = token
            .map(|token| http::authorization(dialect.token_scheme, token.expose()))
            .transpose()
            .with_context(|| format!("the {} token cannot be sent", dialect.forge))?;
        Ok(RestClient {
            forge: dialect.forge,
            http,
            api_base: api_base.trim_end_matches('/').to_string(),
            headers,
            authorization,
            policy: RetryPolicy::forge_api(),
            quota_refills_at: Mutex::new(None),
            paused_until: Mutex::new(None),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        })
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    pub fn counts(&self) -> ApiCounts {
        ApiCounts {
            requests: self.requests.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
        }
    }

    /// GET `url` (absolute, on the API's origin), waiting out rate limits.
    pub fn get_page(&self, url: &str, etag: Option<&str>) -> Result<PageResponse> {
        let mut headers = self.headers.clone();
        if let Some(etag) = etag {
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(etag).context("invalid cached ETag")?,
            );
        }
        let response = self.send(&Method::GET, url, headers, None, None)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(PageResponse::NotModified);
        }
        let etag = response.header_text(header::ETAG);
        let next = response
            .header_text(header::LINK)
            .and_then(|link| next_link(&link));
        let body = response
            .text()
            .with_context(|| format!("cannot read the body of GET {url}"))?;
        Ok(PageResponse::Fresh { body, etag, next })
    }

    /// GET a file (a release asset) from `url`, on the API's origin, into `into`; returns its
    /// size. GitHub answers with a redirect to a presigned storage URL: it is followed, and
    /// the `Authorization` header is dropped when the redirect leaves the origin, so the token
    /// never reaches the storage host.
    pub fn download(&self, url: &str, into: &mut std::fs::File) -> Result<u64> {
        let mut headers = self.headers.clone();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/octet-stream"),
        );
        // Assets can be large: no 60 s cap on the whole transfer.
        let response = self.send(
            &Method::GET,
            url,
            headers,
            None,
            Some(Duration::from_secs(4 * 3600)),
        )?;
        response
            .copy_to(into)
            .with_context(|| format!("download of {url} broke off"))
    }

    /// Sends `body` as JSON with `method` (POST, PATCH, PUT) to `url` and returns the answer's
    /// JSON (`null` for an empty one). Rate limits are waited out; server errors are not tried
    /// again, since the first try may have done its work (a create is answered "exists" then).
    pub fn send_json(
        &self,
        method: Method,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let mut headers = self.headers.clone();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let response = self.send(
            &method,
            url,
            headers,
            Some(body.to_string().into_bytes()),
            None,
        )?;
        let text = response
            .text()
            .with_context(|| format!("cannot read the answer to {method} {url}"))?;
        if text.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {url}: the answer is not JSON"))
    }

    /// Sends a request, waiting out rate limits and retrying a GET's server errors; returns a
    /// 2xx or 304.
    fn send(
        &self,
        method: &Method,
        url: &str,
        mut headers: HeaderMap,
        body: Option<Vec<u8>>,
        timeout: Option<Duration>,
    ) -> Result<http::Response> {
        let forge = self.forge;
        if !http::same_origin_text(&self.api_base, url) {
            bail!(
                "refusing to send the {forge} token to {url}: it is not on {}",
                self.api_base
            );
        }
        if let Some(authorization) = &self.authorization {
            headers.insert(header::AUTHORIZATION, authorization.clone());
        }
        self.wait_for_quota()?;
        let result = http::with_retries(
            &self.policy,
            &format!("{forge} request {method} {url}"),
            |attempt| {
                let mut request =
                    self.http
                        .request(method.clone(), url, headers.clone(), body.clone());
                if let Some(timeout) = timeout {
                    request = request.timeout(timeout);
                }
                let response = match request.send() {
                    Ok(response) => response,
                    Err(err) => {
                        return Attempt::Final(TryFailed::Other(
                            anyhow::Error::new(err)
                                .context(format!("{forge} request {method} {url} failed")),
                        ))
                    }
                };
                self.requests.fetch_add(1, Ordering::Relaxed);
                let status = response.status();
                let hints = WaitHints::from_headers(response.headers(), SystemTime::now());
                self.remember_quota(&hints);
                if status == StatusCode::NOT_MODIFIED {
                    self.not_modified.fetch_add(1, Ordering::Relaxed);
                    return Attempt::Done(response);
                }
                if status.is_success() {
                    return Attempt::Done(response);
                }
                let message = error_message(&response.text().unwrap_or_default());
                let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                    || (status == StatusCode::FORBIDDEN
                        && (hints.says_limited()
                            || message.to_ascii_lowercase().contains("rate limit")));
                if rate_limited {
                    self.pause_everyone(self.policy.wait_before(
                        attempt,
                        &hints,
                        SystemTime::now(),
                    ));
                    return Attempt::Retry(TryFailed::RateLimited { status, message }, hints);
                }
                let failed = TryFailed::Other(self.status_error(method, url, status, &message));
                if status.is_server_error() && attempt < 3 && *method == Method::GET {
                    return Attempt::RetryIn(failed, Duration::from_secs(u64::from(attempt)));
                }
                Attempt::Final(failed)
            },
        );
        match result {
            Ok(response) => Ok(response),
            Err(GaveUp::Exhausted { last: TryFailed::RateLimited { status, message }, attempts, wait }) => bail!(
                "{forge} rate limit on {method} {url} ({status}: {message}); it lifts in about {} s, \
                 more than forgesafe waits ({} s, attempt {attempts}); run again later",
                wait.as_secs(),
                self.policy.max_wait.as_secs()
            ),
            Err(gave_up) => match gave_up.into_last() {
                TryFailed::Other(err) => Err(err),
                limited => bail!("{forge}: {method} {url}: {limited}"),
            },
        }
    }

    /// One message per failing status; typed underneath, so callers can tell "gone" (404/410)
    /// from a failure.
    fn status_error(
        &self,
        method: &Method,
        url: &str,
        status: StatusCode,
        message: &str,
    ) -> anyhow::Error {
        let forge = self.forge;
        let text = match status {
            StatusCode::UNAUTHORIZED => {
                format!("{forge} rejected the token on {method} {url} (401: {message}); check that the token is valid and not expired")
            }
            StatusCode::NOT_FOUND => format!("{forge}: {method} {url} not found (404); check the user or organisation name, and the token's access"),
            StatusCode::FORBIDDEN if *method != Method::GET => {
                format!("{forge}: {method} {url} forbidden (403: {message}); check that the token may create and push repositories there")
            }
            _ => format!("{forge}: {method} {url} failed ({status}: {message})"),
        };
        anyhow::Error::new(HttpStatus(status.as_u16())).context(text)
    }

    fn remember_quota(&self, hints: &WaitHints) {
        let mut refills_at = self
            .quota_refills_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *refills_at = hints
            .quota_refills_in(SystemTime::now())
            .map(|wait| Instant::now() + wait);
    }

    fn pause_everyone(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|at| at < until) {
            *paused = Some(until);
        }
    }

    fn wait_for_quota(&self) -> Result<()> {
        let refills_at = *self
            .quota_refills_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let paused_until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        let refills_at = refills_at.max(paused_until);
        if let Some(at) = refills_at {
            let wait = at.saturating_duration_since(Instant::now());
            if wait > self.policy.max_wait {
                bail!(
                    "{} rate limit used up; it refills in about {} s; run again later",
                    self.forge,
                    wait.as_secs()
                );
            }
            if !wait.is_zero() {
                tracing::info!(
                    wait_secs = wait.as_secs_f32(),
                    "{} quota used up; waiting for it to refill",
                    self.forge
                );
                std::thread::sleep(wait);
            }
        }
        Ok(())
    }
}

/// Error bodies are `{"message": "...", …}` on GitHub, Gitea and GitLab alike.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// The API root of a self-hosted instance given by its base URL (`url:` in gickup's config),
/// or of the public service: `<base><suffix>` unless the URL already ends with the suffix.
pub fn instance_api(url: Option<&str>, public: &str, suffix: &str) -> String {
    let base = url
        .map(|u| u.trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .unwrap_or(public);
    if base.ends_with(suffix) {
        base.to_string()
    } else {
        format!("{base}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls_get_the_api_suffix_once() {
        assert_eq!(
            instance_api(None, "https://gitlab.com", "/api/v4"),
            "https://gitlab.com/api/v4"
        );
        assert_eq!(
            instance_api(
                Some("https://git.example/"),
                "https://gitlab.com",
                "/api/v4"
            ),
            "https://git.example/api/v4"
        );
        assert_eq!(
            instance_api(
                Some("https://git.example/api/v1"),
                "https://gitea.com",
                "/api/v1"
            ),
            "https://git.example/api/v1"
        );
        assert_eq!(
            instance_api(Some(""), "https://gitea.com", "/api/v1"),
            "https://gitea.com/api/v1"
        );
    }
}
