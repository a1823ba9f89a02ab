//! A real S3 server process (moto's server mode) on a free loopback port, killed on drop.

use super::require_tool;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

pub struct S3Server {
    child: Child,
    pub port: u16,
}

pub use super::free_port;

fn moto_binary() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("FORGESAFE_TEST_MOTO") {
        return p.into();
    }
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-tools/venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    require_tool("moto_server", "pip install 'moto[server]'")
}

impl S3Server {
    /// Starts moto on a free port. Another process may take the port between our choice and
    /// moto's bind: then moto exits (or someone else answers), so we check the answer comes from
    /// our child and retry on another port.
    pub fn start() -> S3Server {
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(moto_binary());
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = spawn_from_keeper_thread(cmd);
            // moto's own API answers only from moto.
            if super::wait_until_serving(&mut child, port, |port| {
                http_status(port, "GET", "/moto-api/data.json") == 200
            })
            .is_ok()
            {
                return S3Server { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server could not be started on a free port in 5 attempts");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let status = http_status(self.port, "PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating bucket {bucket} failed");
    }

    /// A Kanister-shaped profile for this server.
    pub fn profile(&self, bucket: &str, prefix: &str) -> String {
        self.profile_at(&self.endpoint(), bucket, prefix)
    }

    pub fn profile_at(&self, endpoint: &str, bucket: &str, prefix: &str) -> String {
        serde_json::json!({
            "Location": {"type": "s3Compliant", "bucket": bucket, "endpoint": endpoint, "prefix": prefix, "region": "us-east-1"},
            "Credential": {"Type": "keyPair", "KeyPair": {"ID": super::ACCESS_KEY, "Secret": super::SECRET_KEY}, "Secret": null, "KopiaServerSecret": null},
            "SkipSSLVerify": false
        })
        .to_string()
    }

    /// Every object key under `prefix/` in the bucket (S3 ListObjectsV2, unsigned: moto takes it).
    /// One page of up to 1,000 keys is enough for a test repository; more fails loudly.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let response = http_response(
            self.port,
            "GET",
            &format!("/{bucket}?list-type=2&prefix={prefix}/"),
        );
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "listing {bucket}/{prefix} failed: {response}"
        );
        assert!(
            !response.contains("<IsTruncated>true</IsTruncated>"),
            "listing {bucket}/{prefix} needs more than one page"
        );
        xml_values(&response, "Key")
    }

    /// restic pointed at the same bucket and prefix.
    pub fn restic(&self, bucket: &str, prefix: &str) -> Command {
        let mut cmd = super::restic();
        cmd.arg("-r")
            .arg(format!("s3:{}/{bucket}/{prefix}", self.endpoint()))
            .env("AWS_ACCESS_KEY_ID", super::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", super::SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1");
        cmd
    }
}

/// Starts a test server that dies with the test process even if it never reaches Drop (statics
/// are not dropped): PR_SET_PDEATHSIG. It fires when the spawning *thread* exits, and test threads
/// end early: spawn from a thread that lives as long as the process.
pub fn spawn_from_keeper_thread(mut cmd: Command) -> Child {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(cmd.spawn()).unwrap();
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap().expect("cannot start the test server")
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_status(port: u16, method: &str, path: &str) -> u16 {
    let response = http_response(port, method, path);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn http_response(port: u16, method: &str, path: &str) -> String {
    super::http_exchange(port, &format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
}

/// The text of every `<tag>…</tag>` in an S3 XML answer (keys here are plain hex names).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split(close.as_str()).next().map(str::to_string))
        .collect()
}
