//! A real OpenSSH server for tests (Debian's `openssh-server`), started on a free port of
//! 127.0.0.1 with its own host key, config and authorized key, serving git over ssh the way
//! forges do: the client runs `git-upload-pack '<path>'` on the server.
//!
//! It accepts only the public key of `client_key`, only as the user running the tests (so
//! it works as root or not). A missing `sshd` fails the test with the command to install it.

use super::{free_port, wait_until_serving};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SshServer {
    child: Child,
    pub port: u16,
    /// Private key the server accepts.
    pub client_key: PathBuf,
    /// Private key the server does not accept.
    pub stranger_key: PathBuf,
    pub user: String,
    dir: tempfile::TempDir,
}

const SSHD: &str = "/usr/sbin/sshd";

impl SshServer {
    pub fn start() -> Self {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: install it with `apt-get install -y openssh-server` (or run ./tests/run, which installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let keygen = |name: &str| {
            let path = dir.path().join(name);
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(status.success(), "ssh-keygen failed");
            path
        };
        let host_key = keygen("host_key");
        let client_key = keygen("client_key");
        let stranger_key = keygen("stranger_key");
        std::fs::copy(
            client_key.with_extension("pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        // sshd refuses to start without its privilege-separation folder (created by the
        // Debian service, which tests do not run).
        if unsafe { libc::geteuid() } == 0 {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let user = whoami(); // not $USER, which may be unset or stale under sudo
        for _attempt in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {keys}\n\
                     StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel VERBOSE\n",
                    host = host_key.display(),
                    pid = dir.path().join("sshd.pid").display(),
                    keys = dir.path().join("authorized_keys").display(),
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("sshd.log")).unwrap())
                .spawn()
                .unwrap();
            // An ssh server greets first; ours is the one still running once it did.
            if wait_until_serving(&mut child, port, greets_as_openssh).is_ok() {
                return SshServer {
                    child,
                    port,
                    client_key,
                    stranger_key,
                    user,
                    dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default()
        );
    }

    /// `ssh://user@127.0.0.1:port/<absolute path>`.
    pub fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.display()
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

/// The first line an OpenSSH server sends.
fn greets_as_openssh(port: u16) -> bool {
    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut line = String::new();
    std::io::BufReader::new(stream).read_line(&mut line).is_ok()
        && line.starts_with("SSH-2.0-OpenSSH")
}

fn whoami() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
