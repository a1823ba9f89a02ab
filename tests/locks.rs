//! restic-compatible repository locks, proven against stock restic in both directions, on a local
//! repository and on a real S3 server (moto); kill -9, stale locks, refreshes, concurrency.

mod common;

use common::fifo::spawn_with_held_stdin;
use common::s3::S3Server;
use common::tree::{assert_same_tree, make_tree};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(S3Server::start)
}

fn lock_ids(mut restic: Command) -> Vec<String> {
    let out = ok(restic.args(["list", "locks", "--no-lock"]));
    stdout(&out)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Polls until `done` holds (there is no other way to see a background process reach a state);
/// gives up only after minutes, so a slow machine never fails it.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never happened: {what}");
}

fn push_dir(profile: &str, name: &str, dir: &Path) -> String {
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", profile, "-s", name])
        .arg(dir));
    parse_push_output(&stdout(&out)).1
}

fn small_tree(tmp: &Path, name: &str, seed: u64) -> PathBuf {
    let dir = tmp.join(name);
    make_tree(&dir, seed, 50_000);
    dir
}

#[test]
fn a_restic_backup_in_progress_makes_delete_wait_and_fail_clearly_while_push_proceeds() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = small_tree(tmp.path(), "src", 1);
    let id = push_dir(&profile, "appA", &src);

    // restic holds a non-exclusive lock for as long as its stdin stays open.
    let mut backup = restic_local(&repo);
    backup.args(["backup", "--stdin", "--stdin-filename", "held.txt"]);
    let held = spawn_with_held_stdin(backup, &tmp.path().join("fifo"));
    eventually("restic took its lock", || {
        lock_ids(restic_local(&repo)).len() == 1
    });

    let refused = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &profile,
            "-s",
            "appA",
            "--snapshot",
            &id,
            "--lock-wait",
            "2s",
        ]),
        69,
    );
    let line = stderr(&refused)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let host = hostname();
    for expected in [
        "locked by restic",
        "non-exclusive",
        &format!("host {host}"),
        &format!("pid {}", held.pid()),
        "waited 2s",
    ] {
        assert!(line.contains(expected), "missing {expected:?} in: {line}");
    }
    // A push only needs a non-exclusive lock: it goes ahead beside restic's.
    push_dir(&profile, "appB", &src);
    let snaps = ok(forgesafe_pw().args(["snapshots", "-p", &profile, "-s", "appA"]));
    assert!(
        stdout(&snaps).contains(&id),
        "the refused delete deleted nothing"
    );

    let done = held.finish(b"restic's data\n");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "appA",
        "--snapshot",
        &id,
    ]));
    assert!(
        lock_ids(restic_local(&repo)).is_empty(),
        "no lock left behind"
    );
    ok(restic_local(&repo).arg("check"));
}

#[test]
fn a_forgesafe_push_in_progress_holds_a_lock_restic_reads_and_honours_on_s3() {
    server().create_bucket("held-push");
    let profile = server().profile("held-push", "r");
    let restic_s3 = || server().restic("held-push", "r");
    ok(forgesafe_pw().args(["init", "-p", &profile]));

    let mut push = forgesafe_pw();
    push.args(["location", "push", "-p", &profile, "-s", "db/dump.sql", "-"]);
    let tmp = tempfile::tempdir().unwrap();
    let held = spawn_with_held_stdin(push, &tmp.path().join("fifo"));
    eventually("forgesafe took its lock", || {
        lock_ids(restic_s3()).len() == 1
    });

    // restic lists, decrypts and understands our lock...
    let id = lock_ids(restic_s3()).remove(0);
    let cat = ok(restic_s3().args(["cat", "lock", &id, "--no-lock"]));
    let lock: serde_json::Value = serde_json::from_slice(&cat.stdout).unwrap();
    assert_eq!(lock["pid"].as_u64(), Some(u64::from(held.pid())), "{lock}");
    assert_eq!(lock["exclusive"].as_bool(), Some(false));
    assert_eq!(lock["hostname"].as_str(), Some(hostname().as_str()));
    // ...and a prune (which needs the repository to itself) refuses to run.
    let prune = restic_s3().arg("prune").output().unwrap();
    assert!(
        !prune.status.success(),
        "restic prune ran beside a forgesafe push"
    );
    let why = String::from_utf8_lossy(&prune.stderr);
    assert!(why.contains("lock"), "{why}");

    let done = held.finish(b"dump contents\n");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(lock_ids(restic_s3()).is_empty(), "push released its lock");
    ok(restic_s3().arg("prune"));
    ok(restic_s3().args(["check", "--read-data"]));
}

#[test]
fn a_killed_push_leaves_a_stale_lock_that_the_next_delete_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let id = push_dir(&profile, "app", &small_tree(tmp.path(), "src", 2));

    let mut push = forgesafe_pw();
    push.args(["location", "push", "-p", &profile, "-s", "app", "-"]);
    let held = spawn_with_held_stdin(push, &tmp.path().join("fifo"));
    eventually("the push took its lock", || {
        lock_ids(restic_local(&repo)).len() == 1
    });
    held.kill_hard();
    assert_eq!(
        lock_ids(restic_local(&repo)).len(),
        1,
        "kill -9 leaves the lock file behind"
    );

    let out = ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "app",
        "--snapshot",
        &id,
        "--lock-wait",
        "0s",
    ]));
    assert!(
        stderr(&out).contains("removing a stale lock left by forgesafe push"),
        "{}",
        stderr(&out)
    );
    assert!(lock_ids(restic_local(&repo)).is_empty());
    ok(restic_local(&repo).arg("check"));
}

#[test]
fn another_tools_stale_lock_is_reported_and_removed_only_by_unlock() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let id = push_dir(&profile, "app", &small_tree(tmp.path(), "src", 3));

    let mut backup = restic_local(&repo);
    backup.args(["backup", "--stdin", "--stdin-filename", "x"]);
    let held = spawn_with_held_stdin(backup, &tmp.path().join("fifo"));
    eventually("restic took its lock", || {
        lock_ids(restic_local(&repo)).len() == 1
    });
    held.kill_hard();

    let refused = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &profile,
            "-s",
            "app",
            "--snapshot",
            &id,
            "--lock-wait",
            "1s",
        ]),
        69,
    );
    let line = stderr(&refused);
    assert!(
        line.contains("looks stale") && line.contains("forgesafe unlock"),
        "{line}"
    );
    assert_eq!(
        lock_ids(restic_local(&repo)).len(),
        1,
        "restic's lock is not ours to remove silently"
    );

    let unlocked = ok(forgesafe_pw().args(["unlock", "-p", &profile]));
    assert!(
        stderr(&unlocked).contains("removed"),
        "{}",
        stderr(&unlocked)
    );
    assert!(lock_ids(restic_local(&repo)).is_empty());
    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "app",
        "--snapshot",
        &id,
    ]));
}

#[test]
fn unlock_keeps_live_locks_unless_told_to_remove_all() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw().args(["init", "-p", &profile]));
    let mut backup = restic_local(&repo);
    backup.args(["backup", "--stdin", "--stdin-filename", "x"]);
    let held = spawn_with_held_stdin(backup, &tmp.path().join("fifo"));
    eventually("restic took its lock", || {
        lock_ids(restic_local(&repo)).len() == 1
    });
    ok(forgesafe_pw().args(["unlock", "-p", &profile]));
    assert_eq!(lock_ids(restic_local(&repo)).len(), 1, "a live lock stays");
    ok(forgesafe_pw().args(["unlock", "-p", &profile, "--remove-all"]));
    assert!(lock_ids(restic_local(&repo)).is_empty());
    drop(held);
}

#[test]
fn a_held_lock_is_refreshed_under_a_new_name_and_the_old_one_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw().args(["init", "-p", &profile]));
    let mut push = forgesafe_pw();
    push.env("FORGESAFE_LOCK_REFRESH", "1s")
        .args(["location", "push", "-p", &profile, "-s", "slow", "-"]);
    let held = spawn_with_held_stdin(push, &tmp.path().join("fifo"));
    eventually("the push took its lock", || {
        lock_ids(restic_local(&repo)).len() == 1
    });
    let first = lock_ids(restic_local(&repo)).remove(0);
    eventually("the lock was rewritten", || {
        let now = lock_ids(restic_local(&repo));
        now.len() == 1 && now[0] != first
    });
    let out = held.finish(b"late data\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lock_ids(restic_local(&repo)).is_empty());
}

#[test]
fn concurrent_pushes_and_a_delete_loop_on_s3_leave_every_snapshot_whole() {
    server().create_bucket("busy");
    let profile = server().profile("busy", "shared");
    let restic_s3 = || server().restic("busy", "shared");
    let tmp = tempfile::tempdir().unwrap();
    ok(forgesafe_pw().args(["init", "-p", &profile]));
    let sources: Vec<PathBuf> = (0..4)
        .map(|i| {
            let dir = tmp.path().join(format!("app{i}"));
            make_tree(&dir, 100 + i, 400_000);
            dir
        })
        .collect();
    let churn = small_tree(tmp.path(), "churn", 7);

    let pushes: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let mut cmd = forgesafe_pw();
            cmd.args(["location", "push", "-p", &profile, "-s", &format!("app{i}")])
                .arg(dir);
            cmd.spawn_output()
        })
        .collect();
    // Meanwhile: push, then delete or forget+prune, a fifth path, over and over.
    for round in 0..3 {
        let id = push_dir(&profile, "churn", &churn);
        if round % 2 == 0 {
            ok(forgesafe_pw().args([
                "location",
                "delete",
                "-p",
                &profile,
                "-s",
                "churn",
                "--snapshot",
                &id,
            ]));
        } else {
            ok(forgesafe_pw().args([
                "forget",
                "-p",
                &profile,
                "-s",
                "churn",
                "--keep-last",
                "0",
                "--prune",
            ]));
        }
    }
    let ids: Vec<String> = pushes
        .into_iter()
        .map(|p| parse_push_output(&stdout(&p.join_ok())).1)
        .collect();

    ok(forgesafe_pw().args(["check", "--read-data", "-p", &profile]));
    ok(restic_s3().args(["check", "--read-data"]));
    assert!(lock_ids(restic_s3()).is_empty());
    for (i, id) in ids.iter().enumerate() {
        let target = tmp.path().join(format!("restored{i}"));
        ok(forgesafe_pw()
            .args([
                "location",
                "pull",
                "-p",
                &profile,
                "-s",
                &format!("app{i}"),
                "--snapshot",
                id,
            ])
            .arg(&target));
        assert_same_tree(&sources[i], &target);
    }
}

/// A child started now and joined later, keeping both streams.
trait SpawnOutput {
    fn spawn_output(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn spawn_output(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

trait JoinOk {
    fn join_ok(self) -> std::process::Output;
}

impl JoinOk for std::process::Child {
    fn join_ok(self) -> std::process::Output {
        let out = self.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Three first pushes into an empty location at the same moment (a sharded Job's first night): the
/// config is created only if absent, so exactly one repository comes out of it — one config, one
/// key — and every push's snapshot is in it, whole, on S3 and on local disk.
#[test]
fn first_pushes_at_the_same_moment_into_an_empty_location_make_one_repository() {
    server().create_bucket("first");
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local-repo");
    let sources: Vec<PathBuf> = (0..3)
        .map(|i| small_tree(tmp.path(), &format!("first{i}"), 40 + i))
        .collect();
    for (profile, restic) in [
        (
            server().profile("first", "fresh"),
            Box::new(|| server().restic("first", "fresh")) as Box<dyn Fn() -> Command>,
        ),
        (local_profile(&local), Box::new(|| restic_local(&local))),
    ] {
        let pushes: Vec<_> = sources
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let mut cmd = forgesafe_pw();
                cmd.args([
                    "location",
                    "push",
                    "-p",
                    &profile,
                    "-s",
                    &format!("shard{i}"),
                ])
                .arg(dir);
                cmd.spawn_output()
            })
            .collect();
        let ids: Vec<String> = pushes
            .into_iter()
            .map(|p| parse_push_output(&stdout(&p.join_ok())).1)
            .collect();
        let keys = stdout(&ok(restic().args(["list", "keys", "--no-lock"])));
        assert_eq!(keys.lines().count(), 1, "one key, the winner's: {keys}");
        ok(restic().args(["check", "--read-data"]));
        for (i, id) in ids.iter().enumerate() {
            let target = tmp.path().join(format!("restored-{}-{i}", profile.len()));
            ok(forgesafe_pw()
                .args([
                    "location",
                    "pull",
                    "-p",
                    &profile,
                    "-s",
                    &format!("shard{i}"),
                    "--snapshot",
                    id,
                ])
                .arg(&target));
            assert_same_tree(&sources[i], &target);
        }
    }
}
