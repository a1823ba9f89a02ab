//! A mirror run killed with SIGKILL in the middle of a fetch must leave the last good mirror
//! usable: it opens, `git fsck` passes, its refs are untouched, and the next run completes.
//!
//! The mirror runs in a child process, the real `forgesafe collect` binary. It is killed (a) while it receives a pack, from a server
//! throttled so the transfer lasts seconds, both for a first clone and for an update, and
//! (b) while it holds lock files to rewrite a thousand refs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::git::{assert_fsck_clean, local_refs, ls_remote, write_random_file, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use forgesafe::collect::mirror::{mirror, MirrorChange, MirrorOptions};

/// The real binary mirrors `url` to `dest` (`<volume>/<name>.git` in the flat layout).
fn spawn_mirror_child(url: &str, dest: &Path) -> Child {
    let name = dest.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(
        url.trim_end_matches(".git").ends_with(&name),
        "dest must be named after the URL"
    );
    Command::new(env!("CARGO_BIN_EXE_forgesafe"))
        .args(["collect", "url", url, "--flat", "--parallel", "1", "--dest"])
        .arg(dest.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(read) => read.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}

/// Wait until `moment()` says the child reached the phase to interrupt, wait `delay` more,
/// then SIGKILL it. Panics if the child ends on its own: then nothing was tested.
fn kill_when(mut child: Child, moment: impl Fn() -> bool, delay: Duration) {
    while !moment() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the mirror child exited ({status}) before the moment it was to be killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(delay);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the mirror child finished before it could be killed; slow the server down"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

fn slow_server() -> GitHttpServer {
    GitHttpServer::start_with(ServerOptions {
        kbytes_per_second: Some(1024),
        ..Default::default()
    })
}

#[test]
fn killing_an_update_mid_fetch_keeps_the_last_good_mirror() {
    let server = slow_server();
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("big.git"), scratch.path());
    let url = server.url("big.git");
    let dest = scratch.path().join("big.git");
    assert_eq!(
        mirror(&url, &dest, None, &MirrorOptions::default())
            .unwrap()
            .change,
        MirrorChange::New
    );
    let good_refs = local_refs(&dest);

    write_random_file(&upstream.work.join("blob.bin"), 4 << 20);
    upstream.commit("small.txt", "and a big blob\n");
    git_add_commit_push(&upstream);

    let pack_dir = dest.join("objects/pack");
    for delay_ms in [0, 1500] {
        let before = entries(&pack_dir);
        let child = spawn_mirror_child(&url, &dest);
        let new_pack_file = || {
            entries(&pack_dir)
                .iter()
                .any(|entry| !before.contains(entry))
        };
        kill_when(child, new_pack_file, Duration::from_millis(delay_ms));

        gix::open(&dest).expect("the mirror still opens with gix");
        assert_fsck_clean(&dest);
        assert_eq!(
            local_refs(&dest),
            good_refs,
            "refs still name the last good state (killed after {delay_ms} ms)"
        );
    }

    let finished = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert_eq!(finished.change, MirrorChange::Updated { refs_changed: 1 });
    let leftovers: Vec<_> = entries(&pack_dir)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("pack-")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial packs of the killed runs were removed: {leftovers:?}"
    );
    assert_eq!(local_refs(&dest), ls_remote(&url));
    assert_fsck_clean(&dest);
}

#[test]
fn killing_a_first_clone_leaves_no_mirror_and_the_next_run_succeeds() {
    let server = slow_server();
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("big.git"), scratch.path());
    write_random_file(&upstream.work.join("blob.bin"), 3 << 20);
    git_add_commit_push(&upstream);
    let url = server.url("big.git");
    let parent = scratch.path().join("mirrors");
    std::fs::create_dir_all(&parent).unwrap();
    let dest = parent.join("big.git");

    let staging_pack_has_data = || {
        entries(&parent)
            .iter()
            .any(|staging| !entries(&staging.join("objects/pack")).is_empty())
    };
    kill_when(
        spawn_mirror_child(&url, &dest),
        staging_pack_has_data,
        Duration::from_millis(500),
    );
    assert!(
        !dest.exists(),
        "a killed first clone must not appear as a mirror"
    );
    // Besides collect's own `.forgesafe` (its volume lock), only the staging folder is left.
    let mirrors_of = |dir: &Path| -> Vec<PathBuf> {
        entries(dir)
            .into_iter()
            .filter(|p| !p.ends_with(".forgesafe"))
            .collect()
    };
    assert_eq!(
        mirrors_of(&parent).len(),
        1,
        "only the staging folder is left"
    );

    let outcome = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert_eq!(outcome.change, MirrorChange::New);
    assert_eq!(
        mirrors_of(&parent),
        vec![dest.clone()],
        "the stale staging folder was removed"
    );
    assert_eq!(local_refs(&dest), ls_remote(&url));
    assert_fsck_clean(&dest);
}

fn git_add_commit_push(upstream: &Upstream) {
    common::git::git(&upstream.work, &["add", "-A"]);
    common::git::git(&upstream.work, &["commit", "-q", "-m", "big blob"]);
    upstream.push(&["main"]);
}

/// Any `*.lock` file under `refs/`: the child is in the middle of a ref transaction.
fn ref_lock_present(git_dir: &Path) -> bool {
    entries(&git_dir.join("refs/heads"))
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "lock"))
}

#[test]
fn killing_an_update_while_it_rewrites_refs_keeps_every_ref_valid() {
    const BRANCHES: usize = 1000;
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("many.git"), scratch.path());
    let old = common::git::git(&upstream.bare, &["rev-parse", "main"]);
    let point_all_branches_at = |id: &str| {
        let script: String = (0..BRANCHES)
            .map(|i| format!("update refs/heads/b{i:05} {id}\n"))
            .collect();
        common::git::git_with_input(&upstream.bare, &["update-ref", "--stdin"], &script);
    };
    point_all_branches_at(&old);
    let url = server.url("many.git");
    let dest = scratch.path().join("many.git");
    mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();

    let new = upstream.commit("next.txt", "next\n");
    upstream.push(&["main"]);
    point_all_branches_at(&new);

    let child = spawn_mirror_child(&url, &dest);
    kill_when(child, || ref_lock_present(&dest), Duration::ZERO);

    assert_fsck_clean(&dest);
    let refs = local_refs(&dest);
    let moved = refs.values().filter(|id| **id == new).count();
    assert!(
        refs.values().all(|id| *id == old || *id == new),
        "every ref names its old or its new commit"
    );
    assert!(
        moved < BRANCHES + 1,
        "the kill landed before all refs moved ({moved} moved)"
    );

    let finished = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert!(
        matches!(finished.change, MirrorChange::Updated { .. }),
        "{finished:?}"
    );
    assert!(!ref_lock_present(&dest), "stale locks were removed");
    assert_eq!(local_refs(&dest), ls_remote(&url));
    assert_fsck_clean(&dest);
}
