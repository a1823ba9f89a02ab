//! Git LFS objects of mirrors (`forgesafe::collect::lfs`), against real parts: fixtures pushed
//! by stock git-lfs to a real LFS server (giftless, behind the same lighttpd that serves the
//! repositories with `git http-backend`), and stock git-lfs as the judge of what was stored.
//! A fake LFS server (real socket) shows what giftless cannot: which headers reach which host.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, Once};
use std::time::Instant;

use base64::Engine as _;
use common::fake_lfs::{FakeLfs, Scripted};
use common::git::{all_files, git, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use common::lfs::{assert_git_lfs_reads_mirror, bytes, commit_lfs, enable_lfs, Giftless};
use forgesafe::collect::lfs::{
    find_pointers, sync_lfs, LfsIncomplete, LfsOutcome, ObjectFailure, Pointer,
};
use forgesafe::collect::mirror::{mirror, MirrorOptions};
use forgesafe::secret::Secret;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Every log line of this test binary, at every level, including the `log` records of reqwest
/// and hyper: checked for leaked secrets.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

fn mirror_of(url: &str, dest: &Path, credentials: Option<(&str, &Secret)>) {
    mirror(url, dest, credentials, &MirrorOptions::default()).unwrap();
}

fn object_file(mirror: &Path, oid: &str) -> std::path::PathBuf {
    mirror
        .join("lfs/objects")
        .join(&oid[0..2])
        .join(&oid[2..4])
        .join(oid)
}

fn leftover_temp_files(mirror: &Path) -> Vec<String> {
    match std::fs::read_dir(mirror.join("lfs/tmp")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn incomplete(err: &anyhow::Error) -> &LfsIncomplete {
    err.downcast_ref::<LfsIncomplete>()
        .unwrap_or_else(|| panic!("expected LfsIncomplete, got: {err:#}"))
}

/// A pointer blob's text as git-lfs writes it, for repositories built without git-lfs.
fn pointer_text(content: &[u8]) -> (Pointer, String) {
    let oid: String = Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {}\n",
        content.len()
    );
    (
        Pointer {
            oid,
            size: content.len() as u64,
        },
        text,
    )
}

/// A repository served by lighttpd whose LFS objects live in giftless behind the same origin.
struct LfsForge {
    giftless: Giftless,
    server: GitHttpServer,
}

impl LfsForge {
    fn start(basic_auth: Option<(&str, &str)>) -> LfsForge {
        let giftless = Giftless::start();
        let server = GitHttpServer::start_with(ServerOptions {
            lfs_proxy_port: Some(giftless.port),
            basic_auth: basic_auth.map(|(u, p)| (u.to_string(), p.to_string())),
            ..Default::default()
        });
        LfsForge { giftless, server }
    }

    /// An upstream at `<root>/<path>` (e.g. `acme/tool.git`) whose pushes upload LFS objects
    /// to `<its URL>/info/lfs` (with `userinfo@` when the server wants a password).
    fn upstream(&self, path: &str, scratch: &Path, userinfo: Option<&str>) -> Upstream {
        let upstream = Upstream::create(&self.server.path(path), scratch);
        let mut lfs_url = format!("{}/info/lfs", self.server.url(path));
        if let Some(userinfo) = userinfo {
            lfs_url = lfs_url.replacen("http://", &format!("http://{userinfo}@"), 1);
        }
        enable_lfs(&upstream, &lfs_url);
        upstream
    }
}

// ---------------------------------------------------------------------------------------------
// Against giftless

#[test]
fn objects_of_every_branch_tag_and_old_commit_are_fetched_and_git_lfs_reads_them() {
    capture_logs();
    let forge = LfsForge::start(None);
    let scratch = tempfile::tempdir().unwrap();
    let upstream = forge.upstream("acme/tool.git", scratch.path(), None);

    let (v1_content, v2_content) = (bytes(1, 300_000), bytes(2, 5_000));
    let (v1, v1_commit) = commit_lfs(&upstream, "model.bin", &v1_content); // later only in history
    let (v2, _) = commit_lfs(&upstream, "model.bin", &v2_content);
    // Not LFS: an ordinary small file, and one that quotes a pointer wrongly (uppercase oid).
    upstream.commit(
        "notes.txt",
        &format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 5\n",
            v1.oid.to_uppercase()
        ),
    );
    upstream.push(&["main"]);

    upstream.checkout_new_branch("feature");
    let feature_content = bytes(3, 70_000);
    let (feature, _) = commit_lfs(&upstream, "feature.bin", &feature_content);
    upstream.push(&["feature"]);

    // A commit reachable only from a tag.
    upstream.checkout("main");
    upstream.checkout_new_branch("release-prep");
    let tagged_content = b"a small release asset\n".to_vec();
    let (tagged, _) = commit_lfs(&upstream, "asset.bin", &tagged_content);
    upstream.annotated_tag("v1.0");
    upstream.push(&["refs/tags/v1.0"]);

    let url = forge.server.url("acme/tool.git");
    let dest = scratch.path().join("mirrors/acme/tool.git");
    mirror_of(&url, &dest, None);

    let started = Instant::now();
    let first = sync_lfs(&dest, &url, None).unwrap();
    let all = [&v1, &v2, &feature, &tagged];
    assert_eq!(
        first,
        LfsOutcome {
            pointers_found: 4,
            objects_downloaded: 4,
            bytes_downloaded: all.iter().map(|p| p.size).sum(),
            objects_already_present: 0
        }
    );
    eprintln!("first LFS sync: {:?}", started.elapsed());
    assert!(
        leftover_temp_files(&dest).is_empty(),
        "{:?}",
        leftover_temp_files(&dest)
    );
    assert_git_lfs_reads_mirror(
        &dest,
        scratch.path(),
        &[
            ("origin/main", "model.bin", &v2_content),
            (&v1_commit, "model.bin", &v1_content),
            ("origin/feature", "feature.bin", &feature_content),
            ("v1.0", "asset.bin", &tagged_content),
        ],
    );

    // Nothing new: nothing scanned again, nothing asked, nothing downloaded.
    let rescan = find_pointers(&dest).unwrap();
    assert_eq!(
        (rescan.packs_scanned, rescan.objects_examined),
        (0, 0),
        "{rescan:?}"
    );
    assert_eq!(rescan.pointers.len(), 4);
    let again = sync_lfs(&dest, &url, None).unwrap();
    assert_eq!(
        again,
        LfsOutcome {
            pointers_found: 4,
            objects_already_present: 4,
            ..Default::default()
        }
    );

    // A new push: only its pack is scanned, only its object fetched.
    upstream.checkout("main");
    let newer_content = bytes(4, 2_000);
    let (newer, _) = commit_lfs(&upstream, "newer.bin", &newer_content);
    upstream.push(&["main"]);
    mirror_of(&url, &dest, None);
    let incremental = find_pointers(&dest).unwrap();
    assert_eq!(incremental.packs_scanned, 1, "{incremental:?}");
    assert!(incremental.packs_cached >= 1, "{incremental:?}");
    assert!(incremental.pointers.contains(&newer));
    let third = sync_lfs(&dest, &url, None).unwrap();
    assert_eq!(
        third,
        LfsOutcome {
            pointers_found: 5,
            objects_downloaded: 1,
            bytes_downloaded: newer.size,
            objects_already_present: 4
        }
    );

    // With the LFS server gone, a re-run still succeeds: it needs no request at all.
    drop(forge);
    let offline = sync_lfs(&dest, &url, None).unwrap();
    assert_eq!(
        offline,
        LfsOutcome {
            pointers_found: 5,
            objects_already_present: 5,
            ..Default::default()
        }
    );
    assert_git_lfs_reads_mirror(
        &dest,
        scratch.path(),
        &[("origin/main", "newer.bin", &newer_content)],
    );
}

#[test]
fn an_object_missing_upstream_fails_the_repository_by_name_and_the_others_are_stored() {
    let forge = LfsForge::start(None);
    let scratch = tempfile::tempdir().unwrap();
    let upstream = forge.upstream("acme/tool.git", scratch.path(), None);
    let (a, _) = commit_lfs(&upstream, "a.bin", &bytes(10, 4_000));
    let (lost, _) = commit_lfs(&upstream, "lost.bin", &bytes(11, 3_000));
    let (c, _) = commit_lfs(&upstream, "c.bin", &bytes(12, 2_000));
    upstream.push(&["main"]);
    std::fs::remove_file(forge.giftless.stored_object("acme", "tool", &lost.oid)).unwrap();

    let url = forge.server.url("acme/tool.git");
    let dest = scratch.path().join("tool.git");
    mirror_of(&url, &dest, None);
    let err = sync_lfs(&dest, &url, None).unwrap_err();
    let message = format!("{err:#}");
    let incomplete = incomplete(&err);
    assert_eq!(
        incomplete.missing().collect::<Vec<_>>(),
        vec![&lost],
        "{message}"
    );
    assert_eq!(incomplete.outcome.objects_downloaded, 2);
    assert!(
        message.contains(&lost.oid) && message.contains("missing on the LFS server"),
        "{message}"
    );
    assert!(
        message.contains(&dest.display().to_string()),
        "names the mirror: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(object_file(&dest, &a.oid).is_file() && object_file(&dest, &c.oid).is_file());
    assert!(!object_file(&dest, &lost.oid).exists());

    // Again: only the missing object is asked for. giftless then answers the whole batch with
    // 404 (it does so when none of the objects exists); the error still names it.
    let err = sync_lfs(&dest, &url, None).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains(&lost.oid) && message.contains("404"),
        "{message}"
    );
}

#[test]
fn a_corrupted_object_on_the_server_is_rejected_and_never_enters_lfs_objects() {
    let forge = LfsForge::start(None);
    let scratch = tempfile::tempdir().unwrap();
    let upstream = forge.upstream("acme/tool.git", scratch.path(), None);
    let (good, _) = commit_lfs(&upstream, "good.bin", &bytes(20, 10_000));
    let (bad, _) = commit_lfs(&upstream, "bad.bin", &bytes(21, 150_000));
    upstream.push(&["main"]);
    // Same size, other bytes: the batch API still offers it; only the hash can tell.
    std::fs::write(
        forge.giftless.stored_object("acme", "tool", &bad.oid),
        bytes(99, 150_000),
    )
    .unwrap();

    let url = forge.server.url("acme/tool.git");
    let dest = scratch.path().join("tool.git");
    mirror_of(&url, &dest, None);
    let err = sync_lfs(&dest, &url, None).unwrap_err();
    let message = format!("{err:#}");
    let incomplete = incomplete(&err);
    assert_eq!(incomplete.failures.len(), 1, "{message}");
    assert_eq!(incomplete.failures[0].0, bad);
    assert!(
        matches!(incomplete.failures[0].1, ObjectFailure::Corrupt(_)),
        "{message}"
    );
    assert!(
        message.contains(&bad.oid) && message.contains("SHA-256"),
        "{message}"
    );
    assert!(
        !object_file(&dest, &bad.oid).exists(),
        "a corrupt object must not be stored"
    );
    assert!(object_file(&dest, &good.oid).is_file());
    assert!(
        leftover_temp_files(&dest).is_empty(),
        "{:?}",
        leftover_temp_files(&dest)
    );
}

#[test]
fn a_private_repository_sends_the_token_to_its_own_lfs_endpoint() {
    let (user, token) = ("x-access-token", "tok-lfs-private-Qm7vX2");
    let forge = LfsForge::start(Some((user, token)));
    let scratch = tempfile::tempdir().unwrap();
    // One level under /private/: giftless takes the path before `<repo>.git` as the
    // organisation, and its pre-signed upload tokens do not work for nested organisations.
    let upstream = forge.upstream(
        "private/tool.git",
        scratch.path(),
        Some(&format!("{user}:{token}")),
    );
    let content = bytes(30, 20_000);
    let (pointer, _) = commit_lfs(&upstream, "data.bin", &content);
    upstream.push(&["main"]);

    let url = forge.server.url("private/tool.git");
    let secret = Secret::new(token);
    let dest = scratch.path().join("tool.git");
    mirror_of(&url, &dest, Some((user, &secret)));

    let err = sync_lfs(&dest, &url, None).unwrap_err();
    assert!(
        format!("{err:#}").contains("requires authentication (HTTP 401)"),
        "{err:#}"
    );
    let wrong = Secret::new("tok-lfs-wrong-Zz9");
    let err = sync_lfs(&dest, &url, Some((user, &wrong))).unwrap_err();
    let message = format!("{err:#} {err:?}");
    assert!(message.contains("rejected the credentials"), "{message}");
    assert!(!message.contains("tok-lfs-wrong-Zz9"), "{message}");

    let outcome = sync_lfs(&dest, &url, Some((user, &secret))).unwrap();
    assert_eq!(outcome.objects_downloaded, 1);
    assert_eq!(
        std::fs::read(object_file(&dest, &pointer.oid)).unwrap(),
        content
    );
    assert_git_lfs_reads_mirror(
        &dest,
        scratch.path(),
        &[("origin/main", "data.bin", &content)],
    );
    for file in all_files(&dest) {
        let data = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&data).contains(token),
            "token in {}",
            file.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Against the fake: which credentials and headers go where

/// A bare upstream with pointer blobs committed as plain files (no git-lfs needed), mirrored
/// from its local path. Returns (upstream, mirror, [(pointer, content)]).
fn pointer_repo(
    scratch: &Path,
    contents: &[Vec<u8>],
) -> (Upstream, std::path::PathBuf, Vec<(Pointer, Vec<u8>)>) {
    let upstream = Upstream::create(&scratch.join("upstream/tool.git"), scratch);
    let mut objects = Vec::new();
    for (i, content) in contents.iter().enumerate() {
        let (pointer, text) = pointer_text(content);
        upstream.commit(&format!("file{i}.bin"), &text);
        objects.push((pointer, content.clone()));
    }
    upstream.push(&["main"]);
    let dest = scratch.join("mirror/tool.git");
    mirror_of(upstream.bare.to_str().unwrap(), &dest, None);
    (upstream, dest, objects)
}

fn serve(fake: &FakeLfs, objects: &[(Pointer, Vec<u8>)]) {
    fake.with(|s| {
        s.objects
            .extend(objects.iter().map(|(p, c)| (p.oid.clone(), c.clone())))
    });
}

#[test]
fn credentials_go_only_to_the_clone_origin_never_to_download_links_or_lfsconfig_hosts() {
    capture_logs();
    let (user, token) = ("x-access-token", "ghp_lfsScopeTest7Hq2Lw9");
    let secret = Secret::new(token);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
    );
    let link_token = "linktoken-SECRET-8c1f";
    let signature = "presigned-SIGNATURE-55aa";

    // The forge (clone URL's origin) hands out links to a storage host on another origin.
    let forge = FakeLfs::start();
    let storage = FakeLfs::start();
    let scratch = tempfile::tempdir().unwrap();
    let (upstream, dest, objects) = pointer_repo(
        scratch.path(),
        &[bytes(40, 9_000), bytes(41, 100), b"x".to_vec()],
    );
    serve(&forge, &objects);
    serve(&storage, &objects);
    forge.with(|s| {
        s.require_authorization = Some(basic.clone());
        s.links_to = Some(storage.base_url());
        s.link_headers = vec![("X-Link-Token".into(), link_token.into())];
        s.link_query = format!("X-Amz-Signature={signature}");
    });
    storage.with(|s| s.link_headers = vec![("X-Link-Token".into(), link_token.into())]);
    let clone_url = format!("{}/acme/tool.git", forge.base_url());

    let outcome = sync_lfs(&dest, &clone_url, Some((user, &secret))).unwrap();
    assert_eq!(outcome.objects_downloaded, 3);
    let batches = forge.requests();
    assert_eq!(batches.len(), 1, "3 objects fit one batch");
    let batch = &batches[0];
    assert_eq!(batch.target, "/acme/tool.git/info/lfs/objects/batch");
    assert_eq!(batch.header("authorization"), Some(basic.as_str()));
    assert_eq!(batch.header("accept"), Some("application/vnd.git-lfs+json"));
    assert_eq!(
        batch.header("content-type"),
        Some("application/vnd.git-lfs+json")
    );
    let body: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
    assert_eq!(body["operation"], "download");
    assert_eq!(body["transfers"], serde_json::json!(["basic"]));
    assert_eq!(body["hash_algo"], "sha256");
    let downloads = storage.requests();
    assert_eq!(downloads.len(), 3);
    for download in &downloads {
        assert_eq!(
            download.header("authorization"),
            None,
            "no forge credentials on a download link"
        );
        assert_eq!(
            download.header("x-link-token"),
            Some(link_token),
            "the link's own header is sent"
        );
        assert!(download.target.contains(signature));
    }

    // A `.lfsconfig` in HEAD names a server on another origin: it is used, without credentials.
    let elsewhere = FakeLfs::start();
    let extra = bytes(42, 3_000);
    let (extra_pointer, extra_text) = pointer_text(&extra);
    serve(&elsewhere, &[(extra_pointer.clone(), extra.clone())]);
    serve(&elsewhere, &objects);
    upstream.commit(
        ".lfsconfig",
        &format!(
            "[lfs]\n\turl = {}/other/tool/info/lfs\n",
            elsewhere.base_url()
        ),
    );
    upstream.commit("extra.bin", &extra_text);
    upstream.push(&["main"]);
    mirror_of(upstream.bare.to_str().unwrap(), &dest, None);
    forge.clear_requests();
    let outcome = sync_lfs(&dest, &clone_url, Some((user, &secret))).unwrap();
    assert_eq!(outcome.objects_downloaded, 1);
    assert!(
        forge.requests().is_empty(),
        "the .lfsconfig endpoint replaces the default one"
    );
    let asked = elsewhere.requests();
    assert_eq!(asked[0].target, "/other/tool/info/lfs/objects/batch");
    assert!(
        asked.iter().all(|r| r.header("authorization").is_none()),
        "no credentials to a host the repository names"
    );

    // If that server wants credentials, the error says why forgesafe does not send them.
    let another = bytes(43, 10);
    let (another_pointer, another_text) = pointer_text(&another);
    serve(&elsewhere, &[(another_pointer, another)]);
    elsewhere.with(|s| s.require_authorization = Some(basic.clone()));
    upstream.commit("another.bin", &another_text);
    upstream.push(&["main"]);
    mirror_of(upstream.bare.to_str().unwrap(), &dest, None);
    let err = sync_lfs(&dest, &clone_url, Some((user, &secret))).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains(".lfsconfig") && message.contains("never to a server a repository names"),
        "{message}"
    );

    // No secret anywhere: not in the mirror's files, not in any log line, not in the error.
    let secrets = [
        token,
        basic.trim_start_matches("Basic "),
        link_token,
        signature,
    ];
    for file in all_files(&dest) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for s in secrets {
            assert!(!text.contains(s), "{s} found in {}", file.display());
        }
    }
    let logs = logs();
    assert!(logs.contains("Git LFS sync done"), "logs were captured");
    for s in secrets {
        assert!(!logs.contains(s), "{s} found in the logs");
        assert!(!format!("{err:#} {err:?}").contains(s));
    }
}

#[test]
fn overload_answers_are_retried_and_final_ones_are_one_clear_error() {
    let fake = FakeLfs::start();
    let scratch = tempfile::tempdir().unwrap();
    let (_upstream, dest, objects) =
        pointer_repo(scratch.path(), &[bytes(50, 1_000), bytes(51, 2_000)]);
    serve(&fake, &objects);
    let clone_url = format!("{}/acme/tool", fake.base_url()); // no .git: endpoint gets ".git/info/lfs"
    let scripted = |status: u16, retry_after: Option<&str>, message: &str| Scripted {
        status,
        headers: retry_after
            .map(|r| vec![("Retry-After".to_string(), r.to_string())])
            .unwrap_or_default(),
        body: serde_json::json!({"message": message}).to_string(),
    };

    // 503 and 429 with Retry-After, then a 503 on one download: all retried, all stored.
    fake.with(|s| {
        s.batch_script.extend([
            scripted(503, Some("0"), "deploying"),
            scripted(429, Some("0"), "slow down"),
        ]);
        s.download_script
            .push_back(scripted(503, Some("0"), "busy"));
    });
    let outcome = sync_lfs(&dest, &clone_url, None).unwrap();
    assert_eq!(outcome.objects_downloaded, 2);
    let requests = fake.requests();
    assert_eq!(requests.iter().filter(|r| r.is_batch()).count(), 3);
    assert!(requests
        .iter()
        .all(|r| !r.is_batch() || r.target == "/acme/tool.git/info/lfs/objects/batch"));
    assert_eq!(requests.iter().filter(|r| r.method == "GET").count(), 3);

    // Final answers: one message each, naming the server and what to do.
    for (answers, expected) in [
        (
            vec![scripted(403, None, "forbidden")],
            "refused access (HTTP 403)",
        ),
        (vec![scripted(404, None, "Not Found")], "answered 404"),
        (vec![scripted(500, Some("0"), "oops"); 4], "HTTP 500"),
        (
            vec![scripted(503, Some("3600"), "maintenance")],
            "asks to wait 3600 s",
        ),
    ] {
        let _ = std::fs::remove_dir_all(dest.join("lfs/objects"));
        fake.with(|s| s.batch_script = answers.into());
        let err = sync_lfs(&dest, &clone_url, None).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains(expected),
            "expected {expected:?} in: {message}"
        );
        assert!(
            message.contains(&fake.base_url()) && !message.contains('\n'),
            "{message}"
        );
        assert!(
            fake.with(|s| s.batch_script.is_empty()),
            "all scripted answers used (4 attempts for a 500)"
        );
    }
}

#[test]
fn wrong_or_oversized_bytes_from_a_link_are_rejected_and_leave_nothing() {
    let fake = FakeLfs::start();
    let scratch = tempfile::tempdir().unwrap();
    let (_upstream, dest, objects) = pointer_repo(
        scratch.path(),
        &[bytes(60, 50_000), bytes(61, 1_000), bytes(62, 700)],
    );
    serve(&fake, &objects);
    let (corrupt, oversized) = (objects[0].0.clone(), objects[1].0.clone());
    fake.with(|s| {
        s.corrupt.insert(corrupt.oid.clone());
        s.oversized.insert(oversized.oid.clone());
    });
    let clone_url = format!("{}/acme/tool.git", fake.base_url());
    let err = sync_lfs(&dest, &clone_url, None).unwrap_err();
    let failures = &incomplete(&err).failures;
    assert_eq!(failures.len(), 2, "{err:#}");
    for (pointer, failure) in failures {
        assert!(
            matches!(failure, ObjectFailure::Corrupt(_)),
            "{pointer}: {failure}"
        );
        assert!(!object_file(&dest, &pointer.oid).exists());
    }
    assert!(
        format!("{err:#}").contains(&corrupt.oid) && format!("{err:#}").contains(&oversized.oid)
    );
    assert!(object_file(&dest, &objects[2].0.oid).is_file());
    assert!(
        leftover_temp_files(&dest).is_empty(),
        "{:?}",
        leftover_temp_files(&dest)
    );

    // Fixed upstream: the next run fetches exactly the two.
    fake.with(|s| {
        s.corrupt.clear();
        s.oversized.clear();
    });
    let outcome = sync_lfs(&dest, &clone_url, None).unwrap();
    assert_eq!(
        (outcome.objects_downloaded, outcome.objects_already_present),
        (2, 1)
    );
}

#[test]
fn a_mirror_without_lfs_makes_no_request_and_stale_temporary_files_are_removed() {
    let scratch = tempfile::tempdir().unwrap();
    let upstream = Upstream::create(&scratch.path().join("plain.git"), scratch.path());
    upstream.commit("src.rs", "fn main() {}\n");
    upstream.push(&["main"]);
    let dest = scratch.path().join("plain-mirror.git");
    mirror_of(upstream.bare.to_str().unwrap(), &dest, None);
    // Port 9 on loopback: nothing listens; a request would fail.
    let outcome = sync_lfs(&dest, "http://127.0.0.1:9/acme/plain.git", None).unwrap();
    assert_eq!(outcome, LfsOutcome::default());
    assert!(!dest.join("lfs/objects").exists());

    // What a killed run leaves (a partial temporary file) is removed by the next run.
    let fake = FakeLfs::start();
    let (_up, lfs_dest, objects) = pointer_repo(&scratch.path().join("second"), &[bytes(70, 500)]);
    serve(&fake, &objects);
    std::fs::create_dir_all(lfs_dest.join("lfs/tmp")).unwrap();
    std::fs::write(lfs_dest.join("lfs/tmp/forgesafe-lfs-killed"), b"partial").unwrap();
    sync_lfs(
        &lfs_dest,
        &format!("{}/acme/tool.git", fake.base_url()),
        None,
    )
    .unwrap();
    assert!(leftover_temp_files(&lfs_dest).is_empty());
    git(&lfs_dest, &["lfs", "fsck"]);
}

#[test]
fn a_run_killed_mid_download_leaves_no_partial_object_and_the_next_run_completes() {
    let fake = FakeLfs::start();
    let scratch = tempfile::tempdir().unwrap();
    let (upstream, _, objects) = pointer_repo(scratch.path(), &[bytes(80, 400_000)]);
    // The upstream is a local path, so its `.lfsconfig` names the LFS server (as git-lfs reads it).
    upstream.commit(
        ".lfsconfig",
        &format!(
            "[lfs]\n\turl = {}/acme/tool.git/info/lfs\n",
            fake.base_url()
        ),
    );
    upstream.push(&["main"]);
    serve(&fake, &objects);
    let oid = objects[0].0.oid.clone();
    fake.with(|s| s.stall_after.insert(oid.clone(), 100_000));
    let volume = scratch.path().join("volume");
    let dest = volume.join("local/upstream/tool.git");
    let collect = || {
        let mut cmd = common::forgesafe();
        cmd.args([
            "collect",
            "url",
            upstream.bare.to_str().unwrap(),
            "--lfs",
            "--dest",
        ])
        .arg(&volume);
        cmd
    };

    // The real binary is SIGKILLed once it has written part of the object.
    let mut child = collect()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial_written = || {
        leftover_temp_files(&dest).iter().any(|name| {
            std::fs::metadata(dest.join("lfs/tmp").join(name)).is_ok_and(|m| m.len() >= 100_000)
        })
    };
    // The server stalls the download after those bytes, so the child waits there for us.
    while !partial_written() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "forgesafe ended before it wrote the partial object"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !object_file(&dest, &oid).exists(),
        "no partial object where git-lfs would trust it"
    );
    assert_eq!(leftover_temp_files(&dest).len(), 1);

    fake.with(|s| s.stall_after.clear());
    let out = collect().output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("1 Git LFS objects downloaded"),
        "{}",
        common::stderr(&out)
    );
    assert!(
        leftover_temp_files(&dest).is_empty(),
        "the next run removes what the killed one left"
    );
    git(&dest, &["lfs", "fsck"]);
}

// ---------------------------------------------------------------------------------------------
// Through the command line

#[test]
fn collect_with_gickups_lfs_true_stores_the_objects_and_a_rerun_fetches_nothing() {
    let forge = LfsForge::start(None);
    let scratch = tempfile::tempdir().unwrap();
    let upstream = forge.upstream("acme/tool.git", scratch.path(), None);
    let content = bytes(7, 40_000);
    commit_lfs(&upstream, "weights.bin", &content);
    upstream.push(&["main"]);
    let dest = scratch.path().join("volume");
    let conf = scratch.path().join("conf.yml");
    std::fs::write(
        &conf,
        format!(
            "source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: {}\n      structured: true\n      lfs: true\n",
            forge.server.url("acme/tool.git"),
            dest.display()
        ),
    )
    .unwrap();
    let collect = || {
        common::forgesafe()
            .args(["collect", "--config"])
            .arg(&conf)
            .output()
            .unwrap()
    };

    let out = collect();
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 Git LFS objects downloaded"), "{err}");
    assert!(
        !err.contains("lfs"),
        "lfs: true is acted on, so no warning names it: {err}"
    );
    let mirror = dest.join("127.0.0.1/acme/tool.git");
    assert_git_lfs_reads_mirror(
        &mirror,
        scratch.path(),
        &[("origin/main", "weights.bin", &content)],
    );

    let out = collect();
    let err = common::stderr(&out);
    assert!(
        out.status.success()
            && err.contains("0 new, 0 updated, 1 unchanged, 0 failed; 0 bytes fetched"),
        "{err}"
    );
    assert!(!err.contains("Git LFS objects downloaded"), "{err}");

    // A new commit brings an object the LFS server has lost: the repository is reported
    // failed with the object named; the git data is updated and the stored objects are kept.
    upstream.checkout("main");
    let (newer, _) = commit_lfs(&upstream, "more.bin", &bytes(8, 1_000));
    upstream.push(&["main"]);
    std::fs::remove_file(forge.giftless.stored_object("acme", "tool", &newer.oid)).unwrap();
    let out = collect();
    let err = common::stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("FAILED acme/tool")
            && err.contains("LFS incomplete")
            && err.contains(&newer.oid),
        "{err}"
    );
    let (weights, _) = pointer_text(&content);
    assert_eq!(
        std::fs::read(object_file(&mirror, &weights.oid)).unwrap(),
        content
    );
    assert!(!object_file(&mirror, &newer.oid).exists());
}
