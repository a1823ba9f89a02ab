//! A fake Git LFS server on a real socket, standing for the Batch API
//! (git-lfs `docs/api/batch.md`: `POST …/objects/batch`, `application/vnd.git-lfs+json`) and
//! for the "basic" transfer's download links, which real forges hand out on other hosts
//! (presigned S3/CDN URLs with their own headers). It does what giftless cannot show:
//! record which headers reached which host, require exact credentials, send wrong bytes,
//! and answer with scripted failures. Every request is recorded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::accept_loop::{serve, Served};
use super::http_request::{read_head, RequestHead};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_batch(&self) -> bool {
        self.method == "POST" && self.target.ends_with("/objects/batch")
    }
}

/// A canned answer given instead of the real one.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
pub struct State {
    /// oid → content: what this server has (answers the batch, serves downloads).
    pub objects: HashMap<String, Vec<u8>>,
    /// The batch API wants exactly this `Authorization` value (401 otherwise).
    pub require_authorization: Option<String>,
    /// Base URL download links point to (another fake, i.e. another origin); default: self.
    pub links_to: Option<String>,
    /// `actions.download.header` of every link; downloads without them get 403.
    pub link_headers: Vec<(String, String)>,
    /// Query string of every link, e.g. a presigned URL's signature.
    pub link_query: String,
    /// oids whose downloads send different bytes of the same length.
    pub corrupt: HashSet<String>,
    /// oids whose downloads send one byte more than the object has.
    pub oversized: HashSet<String>,
    /// oid → n: its download sends the headers and n bytes, then hangs (up to a minute), so a
    /// test can kill the client in the middle of it.
    pub stall_after: HashMap<String, usize>,
    /// Answers for the next batch requests, before any real one.
    pub batch_script: VecDeque<Scripted>,
    /// Answers for the next download requests, before any real one.
    pub download_script: VecDeque<Scripted>,
    pub requests: Vec<Request>,
}

pub struct FakeLfs {
    pub port: u16,
    state: Arc<Mutex<State>>,
    _served: Served,
}

impl FakeLfs {
    pub fn start() -> FakeLfs {
        let state = Arc::new(Mutex::new(State::default()));
        let served = {
            let state = state.clone();
            serve(move |stream, port| handle(stream, &state, port))
        };
        FakeLfs {
            port: served.port,
            state,
            _served: served,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some(RequestHead {
        method,
        target,
        headers,
    }) = read_head(&mut reader)
    else {
        return;
    };
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request = Request {
        method,
        target,
        headers,
        body,
    };
    let ((status, headers, body), stall) = {
        let mut state = state.lock().unwrap();
        state.requests.push(request.clone());
        let reply = route(&mut state, &request, port);
        let oid = request
            .target
            .strip_prefix("/download/")
            .and_then(|t| t.split('?').next())
            .unwrap_or_default();
        (reply, state.stall_after.get(oid).copied())
    };
    let mut stream = stream;
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    match stall {
        Some(n) if status == 200 => {
            let _ = stream.write_all(&body[..n.min(body.len())]);
            let _ = stream.flush();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        _ => {
            let _ = stream.write_all(&body);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

const LFS_JSON: &str = "application/vnd.git-lfs+json";

fn lfs_json(status: u16, body: Value) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (
        status,
        vec![("Content-Type".into(), LFS_JSON.into())],
        body.to_string().into_bytes(),
    )
}

fn route(state: &mut State, request: &Request, port: u16) -> (u16, Vec<(String, String)>, Vec<u8>) {
    if request.is_batch() {
        if let Some(scripted) = state.batch_script.pop_front() {
            return (
                scripted.status,
                scripted.headers,
                scripted.body.into_bytes(),
            );
        }
        if let Some(required) = &state.require_authorization {
            if request.header("authorization") != Some(required.as_str()) {
                return lfs_json(401, json!({"message": "Credentials needed"}));
            }
        }
        let Ok(batch) = serde_json::from_slice::<Value>(&request.body) else {
            return lfs_json(422, json!({"message": "not JSON"}));
        };
        let base = state
            .links_to
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        let header: serde_json::Map<String, Value> = state
            .link_headers
            .iter()
            .map(|(n, v)| (n.clone(), json!(v)))
            .collect();
        let objects: Vec<Value> = batch["objects"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                let oid = o["oid"].as_str().unwrap_or_default().to_string();
                if state.objects.contains_key(&oid) {
                    json!({"oid": oid, "size": o["size"], "authenticated": true, "actions": {"download": {
                        "href": format!("{base}/download/{oid}?{}", state.link_query),
                        "header": header,
                        "expires_in": 3600
                    }}})
                } else {
                    json!({"oid": oid, "size": o["size"], "error": {"code": 404, "message": "Object does not exist"}})
                }
            })
            .collect();
        return lfs_json(
            200,
            json!({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}),
        );
    }
    if request.method == "GET" && request.target.starts_with("/download/") {
        if let Some(scripted) = state.download_script.pop_front() {
            return (
                scripted.status,
                scripted.headers,
                scripted.body.into_bytes(),
            );
        }
        for (name, value) in &state.link_headers {
            if request.header(name) != Some(value.as_str()) {
                return (403, vec![], b"missing the link's header".to_vec());
            }
        }
        let oid = request.target["/download/".len()..]
            .split('?')
            .next()
            .unwrap_or_default();
        let Some(content) = state.objects.get(oid) else {
            return (404, vec![], Vec::new());
        };
        let mut content = content.clone();
        if state.corrupt.contains(oid) && !content.is_empty() {
            content[0] ^= 0xff;
        }
        if state.oversized.contains(oid) {
            content.push(b'!');
        }
        return (
            200,
            vec![("Content-Type".into(), "application/octet-stream".into())],
            content,
        );
    }
    (404, vec![], Vec::new())
}
