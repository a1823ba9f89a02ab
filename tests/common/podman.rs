//! Podman for the container tests: the image built once per test binary by `images/build`,
//! containers and `podman kube play` pods removed by Drop guards, names unique per process so two
//! runs on one machine never collide, and leftovers of killed runs swept on the next start.
//! A missing podman fails the test loudly.

use super::require_tool;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Every name the tests give podman objects starts with this, then the test process id.
const PREFIX: &str = "forgesafe-test";

pub fn podman() -> Command {
    let mut cmd = Command::new(require_tool("podman", "apt-get install podman runc"));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs podman, panicking with its output unless it succeeds.
pub fn podman_ok(args: &[&str]) -> Output {
    super::ok(podman().args(args))
}

/// A name no other test (in this process or another) uses: `forgesafe-test-<pid>-<n>-<what>`.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{PREFIX}-{}-{}-{what}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The image under test: `images/build --binary` of the test build's forgesafe (stripped by the
/// build). That binary is what the other tests prove correct; what these tests prove is the
/// packaging (libraries, users, read-only root, labels, default command), the same for a release
/// build, which would cost CI ~6 more minutes. Built on first use, removed when the process exits.
pub fn test_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        sweep_leftovers();
        let tag = format!(
            "localhost/{}:{}",
            PREFIX,
            unique_name("image").trim_start_matches(&format!("{PREFIX}-"))
        );
        let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/build");
        let out = super::ok(
            Command::new(build)
                .args(["--tag", &tag, "--binary", env!("CARGO_BIN_EXE_forgesafe")])
                .stdin(Stdio::null()),
        );
        assert!(
            super::stdout(&out).lines().any(|l| l == tag),
            "images/build did not report {tag}: {}",
            super::stdout(&out)
        );
        extern "C" fn remove_image() {
            if let Some(tag) = IMAGE.get() {
                let _ = podman()
                    .args(["rmi", "--force", tag])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // Statics are never dropped; the test harness ends with exit(), which runs this.
        unsafe { libc::atexit(remove_image) };
        tag
    })
}

/// Removes pods, containers and images that test processes which no longer run left behind
/// (killed before their guards ran).
fn sweep_leftovers() {
    let dead = |name: &str| -> bool {
        let rest = name
            .rsplit('/')
            .next()
            .unwrap_or(name)
            .trim_start_matches(&format!("{PREFIX}:"))
            .trim_start_matches(&format!("{PREFIX}-"));
        match rest
            .split('-')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
        {
            Some(pid) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
            None => false,
        }
    };
    let list = |args: &[&str]| -> Vec<String> {
        podman()
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    for pod in list(&["pod", "ps", "--format", "{{.Name}}"])
        .into_iter()
        .filter(|n| n.starts_with(PREFIX) && dead(n))
    {
        let _ = podman().args(["pod", "rm", "--force", &pod]).output();
    }
    for container in list(&["ps", "--all", "--format", "{{.Names}}"])
        .into_iter()
        .filter(|n| n.starts_with(PREFIX) && dead(n))
    {
        let _ = podman().args(["rm", "--force", &container]).output();
    }
    for volume in list(&["volume", "ls", "--format", "{{.Name}}"])
        .into_iter()
        .filter(|n| n.starts_with(PREFIX) && dead(n))
    {
        let _ = podman().args(["volume", "rm", "--force", &volume]).output();
    }
    for image in list(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .into_iter()
        .filter(|n| n.starts_with(&format!("localhost/{PREFIX}:")) && dead(n))
    {
        let _ = podman().args(["rmi", "--force", &image]).output();
    }
}

/// A detached container, removed (with its anonymous volumes) when dropped.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `podman run --detach --name NAME ARGS…`
    pub fn run(what: &str, args: &[&str]) -> Container {
        let name = unique_name(what);
        let container = Container { name: name.clone() };
        podman_ok(&[&["run", "--detach", "--name", &name][..], args].concat());
        container
    }

    /// The host process id of the container's first process.
    pub fn pid(&self) -> u32 {
        let out = podman_ok(&["inspect", "--format", "{{.State.Pid}}", &self.name]);
        super::stdout(&out).trim().parse().unwrap()
    }

    pub fn logs(&self) -> String {
        let out = podman().args(["logs", &self.name]).output().unwrap();
        format!("{}{}", super::stdout(&out), super::stderr(&out))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman()
            .args(["rm", "--force", "--volumes", "--time", "0", &self.name])
            .output();
    }
}

/// Pods started by `podman kube play FILE`, taken down when dropped: `kube down`, then the pods
/// and the named volumes podman made of the ConfigMaps, by name.
pub struct KubePlay {
    file: std::path::PathBuf,
    pods: Vec<String>,
    volumes: Vec<String>,
}

impl KubePlay {
    pub fn play(file: &Path, pods: &[&str], config_maps: &[String]) -> KubePlay {
        let guard = KubePlay {
            file: file.to_path_buf(),
            pods: pods.iter().map(|p| p.to_string()).collect(),
            volumes: config_maps.to_vec(),
        };
        podman_ok(&["kube", "play", file.to_str().unwrap()]);
        guard
    }
}

impl Drop for KubePlay {
    fn drop(&mut self) {
        let _ = podman()
            .args(["kube", "down", self.file.to_str().unwrap()])
            .output();
        for pod in &self.pods {
            let _ = podman()
                .args(["pod", "rm", "--force", "--time", "0", pod])
                .output();
        }
        for volume in &self.volumes {
            let _ = podman().args(["volume", "rm", "--force", volume]).output();
        }
    }
}

/// The effective user and group ids of a host process, from /proc (real, effective, saved, fs).
pub fn process_ids(pid: u32) -> (Vec<u32>, Vec<u32>) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ids = |field: &str| -> Vec<u32> {
        status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    (ids("Uid:"), ids("Gid:"))
}
