//! Download objects from the hrefs the batch API gave, a few at a time, each verified
//! against its oid (SHA-256) and size while it streams to disk.
//!
//! Only the headers the server put in the action are sent: the href may be a presigned URL on
//! another host (S3, a CDN), and our forge credentials must not go there. The href and those
//! headers are never logged; failures name the oid.

use std::fmt;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::batch::{DownloadAction, LfsClient};
use super::pointer::Pointer;
use super::store::{ObjectStore, TMP_PREFIX};
use crate::http::{self, Attempt, HeaderMap, HeaderName, HeaderValue, StatusCode, WaitHints};
use crate::secret::redact;

/// Downloads in flight at once per repository: enough to hide latency, few enough not to
/// flood a forge (git-lfs defaults to 8 for a single interactive user).
pub const PARALLEL_DOWNLOADS: usize = 4;

/// Why one object could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server does not have it (batch error 404/410, or the GET answered 404/410).
    Missing(String),
    /// The bytes received do not hash to the oid, or are not `size` bytes long.
    Corrupt(String),
    /// Anything else: an HTTP error, a network failure after retries, a local write error.
    Failed(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Missing(why) => write!(f, "missing on the LFS server ({why})"),
            Failure::Corrupt(why) => write!(f, "rejected: {why}"),
            Failure::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Download every `(pointer, action)` with at most [`PARALLEL_DOWNLOADS`] threads; results come
/// back in input order: `Ok(bytes)` or the failure.
pub fn download_all(
    client: &LfsClient,
    store: &ObjectStore,
    jobs: Vec<(Pointer, DownloadAction)>,
) -> Vec<(Pointer, Result<u64, Failure>)> {
    let workers = PARALLEL_DOWNLOADS.min(jobs.len());
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                let Some((index, (pointer, action))) = next else {
                    break;
                };
                let result = download_one(client, store, &pointer, &action);
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((index, pointer, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(index, _, _)| *index);
    results
        .into_iter()
        .map(|(_, pointer, result)| (pointer, result))
        .collect()
}

/// GET one object, retrying overload answers and broken connections.
pub fn download_one(
    client: &LfsClient,
    store: &ObjectStore,
    pointer: &Pointer,
    action: &DownloadAction,
) -> Result<u64, Failure> {
    let headers = action_headers(action)?;
    // The oid names the object in the log; the href is never shown.
    let what = format!("Git LFS download of {pointer}");
    http::with_retries(&client.retry, &what, |_| {
        try_download(client, store, pointer, action, &headers)
    })
    .map_err(http::GaveUp::into_last)
}

fn try_download(
    client: &LfsClient,
    store: &ObjectStore,
    pointer: &Pointer,
    action: &DownloadAction,
    headers: &HeaderMap,
) -> Attempt<u64, Failure> {
    match download_to_store(client, store, pointer, action, headers) {
        Ok(bytes) => Attempt::Done(bytes),
        Err(attempt) => attempt,
    }
}

/// `Err` holds what the try came to: final, or worth another try.
fn download_to_store(
    client: &LfsClient,
    store: &ObjectStore,
    pointer: &Pointer,
    action: &DownloadAction,
    headers: &HeaderMap,
) -> Result<u64, Attempt<u64, Failure>> {
    // A send error never holds the URL: the href must not reach a message.
    let mut response = client
        .http
        .get(&action.href, headers.clone())
        .send()
        .map_err(|e| {
            Attempt::Retry(
                Failure::Failed(format!("request failed: {e}")),
                WaitHints::default(),
            )
        })?;
    let status = response.status();
    if !status.is_success() {
        let failure = match status {
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                Failure::Missing(format!("the download answered HTTP {}", status.as_u16()))
            }
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Failure::Failed(format!(
                "the download answered HTTP {} (the link may have expired; run again)",
                status.as_u16()
            )),
            _ => Failure::Failed(format!("the download answered HTTP {}", status.as_u16())),
        };
        return Err(if http::is_overloaded(status) {
            Attempt::Retry(
                failure,
                WaitHints::from_headers(response.headers(), SystemTime::now()),
            )
        } else {
            Attempt::Final(failure)
        });
    }

    let local =
        |what: &str, err: std::io::Error| Attempt::Final(Failure::Failed(format!("{what}: {err}")));
    let mut file = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(store.tmp_dir())
        .map_err(|e| local("cannot create a temporary file in lfs/tmp", e))?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // The temporary file is deleted when `file` drops.
            Err(err) => {
                return Err(Attempt::Retry(
                    Failure::Failed(format!(
                        "the connection broke after {received} bytes: {}",
                        redact(&err.to_string())
                    )),
                    WaitHints::default(),
                ))
            }
        };
        received += n as u64;
        // Stop as soon as the server sends more than promised: no unbounded disk use.
        if received > pointer.size {
            return Err(Attempt::Final(Failure::Corrupt(format!(
                "the server sent more than the {} bytes the pointer names",
                pointer.size
            ))));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| local("cannot write to lfs/tmp", e))?;
    }
    if received != pointer.size {
        return Err(Attempt::Final(Failure::Corrupt(format!(
            "received {received} bytes, the pointer names {}",
            pointer.size
        ))));
    }
    let digest = hex(&hasher.finalize());
    if digest != pointer.oid {
        return Err(Attempt::Final(Failure::Corrupt(format!(
            "the content's SHA-256 is {digest}, not the oid"
        ))));
    }
    store
        .put_verified(file, &pointer.oid)
        .map_err(|e| Attempt::Final(Failure::Failed(format!("{e:#}"))))?;
    Ok(received)
}

/// The action's own headers, as sent by the server, all marked sensitive.
fn action_headers(action: &DownloadAction) -> Result<HeaderMap, Failure> {
    let mut headers = HeaderMap::new();
    for (name, value) in &action.header {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Failure::Failed("the server gave a download header with an invalid name".into())
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Failure::Failed(format!(
                "the server gave an invalid value for download header {name}"
            ))
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_sha256() {
        assert_eq!(
            hex(&Sha256::digest(b"hello\n")),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
    }

    #[test]
    fn action_headers_are_sensitive() {
        let action = DownloadAction {
            href: "https://x".into(),
            header: [("Authorization".to_string(), "RemoteAuth abc".to_string())].into(),
        };
        let headers = action_headers(&action).unwrap();
        assert!(headers["authorization"].is_sensitive());
    }
}
