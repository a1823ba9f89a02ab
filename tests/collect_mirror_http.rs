//! Mirrors against a real git smart-HTTP server (lighttpd + git http-backend).

mod common;

use std::path::Path;

use common::git::{assert_fsck_clean, git, local_refs, ls_remote, Upstream};
use common::git_http_server::GitHttpServer;
use forgesafe::collect::mirror::{
    is_not_found, mirror, mirror_all, retry_may_help, MirrorChange, MirrorJob, MirrorOptions,
    RemoteFailed,
};

fn assert_mirror_matches(mirror_dir: &Path, url: &str) {
    let remote = ls_remote(url);
    assert!(!remote.is_empty());
    assert_eq!(
        local_refs(mirror_dir),
        remote,
        "mirror refs differ from `git ls-remote {url}`"
    );
    assert_fsck_clean(mirror_dir);
}

#[test]
fn mirror_follows_new_commits_force_pushes_and_deleted_branches() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("acme/tool.git"), scratch.path());
    upstream.annotated_tag("v1.0");
    upstream.lightweight_tag("light");
    upstream.checkout_new_branch("feature");
    upstream.commit("feature.txt", "one\n");
    upstream.commit("feature.txt", "two\n");
    upstream.checkout_new_branch("doomed");
    upstream.commit("doomed.txt", "bye\n");
    upstream.push(&["main", "feature", "doomed", "--tags"]);
    git(
        &upstream.bare,
        &["update-ref", "refs/notes/commits", "main"],
    ); // a ref outside heads/tags

    let url = server.url("acme/tool.git");
    let dest = scratch.path().join("mirrors/github.com/acme/tool.git");
    let opts = MirrorOptions::default();

    // First run: a new bare mirror with every ref.
    let first = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(first.change, MirrorChange::New);
    assert!(first.bytes_fetched > 0);
    assert_mirror_matches(&dest, &url);
    assert_eq!(git(&dest, &["rev-parse", "--is-bare-repository"]), "true");
    assert_eq!(git(&dest, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(
        git(&dest, &["config", "remote.origin.url"]),
        url,
        "clean origin URL recorded"
    );
    assert!(local_refs(&dest).contains_key("refs/notes/commits"));
    let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("tool.git")],
        "no staging folder left behind"
    );

    // Nothing moved: no fetch at all.
    let unchanged = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(unchanged.change, MirrorChange::Unchanged);
    assert_eq!(unchanged.bytes_fetched, 0);

    // A new commit on main.
    upstream.checkout("main");
    upstream.commit("README.md", "hello again\n");
    upstream.push(&["main"]);
    let updated = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(updated.change, MirrorChange::Updated { refs_changed: 1 });
    assert!(updated.bytes_fetched > 0);
    assert_mirror_matches(&dest, &url);

    // A force-push: the mirror must follow the rewritten branch.
    upstream.checkout("feature");
    let rewritten = upstream.rewrite_last_commit("feature.txt", "rewritten\n");
    upstream.force_push(&["feature"]);
    let forced = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(forced.change, MirrorChange::Updated { refs_changed: 1 });
    assert_eq!(local_refs(&dest)["refs/heads/feature"], rewritten);
    assert_mirror_matches(&dest, &url);

    // A branch deleted upstream is pruned; a moved tag follows.
    upstream.push(&[":doomed"]);
    git(&upstream.work, &["tag", "-f", "light", "main"]);
    upstream.force_push(&["refs/tags/light"]);
    let pruned = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(pruned.change, MirrorChange::Updated { refs_changed: 2 });
    assert_eq!(pruned.refs_pruned, 1);
    assert!(!local_refs(&dest).contains_key("refs/heads/doomed"));
    assert_mirror_matches(&dest, &url);

    // The default branch changes upstream: HEAD follows.
    git(
        &upstream.bare,
        &["symbolic-ref", "HEAD", "refs/heads/feature"],
    );
    let head_moved = mirror(&url, &dest, None, &opts).unwrap();
    assert_eq!(head_moved.change, MirrorChange::Updated { refs_changed: 0 });
    assert_eq!(git(&dest, &["symbolic-ref", "HEAD"]), "refs/heads/feature");

    // The recorded origin lets a user fetch by hand with plain git.
    git(&dest, &["fetch", "-q", "origin"]);
    assert_mirror_matches(&dest, &url);
}

#[test]
fn an_interrupted_update_fails_and_keeps_the_mirror() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&server.path("r.git"), scratch.path());
    let url = server.url("r.git");
    let dest = scratch.path().join("r.git");
    mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    let before = local_refs(&dest);

    upstream.commit("new.txt", "new\n");
    upstream.push(&["main"]);
    let interrupted = MirrorOptions::default();
    interrupted
        .should_interrupt
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        mirror(&url, &dest, None, &interrupted).is_err(),
        "a set interrupt flag stops the fetch"
    );
    assert_eq!(local_refs(&dest), before);
    assert_fsck_clean(&dest);

    let resumed = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert_eq!(resumed.change, MirrorChange::Updated { refs_changed: 1 });
    assert_mirror_matches(&dest, &url);
}

#[test]
fn an_empty_repository_mirrors_and_then_fills() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let bare = server.path("empty.git");
    git(
        scratch.path(),
        &["init", "--bare", "-b", "trunk", bare.to_str().unwrap()],
    );
    let url = server.url("empty.git");
    let dest = scratch.path().join("empty.git");
    let first = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert_eq!(first.change, MirrorChange::New);
    assert!(local_refs(&dest).is_empty());
    assert_fsck_clean(&dest);

    let work = scratch.path().join("work");
    git(
        scratch.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::fs::write(work.join("a"), "a").unwrap();
    git(&work, &["add", "a"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    git(&work, &["push", "-q", "origin", "HEAD:trunk"]);
    let second = mirror(&url, &dest, None, &MirrorOptions::default()).unwrap();
    assert_eq!(second.change, MirrorChange::Updated { refs_changed: 1 });
    assert_mirror_matches(&dest, &url);
}

#[test]
fn a_missing_wiki_is_not_found_and_leaves_nothing_behind() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("acme/tool.wiki.git");
    let err = mirror(
        &server.url("acme/tool.wiki.git"),
        &dest,
        None,
        &MirrorOptions::default(),
    )
    .unwrap_err();
    assert!(is_not_found(&err), "expected NotFound, got: {err:#}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(scratch.path().join("acme"))
            .unwrap()
            .count(),
        0,
        "staging folder removed"
    );
}

#[test]
fn unreachable_server_is_an_error_but_not_not_found() {
    let scratch = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let err = mirror(
        &format!("http://127.0.0.1:{port}/x.git"),
        &scratch.path().join("x.git"),
        None,
        &MirrorOptions::default(),
    )
    .unwrap_err();
    assert!(!is_not_found(&err), "{err:#}");
}

#[test]
fn mirror_all_keeps_order_and_isolates_failures() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let names = ["a", "b", "missing", "c", "d"];
    for name in names.iter().filter(|n| **n != "missing") {
        let upstream = Upstream::create(&server.path(&format!("{name}.git")), scratch.path());
        upstream.commit("file", name);
        upstream.push(&["main"]);
    }
    let jobs: Vec<MirrorJob> = names
        .iter()
        .map(|name| MirrorJob {
            url: server.url(&format!("{name}.git")),
            dest: scratch.path().join(format!("mirrors/{name}.git")),
            credentials: None,
            options: MirrorOptions::default(),
        })
        .collect();
    let results = mirror_all(jobs, 2);
    assert_eq!(results.len(), names.len());
    for ((job, result), name) in results.iter().zip(names) {
        assert!(job.url.ends_with(&format!("/{name}.git")), "order kept");
        if name == "missing" {
            assert!(is_not_found(result.as_ref().unwrap_err()));
        } else {
            assert_eq!(result.as_ref().unwrap().change, MirrorChange::New);
            assert_mirror_matches(&job.dest, &job.url);
        }
    }
}

#[test]
fn a_url_with_a_password_is_refused_without_echoing_it() {
    let scratch = tempfile::tempdir().unwrap();
    let err = mirror(
        "https://user:sup3rs3cret@example.org/x.git",
        &scratch.path().join("x.git"),
        None,
        &MirrorOptions::default(),
    )
    .unwrap_err();
    let message = format!("{err:#} {err:?}");
    assert!(!message.contains("sup3rs3cret"), "{message}");
    assert!(message.contains("example.org"), "{message}");
}

#[test]
fn failures_are_told_apart_by_kind_and_say_whether_a_retry_may_help() {
    let server = GitHttpServer::start();
    let scratch = tempfile::tempdir().unwrap();
    let try_mirror = |url: &str, name: &str| {
        mirror(
            url,
            &scratch.path().join(name),
            None,
            &MirrorOptions::default(),
        )
        .unwrap_err()
    };

    // Nothing listens: a passing failure, perhaps.
    let refused = try_mirror(
        &format!("http://127.0.0.1:{}/x.git", common::free_port()),
        "refused.git",
    );
    assert_eq!(retry_may_help(&refused), Some(true), "{refused:#}");
    assert!(
        refused.downcast_ref::<RemoteFailed>().is_some(),
        "{refused:#}"
    );
    // A 404 over HTTP, and a local path that is not there: not found, which waiting will not change.
    for missing in [
        try_mirror(&server.url("acme/none.git"), "none.git"),
        try_mirror(
            scratch.path().join("nowhere").to_str().unwrap(),
            "nowhere.git",
        ),
    ] {
        assert!(is_not_found(&missing), "{missing:#}");
        assert_eq!(retry_may_help(&missing), Some(false), "{missing:#}");
    }
}
