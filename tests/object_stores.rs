//! GCS and Azure profiles against real emulators (fake-gcs-server, Azurite): push, pull, delete,
//! check, and the repository lock going through the same storage settings as the data.

mod common;

use common::emulators::{AzuriteServer, GcsServer};
use common::fifo::spawn_with_held_stdin;
use common::tree::{assert_same_tree, make_tree};
use common::*;

/// The whole round a Kanister blueprint makes, plus a lock held by a push in flight.
fn exercise(profile: &str, lock_files: &dyn Fn() -> Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 31, 300_000);
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", profile, "-s", "forge"])
        .arg(&src));
    let id = parse_push_output(&stdout(&out)).1;
    let target = tmp.path().join("restored");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            profile,
            "-s",
            "forge",
            "--kopia-snapshot",
            &artifact_of(&stdout(&out)),
        ])
        .arg(&target));
    assert_same_tree(&src, &target);
    assert!(
        lock_files().is_empty(),
        "no lock left after push and pull: {:?}",
        lock_files()
    );

    // A push in flight holds its lock in the store: a delete waits for it, then says who holds it.
    let mut push = forgesafe_pw();
    push.args(["location", "push", "-p", profile, "-s", "piped", "-"]);
    let held = spawn_with_held_stdin(push, &tmp.path().join("fifo"));
    for _ in 0..1200 {
        if !lock_files().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(lock_files().len(), 1, "the push's lock is in the store");
    let refused = run_expect(
        forgesafe_pw().args([
            "location",
            "delete",
            "-p",
            profile,
            "-s",
            "forge",
            "--snapshot",
            &id,
            "--lock-wait",
            "1s",
        ]),
        69,
    );
    let line = stderr(&refused);
    assert!(
        line.contains("locked by forgesafe push") && line.contains(&format!("pid {}", held.pid())),
        "{line}"
    );
    let done = held.finish(b"piped data\n");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        profile,
        "-s",
        "forge",
        "--snapshot",
        &id,
    ]));
    let snaps = ok(forgesafe_pw().args(["snapshots", "-p", profile, "-s", "forge"]));
    assert_eq!(stdout(&snaps).trim(), "[]");
    ok(forgesafe_pw().args(["check", "--read-data", "-p", profile]));
    assert!(lock_files().is_empty());
}

#[test]
fn a_gcs_profile_works_against_fake_gcs_server() {
    let gcs = GcsServer::start();
    gcs.create_bucket("forge-backups");
    let profile = gcs.profile("forge-backups", "kanister/forge");
    exercise(&profile, &|| {
        gcs.object_names("forge-backups", "kanister/forge/locks/")
    });
}

#[test]
fn an_azure_profile_works_against_azurite() {
    let azurite = AzuriteServer::start();
    azurite.create_container("forge-backups");
    let profile = azurite.profile("forge-backups", "kanister/forge");
    exercise(&profile, &|| {
        azurite.blob_names("forge-backups", "kanister/forge/locks/")
    });
}
