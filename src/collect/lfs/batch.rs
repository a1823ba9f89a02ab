//! The Git LFS Batch API (`docs/api/batch.md` in git-lfs): one POST asks the server where to
//! download up to 100 objects from.
//!
//! The answer's download actions (`href` plus `header`) are treated as secrets: an href is
//! often a presigned URL whose query is the credential, and the headers may hold a token the
//! server minted for that download. Neither is ever logged or put into an error message, and
//! their `Debug` output is redacted.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::endpoint::Endpoint;
use super::pointer::Pointer;
use crate::http::{
    self, header, Attempt, GaveUp, HeaderMap, HeaderValue, RetryPolicy, StatusCode, WaitHints,
};
use crate::secret::{redact, Secret};

/// The media type of every batch request and response.
pub const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";
/// The batch API's documented limit on objects per request (git-lfs uses the same).
pub const MAX_OBJECTS_PER_BATCH: usize = 100;

/// An HTTP client bound to one LFS endpoint, with the credentials it may receive (if any).
pub struct LfsClient {
    pub http: http::Client,
    pub endpoint: Endpoint,
    /// `Authorization: Basic …`, present only when the endpoint is on the clone URL's origin.
    authorization: Option<HeaderValue>,
    pub retry: RetryPolicy,
}

/// Why one try of a batch request did not get an answer to use.
enum BatchTry {
    /// 429 or a server error.
    Overloaded(http::Response),
    Unanswered(http::SendError),
}

impl fmt::Display for BatchTry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchTry::Overloaded(response) => write!(f, "HTTP {}", response.status().as_u16()),
            BatchTry::Unanswered(err) => write!(f, "{err}"),
        }
    }
}

/// Where to GET one object from. `Debug` does not show the URL or the headers.
#[derive(Clone, Deserialize)]
pub struct DownloadAction {
    pub href: String,
    #[serde(default)]
    pub header: HashMap<String, String>,
}

impl fmt::Debug for DownloadAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DownloadAction {{ href: <hidden>, header: <{} hidden> }}",
            self.header.len()
        )
    }
}

/// The server's answer for one object.
#[derive(Debug, Clone)]
pub enum Answer {
    Download(DownloadAction),
    /// A per-object error (404: not on the server; 410: removed; 422: size mismatch; …).
    Error {
        code: u16,
        message: String,
    },
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    operation: &'static str,
    transfers: [&'static str; 1],
    objects: Vec<&'a Pointer>,
    hash_algo: &'static str,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    transfer: Option<String>,
    #[serde(default)]
    objects: Vec<ResponseObject>,
    #[serde(default)]
    hash_algo: Option<String>,
}

#[derive(Deserialize)]
struct ResponseObject {
    oid: String,
    #[serde(default)]
    actions: Option<Actions>,
    #[serde(default)]
    error: Option<ObjectError>,
}

#[derive(Deserialize)]
struct Actions {
    #[serde(default)]
    download: Option<DownloadAction>,
}

#[derive(Deserialize)]
struct ObjectError {
    code: u16,
    #[serde(default)]
    message: String,
}

impl LfsClient {
    /// `credentials` are attached only if `endpoint.same_origin_as_clone`.
    pub fn new(
        endpoint: Endpoint,
        credentials: Option<(&str, &Secret)>,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let authorization = match credentials {
            Some((user, token)) if endpoint.same_origin_as_clone => {
                Some(http::basic_authorization(user, token)?)
            }
            _ => None,
        };
        // 120 s per read of a body: a stalled download fails, a large, steady one does not.
        let http = http::Client::new(http::Timeouts {
            connect: Some(Duration::from_secs(30)),
            request: Duration::from_secs(120),
        })
        .context("Git LFS")?;
        Ok(LfsClient {
            http,
            endpoint,
            authorization,
            retry,
        })
    }

    pub fn sends_credentials(&self) -> bool {
        self.authorization.is_some()
    }

    /// Ask for download actions for `objects` (at most [`MAX_OBJECTS_PER_BATCH`]). An error
    /// here concerns the whole request (authentication, a missing endpoint, a server down);
    /// per-object problems come back as [`Answer::Error`].
    pub fn batch(&self, objects: &[Pointer]) -> Result<Vec<(Pointer, Answer)>> {
        assert!(
            objects.len() <= MAX_OBJECTS_PER_BATCH,
            "batch requests are limited to {MAX_OBJECTS_PER_BATCH} objects"
        );
        let url = self.endpoint.batch_url();
        let body = serde_json::to_vec(&BatchRequest {
            operation: "download",
            transfers: ["basic"],
            objects: objects.iter().collect(),
            hash_algo: "sha256",
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(LFS_MEDIA_TYPE));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(LFS_MEDIA_TYPE),
        );
        if let Some(auth) = &self.authorization {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }

        let tried = http::with_retries(
            &self.retry,
            &format!("Git LFS batch request to {}", self.endpoint),
            |_| {
                match self
                    .http
                    .post(url.as_str(), headers.clone(), body.clone())
                    .send()
                {
                    Ok(response) if http::is_overloaded(response.status()) => {
                        let hints = WaitHints::from_headers(response.headers(), SystemTime::now());
                        Attempt::Retry(BatchTry::Overloaded(response), hints)
                    }
                    Ok(response) => Attempt::Done(response),
                    // Connection refused/reset, timeouts: maybe passing.
                    Err(err) => Attempt::Retry(BatchTry::Unanswered(err), WaitHints::default()),
                }
            },
        );
        let response = match tried {
            Ok(response) => response,
            Err(GaveUp::Exhausted { last, attempts, wait }) if attempts < self.retry.max_attempts => bail!(
                "the Git LFS server {} is overloaded ({last}) and asks to wait {} s, longer than forgesafe waits ({} s); run again later",
                self.endpoint,
                wait.as_secs(),
                self.retry.max_wait.as_secs()
            ),
            Err(gave_up) => match gave_up.into_last() {
                BatchTry::Overloaded(response) => return Err(self.status_error(response, objects)),
                BatchTry::Unanswered(err) => bail!(
                    "the Git LFS server {} did not answer the batch request ({err}); check that it is reachable, then run again",
                    self.endpoint
                ),
            },
        };
        if !response.status().is_success() {
            return Err(self.status_error(response, objects));
        }
        let text = response.text().map_err(|e| {
            anyhow!(
                "cannot read the Git LFS batch response from {}: {e}",
                self.endpoint
            )
        })?;
        let parsed: BatchResponse = serde_json::from_str(&text).with_context(|| {
            format!(
                "the Git LFS server {} sent a batch response that is not the batch API's JSON",
                self.endpoint
            )
        })?;
        self.match_answers(objects, parsed)
    }

    fn match_answers(
        &self,
        objects: &[Pointer],
        response: BatchResponse,
    ) -> Result<Vec<(Pointer, Answer)>> {
        if let Some(transfer) = response.transfer.as_deref().filter(|t| *t != "basic") {
            bail!("the Git LFS server {} chose the {transfer:?} transfer, but forgesafe asked for (and speaks) only \"basic\"", self.endpoint);
        }
        if let Some(algo) = response.hash_algo.as_deref().filter(|a| *a != "sha256") {
            bail!("the Git LFS server {} uses hash algorithm {algo:?}; forgesafe supports only sha256", self.endpoint);
        }
        let mut answers: BTreeMap<String, ResponseObject> = response
            .objects
            .into_iter()
            .map(|o| (o.oid.clone(), o))
            .collect();
        Ok(objects
            .iter()
            .map(|pointer| {
                let answer = match answers.remove(&pointer.oid) {
                    Some(ResponseObject {
                        error: Some(error), ..
                    }) => Answer::Error {
                        code: error.code,
                        message: clean_message(&error.message),
                    },
                    Some(ResponseObject {
                        actions:
                            Some(Actions {
                                download: Some(action),
                            }),
                        ..
                    }) => Answer::Download(action),
                    Some(_) => Answer::Error {
                        code: 0,
                        message: "the server gave no download action for it".into(),
                    },
                    None => Answer::Error {
                        code: 0,
                        message: "the server's batch response left it out".into(),
                    },
                };
                (pointer.clone(), answer)
            })
            .collect())
    }

    /// One clear message per failing status; never the credentials, never an href.
    fn status_error(&self, response: http::Response, objects: &[Pointer]) -> anyhow::Error {
        let status = response.status();
        let server_says = server_message(&response.text().unwrap_or_default());
        let endpoint = &self.endpoint;
        let detail = if server_says.is_empty() {
            String::new()
        } else {
            format!(" (server says: {server_says})")
        };
        match status {
            StatusCode::UNAUTHORIZED if self.authorization.is_some() => anyhow!(
                "the Git LFS server {endpoint} rejected the credentials (HTTP 401){detail}; check that the token is valid and may read this repository"
            ),
            StatusCode::UNAUTHORIZED if self.endpoint.same_origin_as_clone => anyhow!(
                "the Git LFS server {endpoint} requires authentication (HTTP 401){detail}; configure a token for this repository"
            ),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if !self.endpoint.same_origin_as_clone => anyhow!(
                "the Git LFS server {endpoint} (set by the repository's .lfsconfig) requires authentication (HTTP {}){detail}; \
                 forgesafe sends the forge token only to the clone URL's own host {}, never to a server a repository names",
                status.as_u16(),
                http::origin_display(&self.endpoint.url)
            ),
            StatusCode::FORBIDDEN => anyhow!(
                "the Git LFS server {endpoint} refused access (HTTP 403){detail}; the token may lack read access to this repository's LFS objects"
            ),
            StatusCode::NOT_FOUND => {
                let listed: Vec<&str> = objects.iter().take(5).map(|p| p.oid.as_str()).collect();
                let more = objects.len().saturating_sub(listed.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                anyhow!(
                    "the Git LFS server {endpoint} answered 404 to the batch request{detail}: the repository has no LFS storage there, \
                     or (some servers answer so) none of the {} requested objects exists there: {}{more}",
                    objects.len(),
                    listed.join(", ")
                )
            }
            _ => anyhow!("the Git LFS server {endpoint} answered the batch request with HTTP {}{detail}", status.as_u16()),
        }
    }
}

/// Batch API error bodies are `{"message": "...", "documentation_url": "...", "request_id": "..."}`.
fn server_message(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.to_string());
    clean_message(&message)
}

/// A server's text, made safe for one log line: one line, bounded, known secrets starred.
fn clean_message(message: &str) -> String {
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    redact(&one_line.chars().take(200).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::lfs::endpoint::Source;

    fn client(same_origin: bool) -> LfsClient {
        let endpoint = Endpoint {
            url: crate::http::Url::parse("https://h/o/r.git/info/lfs").unwrap(),
            source: Source::CloneUrl,
            same_origin_as_clone: same_origin,
        };
        let token = Secret::new("tok-batch-unit-test-secret");
        LfsClient::new(
            endpoint,
            Some(("x-access-token", &token)),
            RetryPolicy::lfs(),
        )
        .unwrap()
    }

    #[test]
    fn credentials_only_for_the_clone_origin() {
        assert!(client(true).sends_credentials());
        assert!(!client(false).sends_credentials());
    }

    #[test]
    fn request_body_is_the_batch_api_shape() {
        let objects = [Pointer {
            oid: "a".repeat(64),
            size: 5,
        }];
        let body = serde_json::to_value(BatchRequest {
            operation: "download",
            transfers: ["basic"],
            objects: objects.iter().collect(),
            hash_algo: "sha256",
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"operation": "download", "transfers": ["basic"], "objects": [{"oid": "a".repeat(64), "size": 5}], "hash_algo": "sha256"})
        );
    }

    #[test]
    fn answers_are_matched_by_oid_and_missing_ones_reported() {
        let a = Pointer {
            oid: "a".repeat(64),
            size: 1,
        };
        let b = Pointer {
            oid: "b".repeat(64),
            size: 2,
        };
        let c = Pointer {
            oid: "c".repeat(64),
            size: 3,
        };
        let response: BatchResponse = serde_json::from_value(serde_json::json!({
            "transfer": "basic",
            "objects": [
                {"oid": b.oid, "size": 2, "error": {"code": 404, "message": "Object does not exist"}},
                {"oid": a.oid, "size": 1, "actions": {"download": {"href": "https://s3/x?sig=SECRET", "header": {"X-Token": "SECRET"}}}},
            ]
        }))
        .unwrap();
        let answers = client(true)
            .match_answers(&[a.clone(), b.clone(), c.clone()], response)
            .unwrap();
        assert!(
            matches!(&answers[0], (p, Answer::Download(action)) if *p == a && action.header["X-Token"] == "SECRET")
        );
        assert!(matches!(&answers[1], (p, Answer::Error { code: 404, .. }) if *p == b));
        assert!(matches!(&answers[2], (p, Answer::Error { code: 0, .. }) if *p == c));
        assert!(
            !format!("{answers:?}").contains("SECRET"),
            "Debug hides hrefs and headers"
        );
    }

    #[test]
    fn other_transfers_are_refused() {
        let response: BatchResponse =
            serde_json::from_value(serde_json::json!({"transfer": "tus", "objects": []})).unwrap();
        assert!(client(true).match_answers(&[], response).is_err());
    }
}
