//! Failures: nothing half-done may remain, and every failure is one clear line with exit 69.

mod common;

use common::proxy::Proxy;
use common::s3::S3Server;
use common::tree::{assert_same_tree, make_tree};
use common::*;
use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn snapshot_count(server: &S3Server, bucket: &str, prefix: &str) -> usize {
    let out = ok(server.restic(bucket, prefix).args(["snapshots", "--json"]));
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

/// The error line: exactly one non-empty stderr line starting with our prefix.
fn one_error_line(out: &std::process::Output) -> String {
    let text = stderr(out);
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("forgesafe: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line, got:\n{text}");
    errors[0].to_string()
}

#[test]
fn s3_server_dying_mid_push_records_no_snapshot_and_the_next_push_is_clean() {
    let server = S3Server::start();
    server.create_bucket("faults");
    let proxy = Proxy::start(server.port);
    let profile = server.profile_at(&proxy.endpoint(), "faults", "repo");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 11, 40_000_000);

    // A first snapshot, so the repository exists and has something to lose.
    let small = tmp.path().join("small");
    make_tree(&small, 10, 1000);
    ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&small));
    assert_eq!(snapshot_count(&server, "faults", "repo"), 1);

    let before = proxy.bytes_up.load(std::sync::atomic::Ordering::SeqCst);
    let mut child = forgesafe_pw()
        .env("FORGESAFE_RETRIES", "1")
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.bytes_up.load(std::sync::atomic::Ordering::SeqCst) < before + 5_000_000 {
        assert!(Instant::now() < deadline, "push never sent data");
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("push ended before the server could die: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(69), "stderr: {}", stderr(&out));
    assert!(
        out.stdout.is_empty(),
        "a failed push must print no artifact: {}",
        stdout(&out)
    );
    let line = one_error_line(&out);
    assert!(
        line.contains("push to") && line.contains("failed"),
        "{line}"
    );

    proxy.revive();
    assert_eq!(
        snapshot_count(&server, "faults", "repo"),
        1,
        "the failed push left a snapshot"
    );
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&src));
    let (_, id, _, _) = parse_push_output(&stdout(&out));
    ok(server
        .restic("faults", "repo")
        .args(["check", "--read-data"]));
    ok(forgesafe_pw().args(["check", "-p", &profile]));
    let target = tmp.path().join("restored");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "v",
            "--snapshot",
            &id,
        ])
        .arg(&target));
    assert_same_tree(&src, &target);
}

#[test]
fn killing_forgesafe_mid_push_leaves_a_repository_that_checks_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 12, 60_000_000);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw().args(["init", "-p", &profile]));

    let mut child = forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&src)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while du(&repo.join("data")) < 8_000_000 {
        assert!(Instant::now() < deadline, "push never wrote data");
        assert!(
            child.try_wait().unwrap().is_none(),
            "push finished before it could be killed: make the fixture bigger"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let listed = ok(forgesafe_pw().args(["snapshots", "-p", &profile]));
    assert_eq!(
        stdout(&listed).trim(),
        "[]",
        "a killed push left a snapshot"
    );
    ok(restic_local(&repo).arg("check"));
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&src));
    let (_, id, _, _) = parse_push_output(&stdout(&out));
    ok(restic_local(&repo).args(["check", "--read-data"]));
    let target = tmp.path().join("restored");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "v",
            "--snapshot",
            &id,
        ])
        .arg(&target));
    assert_same_tree(&src, &target);
}

fn local_repo_with_one_push(tmp: &std::path::Path) -> (String, String) {
    let src = tmp.join("src");
    make_tree(&src, 13, 50_000);
    let profile =
        serde_json::json!({"Location": {"type": "local", "path": tmp.join("repo")}}).to_string();
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "v"])
        .arg(&src));
    (profile, parse_push_output(&stdout(&out)).1)
}

fn existing_target(tmp: &std::path::Path) -> std::path::PathBuf {
    let target = tmp.join("target");
    fs::create_dir_all(target.join("sub")).unwrap();
    fs::write(
        target.join("sub/precious.txt"),
        "must survive a failed pull",
    )
    .unwrap();
    target
}

#[test]
fn wrong_password_is_a_clear_error_and_the_target_is_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (profile, id) = local_repo_with_one_push(tmp.path());
    let target = existing_target(tmp.path());
    let snapshot = tmp.path().join("before");
    fs::create_dir_all(&snapshot).unwrap();
    make_copy(&target, &snapshot);

    let out = run_expect(
        forgesafe()
            .env("FORGESAFE_PASSWORD", "not-the-password")
            .args([
                "location",
                "pull",
                "-p",
                &profile,
                "-s",
                "v",
                "--snapshot",
                &id,
            ])
            .arg(&target),
        69,
    );
    assert!(
        one_error_line(&out).contains("wrong repository password"),
        "{}",
        stderr(&out)
    );
    assert_same_tree(&snapshot, &target);
    let out = run_expect(
        forgesafe()
            .env("FORGESAFE_PASSWORD", "not-the-password")
            .args(["location", "push", "-p", &profile, "-s", "v"])
            .arg(tmp.path().join("src")),
        69,
    );
    assert!(one_error_line(&out).contains("wrong repository password"));
    let out = run_expect(
        forgesafe()
            .env("FORGESAFE_PASSWORD", "not-the-password")
            .args([
                "location",
                "delete",
                "-p",
                &profile,
                "-s",
                "v",
                "--snapshot",
                &id,
            ]),
        69,
    );
    assert!(one_error_line(&out).contains("wrong repository password"));
}

fn make_copy(from: &std::path::Path, to: &std::path::Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dest).unwrap();
            make_copy(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn unknown_snapshot_on_pull_fails_and_leaves_the_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let (profile, _) = local_repo_with_one_push(tmp.path());
    let target = existing_target(tmp.path());
    let out = run_expect(
        forgesafe_pw()
            .args([
                "location",
                "pull",
                "-p",
                &profile,
                "-s",
                "v",
                "--snapshot",
                "deadbeef",
            ])
            .arg(&target),
        69,
    );
    let line = one_error_line(&out);
    assert!(
        line.contains("deadbeef") && line.contains("not in the repository"),
        "{line}"
    );
    assert_eq!(
        fs::read_to_string(target.join("sub/precious.txt")).unwrap(),
        "must survive a failed pull"
    );
    assert_eq!(fs::read_dir(&target).unwrap().count(), 1);
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        3,
        "no staging left beside the target"
    );

    let out = run_expect(
        forgesafe_pw()
            .args(["location", "pull", "-p", &profile, "-s", "never-pushed"])
            .arg(&target),
        69,
    );
    assert!(one_error_line(&out).contains("nothing was pushed under --path \"never-pushed\""));
    // A missing repository is an error for pull and delete, never an empty success.
    let empty =
        serde_json::json!({"Location": {"type": "local", "path": tmp.path().join("nothing-here")}})
            .to_string();
    let out = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &empty,
            "-s",
            "v",
            "--snapshot",
            "abc",
        ]),
        69,
    );
    assert!(one_error_line(&out).contains("no repository at"));
}

#[test]
fn malformed_profiles_name_the_bad_field() {
    let cases = [
        ("{not json", "not valid JSON"),
        (
            r#"{"Location":{"type":"s3Compliant","endpoint":"http://x"}}"#,
            "Location.bucket",
        ),
        (
            r#"{"Location":{"type":"nfs","bucket":"b"}}"#,
            "Location.type",
        ),
        (
            r#"{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIAFORGESAFETESTKEY7"}}}"#,
            "Credential.KeyPair.Secret",
        ),
        (
            r#"{"Location":{"type":"s3Compliant","bucket":"b"},"Credential":{"Type":"secret","Secret":{"data":{"aws_access_key_id":"!!"}}}}"#,
            "aws_access_key_id",
        ),
        (
            r#"{"Location":{"type":"kopia"},"Credential":{"Type":"kopia"}}"#,
            "Kopia repository server",
        ),
    ];
    for (profile, expected) in cases {
        let out = run_expect(
            forgesafe_pw().args([
                "location",
                "push",
                "-p",
                profile,
                "-s",
                "v",
                "/etc/hostname",
            ]),
            69,
        );
        let line = one_error_line(&out);
        assert!(line.contains(expected), "profile {profile}: {line}");
    }
}

#[test]
fn an_unreadable_file_in_the_source_fails_the_push_and_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    // Root reads every file, so the push runs as an unprivileged user when the tests run as root.
    let root = unsafe { libc::geteuid() } == 0;
    let bin = tmp.path().join("forgesafe");
    fs::copy(env!("CARGO_BIN_EXE_forgesafe"), &bin).unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 14, 10_000);
    fs::write(src.join("secret-notes.txt"), "unreadable").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        src.join("secret-notes.txt"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir(&repo).unwrap();
    fs::set_permissions(&repo, fs::Permissions::from_mode(0o777)).unwrap();
    let profile = local_profile(&repo);

    let mut cmd = std::process::Command::new(&bin);
    cmd.env_clear()
        .env("FORGESAFE_PASSWORD", PASSWORD)
        .env("FORGESAFE_LOG_FORMAT", "human")
        .env("HOME", tmp.path());
    if root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let out = run_expect(
        cmd.args(["location", "push", "-p", &profile, "-s", "v"])
            .arg(&src),
        69,
    );
    let line = one_error_line(&out);
    assert!(
        line.contains("secret-notes.txt") && line.contains("push not recorded"),
        "{line}"
    );
    assert!(out.stdout.is_empty());
    let listed = ok(forgesafe_pw().args(["snapshots", "-p", &profile]));
    assert_eq!(
        stdout(&listed).trim(),
        "[]",
        "a push with an unreadable file was recorded"
    );
}
