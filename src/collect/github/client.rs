//! A blocking GitHub REST v3 client: the request headers GitHub asks for, conditional
//! requests, and waiting out rate limits. Higher-level listings live in `repos.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK};
use reqwest::StatusCode;

use super::link::{next_link, same_origin};
use super::rate_limit::{until_epoch, wait_for, LimitHeaders, RateLimitPolicy};
use crate::secret::Secret;

pub const PUBLIC_API: &str = "https://api.github.com";
/// The REST API version this client is written against.
pub const API_VERSION: &str = "2022-11-28";

/// Which forge's dialect of the GitHub-style REST API a client speaks. Gitea and Forgejo copy
/// GitHub's shapes closely; the differences live in the few methods below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Github,
    /// Gitea / Forgejo: `/api/v1`, `Authorization: token …`, pages of at most 50 (`limit=`).
    Gitea,
    /// GitLab: `/api/v4`, the token as `Authorization: Bearer …` (GitLab takes personal access
    /// tokens that way), `Link` pagination like GitHub's; projects have their own shape.
    Gitlab,
}

impl Flavor {
    /// The page-size parameter at its largest allowed value.
    pub fn page_size(self) -> &'static str {
        match self {
            Flavor::Github | Flavor::Gitlab => "per_page=100",
            Flavor::Gitea => "limit=50",
        }
    }
}

pub struct GithubClient {
    flavor: Flavor,
    http: reqwest::blocking::Client,
    api_base: String,
    token: Option<Secret>,
    policy: RateLimitPolicy,
    /// Set when a response said the quota is used up: the next request waits until then
    /// instead of spending a request on a certain 403.
    quota_refills_at: Mutex<Option<Instant>>,
    /// Requests sent and 304s received, for the run summary.
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
}

/// The HTTP status of a failed request, under the error's message.
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
    err.downcast_ref::<HttpStatus>().map(|s| s.0)
}

/// One page of a GET.
#[derive(Debug)]
pub enum PageResponse {
    /// 304: the `ETag` we sent still matches; costs no rate limit.
    NotModified,
    Fresh { body: String, etag: Option<String>, next: Option<String> },
}

impl GithubClient {
    /// `api_base` is `https://api.github.com` or a GitHub Enterprise `https://host/api/v3`.
    pub fn new(api_base: &str, token: Option<Secret>) -> Result<Self> {
        Self::with_flavor(Flavor::Github, api_base, token)
    }

    /// A client for a Gitea or Forgejo instance; `api_base` is `https://host/api/v1`.
    pub fn new_gitea(api_base: &str, token: Option<Secret>) -> Result<Self> {
        Self::with_flavor(Flavor::Gitea, api_base, token)
    }

    /// A client for GitLab (gitlab.com or self-managed); `api_base` is `https://host/api/v4`.
    pub fn new_gitlab(api_base: &str, token: Option<Secret>) -> Result<Self> {
        Self::with_flavor(Flavor::Gitlab, api_base, token)
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn with_flavor(flavor: Flavor, api_base: &str, token: Option<Secret>) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("forgesafe/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(GithubClient {
            flavor,
            http,
            api_base: api_base.trim_end_matches('/').to_string(),
            token,
            policy: RateLimitPolicy::default(),
            quota_refills_at: Mutex::new(None),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        })
    }

    pub fn with_rate_limit_policy(mut self, policy: RateLimitPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// GET `url` (absolute, on the API host), waiting out rate limits.
    pub fn get_page(&self, url: &str, etag: Option<&str>) -> Result<PageResponse> {
        let response = self.send(url, self.headers(etag)?, None)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(PageResponse::NotModified);
        }
        let etag = header_text(response.headers(), ETAG);
        let next = header_text(response.headers(), LINK).and_then(|link| next_link(&link));
        let body = response.text().with_context(|| format!("cannot read the body of GET {url}"))?;
        Ok(PageResponse::Fresh { body, etag, next })
    }

    /// GET a file (a release asset) from `url`, on the API's origin, into `into`; returns its
    /// size. GitHub answers with a redirect to a presigned storage URL: reqwest follows it and
    /// drops the `Authorization` header when the redirect leaves the origin, so the token
    /// never reaches the storage host.
    pub fn download(&self, url: &str, into: &mut std::fs::File) -> Result<u64> {
        let mut headers = self.headers(None)?;
        headers.insert(ACCEPT, HeaderValue::from_static("application/octet-stream"));
        // Assets can be large: no 60 s cap on the whole transfer.
        let mut response = self.send(url, headers, Some(Duration::from_secs(4 * 3600)))?;
        response.copy_to(into).with_context(|| format!("download of {url} broke off"))
    }

    /// Sends a GET, waiting out rate limits and retrying server errors; returns a 2xx or 304.
    fn send(&self, url: &str, headers: HeaderMap, timeout: Option<Duration>) -> Result<reqwest::blocking::Response> {
        if !same_origin(&self.api_base, url) {
            bail!("refusing to send the GitHub token to {url}: it is not on {}", self.api_base);
        }
        self.wait_for_quota()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.get(url).headers(headers.clone());
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            let response = request.send().with_context(|| format!("GitHub request GET {url} failed"))?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let status = response.status();
            let limits = LimitHeaders::from_headers(response.headers());
            self.remember_quota(&limits);

            if status == StatusCode::NOT_MODIFIED {
                self.not_modified.fetch_add(1, Ordering::Relaxed);
                return Ok(response);
            }
            if status.is_success() {
                return Ok(response);
            }

            let body = response.text().unwrap_or_default();
            let message = github_message(&body);
            let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN && (limits.says_limited() || message.to_ascii_lowercase().contains("rate limit")));
            if rate_limited {
                let wait = wait_for(&limits, attempt, &self.policy, SystemTime::now());
                if attempt >= self.policy.max_attempts || wait > self.policy.max_wait {
                    bail!(
                        "GitHub rate limit on GET {url} ({status}: {message}); it lifts in about {} s, \
                         more than forgesafe waits ({} s, attempt {attempt}); run again later",
                        wait.as_secs(),
                        self.policy.max_wait.as_secs()
                    );
                }
                tracing::warn!(url, status = status.as_u16(), wait_secs = wait.as_secs_f32(), "GitHub rate limit; waiting");
                std::thread::sleep(wait);
                continue;
            }
            if status.is_server_error() && attempt < 3 {
                tracing::warn!(url, status = status.as_u16(), "GitHub server error; retrying");
                std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                continue;
            }
            let text = match status {
                StatusCode::UNAUTHORIZED => format!(
                    "GitHub rejected the token on GET {url} (401: {message}); check that the token is valid and not expired"
                ),
                StatusCode::NOT_FOUND => format!("GitHub: GET {url} not found (404); check the user or organisation name, and the token's access"),
                _ => format!("GitHub: GET {url} failed ({status}: {message})"),
            };
            // Typed underneath, so callers can tell "gone" (404/410) from a failure.
            return Err(anyhow::Error::new(HttpStatus(status.as_u16())).context(text));
        }
    }

    fn headers(&self, etag: Option<&str>) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("x-github-api-version", HeaderValue::from_static(API_VERSION));
        if let Some(token) = &self.token {
            // The token travels only in this header; `sensitive` keeps it out of reqwest's Debug output.
            let scheme = match self.flavor {
                Flavor::Github | Flavor::Gitlab => "Bearer",
                Flavor::Gitea => "token",
            };
            let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.expose()))
                .map_err(|_| anyhow::anyhow!("the GitHub token contains characters not allowed in an HTTP header"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        if let Some(etag) = etag {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(etag).context("invalid cached ETag")?);
        }
        Ok(headers)
    }

    fn remember_quota(&self, limits: &LimitHeaders) {
        let mut refills_at = self.quota_refills_at.lock().unwrap_or_else(|p| p.into_inner());
        *refills_at = match (limits.remaining, limits.reset_epoch) {
            (Some(0), Some(reset)) => Some(Instant::now() + until_epoch(reset, SystemTime::now())),
            _ => None,
        };
    }

    fn wait_for_quota(&self) -> Result<()> {
        let refills_at = *self.quota_refills_at.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = refills_at {
            let wait = at.saturating_duration_since(Instant::now());
            if wait > self.policy.max_wait {
                bail!("GitHub rate limit used up; it refills in about {} s; run again later", wait.as_secs());
            }
            if !wait.is_zero() {
                tracing::info!(wait_secs = wait.as_secs_f32(), "GitHub quota used up; waiting for it to refill");
                std::thread::sleep(wait);
            }
        }
        Ok(())
    }
}

fn header_text(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// GitHub error bodies are `{"message": "...", "documentation_url": "..."}`.
fn github_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
