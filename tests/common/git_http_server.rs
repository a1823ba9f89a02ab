//! A real git smart-HTTP server for tests: `git http-backend` (CGI) behind lighttpd, on a
//! free port of 127.0.0.1, serving bare repositories from a temporary folder.
//!
//! Repositories under `<root>/private/` can be put behind HTTP basic auth (lighttpd
//! `mod_auth`), and the server can be throttled so a fetch lasts long enough to be killed.
//! A missing `lighttpd` or `git` fails the test with the command to install it.

use super::{free_port, wait_until_serving};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `(user, password)` required for every URL under `/private/`.
    pub basic_auth: Option<(String, String)>,
    /// Cap on the server's total send rate, to make fetches slow on purpose.
    pub kbytes_per_second: Option<u32>,
    /// Port of a Git LFS server on 127.0.0.1 (giftless) that gets every `…/info/lfs/…` URL,
    /// so a repository's default LFS endpoint (`<clone URL>/info/lfs`) is on the git server's
    /// own origin, as on GitHub or Gitea. With `basic_auth`, its batch API under `/private/`
    /// needs the credentials too, while its object downloads (`…/objects/storage/…`, which
    /// giftless pre-signs with a token in the query) do not, like a forge's signed links.
    pub lfs_proxy_port: Option<u16>,
}

pub struct GitHttpServer {
    child: Child,
    port: u16,
    /// Folder served as the URL root; create bare repositories inside it.
    pub root: PathBuf,
    error_log: PathBuf,
    _dir: tempfile::TempDir,
}

impl GitHttpServer {
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(options: ServerOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("srv");
        std::fs::create_dir_all(root.join("private")).unwrap();
        let error_log = dir.path().join("lighttpd-error.log");
        // A port found free may be taken before lighttpd binds it: retry a few times.
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let config = dir.path().join("lighttpd.conf");
            std::fs::write(
                &config,
                lighttpd_config(&root, &error_log, dir.path(), port, &options),
            )
            .unwrap();
            let child = Command::new("lighttpd")
                .args(["-D", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start lighttpd ({e}); install it with `apt-get install -y lighttpd`")
                });
            let mut child = child;
            match wait_until_serving(&mut child, port, answers_as_lighttpd) {
                Ok(()) => {
                    return GitHttpServer {
                        child,
                        port,
                        root,
                        error_log,
                        _dir: dir,
                    }
                }
                Err(failure) => {
                    let mut stderr = String::new();
                    use std::io::Read;
                    child
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut stderr)
                        .ok();
                    last_failure = format!("{failure}: {stderr}");
                }
            }
        }
        panic!("lighttpd did not start: {last_failure}");
    }

    /// URL of a repository at `<root>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git_exec_path() -> String {
    super::git::git(Path::new("/"), &["--exec-path"])
}

fn lighttpd_config(
    root: &Path,
    error_log: &Path,
    dir: &Path,
    port: u16,
    options: &ServerOptions,
) -> String {
    let backend = Path::new(&git_exec_path()).join("git-http-backend");
    assert!(
        backend.exists(),
        "{} is missing; git's http-backend is needed",
        backend.display()
    );
    let mut modules = vec!["mod_alias", "mod_cgi", "mod_setenv"];
    let mut extra = String::new();
    if let Some((user, password)) = &options.basic_auth {
        modules.extend(["mod_auth", "mod_authn_file"]);
        let users = dir.join("users");
        std::fs::write(&users, format!("{user}:{password}\n")).unwrap();
        let require = "auth.require = ( \"/private/\" => ( \"method\" => \"basic\", \"realm\" => \"git\", \"require\" => \"valid-user\" ) )";
        // Pre-signed LFS downloads carry their own token; everything else needs the password.
        let require = if options.lfs_proxy_port.is_some() {
            format!("$HTTP[\"url\"] !~ \"/info/lfs/objects/storage/\" {{\n  {require}\n}}")
        } else {
            require.to_string()
        };
        extra.push_str(&format!(
            "auth.backend = \"plain\"\nauth.backend.plain.userfile = \"{}\"\n{require}\n",
            users.display()
        ));
    }
    if let Some(port) = options.lfs_proxy_port {
        modules.push("mod_proxy");
        // lighttpd forwards the request's Host header, so giftless builds its download links
        // on this server's address, and they come back through this proxy.
        extra.push_str(&format!(
            "$HTTP[\"url\"] =~ \"\\.git/info/lfs/\" {{\n  proxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => {port} ) ) )\n}}\n"
        ));
    }
    if let Some(rate) = options.kbytes_per_second {
        extra.push_str(&format!(
            "server.kbytes-per-second = {rate}\nconnection.kbytes-per-second = {rate}\n"
        ));
    }
    let modules = modules
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"server.modules = ({modules})
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{root}"
server.errorlog = "{error_log}"
alias.url = ("/" => "{backend}/")
cgi.assign = ("" => "")
setenv.add-environment = (
  "GIT_PROJECT_ROOT" => "{root}",
  "GIT_HTTP_EXPORT_ALL" => "",
  "GIT_CONFIG_COUNT" => "1",
  "GIT_CONFIG_KEY_0" => "safe.directory",
  "GIT_CONFIG_VALUE_0" => "*"
)
{extra}"#,
        root = root.display(),
        error_log = error_log.display(),
        backend = backend.display(),
    )
}

/// lighttpd names itself in every answer.
fn answers_as_lighttpd(port: u16) -> bool {
    let answer = super::http_exchange(
        port,
        "GET /forgesafe-probe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    answer
        .lines()
        .take_while(|l| !l.is_empty())
        .any(|l| l.to_ascii_lowercase().starts_with("server: lighttpd"))
}
