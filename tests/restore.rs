//! Getting one piece back: `ls`, `repos`, `restore --repo` (bare, checked out, with wiki and
//! metadata), `location pull --include` and `diff`, on volumes collected from a fake GitHub REST
//! API (real socket, GitHub's wire format) and real git smart HTTP (lighttpd + git http-backend),
//! pushed to a local repository by the real binary. Git's own tools judge every restored mirror.

mod common;

use common::destination_forge::DestinationForge;
use common::fake_github::{issue_json, repo_json, FakeGithub, RepoMeta};
use common::git::{assert_fsck_clean, git, local_refs, ls_remote, write_random_file, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

const TOKEN: &str = "ghp_forgesafeRestoreToken0123456789abcd";

/// An account of two repositories (`app` with a feature branch, a tag, a wiki and issues; `lib`
/// with a few MiB of incompressible data, so a piece's cost is easy to tell from the whole),
/// collected into a volume and pushed under `--path forge`.
struct Account {
    tmp: tempfile::TempDir,
    server: GitHttpServer,
    github: FakeGithub,
    app: Upstream,
    wiki: Upstream,
    lib: Upstream,
    conf: PathBuf,
    volume: PathBuf,
    repo: PathBuf,
    profile: String,
}

impl Account {
    fn new() -> Account {
        let tmp = tempfile::tempdir().unwrap();
        let server = GitHttpServer::start_with(ServerOptions {
            basic_auth: Some(("x-access-token".into(), TOKEN.into())),
            ..Default::default()
        });
        let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
        app.checkout_new_branch("feature");
        app.commit("f.txt", "feature\n");
        app.push(&["feature"]);
        app.lightweight_tag("v1.0.0");
        app.push(&["v1.0.0"]);
        app.checkout("main");
        app.annotated_tag("v1.1.0");
        app.push(&["v1.1.0"]);
        // A ref the forge makes itself (GitHub's pull request heads): mirrored, never pushed back.
        git(
            &app.bare,
            &["update-ref", "refs/pull/1/head", "refs/heads/feature"],
        );
        let wiki = Upstream::create(&server.path("private/octo/app.wiki.git"), tmp.path());
        wiki.commit("Home.md", "# Welcome\n");
        wiki.push(&["main"]);
        let lib = Upstream::create(&server.path("private/octo/lib.git"), tmp.path());
        write_random_file(&lib.work.join("blob.bin"), 4 << 20);
        git(&lib.work, &["add", "blob.bin"]);
        git(&lib.work, &["commit", "-q", "-m", "data"]);
        lib.push(&["main"]);

        let repos = vec![gh_repo(1, "app", &server), gh_repo(2, "lib", &server)];
        let github = FakeGithub::start(TOKEN, repos, 100);
        github.set_meta(
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
        let volume = tmp.path().join("volume");
        let conf = tmp.path().join("conf.yml");
        fs::write(
            &conf,
            format!(
                "source:\n  github:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\n      wiki: true\n      issues: true\ndestination:\n  local:\n    - path: {}\n      structured: true\n      bare: true\n",
                github.base_url(),
                volume.display()
            ),
        )
        .unwrap();
        let repo = tmp.path().join("repo");
        let profile = local_profile(&repo);
        let account = Account {
            tmp,
            server,
            github,
            app,
            wiki,
            lib,
            conf,
            volume,
            repo,
            profile,
        };
        account.collect_and_push();
        account
    }

    /// Collects the account again and pushes the volume; returns the snapshot id.
    fn collect_and_push(&self) -> String {
        ok(forgesafe()
            .env("GH_TOKEN_FOR_TEST", TOKEN)
            .args(["collect", "--config"])
            .arg(&self.conf));
        let out = ok(forgesafe_pw()
            .args(["location", "push", "-p", &self.profile, "-s", "forge"])
            .arg(&self.volume));
        parse_push_output(&stdout(&out)).1
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        forgesafe_pw()
            .args(args)
            .args(["-p", &self.profile, "-s", "forge"])
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed:\n{}", stderr(&out));
        assert_no_secret(&out);
        out
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `restore` with the destination forge's token in the environment (never an argument).
    fn restore_to_forge(&self, args: &[&str]) -> std::process::Output {
        let out = forgesafe_pw()
            .env("DEST_TOKEN_FOR_TEST", DEST_TOKEN)
            .args([
                "restore",
                "-p",
                &self.profile,
                "-s",
                "forge",
                "--token-env",
                "DEST_TOKEN_FOR_TEST",
            ])
            .args(args)
            .output()
            .unwrap();
        assert_no_secret(&out);
        out
    }
}

const DEST_TOKEN: &str = "gta_forgesafeDestinationToken987654321";

/// Branches and tags: what a push to a forge carries.
fn branches_and_tags(
    refs: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    refs.into_iter()
        .filter(|(name, _)| name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
        .collect()
}

fn gh_repo(id: u64, name: &str, server: &GitHttpServer) -> Value {
    let mut r = repo_json(id, "octo", name, true);
    r["clone_url"] = json!(server.url(&format!("private/octo/{name}.git")));
    r
}

fn assert_no_secret(out: &std::process::Output) {
    for stream in [stdout(out), stderr(out)] {
        assert!(
            !stream.contains(PASSWORD) && !stream.contains(TOKEN) && !stream.contains(DEST_TOKEN),
            "a secret in the output: {stream}"
        );
    }
}

fn upstream_refs(up: &Upstream) -> std::collections::BTreeMap<String, String> {
    ls_remote(up.bare.to_str().unwrap())
}

/// The bytes of the repository's pack files: what a full pull reads.
fn pack_bytes(repo: &Path) -> u64 {
    du(&repo.join("data"))
}

fn one_error_line(out: &std::process::Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    lines[0].to_string()
}

#[test]
fn repos_and_ls_show_what_a_snapshot_holds_without_restoring_it() {
    let account = Account::new();
    let out = account.ok(&["repos", "--json"]);
    let repos: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repos.len(), 2, "{repos:?}");
    let app = &repos[0];
    assert_eq!(
        (
            app["host"].as_str(),
            app["owner"].as_str(),
            app["name"].as_str()
        ),
        (Some("127.0.0.1"), Some("octo"), Some("app"))
    );
    assert_eq!(app["path"], "127.0.0.1/octo/app.git");
    assert_eq!(
        (app["wiki"].as_bool(), app["metadata"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        app["refs"].as_u64(),
        Some(upstream_refs(&account.app).len() as u64)
    );
    assert_eq!(app["head"], "refs/heads/main");
    let newest = app["newest_commit"]
        .as_str()
        .expect("the collect records the newest commit time");
    let upstream_newest = git(
        &account.app.bare,
        &["log", "--all", "-1", "--format=%cI", "--date-order"],
    );
    assert_eq!(
        chrono_like_seconds(newest),
        chrono_like_seconds(&upstream_newest),
        "newest commit {newest} vs upstream {upstream_newest}"
    );
    let lib = &repos[1];
    assert_eq!(
        (lib["name"].as_str(), lib["wiki"].as_bool()),
        (Some("lib"), Some(false))
    );
    let text = stdout(&account.ok(&["repos"]));
    assert!(
        text.contains("127.0.0.1/octo/app") && text.contains("mirror+wiki+metadata"),
        "{text}"
    );

    // ls: the owner folder, one level, as JSON lines after the snapshot line.
    let out = account.ok(&["ls", "--json", "--shallow", "127.0.0.1/octo"]);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["struct_type"], "snapshot");
    let time = lines[0]["time"].as_str().unwrap();
    assert!(time.ends_with('Z'), "RFC 3339 in UTC: {time}");
    chrono_like_seconds(time);
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "127.0.0.1/octo/app.git",
            "127.0.0.1/octo/app.metadata",
            "127.0.0.1/octo/app.wiki.git",
            "127.0.0.1/octo/lib.git",
            "127.0.0.1/octo/lib.metadata"
        ]
    );
    assert!(lines[1..].iter().all(|l| l["type"] == "dir"));
    // Deep listing of one mirror, in text: the HEAD file is there with its size.
    let text = stdout(&account.ok(&["ls", "127.0.0.1/octo/app.git"]));
    let head = fs::read(account.volume.join("127.0.0.1/octo/app.git/HEAD")).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with('-')
            && l.ends_with(" 127.0.0.1/octo/app.git/HEAD")
            && l.contains(&format!(" {} ", head.len()))),
        "{text}"
    );
    // A path the snapshot does not have: one line pointing at ls.
    let out = account.run(&["ls", "127.0.0.1/octo/nope.git"]);
    assert!(!out.status.success());
    assert!(
        one_error_line(&out).contains("forgesafe ls"),
        "{}",
        stderr(&out)
    );
}

/// Seconds since the epoch of an RFC 3339 time, by `date` (no date crate in the tests).
fn chrono_like_seconds(rfc3339: &str) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", rfc3339.trim(), "+%s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "date cannot read {rfc3339}");
    stdout(&out).trim().to_string()
}

#[test]
fn one_repository_is_restored_bare_or_checked_out_reading_only_its_own_data() {
    let account = Account::new();

    // Bare: the target is the mirror, with every ref of upstream and nothing of lib.
    let target = account.path("restored-app.git");
    let out = account.ok(&[
        "restore",
        "--repo",
        "octo/app",
        "--json",
        target.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["repository"], "127.0.0.1/octo/app");
    assert_eq!(local_refs(&target), upstream_refs(&account.app));
    assert_fsck_clean(&target);
    let read = report["pack_bytes_read"].as_u64().unwrap();
    let whole = pack_bytes(&account.repo);
    assert!(
        read > 0 && read * 4 < whole,
        "restoring app read {read} bytes of packs; the whole repository holds {whole}"
    );

    // Checked out at a branch: a clean working clone on that branch.
    let work = account.path("app-feature");
    account.ok(&[
        "restore",
        "--repo",
        "127.0.0.1/octo/app",
        "--checkout",
        "feature",
        work.to_str().unwrap(),
    ]);
    assert_eq!(fs::read_to_string(work.join("f.txt")).unwrap(), "feature\n");
    assert_eq!(
        git(&work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "feature"
    );
    assert_eq!(
        git(&work, &["status", "--porcelain"]),
        "",
        "the checkout must be clean"
    );
    assert_eq!(
        git(&work, &["rev-parse", "HEAD"]),
        upstream_refs(&account.app)["refs/heads/feature"]
    );
    // Every branch is still there for `git switch`.
    git(&work, &["switch", "-q", "main"]);
    assert!(!work.join("f.txt").exists());
    assert_eq!(
        fs::read_to_string(work.join("README.md")).unwrap(),
        "hello\n"
    );

    // Without a REF: the mirror's HEAD. A tag checks out detached.
    let head = account.path("app-head");
    account.ok(&[
        "restore",
        "--repo",
        "octo/app",
        head.to_str().unwrap(),
        "--checkout",
    ]);
    assert_eq!(git(&head, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    let tagged = account.path("app-tag");
    account.ok(&[
        "restore",
        "--repo",
        "octo/app",
        "--checkout",
        "v1.0.0",
        tagged.to_str().unwrap(),
    ]);
    assert_eq!(
        git(&tagged, &["rev-parse", "HEAD"]),
        upstream_refs(&account.app)["refs/tags/v1.0.0"]
    );
    assert_eq!(git(&tagged, &["status", "--porcelain"]), "");

    // With wiki and metadata: one folder per piece.
    let all = account.path("app-all");
    account.ok(&[
        "restore",
        "--repo",
        "octo/app",
        "--wiki",
        "--metadata",
        all.to_str().unwrap(),
    ]);
    assert_eq!(
        local_refs(&all.join("app.git")),
        upstream_refs(&account.app)
    );
    assert_eq!(
        local_refs(&all.join("app.wiki.git")),
        upstream_refs(&account.wiki)
    );
    let issue: Value =
        serde_json::from_slice(&fs::read(all.join("app.metadata/issues/1.json")).unwrap()).unwrap();
    assert_eq!(issue["title"], "It breaks");
    let mut names: Vec<String> = fs::read_dir(&all)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["app.git", "app.metadata", "app.wiki.git"]);
    assert_eq!(
        local_refs(&account.path("app-all").join("app.git")).len(),
        upstream_refs(&account.app).len()
    );
    let _ = &account.lib;
}

#[test]
fn a_failed_restore_leaves_the_target_as_it_was() {
    let account = Account::new();
    let target = account.path("keep");
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("precious.txt"), "mine\n").unwrap();

    for (args, says) in [
        (vec!["restore", "--repo", "octo/nope"], "forgesafe repos"),
        (vec!["restore", "--repo", "octo/APP2"], "forgesafe repos"),
        (
            vec!["restore", "--repo", "octo/lib", "--wiki"],
            "has no wiki",
        ),
        (
            vec![
                "restore",
                "--repo",
                "octo/app",
                "--checkout",
                "no-such-branch",
            ],
            "no-such-branch",
        ),
        (
            vec!["restore", "--repo", "octo/app", "--snapshot", "ffffffff"],
            "forgesafe snapshots",
        ),
    ] {
        let mut args = args.clone();
        args.push(target.to_str().unwrap());
        let out = account.run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            one_error_line(&out).contains(says),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            fs::read_to_string(target.join("precious.txt")).unwrap(),
            "mine\n",
            "{args:?} touched the target"
        );
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            1,
            "{args:?} left something in the target"
        );
    }
    // A near miss is named.
    let out = account.run(&["restore", "--repo", "someone/App", target.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("did you mean 127.0.0.1/octo/app"),
        "{}",
        stderr(&out)
    );
    // No scratch folders left beside the target.
    let beside: Vec<String> = fs::read_dir(account.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(beside.is_empty(), "left behind: {beside:?}");
}

#[test]
fn location_pull_include_restores_one_path_of_any_snapshot() {
    let account = Account::new();
    let target = account.path("metadata");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &account.profile,
            "-s",
            "forge",
            "--include",
            "127.0.0.1/octo/app.metadata",
        ])
        .arg(&target));
    assert_eq!(
        fs::read(target.join("issues/1.json")).unwrap(),
        fs::read(
            account
                .volume
                .join("127.0.0.1/octo/app.metadata/issues/1.json")
        )
        .unwrap()
    );
    assert!(
        !target.join("127.0.0.1").exists(),
        "only the included folder's content"
    );
    // A single file: the target is that file.
    let head = account.path("head");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &account.profile,
            "-s",
            "forge",
            "--include",
            "127.0.0.1/octo/lib.git/HEAD",
        ])
        .arg(&head));
    assert_eq!(
        fs::read(&head).unwrap(),
        fs::read(account.volume.join("127.0.0.1/octo/lib.git/HEAD")).unwrap()
    );
    // Outside the snapshot, or absent: refused, nothing written.
    for include in ["../etc", "127.0.0.1/octo/none"] {
        let target = account.path("never");
        let out = forgesafe_pw()
            .args([
                "location",
                "pull",
                "-p",
                &account.profile,
                "-s",
                "forge",
                "--include",
                include,
            ])
            .arg(&target)
            .output()
            .unwrap();
        assert!(!out.status.success(), "--include {include} succeeded");
        assert!(!target.exists(), "--include {include} created the target");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}

#[test]
fn diff_names_refs_force_pushed_deleted_added_and_moved_and_repositories_added() {
    let account = Account::new();
    let (app, server) = (&account.app, &account.server);
    let before = stdout(&account.ok(&["snapshots"]));
    let first: Vec<Value> = serde_json::from_str(&before).unwrap();
    let first = first[0]["id"].as_str().unwrap().to_string();

    app.checkout("main");
    app.checkout_new_branch("old");
    app.push(&["old"]);
    let second = account.collect_and_push();
    assert_ne!(first, second);

    // Upstream: main moves forward, feature is force-pushed, old is deleted, topic is new, a
    // repository `tool` appears.
    app.checkout("main");
    let main_before = upstream_refs(app)["refs/heads/main"].clone();
    let main_after = app.commit("m.txt", "forward\n");
    app.push(&["main"]);
    app.checkout("feature");
    let feature_before = upstream_refs(app)["refs/heads/feature"].clone();
    let feature_after = app.rewrite_last_commit("f.txt", "rewritten\n");
    app.force_push(&["feature"]);
    git(&app.work, &["push", "-q", "origin", "--delete", "old"]);
    app.checkout_new_branch("topic");
    app.push(&["topic"]);
    let tool = Upstream::create(&server.path("private/octo/tool.git"), account.tmp.path());
    account.github.set_repos(vec![
        gh_repo(1, "app", server),
        gh_repo(2, "lib", server),
        gh_repo(3, "tool", server),
    ]);
    let third = account.collect_and_push();

    let out = account.ok(&["diff", "--json", &second[..10], &third]);
    let diff: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (diff["from"].as_str(), diff["to"].as_str()),
        (Some(second.as_str()), Some(third.as_str()))
    );
    assert_eq!(diff["repositories_added"], json!(["127.0.0.1/octo/tool"]));
    assert_eq!(diff["repositories_gone"], json!([]));
    let repos = diff["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 1, "only app changed: {diff}");
    let app_diff = &repos[0];
    assert_eq!(app_diff["repository"], "127.0.0.1/octo/app");
    assert_eq!(
        app_diff["refs_force_pushed"],
        json!([{"ref": "refs/heads/feature", "old": feature_before, "new": feature_after}])
    );
    assert_eq!(
        app_diff["refs_moved"],
        json!([{"ref": "refs/heads/main", "old": main_before, "new": main_after}])
    );
    assert_eq!(
        app_diff["refs_deleted"],
        json!([{"ref": "refs/heads/old", "old": main_before}])
    );
    assert_eq!(
        app_diff["refs_added"],
        json!([{"ref": "refs/heads/topic", "new": feature_after}])
    );

    // Text, newest by default; the force-push comes first.
    let text = stdout(&account.ok(&["diff", &second]));
    let first_line = text.lines().next().unwrap_or_default();
    assert!(
        first_line.contains("refs/heads/feature FORCE-PUSHED")
            && first_line.contains(&feature_before[..12]),
        "{text}"
    );
    assert!(text.contains("refs/heads/old DELETED"), "{text}");
    assert!(
        text.contains("127.0.0.1/octo/tool: repository added"),
        "{text}"
    );
    // The same snapshot twice: nothing.
    let same = stdout(&account.ok(&["diff", &third, &third]));
    assert!(same.starts_with("no change between"), "{same}");
    let _ = tool;
}

#[test]
fn a_volume_forgesafe_did_not_collect_is_read_from_the_mirrors_ref_files() {
    // What gickup or a cron job of `git clone --mirror` leaves: no forgesafe record.
    let tmp = tempfile::tempdir().unwrap();
    let up = Upstream::create(&tmp.path().join("srv/site.git"), tmp.path());
    up.checkout_new_branch("dev");
    up.commit("dev.txt", "dev\n");
    up.push(&["dev"]);
    up.annotated_tag("v2");
    up.push(&["v2"]);
    let volume = tmp.path().join("volume");
    fs::create_dir_all(volume.join("team")).unwrap();
    git(
        &volume.join("team"),
        &[
            "clone",
            "-q",
            "--mirror",
            up.bare.to_str().unwrap(),
            "site.git",
        ],
    );
    // Some refs packed, some loose: both are read.
    git(&volume.join("team/site.git"), &["pack-refs", "--all"]);
    git(
        &volume.join("team/site.git"),
        &["update-ref", "refs/heads/loose", "HEAD"],
    );
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw()
        .args(["location", "push", "-p", &profile, "-s", "plain"])
        .arg(&volume));

    let out = ok(forgesafe_pw().args(["repos", "--json", "-p", &profile, "-s", "plain"]));
    let repos: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(repos.len(), 1, "{repos:?}");
    assert_eq!(
        (
            repos[0]["owner"].as_str(),
            repos[0]["name"].as_str(),
            repos[0]["host"].as_str()
        ),
        (Some("team"), Some("site"), None)
    );
    let expected = local_refs(&volume.join("team/site.git"));
    assert_eq!(repos[0]["refs"].as_u64(), Some(expected.len() as u64));
    assert_eq!(repos[0]["head"], "refs/heads/main");

    let work = tmp.path().join("site");
    ok(forgesafe_pw()
        .args([
            "restore",
            "-p",
            &profile,
            "-s",
            "plain",
            "--repo",
            "team/site",
            "--checkout",
            "dev",
        ])
        .arg(&work));
    assert_eq!(fs::read_to_string(work.join("dev.txt")).unwrap(), "dev\n");
    assert_eq!(
        local_refs(&work.join(".git"))
            .into_iter()
            .filter(|(n, _)| !n.starts_with("refs/remotes/"))
            .collect::<std::collections::BTreeMap<_, _>>(),
        expected
    );
    assert_fsck_clean(&work.join(".git"));
}

#[test]
fn a_repository_goes_back_into_each_forge_created_there_with_every_branch_and_tag() {
    let account = Account::new();
    let wanted = branches_and_tags(upstream_refs(&account.app));
    assert!(
        wanted.contains_key("refs/tags/v1.1.0") && wanted.contains_key("refs/heads/feature"),
        "{wanted:?}"
    );
    // (forge, its user name for tokens, --as, where it lands, the API call that creates it)
    let cases = [
        (
            "github",
            "x-access-token",
            None,
            "octo/app",
            "POST /api/v3/orgs/octo/repos",
        ),
        (
            "gitea",
            "oauth2",
            Some("team/app-restored"),
            "team/app-restored",
            "POST /api/v1/orgs/team/repos",
        ),
        (
            "gitlab",
            "oauth2",
            Some("restored"),
            "octocat/restored",
            "POST /api/v4/projects",
        ),
    ];
    for (kind, git_user, as_repo, full_name, create_call) in cases {
        let dest = DestinationForge::start(git_user, DEST_TOKEN);
        let api = dest.api.base_url();
        let mut args = vec![
            "--repo",
            "octo/app",
            "--to-forge",
            &api,
            "--forge-type",
            kind,
        ];
        args.extend(as_repo.iter().flat_map(|a| ["--as", *a]));
        let out = account.restore_to_forge(&args);
        assert!(out.status.success(), "{kind}: {}", stderr(&out));

        let calls: Vec<String> = dest
            .api
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect();
        assert!(
            calls.iter().any(|c| c == create_call),
            "{kind}: no `{create_call}` in {calls:?}"
        );
        for request in dest.api.requests() {
            assert!(
                !request.target.contains(DEST_TOKEN),
                "token in a URL: {}",
                request.target
            );
        }
        // A fresh mirror clone over smart HTTP has exactly the snapshot's branches and tags,
        // the forge's own refs (refs/pull/*) were not pushed, and HEAD names the same branch.
        let clone = account.path(&format!("clone-{kind}"));
        git(
            account.tmp.path(),
            &[
                "clone",
                "--quiet",
                "--mirror",
                &dest.authenticated_url(full_name),
                clone.to_str().unwrap(),
            ],
        );
        assert_eq!(local_refs(&clone), wanted, "{kind}");
        assert_fsck_clean(&clone);
        assert_eq!(
            git(&dest.git_dir(full_name), &["symbolic-ref", "HEAD"]),
            "refs/heads/main",
            "{kind}"
        );

        if kind != "github" {
            continue;
        }
        // Someone pushed to the restored repository: main moved and a branch appeared. A second
        // restore is refused, names the ref it would overwrite, and pushes nothing.
        let work = account.path("dest-work");
        git(
            account.tmp.path(),
            &[
                "clone",
                "--quiet",
                &dest.authenticated_url(full_name),
                work.to_str().unwrap(),
            ],
        );
        fs::write(work.join("later.txt"), "later\n").unwrap();
        git(&work, &["add", "later.txt"]);
        git(
            &work,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "commit",
                "-q",
                "-m",
                "later",
            ],
        );
        git(
            &work,
            &["push", "-q", "origin", "main", "main:refs/heads/theirs"],
        );
        let before = local_refs(&dest.git_dir(full_name));
        let out = account.restore_to_forge(&args);
        assert!(
            !out.status.success(),
            "a push into a non-empty repository must be refused"
        );
        let line = one_error_line(&out);
        assert!(
            line.contains("is not empty")
                && line.contains("refs/heads/main")
                && line.contains("--force"),
            "{line}"
        );
        assert_eq!(
            local_refs(&dest.git_dir(full_name)),
            before,
            "a refused restore pushed something"
        );

        // With --force the snapshot's refs win; refs only the forge has are kept.
        args.push("--force");
        let out = account.restore_to_forge(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let after = local_refs(&dest.git_dir(full_name));
        assert_eq!(after["refs/heads/main"], wanted["refs/heads/main"]);
        assert_eq!(after["refs/heads/theirs"], before["refs/heads/theirs"]);
        assert_fsck_clean(&dest.git_dir(full_name));
    }
}
