//! Git LFS test parts: stock `git-lfs` to build fixtures and to check what forgesafe stored,
//! and a real LFS server process, giftless (Datopian's Git LFS server, a Flask app, with its
//! local-storage backend). A missing tool fails the test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use forgesafe::collect::lfs::{parse_pointer, Pointer};

use super::git::{git, git_with_env, Upstream};
use super::s3::spawn_from_keeper_thread;
use super::{free_port, require_tool, wait_until_serving};

/// Stock git-lfs must be installed: fixtures are pushed with it, and it is the judge.
pub fn require_git_lfs() {
    require_tool("git-lfs", "apt-get install -y git-lfs");
}

/// The Python interpreter of the venv that has giftless (`tests/run` installs it and exports
/// `FORGESAFE_TEST_GIFTLESS`).
fn giftless_python() -> PathBuf {
    if let Some(path) = std::env::var_os("FORGESAFE_TEST_GIFTLESS") {
        return path.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-tools/giftless-venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    panic!(
        "the Git LFS server giftless is not installed: run ./tests/run (it installs it), or \
         python3 -m venv .test-tools/giftless-venv && .test-tools/giftless-venv/bin/pip install -r tests/giftless-requirements.txt"
    );
}

/// giftless's configuration: anyone may read and write (the tests are its only clients), local
/// storage in a temporary folder, only the current `<org>/<repo>.git/info/lfs` URLs.
const GIFTLESS_CONFIG: &str = r#"
AUTH_PROVIDERS:
  - "giftless.auth.allow_anon:read_write"
TRANSFER_ADAPTERS:
  basic:
    factory: "giftless.transfer.basic_streaming:factory"
    options:
      storage_class: "giftless.storage.local_storage:LocalStorage"
      storage_options:
        path: "STORAGE"
      action_lifetime: 900
LEGACY_ENDPOINTS: false
"#;

/// A download batch request: only a Git LFS server answers it in the batch API's media type
/// (giftless refuses an empty one with 422, but in that type).
fn answers_the_batch_api(port: u16) -> bool {
    let body = r#"{"operation":"download","transfers":["basic"],"objects":[]}"#;
    let answer = super::http_exchange(
        port,
        &format!(
            "POST /forgesafe/probe.git/info/lfs/objects/batch HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/vnd.git-lfs+json\r\n\
             Content-Type: application/vnd.git-lfs+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    answer.starts_with("HTTP/1.1 ")
        && answer
            .to_ascii_lowercase()
            .contains("content-type: application/vnd.git-lfs+json")
}

/// giftless on a free port of 127.0.0.1, served by werkzeug's threaded server; killed on drop.
pub struct Giftless {
    child: Child,
    pub port: u16,
    /// Local storage: an object of `<org>/<repo>` is the file `<storage>/<org>/<repo>/<oid>`.
    pub storage: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Giftless {
    pub fn start() -> Giftless {
        let python = giftless_python();
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let config = dir.path().join("giftless.yaml");
        std::fs::write(
            &config,
            GIFTLESS_CONFIG.replace("STORAGE", storage.to_str().unwrap()),
        )
        .unwrap();
        let log = dir.path().join("giftless.log");
        // A port found free may be taken before giftless binds it: then it exits, and the
        // next attempt takes another port.
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&python);
            cmd.args([
                "-c",
                "import sys\nfrom werkzeug.serving import run_simple\nfrom giftless.app import init_app\n\
                 run_simple('127.0.0.1', int(sys.argv[1]), init_app(), threaded=True)",
                &port.to_string(),
            ])
            .env("GIFTLESS_CONFIG_FILE", &config)
            // giftless also reads a `.env` file from its working directory: give it an empty one.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
            let mut child = spawn_from_keeper_thread(cmd);
            match wait_until_serving(&mut child, port, answers_the_batch_api) {
                Ok(()) => {
                    return Giftless {
                        child,
                        port,
                        storage,
                        log,
                        _dir: dir,
                    }
                }
                Err(failure) => {
                    last_failure = format!(
                        "{failure}: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                }
            }
        }
        panic!(
            "giftless ({}) did not start: {last_failure}\n(reinstall with ./tests/run)",
            python.display()
        );
    }

    pub fn stored_object(&self, org: &str, repo: &str, oid: &str) -> PathBuf {
        self.storage.join(org).join(repo).join(oid)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Giftless {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Make `upstream`'s working clone an LFS repository: `*.bin` tracked, objects pushed to
/// `lfs_url` by git-lfs's pre-push hook (set in the clone's own config, not in `.lfsconfig`,
/// so the mirror finds its endpoint from the clone URL).
pub fn enable_lfs(upstream: &Upstream, lfs_url: &str) {
    require_git_lfs();
    git(&upstream.work, &["lfs", "install", "--local"]);
    git(&upstream.work, &["config", "lfs.url", lfs_url]);
    git(
        &upstream.work,
        &["config", &format!("lfs.{lfs_url}.locksverify"), "false"],
    );
    git(&upstream.work, &["lfs", "track", "*.bin"]);
    git(&upstream.work, &["add", ".gitattributes"]);
    git(
        &upstream.work,
        &["commit", "-q", "-m", "track *.bin with Git LFS"],
    );
}

/// Commit `content` as `file` through git-lfs's clean filter; returns the pointer git-lfs
/// wrote and the commit id.
pub fn commit_lfs(upstream: &Upstream, file: &str, content: &[u8]) -> (Pointer, String) {
    std::fs::write(upstream.work.join(file), content).unwrap();
    git(&upstream.work, &["add", file]);
    git(
        &upstream.work,
        &["commit", "-q", "-m", &format!("add {file}")],
    );
    let blob = git(
        &upstream.work,
        &["cat-file", "blob", &format!("HEAD:{file}")],
    ) + "\n";
    let pointer = parse_pointer(blob.as_bytes())
        .unwrap_or_else(|| panic!("git-lfs did not store {file} as a pointer: {blob:?}"));
    assert_eq!(pointer.size, content.len() as u64);
    (pointer, git(&upstream.work, &["rev-parse", "HEAD"]))
}

/// Deterministic incompressible-looking bytes (xorshift), so packs and objects have real sizes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Stock git-lfs, with no server anywhere, reads what forgesafe stored:
/// * `git lfs fsck` in the mirror passes (HEAD's objects present, with the right SHA-256);
/// * a clone of the mirror (`file://`, whose LFS objects git-lfs reads from the mirror's own
///   `lfs/objects`) fetches the objects of every ref and all history (`git lfs fetch --all`);
/// * checking out each `(revision, file)` there gives exactly `content`.
pub fn assert_git_lfs_reads_mirror(
    mirror: &Path,
    scratch: &Path,
    expected: &[(&str, &str, &[u8])],
) {
    require_git_lfs();
    git(mirror, &["lfs", "fsck"]);
    let clone = scratch.join(format!("lfs-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&clone);
    let url = format!("file://{}", mirror.display());
    git_with_env(
        scratch,
        &[
            "clone",
            "-q",
            "--no-checkout",
            &url,
            clone.to_str().unwrap(),
        ],
        &[("GIT_LFS_SKIP_SMUDGE", "1")],
    );
    git(&clone, &["lfs", "install", "--local"]);
    // Local config wins over a `.lfsconfig` in the repository: only the mirror is asked.
    git(&clone, &["config", "lfs.url", &url]);
    git(&clone, &["lfs", "fetch", "--all", "origin"]);
    for (revision, file, content) in expected {
        git(&clone, &["checkout", "-q", "-f", revision]);
        let got = std::fs::read(clone.join(file)).unwrap();
        assert!(
            got == *content,
            "git-lfs checked out {file} at {revision} with {} bytes, not the committed {} bytes",
            got.len(),
            content.len()
        );
    }
    std::fs::remove_dir_all(&clone).unwrap();
}
