//! `forgesafe serve` on a schedule, as a real process, against real parts: the fake GitHub API
//! (real socket, GitHub's wire format) lists the account, real git smart HTTP (lighttpd + git
//! http-backend) serves it, moto is the S3 server, stock restic reads what was written, and
//! Prometheus's own `promtool` judges the metrics exposition.

mod common;

use common::fake_github::{issue_json, repo_json, FakeGithub, RepoMeta};
use common::git::{git, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use common::s3::S3Server;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "ghp_serveScheduleToken0123456789abcdef";
const HEARTBEAT_SECRET: &str = "hb-7c1e0d5a-secret-ping";

/// Everything a scheduled backup needs: an account on the fake forge with one repository served
/// over smart HTTP, an S3 bucket, and a gickup config.
struct Rig {
    tmp: tempfile::TempDir,
    s3: S3Server,
    forge: FakeGithub,
    _git: GitHttpServer,
    app: Upstream,
    conf: PathBuf,
    profile: PathBuf,
    volume: PathBuf,
}

impl Rig {
    /// With `metrics_port`, the config also asks, gickup's way, for a metrics endpoint of its own
    /// on that port and for a heartbeat to the forge's `/ping/…`.
    fn new(metrics_port: Option<u16>) -> Rig {
        let tmp = tempfile::tempdir().unwrap();
        let git_server = GitHttpServer::start_with(ServerOptions {
            basic_auth: Some(("x-access-token".into(), TOKEN.into())),
            ..Default::default()
        });
        let app = Upstream::create(&git_server.path("private/octo/app.git"), tmp.path());
        app.checkout_new_branch("feature");
        app.commit("feature.txt", "one\n");
        app.push(&["feature"]);
        app.checkout_new_branch("doomed");
        app.commit("doomed.txt", "soon gone\n");
        app.push(&["doomed"]);
        let mut repo = repo_json(1, "octo", "app", true);
        repo["clone_url"] = json!(git_server.url("private/octo/app.git"));
        repo["has_wiki"] = json!(false);
        let forge = FakeGithub::start(TOKEN, vec![repo], 100);
        forge.set_meta(
            "octo/app",
            RepoMeta {
                issues: vec![issue_json(
                    "octo/app",
                    1,
                    "It breaks",
                    "2024-02-01T00:00:00Z",
                    false,
                )],
                ..Default::default()
            },
        );
        let metrics_yaml = match metrics_port {
            None => String::new(),
            Some(port) => format!(
                "metrics:\n  prometheus:\n    listen_addr: \"127.0.0.1:{port}\"\n    endpoint: /gickup-metrics\n  heartbeat:\n    urls:\n      - {}/ping/{HEARTBEAT_SECRET}\n",
                forge.base_url()
            ),
        };
        let s3 = S3Server::start();
        s3.create_bucket("serve");
        let volume = tmp.path().join("volume");
        let conf = tmp.path().join("conf.yml");
        std::fs::write(
            &conf,
            format!(
                "source:\n  github:\n    - token: GH_TOKEN_FOR_SERVE\n      user: octo\n      url: {}\n      wiki: false\n      issues: true\ndestination:\n  local:\n    - path: {}\n      structured: true\n{metrics_yaml}",
                forge.base_url(),
                volume.display()
            ),
        )
        .unwrap();
        let profile = tmp.path().join("profile.json");
        std::fs::write(&profile, s3.profile("serve", "forge")).unwrap();
        Rig {
            tmp,
            s3,
            forge,
            _git: git_server,
            app,
            conf,
            profile,
            volume,
        }
    }

    fn forgesafe(&self) -> std::process::Command {
        let mut cmd = forgesafe_pw();
        cmd.env("GH_TOKEN_FOR_SERVE", TOKEN)
            .env("TMPDIR", self.tmp.path());
        cmd
    }

    fn serve(&self, extra: &[&str]) -> Served {
        let mut cmd = self.forgesafe();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&self.conf)
            .arg("--profile")
            .arg(format!("@{}", self.profile.display()));
        cmd.args(["--path", "forge"]).args(extra);
        Served::start(cmd)
    }

    fn restic(&self) -> std::process::Command {
        self.s3.restic("serve", "forge")
    }

    fn snapshots(&self) -> Vec<Value> {
        serde_json::from_slice(&ok(self.restic().args(["snapshots", "--json"])).stdout).unwrap()
    }

    fn locks(&self) -> String {
        stdout(&ok(self.restic().args(["list", "locks", "--no-lock"])))
    }
}

/// A running `forgesafe serve` on a port of its own choosing, and its stderr lines.
struct Served {
    child: Child,
    port: u16,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(mut cmd: std::process::Command) -> Served {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start forgesafe serve");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut served = Served {
            child,
            port: 0,
            stderr: rx,
            seen: Vec::new(),
        };
        let line = served.wait_for_line("serving /healthz");
        let at = line
            .find("address=127.0.0.1:")
            .expect("the listening line names the address")
            + "address=127.0.0.1:".len();
        served.port = line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        served
    }

    /// The first stderr line (from the start) that contains `text`; waits for it.
    fn wait_for_line(&mut self, text: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            let line = self.stderr.recv().unwrap_or_else(|_| {
                panic!(
                    "serve ended before it logged {text:?}; stderr:\n{}",
                    self.seen.join("\n")
                )
            });
            self.seen.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.port, path)
    }

    fn status(&self) -> Value {
        let (code, _, body) = self.get("/status");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
    }

    /// Polls /status until `done` holds (no time limit: a scheduled run either happens or the
    /// test shows why not).
    fn wait_status(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut polls = 0u64;
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            polls += 1;
            if polls % 500 == 0 {
                eprintln!("still waiting for {what}; /status: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    fn wait(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "", "serve prints nothing on stdout");
        // To the end of the pipe: the reader thread may still hold the last lines after the exit.
        self.seen.extend(self.stderr.iter());
        (status.code(), self.seen.join("\n"))
    }
}

/// GET over HTTP/1.1 with `Connection: close`: (status, content type, body).
fn http_get(port: u16, path: &str) -> (u16, String, String) {
    let answer = http_exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    );
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (code, content_type, body.to_string())
}

fn find_mirror(root: &Path, name: &str) -> PathBuf {
    common::git::all_files(root)
        .into_iter()
        .find_map(|f| {
            f.ancestors()
                .find(|a| a.file_name().is_some_and(|n| n == name))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| panic!("no {name} under {}", root.display()))
}

fn promtool_accepts(exposition: &str) {
    let promtool = require_tool(
        "promtool",
        "apt-get install prometheus (Debian's package carries promtool)",
    );
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the exposition:\n{}{}\n---\n{exposition}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn scheduled_runs_land_snapshots_report_rewritten_history_and_export_metrics_prometheus_accepts() {
    let metrics_port = free_port();
    let rig = Rig::new(Some(metrics_port));
    let served = rig.serve(&[
        "--schedule",
        "@every 2s",
        "--drill-schedule",
        "@every 3s",
        "--keep-last",
        "10",
    ]);
    let (code, _, body) = served.get("/healthz");
    assert_eq!((code, body.as_str()), (200, "ok"));

    // Two scheduled runs land two snapshots.
    let status = served.wait_status("two successful runs", |s| {
        s["runs_succeeded"].as_u64() >= Some(2)
    });
    assert_eq!(status["last_run"]["result"], "success", "{status}");
    assert_eq!(status["last_run"]["repositories_ok"], 1, "{status}");
    // The run's two steps are timed apart, and together they fit inside the run.
    let (collect, push, whole) = (
        status["last_run"]["collect_seconds"].as_f64(),
        status["last_run"]["push_seconds"].as_f64(),
        status["last_run"]["duration_seconds"].as_f64().unwrap(),
    );
    let (collect, push) = (
        collect.unwrap_or_else(|| panic!("no collect_seconds: {status}")),
        push.unwrap_or_else(|| panic!("no push_seconds: {status}")),
    );
    assert!(
        collect > 0.0 && push > 0.0 && collect + push <= whole,
        "{status}"
    );
    assert!(
        status["schedule"]["next_run"].is_string(),
        "the next run is announced: {status}"
    );
    assert_eq!(served.get("/readyz").0, 200, "the repository is reachable");
    let snapshots = rig.snapshots();
    assert!(snapshots.len() >= 2, "{snapshots:?}");
    assert!(
        snapshots
            .iter()
            .all(|s| s["tags"].as_array().unwrap().contains(&json!("path:forge"))),
        "{snapshots:?}"
    );

    // A drill ran on its own schedule and found the newest snapshot whole.
    let status = served.wait_status("a passed drill", |s| s["last_drill"]["ok"] == true);
    assert!(
        status["last_drill"]["check"]["mirrors_checked"].as_u64() >= Some(1),
        "{status}"
    );

    // Upstream rewrites history: `feature` is force-pushed, `doomed` deleted.
    let old_feature = git(&rig.app.work, &["rev-parse", "feature"])
        .trim()
        .to_string();
    rig.app.checkout("feature");
    let new_feature = rig
        .app
        .rewrite_last_commit("feature.txt", "rewritten\n")
        .trim()
        .to_string();
    rig.app.force_push(&["feature"]);
    git(&rig.app.work, &["push", "origin", "--delete", "doomed"]);

    let status = served.wait_status("a change report", |s| {
        s["last_changes"]["repositories"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    });
    let changes = &status["last_changes"];
    let app = &changes["repositories"][0];
    assert_eq!(app["name"], "octo/app", "{changes}");
    assert_eq!(
        app["force_pushed"],
        json!([{"ref": "refs/heads/feature", "old": old_feature, "new": new_feature}]),
        "{changes}"
    );
    assert_eq!(app["deleted"][0]["ref"], "refs/heads/doomed", "{changes}");
    let earlier = changes["earlier_snapshot"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the report names the earlier snapshot: {changes}"))
        .to_string();
    assert_eq!(
        changes["earlier_snapshot"]["holds_old_tips"], true,
        "{changes}"
    );
    let report_file = rig.volume.join(changes["file"].as_str().unwrap());
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(
        on_disk["repositories"][0]["force_pushed"][0]["old"],
        json!(old_feature),
        "the report travels in the volume"
    );

    // That earlier snapshot restores the old tip.
    let restored = rig.tmp.path().join("restored");
    ok(rig
        .forgesafe()
        .args(["location", "pull"])
        .arg(&restored)
        .arg("--profile")
        .arg(format!("@{}", rig.profile.display()))
        .args(["--path", "forge", "--snapshot", &earlier]));
    let mirror = find_mirror(&restored, "app.git");
    assert_eq!(
        git(&mirror, &["rev-parse", "refs/heads/feature"]).trim(),
        old_feature
    );
    assert_eq!(
        git(&mirror, &["rev-parse", "refs/heads/doomed"]).len(),
        40,
        "the deleted branch is still in the earlier snapshot"
    );

    // Metrics: what Prometheus scrapes, judged by promtool, with the figures of the runs.
    let (code, content_type, metrics) = served.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "the text format Prometheus scrapes: {content_type}"
    );
    promtool_accepts(&metrics);
    for name in [
        "forgesafe_last_success_timestamp_seconds",
        "forgesafe_last_run_timestamp_seconds",
        "forgesafe_last_run_success 1",
        "forgesafe_run_duration_seconds",
        "forgesafe_run_step_duration_seconds{step=\"collect\"}",
        "forgesafe_run_step_duration_seconds{step=\"push\"}",
        "forgesafe_repositories{state=\"ok\"} 1",
        "forgesafe_repositories{state=\"failed\"} 0",
        "forgesafe_fetched_bytes_total",
        "forgesafe_pushed_bytes_total",
        "forgesafe_snapshot_logical_bytes",
        "forgesafe_drill_last_success_timestamp_seconds",
        "forgesafe_refs_rewritten_total{kind=\"force_pushed\"}",
        "forgesafe_build_info{version=",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    let rewritten: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("forgesafe_refs_rewritten_total{kind=\"force_pushed\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(rewritten >= 1.0, "{metrics}");
    // gickup's own endpoint, on its own listener.
    let (code, _, gickup) = http_get(metrics_port, "/gickup-metrics");
    assert_eq!(code, 200);
    assert!(gickup.contains("forgesafe_last_run_success"), "{gickup}");
    // A heartbeat after each successful run.
    assert!(
        rig.forge
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.target == format!("/ping/{HEARTBEAT_SECRET}")),
        "no heartbeat GET"
    );

    // Nothing served holds a secret.
    let (_, _, status_text) = served.get("/status");
    for secret in [TOKEN, PASSWORD, SECRET_KEY, ACCESS_KEY, HEARTBEAT_SECRET] {
        assert!(
            !status_text.contains(secret) && !metrics.contains(secret),
            "{secret} served"
        );
    }

    // SIGTERM when idle (or between runs) exits 0 and leaves no lock; the repository is clean.
    served.wait_status("no run in progress", |s| s["running"].is_null());
    served.signal(libc::SIGTERM);
    let (code, stderr) = served.wait();
    assert_eq!(code, Some(0), "{stderr}");
    for secret in [TOKEN, PASSWORD, SECRET_KEY, HEARTBEAT_SECRET] {
        assert!(!stderr.contains(secret), "{secret} logged");
    }
    assert_eq!(rig.locks().trim(), "", "no lock left behind");
    ok(rig.restic().args(["check", "--read-data"]));
}

#[test]
fn sigterm_during_a_run_stops_it_cleanly_and_a_backup_execd_meanwhile_is_refused_on_the_volume_lock(
) {
    let rig = Rig::new(None);
    let mut served = rig.serve(&[
        "--schedule",
        "@every 1s",
        "--grace",
        "20s",
        "--lock-wait",
        "1s",
    ]);
    served.wait_status("a first snapshot", |s| {
        s["runs_succeeded"].as_u64() >= Some(1)
    });

    // The next run parks on the forge's issues answer: it is inside its collect, and every
    // earlier run has ended (serve runs one at a time).
    rig.forge.hold("/repos/octo/app/issues");
    while rig.forge.held() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = rig.snapshots().len();
    let status = served.status();
    assert_eq!(status["running"]["kind"], "backup", "{status}");

    // Someone execs `forgesafe backup` into the container meanwhile: the volume is busy.
    let out = run_expect(
        rig.forgesafe()
            .args(["backup", "--config"])
            .arg(&rig.conf)
            .arg("--profile")
            .arg(format!("@{}", rig.profile.display()))
            .args(["--path", "forge", "--lock-wait", "1s"]),
        69,
    );
    let err = stderr(&out);
    assert!(
        err.contains("is in use by another run (backup, pid "),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");

    // SIGTERM: once serve says it is stopping, the forge answers again; the run stops at its next
    // safe point and records nothing.
    served.signal(libc::SIGTERM);
    served.wait_for_line("stopping: no new run starts");
    rig.forge.release();
    let (code, stderr) = served.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("stopped cleanly"),
        "the run ended within the grace period: {stderr}"
    );
    assert_eq!(
        rig.snapshots().len(),
        before,
        "the stopped run recorded no snapshot"
    );
    assert_eq!(rig.locks().trim(), "", "no lock left behind");
    ok(rig.restic().args(["check"]));
}

#[test]
fn a_run_that_does_not_stop_within_the_grace_period_is_abandoned_with_exit_0_and_no_lock() {
    let rig = Rig::new(None);
    let served = rig.serve(&["--schedule", "@every 1s", "--grace", "1s"]);
    served.wait_status("a first snapshot", |s| {
        s["runs_succeeded"].as_u64() >= Some(1)
    });
    rig.forge.hold("/repos/octo/app/issues");
    while rig.forge.held() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    served.signal(libc::SIGTERM);
    let (code, stderr) = served.wait();
    rig.forge.release();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("did not stop within the grace period"),
        "{stderr}"
    );
    assert_eq!(rig.locks().trim(), "", "no lock left behind");
    // The volume lock died with the process: a backup runs at once.
    ok(rig
        .forgesafe()
        .args(["backup", "--config"])
        .arg(&rig.conf)
        .arg("--profile")
        .arg(format!("@{}", rig.profile.display()))
        .args(["--path", "forge", "--lock-wait", "0s"]));
}

#[test]
fn bad_schedules_and_windows_are_refused_with_one_line() {
    let rig = Rig::new(None);
    for (args, expected) in [
        (vec!["--schedule", "every day"], "is not a cron expression"),
        (
            vec!["--schedule", "0 12 * * *", "--window", "01:00-02:00"],
            "never starts a run inside the windows 01:00-02:00",
        ),
        (
            vec!["--schedule", "@hourly", "--window", "25:00-26:00"],
            "HH:MM-HH:MM",
        ),
    ] {
        let mut cmd = rig.forgesafe();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&rig.conf)
            .arg("--profile")
            .arg(format!("@{}", rig.profile.display()))
            .args(&args);
        let err = stderr(&run_expect(&mut cmd, 69));
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| !l.trim().is_empty()).count(),
            1,
            "one line: {err}"
        );
    }
    // A schedule with nothing to push to.
    let err = stderr(&run_expect(
        rig.forgesafe()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--schedule",
                "@hourly",
                "--config",
            ])
            .arg(&rig.conf),
        69,
    ));
    assert!(err.contains("a schedule needs a repository"), "{err}");
}
