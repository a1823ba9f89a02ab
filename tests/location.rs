//! `location push | pull | delete` and `output` against a real S3 server (moto), with stock
//! restic reading what forgesafe wrote.

mod common;

use common::s3::S3Server;
use common::tree::{assert_same_tree, make_tree};
use common::*;
use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::sync::OnceLock;

fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(S3Server::start)
}

fn bucket(name: &str) -> (String, String) {
    server().create_bucket(name);
    (name.to_string(), server().profile(name, "kanister/forge"))
}

#[test]
fn push_to_s3_is_read_back_byte_identical_by_restic_and_by_pull() {
    let (b, profile) = bucket("roundtrip");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("backups");
    make_tree(&src, 1, 2_000_000);

    let out = ok(forgesafe_pw()
        .args([
            "location",
            "push",
            "--profile",
            &profile,
            "--path",
            "b/gickup-backups",
            "--output-name",
            "kopiaOutput",
        ])
        .arg(&src));
    let (key, id, logical, physical) = parse_push_output(&stdout(&out));
    assert_eq!(key, "kopiaOutput");
    assert!(
        logical >= 4_000_000,
        "logical size {logical} must count both copies of the blob"
    );
    assert!(
        physical < logical,
        "the duplicate must be stored once: physical {physical}, logical {logical}"
    );

    // restic lists it with our tags and verifies every byte.
    let snaps = ok(server()
        .restic(&b, "kanister/forge")
        .args(["snapshots", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&snaps.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"].as_str().unwrap(), id);
    let tags: Vec<&str> = list[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"forgesafe") && tags.contains(&"path:b/gickup-backups"),
        "{tags:?}"
    );
    ok(server()
        .restic(&b, "kanister/forge")
        .args(["check", "--read-data"]));

    // Like restic's, the repository is files only: no empty "folder" objects (data/, data/00/ …),
    // which rustic's S3 backend would otherwise write at creation, one request each.
    let keys = server().keys(&b, "kanister/forge");
    assert!(
        keys.iter().any(|k| k.starts_with("kanister/forge/data/")),
        "no pack in the bucket: {keys:?}"
    );
    let folders: Vec<&String> = keys.iter().filter(|k| k.ends_with('/')).collect();
    assert!(
        folders.is_empty(),
        "folder objects in the repository: {folders:?}"
    );

    // restic restore gives byte-identical files (restic restores the full source path).
    let by_restic = tmp.path().join("by-restic");
    ok(server()
        .restic(&b, "kanister/forge")
        .args(["restore", &id, "--target"])
        .arg(&by_restic));
    assert_same_tree(&src, &by_restic.join(src.strip_prefix("/").unwrap()));

    // forgesafe pull with the artifact exactly as the blueprint passes it back.
    let artifact = artifact_of(&stdout(&out));
    let target = tmp.path().join("restored");
    let pulled = ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "--profile",
            &profile,
            "--path",
            "/backups",
            "--kopia-snapshot",
            &artifact,
        ])
        .arg(&target));
    assert!(
        pulled.stdout.is_empty(),
        "pull to a path prints nothing on stdout"
    );
    assert_same_tree(&src, &target);
}

#[test]
fn pushes_deduplicate_across_names_and_unchanged_repush_adds_almost_nothing() {
    let (_, profile) = bucket("dedup");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("data");
    make_tree(&src, 2, 3_000_000);

    let first = parse_push_output(&stdout(&ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "one"])
        .arg(&src))));
    let again = parse_push_output(&stdout(&ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "one"])
        .arg(&src))));
    let other = parse_push_output(&stdout(&ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "two"])
        .arg(&src))));
    assert_eq!(first.0, "kandoOutput", "default output name is kando's");
    assert_ne!(first.1, again.1, "every push makes a snapshot");
    assert!(
        again.3 < first.3 / 100,
        "unchanged re-push added {} of {} bytes",
        again.3,
        first.3
    );
    assert!(
        other.3 < first.3 / 100,
        "same data under another --path added {} of {} bytes",
        other.3,
        first.3
    );

    // 1% change: only about that much is added.
    fs::write(src.join("src/new.txt"), "a new file\n").unwrap();
    let changed = parse_push_output(&stdout(&ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "one"])
        .arg(&src))));
    assert!(
        changed.3 > 0 && changed.3 < first.3 / 50,
        "small change added {} bytes",
        changed.3
    );

    // Without a snapshot, pull takes the newest of that --path name.
    let target = tmp.path().join("latest");
    ok(forgesafe_pw()
        .args(["location", "pull", "-p", &profile, "-s", "one"])
        .arg(&target));
    assert!(target.join("src/new.txt").exists());
    let listed = ok(forgesafe_pw().args(["snapshots", "-p", &profile, "-s", "two"]));
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"].as_str().unwrap(), other.1);
}

#[test]
fn pull_replaces_an_existing_target_exactly() {
    let (_, profile) = bucket("replace");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 3, 100_000);
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "vol"])
        .arg(&src));
    let (_, id, _, _) = parse_push_output(&stdout(&out));

    let target = tmp.path().join("target");
    fs::create_dir_all(target.join("src")).unwrap();
    fs::write(target.join("stale-file"), "must disappear").unwrap();
    fs::write(
        target.join("src/file0.rs"),
        "old content that is longer than nothing at all",
    )
    .unwrap();
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "vol",
            "--snapshot",
            &id[..12],
        ])
        .arg(&target));
    assert_same_tree(&src, &target);
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no staging directories may remain: {leftovers:?}"
    );
}

#[test]
fn stdin_from_a_pipe_or_a_redirected_file_and_back_to_a_file_or_stdout() {
    let (_, profile) = bucket("stdin");
    let tmp = tempfile::tempdir().unwrap();
    let data: Vec<u8> = common::tree::Rng::new(9).bytes(1_500_000);

    // A pipe.
    let mut child = forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "db/dump.sql", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, id, logical, _) = parse_push_output(&stdout(&out));
    assert_eq!(logical, data.len() as u64);

    // A redirected file (kando needs a named pipe here).
    let file = tmp.path().join("dump.sql");
    fs::write(&file, &data[..1000]).unwrap();
    let out = ok(forgesafe_pw()
        .args([
            "location",
            "push",
            "-p",
            &profile,
            "-s",
            "db/small.sql",
            "-",
        ])
        .stdin(fs::File::open(&file).unwrap()));
    let (_, small_id, _, _) = parse_push_output(&stdout(&out));

    // Back to stdout, byte for byte.
    let out = ok(forgesafe_pw().args([
        "location",
        "pull",
        "-p",
        &profile,
        "-s",
        "db/dump.sql",
        "--snapshot",
        &id,
        "-",
    ]));
    assert!(out.stdout == data, "stdout differs from what was pushed");

    // Back to an existing longer file: replaced, no stale tail bytes (kando's bug).
    let target = tmp.path().join("restored.sql");
    fs::write(&target, vec![b'x'; 5000]).unwrap();
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "db/small.sql",
            "--snapshot",
            &small_id,
        ])
        .arg(&target));
    assert_eq!(fs::read(&target).unwrap(), &data[..1000]);
}

#[test]
fn delete_forgets_reclaims_space_and_tolerates_a_retry() {
    let (b, profile) = bucket("delete");
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("keep");
    let gone = tmp.path().join("gone");
    make_tree(&keep, 4, 200_000);
    make_tree(&gone, 5, 3_000_000);
    ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "keep"])
        .arg(&keep));
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "gone"])
        .arg(&gone));
    let artifact = artifact_of(&stdout(&out));
    let (_, id, _, _) = parse_push_output(&stdout(&out));
    let before = repo_size(&b);

    ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "gone",
        "--kopia-snapshot",
        &artifact,
    ]));
    let after = repo_size(&b);
    // The deleted tree held ~3 MB of incompressible data that nothing else references.
    assert!(
        before > after + 2_500_000,
        "space not reclaimed: {before} -> {after} bytes"
    );
    let snaps = ok(server()
        .restic(&b, "kanister/forge")
        .args(["snapshots", "--json"]));
    assert!(
        !stdout(&snaps).contains(&id),
        "deleted snapshot still listed by restic"
    );
    ok(server()
        .restic(&b, "kanister/forge")
        .args(["check", "--read-data"]));

    // Kasten retries deletes: a second delete succeeds with a warning.
    let again = ok(forgesafe_pw().args([
        "location",
        "delete",
        "-p",
        &profile,
        "-s",
        "gone",
        "--kopia-snapshot",
        &artifact,
    ]));
    assert!(
        stderr(&again).contains("already gone"),
        "{}",
        stderr(&again)
    );

    // The kept snapshot still restores.
    let target = tmp.path().join("restored");
    ok(forgesafe_pw()
        .args(["location", "pull", "-p", &profile, "-s", "keep"])
        .arg(&target));
    assert_same_tree(&keep, &target);
}

/// Bytes of data stored in a bucket's repository, as restic counts them.
fn repo_size(bucket: &str) -> u64 {
    let stats = ok(server()
        .restic(bucket, "kanister/forge")
        .args(["stats", "--mode", "raw-data", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    v["total_size"]
        .as_u64()
        .expect("restic stats gives total_size")
}

#[test]
fn output_is_byte_identical_to_kando() {
    let out = ok(forgesafe().args(["output", "version", "<1.0 & more>"]));
    assert_eq!(
        stdout(&out),
        "###Phase-output###: {\"key\":\"version\",\"value\":\"\\u003c1.0 \\u0026 more\\u003e\"}\n"
    );
    assert!(out.stderr.is_empty());
    let bad = run_expect(forgesafe().args(["output", "bad-key", "v"]), 69);
    assert!(bad.stdout.is_empty());
    assert!(stderr(&bad).contains("bad-key"), "{}", stderr(&bad));
    run_expect(forgesafe().args(["output", "onlykey"]), 69);
    run_expect(forgesafe().args(["output", "k", "v", "extra"]), 69);
}

#[test]
fn a_local_repository_works_and_restic_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 6, 500_000);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw().args(["init", "-p", &profile]));
    let again = ok(forgesafe_pw().args(["init", "-p", &profile]));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "local"])
        .arg(&src));
    let (_, id, _, _) = parse_push_output(&stdout(&out));
    ok(restic_local(&repo).args(["check", "--read-data"]));
    let by_restic = tmp.path().join("by-restic");
    ok(restic_local(&repo)
        .args(["restore", &id, "--target"])
        .arg(&by_restic));
    assert_same_tree(&src, &by_restic.join(src.strip_prefix("/").unwrap()));
    ok(forgesafe_pw().args(["check", "--read-data", "-p", &profile]));
}

/// A re-push runs rustic's archive pipeline on one CPU (src/store/cpu_affinity.rs), a speed
/// change: its snapshot must still be one stock restic checks and restores byte-identical, with
/// the changed, added and removed files as they are now and the unchanged ones taken from the parent.
#[test]
fn a_re_push_with_its_pipeline_on_one_cpu_is_read_back_byte_identical_by_restic() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 8, 700_000);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let push = |expect_pinned: bool| {
        let out = ok(forgesafe_pw()
            .env("FORGESAFE_LOG", "forgesafe=debug")
            .args(["location", "push", "-p", &profile, "-s", "again"])
            .arg(&src));
        assert_eq!(
            stderr(&out).contains("archive pipeline on one CPU"),
            expect_pinned,
            "only a re-push pins its pipeline: {}",
            stderr(&out)
        );
        parse_push_output(&stdout(&out)).1
    };
    let first = push(false);
    fs::write(src.join("src/file3.rs"), "changed since the first push\n").unwrap();
    fs::write(
        src.join("src/deep/added.txt"),
        "added since the first push\n",
    )
    .unwrap();
    fs::remove_file(src.join("src/file7.rs")).unwrap();
    let second = push(true);
    assert_ne!(first, second);

    ok(restic_local(&repo).args(["check", "--read-data"]));
    let listed = ok(restic_local(&repo).args(["snapshots", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let second_entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some(second.as_str()))
        .expect("restic lists the re-push");
    assert_eq!(
        second_entry["parent"].as_str(),
        Some(first.as_str()),
        "the re-push used the first push as its parent"
    );
    let by_restic = tmp.path().join("by-restic");
    ok(restic_local(&repo)
        .args(["restore", &second, "--target"])
        .arg(&by_restic));
    assert_same_tree(&src, &by_restic.join(src.strip_prefix("/").unwrap()));
}

#[test]
fn profile_and_password_can_come_from_files_and_environment() {
    let (_, profile) = bucket("envfile");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 7, 10_000);
    let profile_file = tmp.path().join("profile.json");
    fs::write(&profile_file, &profile).unwrap();
    let pw_file = tmp.path().join("pw");
    fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();

    ok(forgesafe()
        .args(["location", "push", "-s", "f"])
        .arg(&src)
        .arg("--profile")
        .arg(format!("@{}", profile_file.display()))
        .arg("--password-file")
        .arg(&pw_file));
    ok(forgesafe()
        .args(["location", "push", "-s", "f"])
        .arg(&src)
        .env("FORGESAFE_PROFILE", &profile)
        .env("FORGESAFE_PASSWORD_FILE", &pw_file));
    ok(forgesafe_pw()
        .args(["location", "push", "-s", "f"])
        .arg(&src)
        .env("FORGESAFE_PROFILE_FILE", &profile_file));

    let none = run_expect(
        forgesafe()
            .args(["location", "push", "-s", "f"])
            .arg(&src)
            .env("FORGESAFE_PROFILE", &profile),
        69,
    );
    assert!(
        stderr(&none).contains("no repository password"),
        "{}",
        stderr(&none)
    );
    let none = run_expect(
        forgesafe_pw()
            .args(["location", "push", "-s", "f"])
            .arg(&src),
        69,
    );
    assert!(
        stderr(&none).contains("no profile given"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_directory_pulled_to_stdout_is_a_tar_stream_that_tar_extracts_identically() {
    let (_, profile) = bucket("tarstream");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 8, 9_000_000);
    ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "vol"])
        .arg(&src));
    let tar_file = tmp.path().join("out.tar");
    ok(forgesafe_pw()
        .args(["location", "pull", "-p", &profile, "-s", "vol", "-"])
        .stdout(fs::File::create(&tar_file).unwrap()));
    let extracted = tmp.path().join("extracted");
    fs::create_dir(&extracted).unwrap();
    ok(std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar_file)
        .arg("-C")
        .arg(&extracted));
    assert_same_tree(&src, &extracted);
}

/// Every entry's kind, bytes, mode and mtime (nanoseconds), for comparing restores exactly.
fn exact_listing(root: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else {
                let data = fs::read(&path).unwrap();
                format!("{} bytes sha {}", data.len(), sha256_hex(&data))
            };
            // A directory's mtime changes whenever an entry is made in it; restorers set it last.
            let mtime = if meta.file_type().is_symlink() {
                String::new()
            } else {
                format!("{}.{:09}", meta.mtime(), meta.mtime_nsec())
            };
            out.push(format!("{rel} {what} mode {:o} mtime {mtime}", meta.mode()));
        }
    }
    out.sort();
    out
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tree that makes a restorer work: a file of many chunks (more than one read of a pack), the
/// same chunks at several places in one file and in several files, hundreds of small files packed
/// together, an empty file, a symlink, an executable, and old modification times.
fn restorer_tree(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    make_tree(root, 11, 3 << 20);
    let mut rng = common::tree::Rng::new(12);
    let big = rng.bytes(24 << 20);
    fs::write(root.join("big.bin"), &big).unwrap();
    let block = rng.bytes(6 << 20);
    fs::write(
        root.join("twice.bin"),
        [block.as_slice(), block.as_slice()].concat(),
    )
    .unwrap();
    fs::write(
        root.join("copy-of-twice.bin"),
        [block.as_slice(), block.as_slice()].concat(),
    )
    .unwrap();
    fs::create_dir_all(root.join("issues")).unwrap();
    for i in 0..300 {
        fs::write(
            root.join(format!("issues/{i}.json")),
            format!("{{\"number\":{i},\"body\":\"{}\"}}", "x".repeat(i * 7)),
        )
        .unwrap();
    }
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let old =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    fs::File::options()
        .write(true)
        .open(root.join("big.bin"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    fs::File::options()
        .write(true)
        .open(root.join("issues/7.json"))
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[test]
fn a_pull_restores_what_restic_restores_bytes_modes_and_times() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    restorer_tree(&src);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let out = ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "exact"])
        .arg(&src));
    let (_, id, _, _) = parse_push_output(&stdout(&out));

    let pulled = tmp.path().join("pulled");
    ok(forgesafe_pw()
        .args(["location", "pull", "-p", &profile, "-s", "exact"])
        .arg(&pulled));
    let by_restic = tmp.path().join("by-restic");
    ok(restic_local(&repo)
        .args(["restore", &id, "--target"])
        .arg(&by_restic));
    let restic_tree = by_restic.join(src.strip_prefix("/").unwrap());

    assert_eq!(
        exact_listing(&pulled),
        exact_listing(&restic_tree),
        "forgesafe's pull and restic's restore differ"
    );
    assert_same_tree(&src, &pulled);
    let listing = exact_listing(&pulled);
    assert!(
        listing
            .iter()
            .any(|l| l.starts_with("big.bin ") && l.ends_with("mtime 1600000000.123456789")),
        "{listing:?}"
    );
    assert!(
        listing
            .iter()
            .any(|l| l.starts_with("run.sh ") && l.contains("mode 100755")),
        "{listing:?}"
    );
}

#[test]
fn a_pull_from_a_damaged_pack_names_it_and_leaves_the_target_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 13, 2 << 20);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "damaged"])
        .arg(&src));

    // The biggest data pack holds the random blob: flip a byte in its middle.
    let mut packs: Vec<_> = walkdir(&repo.join("data"));
    packs.sort_by_key(|p| fs::metadata(p).unwrap().len());
    let pack = packs.last().unwrap().clone();
    let mut bytes = fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let mut perms = fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&pack, perms).unwrap();
    fs::write(&pack, &bytes).unwrap();

    let target = tmp.path().join("target");
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("keep.txt"), "the last good restore").unwrap();
    let failed = run_expect(
        forgesafe_pw()
            .args(["location", "pull", "-p", &profile, "-s", "damaged"])
            .arg(&target),
        69,
    );
    let err = stderr(&failed);
    let pack_name = pack.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        err.contains(&format!("pack {}", &pack_name[..8])) && err.contains("forgesafe check"),
        "{err}"
    );
    assert!(err.contains("target left untouched"), "{err}");
    assert_eq!(
        fs::read_dir(&target).unwrap().count(),
        1,
        "nothing added to the target"
    );
    assert_eq!(
        fs::read_to_string(target.join("keep.txt")).unwrap(),
        "the last good restore"
    );
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// zstd is built without its per-context CPU check (.cargo/config.toml says why): rustic_core
/// makes a zstd context for every blob and tree it writes or reads, and under a hypervisor each
/// `cpuid` the check executes traps to the host. No zstd function in the binary may execute one.
/// The proof reads the machine code itself: the binary's zstd symbols (nm) and their instructions
/// (objdump), so a lockfile that brings back zstd < 1.6 (whose compression side checks
/// unconditionally) or a build that drops the define fails here.
#[test]
fn no_zstd_function_asks_the_cpu_for_its_features() {
    let binary = env!("CARGO_BIN_EXE_forgesafe");
    let nm = require_tool("nm", "apt-get install binutils");
    let objdump = require_tool("objdump", "apt-get install binutils");
    let symbols = ok(std::process::Command::new(nm).args(["--defined-only", "-S", binary]));
    // zstd's functions lie together in .text (one static library); disassemble just that span.
    let mut span: Option<(u64, u64)> = None;
    for line in stdout(&symbols).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [address, size, kind, name] = fields[..] {
            if name.starts_with("ZSTD_") && kind.eq_ignore_ascii_case("t") {
                let start = u64::from_str_radix(address, 16).unwrap();
                let end = start + u64::from_str_radix(size, 16).unwrap();
                span = Some(span.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
            }
        }
    }
    let (start, end) = span.expect("the binary has no zstd functions: was it stripped?");
    let listing = ok(std::process::Command::new(objdump).args([
        "--disassemble",
        "--no-show-raw-insn",
        &format!("--start-address={start:#x}"),
        &format!("--stop-address={end:#x}"),
        binary,
    ]));
    let mut function = String::new();
    let mut zstd_functions = 0;
    let mut asking = Vec::new();
    for line in stdout(&listing).lines() {
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            function = name.1.to_string();
            zstd_functions += usize::from(function.starts_with("ZSTD_"));
        } else if line.split_whitespace().nth(1) == Some("cpuid") && function.starts_with("ZSTD_") {
            asking.push(function.clone());
        }
    }
    assert!(
        zstd_functions > 50,
        "only {zstd_functions} zstd functions disassembled"
    );
    assert!(
        asking.is_empty(),
        "zstd functions that execute cpuid (build zstd-sys >= 2.2 with -DDYNAMIC_BMI2=0): {asking:?}"
    );
}
