//! Shared harness for forgesafe's black-box tests: the binary, a real S3 server (moto), stock
//! restic as the independent reader, fixture trees. A missing tool fails the test loudly.
#![allow(dead_code)]

pub mod accept_loop;
pub mod destination_forge;
pub mod emulators;
pub mod executor;
pub mod fake_github;
pub mod fake_kube;
pub mod fake_lfs;
pub mod fifo;
pub mod git;
pub mod git_http_server;
pub mod http_request;
pub mod lfs;
pub mod podman;
pub mod proxy;
pub mod s3;
pub mod ssh_server;
pub mod tree;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A port of 127.0.0.1 that was free a moment ago. A server process started on it can still
/// lose it to another one in between, so the harnesses that use it retry on a collision.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the server process `child` listens on `port` and the server answering there is
/// it: still running, and `is_ours(port)` (a request only it would answer so). `Err` with the
/// reason when it exited first, e.g. because another process took the port: the caller
/// retries on another. No time limit: a server either binds or exits.
pub fn wait_until_serving(
    child: &mut Child,
    port: u16,
    is_ours: impl Fn(u16) -> bool,
) -> Result<(), String> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("it exited with {status}"));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && is_ours(port)
            && child.try_wait().unwrap().is_none()
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends `request` (a whole HTTP/1.1 request, `Connection: close`) to 127.0.0.1:`port` and
/// returns the whole answer, or what arrived before the connection failed.
pub fn http_exchange(port: u16, request: &str) -> String {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Credentials the tests use; distinctive so a leak is easy to find in any output.
pub const ACCESS_KEY: &str = "AKIAFORGESAFETESTKEY7";
pub const SECRET_KEY: &str = "fs-secret-Zq8wX3vB9mN2kL5jH7gF4dS1aP0oI6uY";
pub const PASSWORD: &str = "repo-password-Tr0ub4dor-and-3";

/// The forgesafe binary under test, with a clean environment of our own variables.
pub fn forgesafe() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forgesafe"));
    for (key, _) in std::env::vars() {
        if key.starts_with("FORGESAFE_")
            || key.starts_with("AWS_")
            || key == "KUBERNETES_SERVICE_HOST"
        {
            cmd.env_remove(key);
        }
    }
    cmd.env("FORGESAFE_LOG_FORMAT", "human")
        .stdin(Stdio::null());
    cmd
}

/// forgesafe with the test password in its environment.
pub fn forgesafe_pw() -> Command {
    let mut cmd = forgesafe();
    cmd.env("FORGESAFE_PASSWORD", PASSWORD);
    cmd
}

/// Runs and returns the output; panics with both streams if the exit status is not `code`.
pub fn run_expect(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().expect("cannot run command");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn ok(cmd: &mut Command) -> Output {
    run_expect(cmd, 0)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The path of a required external tool, or a loud failure naming how to install it.
pub fn require_tool(name: &str, install_hint: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("required test tool `{name}` is not installed: {install_hint} (or run ./tests/run, which installs it)"))
}

/// A profile for a repository in a local directory (forgesafe's `local` location type).
pub fn local_profile(repo: &Path) -> String {
    serde_json::json!({"Location": {"type": "local", "path": repo}}).to_string()
}

/// Stock restic on a local repository.
pub fn restic_local(repo: &Path) -> Command {
    let mut cmd = restic();
    cmd.arg("-r").arg(repo);
    cmd
}

/// Stock restic, the independent reader of what forgesafe writes.
pub fn restic() -> Command {
    let mut cmd = Command::new(require_tool("restic", "apt-get install restic"));
    cmd.env("RESTIC_PASSWORD", PASSWORD).env(
        "RESTIC_CACHE_DIR",
        std::env::temp_dir().join("forgesafe-test-restic-cache"),
    );
    cmd.stdin(Stdio::null());
    cmd
}

/// Parses push's stdout: exactly one phase-output line, kando's shape. Returns (key, id, logical, physical).
pub fn parse_push_output(stdout: &str) -> (String, String, u64, u64) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "push must print exactly one line on stdout, got {stdout:?}"
    );
    let body = lines[0]
        .strip_prefix("###Phase-output###: ")
        .unwrap_or_else(|| panic!("not a phase output line: {stdout:?}"));
    let outer: serde_json::Value = serde_json::from_str(body).unwrap();
    let key = outer["key"].as_str().unwrap().to_string();
    let value = outer["value"]
        .as_str()
        .expect("value must be a JSON string");
    let inner: serde_json::Value = serde_json::from_str(value).unwrap();
    assert_eq!(
        inner
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["id", "logicalSize", "physicalSize"],
        "artifact must be kando's SnapshotInfo"
    );
    // Key order as Go prints the struct: id, logicalSize, physicalSize.
    assert!(value.starts_with("{\"id\":\""), "{value}");
    let id = inner["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64, "snapshot id must be the full id: {id}");
    (
        key,
        id,
        inner["logicalSize"].as_u64().unwrap(),
        inner["physicalSize"].as_u64().unwrap(),
    )
}

/// The artifact string (the phase output's value) as Kanister passes it back.
pub fn artifact_of(stdout: &str) -> String {
    let body = stdout.trim().strip_prefix("###Phase-output###: ").unwrap();
    let outer: serde_json::Value = serde_json::from_str(body).unwrap();
    outer["value"].as_str().unwrap().to_string()
}

/// Size in bytes of everything under a directory.
pub fn du(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let m = e.metadata().unwrap();
            total += if m.is_dir() { du(&e.path()) } else { m.len() };
        }
    }
    total
}

/// A log sink that keeps every line, for assertions on what the executor would have printed.
pub fn capture_sink() -> (
    forgesafe::blueprint::executor::LogSink,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = lines.clone();
    let sink: forgesafe::blueprint::executor::LogSink =
        std::sync::Arc::new(move |line: &str| keep.lock().unwrap().push(line.to_string()));
    (sink, lines)
}

pub fn blueprint(yaml: &str) -> forgesafe::blueprint::model::Blueprint {
    forgesafe::blueprint::model::Blueprint::from_yaml(yaml).expect("test blueprint parses")
}
