//! One repository shared by many paths: snapshot selection that never leaves its path, retention
//! judged against stock restic's own `forget`, quotas, stats, health, and the panic line.

mod common;

use common::tree::make_tree;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;

fn push(profile: &str, name: &str, dir: &Path, extra: &[&str]) -> String {
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", profile, "-s", name])
        .args(extra)
        .arg(dir));
    parse_push_output(&stdout(&out)).1
}

fn ids_of(profile: &str, name: &str) -> BTreeSet<String> {
    let out = ok(forgesafe_pw().args(["snapshots", "-p", profile, "-s", name]));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn latest_means_the_newest_of_the_path_and_other_paths_are_never_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 5, 20_000);
    let a_old = push(&profile, "appA", &src, &["--time", "2026-01-01 00:00:00"]);
    let a_new = push(&profile, "appA", &src, &["--time", "2026-01-02 00:00:00"]);
    let b_newest = push(&profile, "appB", &src, &[]); // the newest of the whole repository

    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "appA",
        "--snapshot",
        "latest",
    ]));
    assert_eq!(
        ids_of(&profile, "appA"),
        BTreeSet::from([a_old.clone()]),
        "appA's newest went, its older one stayed"
    );
    assert_eq!(
        ids_of(&profile, "appB"),
        BTreeSet::from([b_newest.clone()]),
        "appB untouched"
    );
    assert!(!ids_of(&profile, "appA").contains(&a_new));

    // An id of another path is refused, by name, and nothing is deleted.
    let refused = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &profile,
            "-s",
            "appA",
            "--snapshot",
            &b_newest[..12],
        ]),
        69,
    );
    let line = stderr(&refused);
    assert!(
        line.contains("pushed under --path \"appB\"") && line.contains("nothing was done"),
        "{line}"
    );
    assert_eq!(ids_of(&profile, "appB"), BTreeSet::from([b_newest.clone()]));
    // Pull uses it, with a warning: kando ignores --path for a snapshot id, and real blueprints
    // (the gickup article's) pull with another --path than they pushed with.
    let target = tmp.path().join("target");
    let pulled = ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "appA",
            "--snapshot",
            &b_newest,
        ])
        .arg(&target));
    assert!(
        stderr(&pulled).contains("pushed under another --path"),
        "{}",
        stderr(&pulled)
    );
    common::tree::assert_same_tree(&src, &target);
    // A unique prefix works; an id the listing does not have is "already gone".
    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "appA",
        "--snapshot",
        &a_old[..10],
    ]));
    let again = ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "appA",
        "--snapshot",
        &a_old,
    ]));
    assert!(
        stderr(&again).contains("already gone"),
        "{}",
        stderr(&again)
    );
    // latest of a path with nothing left is an error, not a silent success.
    let none = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &profile,
            "-s",
            "appA",
            "--snapshot",
            "latest",
        ]),
        69,
    );
    assert!(
        stderr(&none).contains("nothing was pushed under --path \"appA\""),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_repository_that_cannot_be_read_is_an_error_not_already_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 6, 10_000);
    let id = push(&profile, "app", &src, &[]);
    // The snapshot's file is there but unreadable: deleting must fail, never report it gone.
    let file = repo.join("snapshots").join(&id);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&file, b"garbage that is not a snapshot").unwrap();
    let out = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            &profile,
            "-s",
            "app",
            "--snapshot",
            &id,
        ]),
        69,
    );
    assert!(!stderr(&out).contains("already gone"), "{}", stderr(&out));
    assert!(file.exists(), "a refused delete deletes nothing");
}

/// Pushes `times` of one path (restic's --time), returns their ids by time.
fn spread_snapshots(profile: &str, src: &Path, times: &[&str]) -> Vec<String> {
    times
        .iter()
        .map(|t| push(profile, "spread", src, &["--time", t]))
        .collect()
}

fn restic_keeps(repo: &Path, rule: &[&str]) -> BTreeSet<String> {
    let out = ok(restic_local(repo)
        .args(["forget", "--dry-run", "--json", "--tag", "path:spread"])
        .args(rule));
    let groups: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    groups
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["keep"].as_array().cloned().unwrap_or_default())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn forgesafe_keeps(profile: &str, rule: &[&str]) -> BTreeSet<String> {
    let out = ok(forgesafe_pw()
        .args([
            "forget",
            "-p",
            profile,
            "-s",
            "spread",
            "--dry-run",
            "--json",
        ])
        .args(rule));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    verdict["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn retention_keeps_exactly_what_restic_forget_keeps_for_each_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 8, 10_000);
    let times = [
        "2025-06-15 08:00:00",
        "2025-11-02 09:00:00",
        "2026-01-05 10:00:00",
        "2026-02-20 11:00:00",
        "2026-03-01 12:00:00",
        "2026-03-01 18:00:00",
        "2026-03-02 07:00:00",
        "2026-03-08 07:00:00",
        "2026-03-09 07:00:00",
        "2026-03-09 07:30:00",
        "2026-03-09 09:00:00",
        "2026-03-10 06:00:00",
    ];
    let ids = spread_snapshots(&profile, &src, &times);
    let other = push(&profile, "other", &src, &[]);

    for rule in [
        vec!["--keep-last", "3"],
        vec!["--keep-hourly", "4"],
        vec!["--keep-daily", "5"],
        vec!["--keep-weekly", "3"],
        vec!["--keep-monthly", "4"],
        vec!["--keep-yearly", "2"],
        vec!["--keep-within", "3d"],
        vec![
            "--keep-daily",
            "2",
            "--keep-monthly",
            "3",
            "--keep-last",
            "1",
        ],
    ] {
        let ours = forgesafe_keeps(&profile, &rule);
        assert!(
            !ours.is_empty() && ours.len() < ids.len(),
            "{rule:?} keeps {} of {}",
            ours.len(),
            ids.len()
        );
        assert_eq!(
            ours,
            restic_keeps(&repo, &rule),
            "{rule:?}: forgesafe and restic keep different snapshots"
        );
    }

    // Applied for real, with a prune: only that path loses snapshots, and restic's check is clean.
    let keep = forgesafe_keeps(&profile, &["--keep-last", "2"]);
    ok(forgesafe_pw().args([
        "forget",
        "-p",
        &profile,
        "-s",
        "spread",
        "--keep-last",
        "2",
        "--prune",
    ]));
    assert_eq!(ids_of(&profile, "spread"), keep);
    assert_eq!(ids_of(&profile, "other"), BTreeSet::from([other]));
    ok(restic_local(&repo).args(["check", "--read-data"]));

    let none = run_expect(
        forgesafe_pw().args(["forget", "-p", &profile, "-s", "spread"]),
        69,
    );
    assert!(stderr(&none).contains("--keep-"), "{}", stderr(&none));
}

#[test]
fn keep_flags_on_push_apply_to_that_path_right_after_the_push() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 9, 10_000);
    let other = push(&profile, "other", &src, &["--time", "2026-01-01 00:00:00"]);
    let mut last = Vec::new();
    for day in 1..=4 {
        std::fs::write(src.join("changing"), format!("day {day}")).unwrap();
        last.push(push(
            &profile,
            "daily",
            &src,
            &[
                "--time",
                &format!("2026-02-0{day} 00:00:00"),
                "--keep-last",
                "2",
            ],
        ));
    }
    assert_eq!(
        ids_of(&profile, "daily"),
        last[2..].iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        ids_of(&profile, "other"),
        BTreeSet::from([other]),
        "another path's snapshots are never forgotten"
    );
    ok(restic_local(&repo).args(["check", "--read-data"]));
}

#[test]
fn quotas_refuse_a_push_and_record_no_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 10, 300_000);
    let src_size = du(&src);

    let out = run_expect(
        forgesafe_pw()
            .args([
                "location",
                "push",
                "-p",
                &profile,
                "-s",
                "q",
                "--max-snapshot-size",
                "100KiB",
            ])
            .arg(&src),
        69,
    );
    assert!(
        stderr(&out).contains("over --max-snapshot-size 100.0 KiB")
            && stderr(&out).contains("nothing was pushed"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "no artifact for a refused push");
    // stdin has no size up front: the count while reading stops it.
    let big = vec![b'x'; 200_000];
    let mut piped = forgesafe_pw();
    piped
        .args([
            "location",
            "push",
            "-p",
            &profile,
            "-s",
            "q-stdin",
            "--max-snapshot-size",
            "50KB",
            "-",
        ])
        .stdin(std::process::Stdio::piped());
    let mut child = piped
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // forgesafe stops reading at the limit, so the rest of the write may meet a closed pipe.
    let _ = std::io::Write::write_all(child.stdin.as_mut().unwrap(), &big);
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than --max-snapshot-size"),
        "{}",
        stderr(&out)
    );

    // The repository limit counts what the push would add.
    let limit = (src_size / 4).to_string();
    let out = run_expect(
        forgesafe_pw()
            .args([
                "location",
                "push",
                "-p",
                &profile,
                "-s",
                "q",
                "--max-repository-size",
                &limit,
            ])
            .arg(&src),
        69,
    );
    assert!(
        stderr(&out).contains("over --max-repository-size"),
        "{}",
        stderr(&out)
    );
    assert!(
        ids_of(&profile, "q").is_empty() && ids_of(&profile, "q-stdin").is_empty(),
        "no snapshot recorded"
    );
    ok(restic_local(&repo).arg("check"));
    // Within the limits, the same push goes through.
    push(
        &profile,
        "q",
        &src,
        &[
            "--max-snapshot-size",
            "10MiB",
            "--max-repository-size",
            "1GiB",
        ],
    );
}

#[test]
fn stats_and_health_report_per_path() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let src = tmp.path().join("src");
    make_tree(&src, 11, 40_000);
    let old = push(
        &profile,
        "nightly",
        &src,
        &["--time", "2020-01-01 00:00:00"],
    );
    let fresh = push(&profile, "hourly", &src, &[]);
    push(&profile, "hourly", &src, &[]);

    let out = ok(forgesafe_pw().args(["stats", "-p", &profile, "--json"]));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["snapshots"].as_u64(), Some(3));
    assert!(
        stats["repositorySize"].as_u64().unwrap() >= du(&repo.join("data")),
        "{stats}"
    );
    assert_eq!(stats["paths"]["hourly"]["snapshots"].as_u64(), Some(2));
    assert_eq!(
        stats["paths"]["nightly"]["newestId"].as_str(),
        Some(old.as_str())
    );
    assert!(
        stats["paths"]["nightly"]["newestLogicalSize"]
            .as_u64()
            .unwrap()
            >= 40_000
    );
    let text = ok(forgesafe_pw().args(["stats", "-p", &profile]));
    assert!(
        stdout(&text).contains("hourly: 2 snapshot(s)"),
        "{}",
        stdout(&text)
    );

    let healthy = ok(forgesafe_pw().args([
        "health",
        "-p",
        &profile,
        "-s",
        "hourly",
        "--max-age",
        "1h",
        "--json",
    ]));
    let h: serde_json::Value = serde_json::from_slice(&healthy.stdout).unwrap();
    assert_eq!(h["healthy"].as_bool(), Some(true));
    assert_ne!(
        h["snapshot"].as_str(),
        Some(fresh.as_str()),
        "the newest of the two is reported"
    );
    let stale = run_expect(
        forgesafe_pw().args([
            "health",
            "-p",
            &profile,
            "-s",
            "nightly",
            "--max-age",
            "26h",
        ]),
        1,
    );
    assert!(
        stdout(&stale).contains("too old") && stdout(&stale).contains(&old[..8]),
        "{}",
        stdout(&stale)
    );
    let missing = run_expect(
        forgesafe_pw().args(["health", "-p", &profile, "-s", "never", "--max-age", "26h"]),
        1,
    );
    assert!(stdout(&missing).contains("missing"), "{}", stdout(&missing));
    let unreadable = local_profile(&tmp.path().join("no-repo-here"));
    run_expect(
        forgesafe_pw().args([
            "health",
            "-p",
            &unreadable,
            "-s",
            "hourly",
            "--max-age",
            "1h",
        ]),
        69,
    );
    // Health writes nothing, not even a lock.
    let before = std::fs::read_dir(repo.join("locks"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(before, 0);
}

#[test]
fn a_panic_ends_with_one_redacted_line_and_status_69() {
    let out = run_expect(
        forgesafe()
            .env("FORGESAFE_PASSWORD", PASSWORD)
            .env(
                "FORGESAFE_DEBUG_PANIC",
                format!("boom with {PASSWORD} inside"),
            )
            .args([
                "snapshots",
                "-p",
                r#"{"Location":{"type":"local","path":"/nonexistent"}}"#,
            ]),
        69,
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("forgesafe: error: internal error: boom with *** inside"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD));
}
