//! A fake of the GitHub REST API v3 (API version 2022-11-28) over a real TCP socket, for
//! tests of the repository listing. It implements what the collector uses, with GitHub's
//! real field and header names:
//!
//! * `GET /user/repos`, `/users/{user}/repos`, `/orgs/{org}/repos`, `/user/starred`;
//! * `per_page`/`page` pagination (clamped like GitHub's 100, but to a configurable size so
//!   tests need few repositories) with a `Link` header (`rel="next"`, `rel="last"`, …);
//! * `ETag` / `If-None-Match` → `304 Not Modified`, which does not use up the quota;
//! * `Authorization: Bearer <token>` (401 `Bad credentials` otherwise);
//! * `x-ratelimit-limit/remaining/used/reset/resource` headers, and scripted throttling:
//!   429 with `retry-after`, 403 with `x-ratelimit-remaining: 0`, or a hint-less 403
//!   "secondary rate limit".
//!
//! * `GET /user` (the token owner's login) and, per repository, the metadata the collector
//!   backs up: `/repos/{o}/{r}/labels`, `/milestones`, `/releases`, `/issues` (with `since=`,
//!   sorted by update time; pull requests included, told apart by `pull_request`),
//!   `/issues/{n}/comments`, `/pulls`, `/pulls/{n}`, `/pulls/{n}/reviews`, `/pulls/{n}/comments`;
//!   a private repository's endpoints answer 404 without the token, as GitHub's do;
//! * GitLab REST v4's project listings under `/api/v4`, in GitLab's project shape, and each
//!   project's labels, milestones, releases, issues, merge requests, discussions and approvals;
//! * GitHub Enterprise's `/api/v3` prefix is accepted too, and so is Gitea's `/api/v1` with
//!   `Authorization: token …` (Gitea/Forgejo copy these shapes; tests shape their data the
//!   Gitea way where it differs: `stars_count`, `"pull_request": null`, review comments under
//!   `/pulls/{n}/reviews/{id}/comments`).
//!
//! * with [`FakeGithub::host_repositories_in`], what a restore into the forge and gickup's forge
//!   destinations use, each in its forge's shape: `GET /repos/{o}/{r}`, `POST /user/repos`,
//!   `POST /orgs/{org}/repos`, `PATCH /repos/{o}/{r}` (`default_branch`) for GitHub and
//!   Gitea; `GET /projects/{path}`, `POST /projects` (with `namespace_id` from
//!   `GET /namespaces/{path}`) and `PUT /projects/{id}` for GitLab. A created repository is
//!   a real bare repository (`git init --bare`) under the folder a real `git http-backend`
//!   serves, so pushes to its `clone_url` go through git's own receive-pack.
//!
//! Every request is recorded (method, target, headers, body) for assertions.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::accept_loop::{serve, Served};
use super::http_request::{read_head, RequestHead};

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/user/repos?per_page=100`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The request's body (JSON for the API's POST, PATCH and PUT).
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A throttling answer the server gives to the next request instead of the real one.
#[derive(Debug, Clone)]
pub enum Throttle {
    /// 429 with `retry-after: <secs>`.
    RetryAfter(u64),
    /// 403 with `x-ratelimit-remaining: 0` and a reset `secs` from now.
    QuotaExhausted { reset_in_secs: u64 },
    /// 403 "You have exceeded a secondary rate limit" with no timing headers.
    SecondaryWithoutHints,
}

struct State {
    token: String,
    /// Repositories as GitHub returns them; `owner.login` decides whose they are.
    repos: Vec<Value>,
    starred: Vec<Value>,
    page_size_cap: usize,
    throttles: VecDeque<Throttle>,
    requests: Vec<RecordedRequest>,
    quota_remaining: u64,
    /// The hourly quota (GitHub's 5,000 unless a test or benchmark sets another).
    quota_limit: u64,
    /// Per repository (`owner/name`): its metadata.
    meta: std::collections::HashMap<String, RepoMeta>,
    /// Release asset contents: `owner/name/<asset id>` (GitHub's API route, or `/storage/…`
    /// when this instance stands for the storage host) or `owner/name/<tag>/<file>` (Gitea's
    /// download route).
    files: std::collections::HashMap<String, String>,
    /// When set, GitHub's asset route answers 302 to `<this>/storage/…?X-Amz-Signature=…`, as
    /// GitHub redirects to presigned object storage.
    asset_redirect: Option<String>,
    /// Where created repositories live: `(folder served by git http-backend, its base URL)`.
    hosting: Option<(std::path::PathBuf, String)>,
    /// GitLab namespaces handed out by `GET /namespaces/{path}`; the id is 1000 + position.
    namespaces: Vec<String>,
}

/// A repository's metadata as GitHub serves it.
#[derive(Debug, Clone, Default)]
pub struct RepoMeta {
    pub labels: Vec<Value>,
    pub milestones: Vec<Value>,
    pub releases: Vec<Value>,
    /// Issues and pull requests (the latter carry `pull_request`).
    pub issues: Vec<Value>,
    pub comments: std::collections::HashMap<u64, Vec<Value>>,
    pub pulls: std::collections::HashMap<u64, Value>,
    pub reviews: std::collections::HashMap<u64, Vec<Value>>,
    pub review_comments: std::collections::HashMap<u64, Vec<Value>>,
}

pub struct FakeGithub {
    port: u16,
    state: Arc<Mutex<State>>,
    hold: Arc<Hold>,
    pace: Arc<Pace>,
    _served: Served,
}

/// How far away the forge is: every answer waits `latency` (what a pod in a cluster sees from
/// github.com), and how many requests were in flight at once.
#[derive(Default)]
struct Pace {
    latency: Mutex<std::time::Duration>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

/// Requests whose target contains a fragment wait, unanswered, until released: a run of the
/// collector parked at a known point, so a test can act while it is in progress.
#[derive(Default)]
struct Hold {
    fragment: Mutex<Option<String>>,
    released: std::sync::Condvar,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Hold {
    fn wait_if_held(&self, target: &str) {
        let mut fragment = self.fragment.lock().unwrap();
        if !fragment.as_deref().is_some_and(|f| target.contains(f)) {
            return;
        }
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        while fragment.as_deref().is_some_and(|f| target.contains(f)) {
            fragment = self.released.wait(fragment).unwrap();
        }
        self.waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// GitHub's hourly quota for a personal token.
const QUOTA: u64 = 5000;

impl FakeGithub {
    /// Serve `repos` to holders of `token`, at most `page_size_cap` per page.
    pub fn start(token: &str, repos: Vec<Value>, page_size_cap: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            repos,
            starred: Vec::new(),
            page_size_cap,
            throttles: VecDeque::new(),
            requests: Vec::new(),
            quota_remaining: QUOTA,
            quota_limit: QUOTA,
            meta: Default::default(),
            files: Default::default(),
            asset_redirect: None,
            hosting: None,
            namespaces: Vec::new(),
        }));
        let hold = Arc::new(Hold::default());
        let pace = Arc::new(Pace::default());
        let served = {
            let (state, hold, pace) = (state.clone(), hold.clone(), pace.clone());
            serve(move |stream, port| handle_connection(stream, &state, &hold, &pace, port))
        };
        FakeGithub {
            port: served.port,
            state,
            hold,
            pace,
            _served: served,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_repos(&self, repos: Vec<Value>) {
        self.state.lock().unwrap().repos = repos;
    }

    pub fn set_starred(&self, repos: Vec<Value>) {
        self.state.lock().unwrap().starred = repos;
    }

    pub fn set_meta(&self, full_name: &str, meta: RepoMeta) {
        self.state
            .lock()
            .unwrap()
            .meta
            .insert(full_name.to_string(), meta);
    }

    /// Changes a repository's metadata in place (e.g. a new comment on an issue).
    pub fn edit_meta(&self, full_name: &str, edit: impl FnOnce(&mut RepoMeta)) {
        edit(
            self.state
                .lock()
                .unwrap()
                .meta
                .entry(full_name.to_string())
                .or_default(),
        );
    }

    pub fn put_file(&self, key: &str, content: &str) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(key.to_string(), content.to_string());
    }

    pub fn redirect_assets_to(&self, storage_base: &str) {
        self.state.lock().unwrap().asset_redirect = Some(storage_base.to_string());
    }

    pub fn throttle_next(&self, throttle: Throttle) {
        self.state.lock().unwrap().throttles.push_back(throttle);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// From now on, requests whose target contains `fragment` wait until [`FakeGithub::release`].
    pub fn hold(&self, fragment: &str) {
        *self.hold.fragment.lock().unwrap() = Some(fragment.to_string());
    }

    pub fn release(&self) {
        *self.hold.fragment.lock().unwrap() = None;
        self.hold.released.notify_all();
    }

    /// How many requests are waiting on the hold right now.
    pub fn held(&self) -> usize {
        self.hold.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A larger hourly quota (GitHub Enterprise Cloud gives 15,000; a benchmark of thousands of
    /// repositories measures speed, not the quota).
    pub fn set_quota(&self, quota: u64) {
        let mut state = self.state.lock().unwrap();
        state.quota_limit = quota;
        state.quota_remaining = quota;
    }

    /// Every answer from now on waits `latency` before it is sent.
    pub fn set_latency(&self, latency: std::time::Duration) {
        *self.pace.latency.lock().unwrap() = latency;
    }

    /// The most requests that were being answered at the same moment.
    pub fn most_in_flight(&self) -> usize {
        self.pace
            .most_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn reset_most_in_flight(&self) {
        self.pace
            .most_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn quota_remaining(&self) -> u64 {
        self.state.lock().unwrap().quota_remaining
    }

    /// Repositories created through the API become bare repositories under `<git_root>/private/`
    /// (served at `<git_base>/private/…` by a real git http-backend), as a forge hosts them.
    pub fn host_repositories_in(&self, git_root: &std::path::Path, git_base: &str) {
        self.state.lock().unwrap().hosting = Some((
            git_root.to_path_buf(),
            git_base.trim_end_matches('/').to_string(),
        ));
    }

    /// The repositories the fake knows, GitHub-shaped (created ones included).
    pub fn repos(&self) -> Vec<Value> {
        self.state.lock().unwrap().repos.clone()
    }
}

/// The token's owner: the owner of the first repository the fake was started with (created
/// ones do not count), else `octocat`.
fn token_owner(state: &State) -> String {
    state
        .repos
        .iter()
        .find(|r| r["id"].as_u64().is_some_and(|id| id < CREATED_IDS))
        .and_then(|r| r["owner"]["login"].as_str())
        .unwrap_or("octocat")
        .to_string()
}

/// Ids of repositories created through the API start here.
const CREATED_IDS: u64 = 5000;

/// Creates `owner/name` as a bare repository the git server serves, and its API object.
fn create_hosted(
    state: &mut State,
    owner: &str,
    name: &str,
    private: bool,
) -> Result<Value, Reply> {
    let Some((root, base)) = state.hosting.clone() else {
        return Err(error(
            "403 Forbidden",
            "this fake does not host repositories",
        ));
    };
    let full_name = format!("{owner}/{name}");
    if state
        .repos
        .iter()
        .any(|r| r["full_name"] == full_name.as_str())
    {
        return Err(error(
            "422 Unprocessable Entity",
            "Repository creation failed: name already exists on this account",
        ));
    }
    let dir = root.join("private").join(owner).join(format!("{name}.git"));
    std::fs::create_dir_all(&dir).unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "git init --bare {}", dir.display());
    let id = CREATED_IDS + state.repos.len() as u64;
    let mut repo = repo_json(id, owner, name, private);
    repo["clone_url"] = json!(format!("{base}/private/{owner}/{name}.git"));
    state.repos.push(repo.clone());
    Ok(repo)
}

/// What the forge does when its default branch changes: the repository's HEAD names it.
fn set_default_branch(state: &mut State, full_name: &str, branch: &str) -> Reply {
    let Some((root, _)) = state.hosting.clone() else {
        return error("404 Not Found", "Not Found");
    };
    let Some(repo) = state.repos.iter_mut().find(|r| r["full_name"] == full_name) else {
        return error("404 Not Found", "Not Found");
    };
    repo["default_branch"] = json!(branch);
    let dir = root.join("private").join(format!("{full_name}.git"));
    let status = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&dir)
        .args(["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])
        .status()
        .unwrap();
    assert!(status.success());
    let repo = repo.clone();
    Reply {
        status: "200 OK",
        headers: vec![],
        body: repo.to_string(),
    }
}

fn body_json(request: &RecordedRequest) -> Value {
    serde_json::from_str(&request.body).unwrap_or(Value::Null)
}

/// A repository object with GitHub's field names (a subset of the real ~80 fields).
pub fn repo_json(id: u64, owner: &str, name: &str, private: bool) -> Value {
    let full_name = format!("{owner}/{name}");
    json!({
        "id": id,
        "node_id": format!("R_kgDO{id:08}"),
        "name": name,
        "full_name": full_name,
        "private": private,
        "owner": { "login": owner, "id": id * 10, "type": "User", "site_admin": false },
        "html_url": format!("https://github.com/{full_name}"),
        "description": null,
        "fork": false,
        "url": format!("https://api.github.com/repos/{full_name}"),
        "clone_url": format!("https://github.com/{full_name}.git"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "pushed_at": "2024-01-01T00:00:00Z",
        "size": 108,
        "stargazers_count": id,
        "watchers_count": id,
        "language": "Rust",
        "has_issues": true,
        "has_wiki": true,
        "archived": false,
        "disabled": false,
        "visibility": if private { "private" } else { "public" },
        "default_branch": "main",
        "permissions": { "admin": true, "push": true, "pull": true }
    })
}

fn handle_connection(stream: TcpStream, state: &Mutex<State>, hold: &Hold, pace: &Pace, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some(RequestHead {
        method,
        target,
        headers,
    }) = read_head(&mut reader)
    else {
        return;
    };
    hold.wait_if_held(&target);
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
        return;
    }
    let request = RecordedRequest {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    use std::sync::atomic::Ordering::SeqCst;
    let now_in_flight = pace.in_flight.fetch_add(1, SeqCst) + 1;
    pace.most_in_flight.fetch_max(now_in_flight, SeqCst);
    let latency = *pace.latency.lock().unwrap();
    std::thread::sleep(latency);
    let response = respond(&mut state.lock().unwrap(), &request, port);
    pace.in_flight.fetch_sub(1, SeqCst);
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
}

struct Reply {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

fn respond(state: &mut State, request: &RecordedRequest, port: u16) -> String {
    state.requests.push(request.clone());
    let reply = route(state, request, port);
    let mut text = format!("HTTP/1.1 {}\r\n", reply.status);
    let reset = now_epoch() + 3600;
    let mut headers = vec![];
    if !reply.headers.iter().any(|(n, _)| n == "content-type") {
        headers.push((
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        ));
    }
    headers.extend([
        (
            "x-github-api-version-selected".to_string(),
            "2022-11-28".to_string(),
        ),
        (
            "x-ratelimit-limit".to_string(),
            state.quota_limit.to_string(),
        ),
        (
            "x-ratelimit-used".to_string(),
            (state.quota_limit - state.quota_remaining).to_string(),
        ),
        ("x-ratelimit-resource".to_string(), "core".to_string()),
    ]);
    if !reply
        .headers
        .iter()
        .any(|(n, _)| n == "x-ratelimit-remaining")
    {
        headers.push((
            "x-ratelimit-remaining".to_string(),
            state.quota_remaining.to_string(),
        ));
        headers.push(("x-ratelimit-reset".to_string(), reset.to_string()));
    }
    headers.extend(reply.headers);
    headers.push(("content-length".to_string(), reply.body.len().to_string()));
    headers.push(("connection".to_string(), "close".to_string()));
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&reply.body);
    text
}

fn route(state: &mut State, request: &RecordedRequest, port: u16) -> Reply {
    if let Some(throttle) = state.throttles.pop_front() {
        return throttled(throttle);
    }
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    // GitLab (/api/v4) lists projects in its own shape.
    if let Some(gitlab_path) = path.strip_prefix("/api/v4") {
        return gitlab_route(state, request, gitlab_path, query, port);
    }
    // GitHub Enterprise serves under /api/v3; Gitea/Forgejo under /api/v1 with the same shapes.
    let path = path
        .strip_prefix("/api/v3")
        .or_else(|| path.strip_prefix("/api/v1"))
        .unwrap_or(path);
    let authenticated = match request.header("authorization") {
        None => false,
        Some(value) => {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("token "));
            if token != Some(state.token.as_str()) {
                return error("401 Unauthorized", "Bad credentials");
            }
            true
        }
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Presigned object storage: no token needed (nor wanted), the signature is in the URL.
    if let ["storage", key @ ..] = segments.as_slice() {
        return file_reply(&state.files, &key.join("/"));
    }
    // Gitea's release attachment download (a web route that takes the API token).
    if let [owner, name, "releases", "download", tag, file] = segments.as_slice() {
        let full_name = format!("{owner}/{name}");
        if !state.repos.iter().any(|r| {
            r["full_name"] == full_name.as_str() && (authenticated || r["private"] == false)
        }) {
            return error("404 Not Found", "Not Found");
        }
        return file_reply(&state.files, &format!("{full_name}/{tag}/{file}"));
    }
    if request.method != "GET" {
        if !authenticated {
            return error("401 Unauthorized", "Requires authentication");
        }
        let wanted = body_json(request);
        let login = token_owner(state);
        let (name, private) = (
            wanted["name"].as_str().unwrap_or_default().to_string(),
            wanted["private"].as_bool().unwrap_or(false),
        );
        let created = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["user", "repos"]) => create_hosted(state, &login, &name, private),
            ("POST", ["orgs", org, "repos"]) => create_hosted(state, org, &name, private),
            ("PATCH", ["repos", owner, repo]) => {
                let branch = wanted["default_branch"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                return set_default_branch(state, &format!("{owner}/{repo}"), &branch);
            }
            _ => return error("404 Not Found", "Not Found"),
        };
        return match created {
            Ok(repo) => Reply {
                status: "201 Created",
                headers: vec![],
                body: repo.to_string(),
            },
            Err(reply) => reply,
        };
    }
    if let ["repos", owner, name, rest @ ..] = segments.as_slice() {
        return repo_endpoint(
            state,
            request,
            &format!("{owner}/{name}"),
            rest,
            path,
            query,
            authenticated,
            port,
        );
    }
    if segments.as_slice() == ["user"] {
        if !authenticated {
            return error("401 Unauthorized", "Requires authentication");
        }
        let login = token_owner(state);
        return single(request, json!({"login": login, "id": 1, "type": "User"}));
    }
    let listed: Vec<Value> = match segments.as_slice() {
        ["user", "repos"] | ["user", "starred"] if !authenticated => {
            return error("401 Unauthorized", "Requires authentication")
        }
        // The token owner is the owner of the first repository; collaborator repos included.
        ["user", "repos"] => state.repos.clone(),
        ["user", "starred"] => state.starred.clone(),
        ["users", user, "repos"] | ["orgs", user, "repos"] => {
            let owned: Vec<Value> = state
                .repos
                .iter()
                .filter(|r| r["owner"]["login"] == *user)
                .cloned()
                .collect();
            if owned.is_empty() {
                return error("404 Not Found", "Not Found");
            }
            owned
                .into_iter()
                .filter(|r| authenticated || r["private"] == false)
                .collect()
        }
        _ => return error("404 Not Found", "Not Found"),
    };
    let mut listed = listed;
    listed.sort_by(|a, b| a["full_name"].as_str().cmp(&b["full_name"].as_str())); // GitHub's default sort
    paginate(state, request, path, query, listed, port)
}

/// GitLab REST v4's project listings (`/projects?membership=true`, `/users/{u}/projects`,
/// `/groups/{g}/projects`, `/user`), served from the same repositories in GitLab's shape.
fn gitlab_route(
    state: &mut State,
    request: &RecordedRequest,
    path: &str,
    query: &str,
    port: u16,
) -> Reply {
    let authenticated = match request.header("authorization") {
        None => false,
        Some(value) if value.strip_prefix("Bearer ") == Some(state.token.as_str()) => true,
        Some(_) => return error("401 Unauthorized", "401 Unauthorized"),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let owner_of = |r: &Value| r["owner"]["login"].as_str().unwrap_or_default().to_string();
    if let Some(reply) = gitlab_hosting(state, request, &segments, authenticated) {
        return reply;
    }
    if let ["projects", id, rest @ ..] = segments.as_slice() {
        if !rest.is_empty() {
            return gitlab_project_endpoint(
                state,
                request,
                id,
                rest,
                path,
                query,
                authenticated,
                port,
            );
        }
    }
    let repos: Vec<Value> = match segments.as_slice() {
        ["user"] if authenticated => {
            let login = state
                .repos
                .first()
                .map(owner_of)
                .unwrap_or_else(|| "octocat".into());
            return single(
                request,
                json!({"id": 1, "username": login, "name": login, "state": "active"}),
            );
        }
        ["projects"] if authenticated => state.repos.clone(),
        ["users", u, "projects"] | ["groups", u, "projects"] => state
            .repos
            .iter()
            .filter(|r| owner_of(r) == *u && (authenticated || r["private"] == false))
            .cloned()
            .collect(),
        _ => return error("404 Not Found", "404 Not Found"),
    };
    let projects = repos.iter().map(gitlab_project).collect();
    paginate(
        state,
        request,
        &format!("/api/v4{path}"),
        query,
        projects,
        port,
    )
}

/// A GitHub-shaped repository in GitLab's project shape.
fn gitlab_project(r: &Value) -> Value {
    json!({
        "id": r["id"], "name": r["name"], "path": r["name"], "path_with_namespace": r["full_name"],
        "namespace": {"full_path": r["owner"]["login"], "kind": "user"},
        "visibility": if r["private"] == true { "private" } else { "public" },
        "web_url": r["html_url"], "http_url_to_repo": r["clone_url"], "default_branch": r["default_branch"],
        "wiki_enabled": r["has_wiki"], "issues_enabled": r["has_issues"], "star_count": r["stargazers_count"],
        "archived": r["archived"], "last_activity_at": r["pushed_at"], "forked_from_project": null
    })
}

/// GitLab's project lookup by path, `POST /projects`, `GET /namespaces/{path}` and
/// `PUT /projects/{id}`; `None` for every other route.
fn gitlab_hosting(
    state: &mut State,
    request: &RecordedRequest,
    segments: &[&str],
    authenticated: bool,
) -> Option<Reply> {
    let decode = |s: &str| s.replace("%2F", "/").replace("%2f", "/");
    let find = |state: &State, key: &str| {
        state
            .repos
            .iter()
            .find(|r| {
                r["full_name"] == key || r["id"].as_u64().is_some_and(|id| id.to_string() == key)
            })
            .cloned()
    };
    match (request.method.as_str(), segments) {
        ("GET", ["projects", id]) => Some(match find(state, &decode(id)) {
            Some(repo) if authenticated || repo["private"] == false => {
                single(request, gitlab_project(&repo))
            }
            _ => error("404 Not Found", "404 Project Not Found"),
        }),
        ("GET", ["namespaces", path]) if authenticated => {
            let path = decode(path);
            if !state.namespaces.contains(&path) {
                state.namespaces.push(path.clone());
            }
            let id = 1000 + state.namespaces.iter().position(|n| *n == path).unwrap();
            Some(single(
                request,
                json!({"id": id, "full_path": path, "kind": "group"}),
            ))
        }
        ("POST", ["projects"]) if authenticated => {
            let wanted = body_json(request);
            let owner = match wanted["namespace_id"].as_u64() {
                Some(id) => state
                    .namespaces
                    .get(id as usize - 1000)
                    .cloned()
                    .unwrap_or_default(),
                None => token_owner(state),
            };
            let name = wanted["path"].as_str().unwrap_or_default().to_string();
            let private = wanted["visibility"] != "public";
            Some(match create_hosted(state, &owner, &name, private) {
                Ok(repo) => Reply {
                    status: "201 Created",
                    headers: vec![],
                    body: gitlab_project(&repo).to_string(),
                },
                Err(_) => error("400 Bad Request", "has already been taken"),
            })
        }
        ("PUT", ["projects", id]) if authenticated => {
            let full_name = find(state, &decode(id))?["full_name"].as_str()?.to_string();
            let branch = body_json(request)["default_branch"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Some(set_default_branch(state, &full_name, &branch))
        }
        _ => None,
    }
}

/// GitLab REST v4's per-project metadata: `/projects/:id/{labels,milestones,releases}`,
/// `/issues` and `/merge_requests` (with `updated_after=`, `order_by=updated_at&sort=asc`),
/// `/merge_requests/:iid`, `/{issues,merge_requests}/:iid/discussions` and
/// `/merge_requests/:iid/approvals`, translated into GitLab's shapes from the GitHub-shaped
/// `RepoMeta` the tests set (pull requests become merge requests, comments discussions,
/// reviews approvals). `:id` is the numeric id or the URL-encoded path, as GitLab accepts.
#[allow(clippy::too_many_arguments)]
fn gitlab_project_endpoint(
    state: &mut State,
    request: &RecordedRequest,
    id: &str,
    rest: &[&str],
    path: &str,
    query: &str,
    authenticated: bool,
    port: u16,
) -> Reply {
    let decoded = id.replace("%2F", "/").replace("%2f", "/");
    let Some(repo) = state
        .repos
        .iter()
        .find(|r| {
            (r["id"].as_u64().is_some_and(|n| n.to_string() == decoded)
                || r["full_name"] == decoded.as_str())
                && (authenticated || r["private"] == false)
        })
        .cloned()
    else {
        return error("404 Not Found", "404 Project Not Found");
    };
    let full_name = repo["full_name"].as_str().unwrap_or_default().to_string();
    let meta = state.meta.get(&full_name).cloned().unwrap_or_default();
    let number = |s: &str| s.parse::<u64>().unwrap_or(0);
    let to_gitlab = |i: &Value| {
        let mr = i.get("pull_request").is_some();
        json!({
            "id": i["id"], "iid": i["number"], "project_id": repo["id"], "title": i["title"], "description": i["body"],
            "state": if i["state"] == "open" { "opened" } else { "closed" },
            "author": {"id": 1, "username": i["user"]["login"]}, "labels": i["labels"].as_array().map(|l| l.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()),
            "created_at": i["created_at"], "updated_at": i["updated_at"], "closed_at": i["closed_at"],
            "user_notes_count": i["comments"],
            "web_url": format!("https://gitlab.example/{full_name}/-/{}/{}", if mr { "merge_requests" } else { "issues" }, i["number"]),
        })
    };
    let discussions_of = |n: u64| -> Vec<Value> {
        meta.comments.get(&n).cloned().unwrap_or_default().iter().map(|c| json!({
            "id": format!("{:040x}", c["id"].as_u64().unwrap_or(0)), "individual_note": true,
            "notes": [{"id": c["id"], "type": null, "body": c["body"], "author": {"id": 1, "username": c["user"]["login"]},
                       "created_at": c["created_at"], "updated_at": c["updated_at"], "system": false, "noteable_iid": n}]
        })).collect()
    };
    let updated_filter = |items: Vec<Value>| -> Vec<Value> {
        let after = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("updated_after="))
            .map(|s| s.replace("%2B", "+"));
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|i| {
                after
                    .as_deref()
                    .is_none_or(|a| i["updated_at"].as_str().unwrap_or("") >= a)
            })
            .collect();
        items.sort_by(|a, b| a["updated_at"].as_str().cmp(&b["updated_at"].as_str()));
        items
    };
    let items = match rest {
        ["labels"] => meta.labels.iter().map(|l| json!({"id": l["id"], "name": l["name"], "color": "#d9534f", "description": l["description"]})).collect(),
        ["milestones"] => meta.milestones.iter().map(|m| json!({"id": m["id"], "iid": m["number"], "title": m["title"], "state": "active"})).collect(),
        ["releases"] => meta.releases.iter().map(|r| json!({"tag_name": r["tag_name"], "name": r["name"], "description": r["body"],
            "created_at": r["created_at"], "released_at": r["published_at"], "assets": {"count": 0, "links": [], "sources": []}})).collect(),
        ["issues"] => updated_filter(meta.issues.iter().filter(|i| i.get("pull_request").is_none()).map(to_gitlab).collect()),
        ["merge_requests"] => updated_filter(meta.issues.iter().filter(|i| i.get("pull_request").is_some()).map(to_gitlab).collect()),
        ["merge_requests", n] => {
            return match meta.issues.iter().find(|i| i.get("pull_request").is_some() && i["number"] == number(n)) {
                Some(i) => {
                    let mut mr = to_gitlab(i);
                    mr["diff_refs"] = json!({"base_sha": "0".repeat(40), "head_sha": "1".repeat(40), "start_sha": "0".repeat(40)});
                    single(request, mr)
                }
                None => error("404 Not Found", "404 Not found"),
            };
        }
        ["issues", n, "discussions"] | ["merge_requests", n, "discussions"] => discussions_of(number(n)),
        ["merge_requests", n, "approvals"] => {
            let approved_by: Vec<Value> = meta.reviews.get(&number(n)).cloned().unwrap_or_default().iter()
                .filter(|r| r["state"] == "APPROVED").map(|r| json!({"user": {"id": 2, "username": r["user"]["login"]}})).collect();
            return single(request, json!({"iid": number(n), "approved": !approved_by.is_empty(), "approved_by": approved_by}));
        }
        _ => return error("404 Not Found", "404 Not Found"),
    };
    paginate(
        state,
        request,
        &format!("/api/v4{path}"),
        query,
        items,
        port,
    )
}

#[allow(clippy::too_many_arguments)]
fn repo_endpoint(
    state: &mut State,
    request: &RecordedRequest,
    full_name: &str,
    rest: &[&str],
    path: &str,
    query: &str,
    authenticated: bool,
    port: u16,
) -> Reply {
    let visible = state
        .repos
        .iter()
        .any(|r| r["full_name"] == full_name && (authenticated || r["private"] == false));
    if !visible {
        return error("404 Not Found", "Not Found");
    }
    if rest.is_empty() {
        let repo = state
            .repos
            .iter()
            .find(|r| r["full_name"] == full_name)
            .cloned()
            .unwrap_or_default();
        return single(request, repo);
    }
    let meta = state.meta.get(full_name).cloned().unwrap_or_default();
    let number = |s: &str| s.parse::<u64>().unwrap_or(0);
    let items = match rest {
        ["labels"] => meta.labels,
        ["milestones"] => meta.milestones,
        ["releases"] => meta.releases,
        ["releases", "assets", id]
            if request.header("accept") == Some("application/octet-stream") =>
        {
            let key = format!("{full_name}/{id}");
            return match &state.asset_redirect {
                Some(storage) => Reply {
                    status: "302 Found",
                    headers: vec![(
                        "location".into(),
                        format!("{storage}/storage/{key}?X-Amz-Signature=0123abcd"),
                    )],
                    body: String::new(),
                },
                None => file_reply(&state.files, &key),
            };
        }
        ["issues"] | ["pulls"] => {
            let since = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("since="))
                .map(str::to_string);
            let mut items: Vec<Value> = meta
                .issues
                .into_iter()
                .filter(|i| rest == ["issues"] || i.get("pull_request").is_some())
                .filter(|i| {
                    since
                        .as_deref()
                        .is_none_or(|s| i["updated_at"].as_str().unwrap_or("") >= s)
                })
                .collect();
            items.sort_by(|a, b| a["updated_at"].as_str().cmp(&b["updated_at"].as_str()));
            items
        }
        ["issues", n, "comments"] => meta.comments.get(&number(n)).cloned().unwrap_or_default(),
        ["pulls", n] => {
            state.quota_remaining = state.quota_remaining.saturating_sub(1);
            return match meta.pulls.get(&number(n)) {
                Some(p) => single(request, p.clone()),
                None => error("404 Not Found", "Not Found"),
            };
        }
        ["pulls", n, "reviews"] => meta.reviews.get(&number(n)).cloned().unwrap_or_default(),
        ["pulls", n, "comments"] => meta
            .review_comments
            .get(&number(n))
            .cloned()
            .unwrap_or_default(),
        // Gitea: review comments per review (tests keep them under the pull's number).
        ["pulls", n, "reviews", _id, "comments"] => meta
            .review_comments
            .get(&number(n))
            .cloned()
            .unwrap_or_default(),
        _ => return error("404 Not Found", "Not Found"),
    };
    paginate(state, request, path, query, items, port)
}

fn file_reply(files: &std::collections::HashMap<String, String>, key: &str) -> Reply {
    match files.get(key) {
        Some(content) => Reply {
            status: "200 OK",
            headers: vec![("content-type".into(), "application/octet-stream".into())],
            body: content.clone(),
        },
        None => error("404 Not Found", "Not Found"),
    }
}

/// A single object, with an ETag.
fn single(request: &RecordedRequest, value: Value) -> Reply {
    let body = value.to_string();
    let etag = format!("\"{:016x}\"", {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        hasher.finish()
    });
    if request.header("if-none-match") == Some(etag.as_str()) {
        return Reply {
            status: "304 Not Modified",
            headers: vec![("etag".into(), etag)],
            body: String::new(),
        };
    }
    Reply {
        status: "200 OK",
        headers: vec![("etag".into(), etag)],
        body,
    }
}

/// An issue (or, with `pull`, a pull request as the issue list shows it), GitHub's field names.
pub fn issue_json(
    owner_repo: &str,
    number: u64,
    title: &str,
    updated_at: &str,
    pull: bool,
) -> Value {
    let mut v = json!({
        "id": 1000 + number, "node_id": format!("I_kwDO{number:06}"), "number": number, "title": title,
        "state": "open", "locked": false, "user": {"login": "octocat", "id": 1},
        "labels": [{"id": 1, "name": "bug"}], "comments": 0, "body": format!("body of {title}"),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": updated_at, "closed_at": null,
        "url": format!("https://api.github.com/repos/{owner_repo}/issues/{number}"),
        "html_url": format!("https://github.com/{owner_repo}/issues/{number}")
    });
    if pull {
        v["pull_request"] = json!({"url": format!("https://api.github.com/repos/{owner_repo}/pulls/{number}"), "merged_at": null});
    }
    v
}

pub fn comment_json(id: u64, body: &str) -> Value {
    json!({"id": id, "node_id": format!("IC_{id}"), "user": {"login": "octocat", "id": 1}, "body": body,
           "created_at": "2024-01-02T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z", "author_association": "OWNER"})
}

fn paginate(
    state: &mut State,
    request: &RecordedRequest,
    path: &str,
    query: &str,
    items: Vec<Value>,
    port: u16,
) -> Reply {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let per_page = param("per_page")
        .unwrap_or(30)
        .min(100)
        .min(state.page_size_cap)
        .max(1);
    let page = param("page").unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let body = serde_json::to_string(&slice).unwrap();
    let etag = format!("W/\"{:016x}\"", {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        hasher.finish()
    });
    // Keep every other parameter as sent, as GitHub does.
    let other: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
        .collect();
    let page_url = |n: usize| {
        let mut params = other.clone();
        let page_param = format!("page={n}");
        params.push(&page_param);
        format!("<http://127.0.0.1:{port}{path}?{}>", params.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", page_url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", page_url(page + 1)));
        links.push(format!("{}; rel=\"last\"", page_url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", page_url(1)));
    }
    let mut headers = vec![("etag".to_string(), etag.clone())];
    if !links.is_empty() {
        headers.push(("link".to_string(), links.join(", ")));
    }
    if request.header("if-none-match") == Some(etag.as_str()) {
        return Reply {
            status: "304 Not Modified",
            headers,
            body: String::new(),
        }; // free of charge
    }
    state.quota_remaining = state.quota_remaining.saturating_sub(1);
    Reply {
        status: "200 OK",
        headers,
        body,
    }
}

fn throttled(throttle: Throttle) -> Reply {
    match throttle {
        Throttle::RetryAfter(secs) => Reply {
            status: "429 Too Many Requests",
            headers: vec![("retry-after".to_string(), secs.to_string())],
            body: json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}).to_string(),
        },
        Throttle::QuotaExhausted { reset_in_secs } => Reply {
            status: "403 Forbidden",
            headers: vec![
                ("x-ratelimit-remaining".to_string(), "0".to_string()),
                ("x-ratelimit-reset".to_string(), (now_epoch() + reset_in_secs).to_string()),
            ],
            body: json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}).to_string(),
        },
        Throttle::SecondaryWithoutHints => Reply {
            status: "403 Forbidden",
            headers: Vec::new(),
            body: json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}).to_string(),
        },
    }
}

fn error(status: &'static str, message: &str) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status[..3].to_string()}).to_string(),
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
