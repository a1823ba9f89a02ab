//! `forgesafe collect` and `forgesafe backup` end to end: a fake GitHub REST API (real socket,
//! GitHub's wire format) lists the account, real git smart HTTP (lighttpd + git http-backend,
//! behind basic auth) serves the repositories and the wiki, the real binary mirrors them.

mod common;

use common::fake_github::{comment_json, issue_json, repo_json, FakeGithub, RepoMeta};
use common::git::{assert_fsck_clean, assert_no_file_holds, git, local_refs, ls_remote, Upstream};
use common::git_http_server::{GitHttpServer, ServerOptions};
use common::*;
use serde_json::json;
use std::fs;
use std::path::Path;

const TOKEN: &str = "ghp_forgesafeTestToken0123456789abcdef";

fn gh_repo(id: u64, name: &str, server: &GitHttpServer) -> serde_json::Value {
    let mut r = repo_json(id, "octo", name, true);
    r["clone_url"] = json!(server.url(&format!("private/octo/{name}.git")));
    r
}

fn app_meta() -> RepoMeta {
    let mut m = RepoMeta {
        labels: vec![
            json!({"id": 1, "name": "bug", "color": "d73a4a"}),
            json!({"id": 2, "name": "help wanted", "color": "008672"}),
        ],
        milestones: vec![json!({"id": 11, "number": 1, "title": "v1", "state": "open"})],
        releases: vec![json!({"id": 5, "tag_name": "v1.0.0", "name": "One", "assets": []})],
        issues: vec![
            issue_json("octo/app", 1, "It breaks", "2024-02-01T00:00:00Z", false),
            issue_json("octo/app", 2, "Fix it", "2024-02-02T00:00:00Z", true),
        ],
        ..Default::default()
    };
    m.comments.insert(
        1,
        vec![comment_json(101, "me too"), comment_json(102, "and me")],
    );
    m.comments.insert(2, vec![comment_json(201, "looks good")]);
    m.pulls.insert(2, json!({"id": 9002, "number": 2, "title": "Fix it", "state": "open", "merged": false, "updated_at": "2024-02-02T00:00:00Z", "head": {"ref": "fix"}, "base": {"ref": "main"}}));
    m.reviews.insert(2, vec![json!({"id": 301, "state": "APPROVED", "body": "ship it", "user": {"login": "reviewer"}})]);
    m.review_comments.insert(
        2,
        vec![json!({"id": 401, "path": "src/lib.rs", "line": 3, "body": "nit"})],
    );
    m
}

fn write_config(dir: &Path, api: &str, dest: &Path) -> std::path::PathBuf {
    let conf = dir.join("conf.yml");
    fs::write(
        &conf,
        format!(
            "source:\n  github:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {api}\n      wiki: true\n      issues: true\ndestination:\n  local:\n    - path: {}\n      structured: true\n      bare: true\n",
            dest.display()
        ),
    )
    .unwrap();
    conf
}

fn collect(conf: &Path) -> std::process::Output {
    forgesafe()
        .env("GH_TOKEN_FOR_TEST", TOKEN)
        .args(["collect", "--config"])
        .arg(conf)
        .output()
        .unwrap()
}

fn assert_no_token(out: &std::process::Output, dest: &Path) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(TOKEN),
            "token in output"
        );
    }
    assert_no_file_holds(dest, TOKEN);
}

#[test]
fn a_github_account_is_mirrored_with_wiki_and_metadata_then_only_changes_are_fetched() {
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
    let wiki = Upstream::create(&server.path("private/octo/app.wiki.git"), tmp.path());
    wiki.commit("Home.md", "# Welcome\n");
    wiki.push(&["main"]);
    let lib = Upstream::create(&server.path("private/octo/lib.git"), tmp.path());

    let github = FakeGithub::start(
        TOKEN,
        vec![gh_repo(1, "app", &server), gh_repo(2, "lib", &server)],
        100,
    );
    github.set_meta("octo/app", app_meta());
    let dest = tmp.path().join("volume");
    let conf = write_config(tmp.path(), &github.base_url(), &dest);

    // First run: everything is new.
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 new, 0 updated, 0 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    let app_git = dest.join("127.0.0.1/octo/app.git");
    assert_eq!(local_refs(&app_git), ls_remote(app.bare.to_str().unwrap()));
    assert_fsck_clean(&app_git);
    assert_eq!(
        local_refs(&dest.join("127.0.0.1/octo/app.wiki.git")),
        ls_remote(wiki.bare.to_str().unwrap())
    );
    assert!(
        !dest.join("127.0.0.1/octo/lib.wiki.git").exists(),
        "a wiki that does not exist is skipped"
    );
    assert_eq!(
        local_refs(&dest.join("127.0.0.1/octo/lib.git")),
        ls_remote(lib.bare.to_str().unwrap())
    );
    let meta = dest.join("127.0.0.1/octo/app.metadata");
    let issue: serde_json::Value =
        serde_json::from_slice(&fs::read(meta.join("issues/1.json")).unwrap()).unwrap();
    assert_eq!(issue["comments_list"].as_array().unwrap().len(), 2);
    let pull: serde_json::Value =
        serde_json::from_slice(&fs::read(meta.join("pulls/2.json")).unwrap()).unwrap();
    assert_eq!(pull["reviews"][0]["state"], "APPROVED");
    assert_eq!(pull["review_comments"][0]["body"], "nit");
    assert_eq!(
        pull["head"]["ref"], "fix",
        "the pull request object itself is stored"
    );
    assert!(
        meta.join("labels/bug.json").exists()
            && meta.join("milestones/1.json").exists()
            && meta.join("releases/5.json").exists()
    );
    let text = fs::read_to_string(meta.join("issues/1.json")).unwrap();
    assert!(
        text.starts_with("{\n  \"body\""),
        "pretty and key-sorted: {text}"
    );
    assert_no_token(&out, &dest);

    // Second run, nothing changed upstream: no git fetch, no per-item requests. (The issue list
    // is asked `since` the newest update seen, a new URL once; from then on it is a 304 too.)
    github.clear_requests();
    let pull_mtime = fs::metadata(meta.join("pulls/2.json"))
        .unwrap()
        .modified()
        .unwrap();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 new, 0 updated, 2 unchanged, 0 failed; 0 bytes fetched"),
        "{}",
        stderr(&out)
    );
    assert!(
        !github
            .requests()
            .iter()
            .any(|r| r.target.contains("/comments") || r.target.contains("/pulls/")),
        "{:?}",
        github.requests()
    );
    github.clear_requests();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = github.requests();
    let fresh: Vec<_> = requests
        .iter()
        .filter(|r| r.header("if-none-match").is_none() && r.target != "/api/v3/user")
        .map(|r| r.target.clone())
        .collect();
    assert!(
        fresh.is_empty(),
        "unconditional requests on a no-change run: {fresh:?}"
    );
    assert!(
        stderr(&out).contains(&format!("({} answered 304)", requests.len() - 1)),
        "{}",
        stderr(&out)
    );

    // A new comment on issue 1 and a new commit: only those are fetched again.
    github.edit_meta("octo/app", |m| {
        m.issues[0]["updated_at"] = json!("2024-03-01T00:00:00Z");
        m.comments
            .get_mut(&1)
            .unwrap()
            .push(comment_json(103, "fixed?"));
        m.labels.retain(|l| l["name"] != "help wanted");
    });
    app.checkout("main");
    app.commit("new.txt", "new\n");
    app.push(&["main"]);
    github.clear_requests();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 new, 1 updated, 1 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    let targets: Vec<String> = github.requests().iter().map(|r| r.target.clone()).collect();
    assert!(
        targets.iter().any(|t| t.contains("/issues/1/comments")),
        "{targets:?}"
    );
    assert!(
        !targets.iter().any(|t| t.contains("/pulls/2")),
        "an unchanged pull request was fetched again: {targets:?}"
    );
    let issue: serde_json::Value =
        serde_json::from_slice(&fs::read(meta.join("issues/1.json")).unwrap()).unwrap();
    assert_eq!(issue["comments_list"].as_array().unwrap().len(), 3);
    assert_eq!(
        fs::metadata(meta.join("pulls/2.json"))
            .unwrap()
            .modified()
            .unwrap(),
        pull_mtime,
        "unchanged files are not rewritten"
    );
    assert!(
        !meta
            .join(format!(
                "labels/{}",
                forgesafe::collect::metadata::file_name("help wanted")
            ))
            .exists(),
        "a deleted label is removed"
    );
    assert_eq!(local_refs(&app_git), ls_remote(app.bare.to_str().unwrap()));
    assert_no_token(&out, &dest);

    // A repository that disappears upstream is reported and its mirror kept.
    github.set_repos(vec![gh_repo(1, "app", &server)]);
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("127.0.0.1/octo/lib.git is no longer listed upstream"),
        "{}",
        stderr(&out)
    );
    assert!(dest.join("127.0.0.1/octo/lib.git").exists());
}

#[test]
fn one_failing_repository_does_not_stop_the_others_and_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let good = Upstream::create(&tmp.path().join("srv/good.git"), tmp.path());
    let dest = tmp.path().join("volume");
    let out = forgesafe()
        .args(["collect", "url"])
        .arg(tmp.path().join("srv/missing.git"))
        .arg(&good.bare)
        .arg("--dest")
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 new, 0 updated, 0 unchanged, 1 failed"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("FAILED") && stderr(&out).contains("missing"),
        "{}",
        stderr(&out)
    );
    let mirrored = dest.join("local/srv/good.git");
    assert_eq!(
        local_refs(&mirrored),
        ls_remote(good.bare.to_str().unwrap())
    );
}

#[test]
fn bad_configuration_fails_before_any_network_call() {
    let tmp = tempfile::tempdir().unwrap();
    let github = FakeGithub::start(TOKEN, vec![], 100);
    let conf = write_config(tmp.path(), &github.base_url(), &tmp.path().join("v"));
    // The token variable is not set.
    let out = run_expect(forgesafe().args(["collect", "--config"]).arg(&conf), 69);
    assert!(
        stderr(&out).contains("GH_TOKEN_FOR_TEST") && stderr(&out).contains("conf.yml"),
        "{}",
        stderr(&out)
    );
    let bad = tmp.path().join("bad.yml");
    fs::write(
        &bad,
        "source:\n  githb:\n    - user: x\ndestination:\n  local:\n    - path: /tmp/x\n",
    )
    .unwrap();
    let out = run_expect(forgesafe().args(["collect", "--config"]).arg(&bad), 69);
    assert!(stderr(&out).contains("githb"), "{}", stderr(&out));
    fs::write(&bad, "source: [unclosed\n").unwrap();
    run_expect(forgesafe().args(["collect", "--config"]).arg(&bad), 69);
    assert!(
        github.requests().is_empty(),
        "requests were made: {:?}",
        github.requests()
    );
}

#[test]
fn backup_collects_pushes_and_the_restored_mirror_is_a_working_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let up = Upstream::create(&tmp.path().join("srv/project.git"), tmp.path());
    up.commit("src.rs", "fn main() {}\n");
    up.push(&["main"]);
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    let dest = tmp.path().join("volume");

    let out = ok(forgesafe_pw()
        .args([
            "backup", "-p", &profile, "-s", "forge", "-o", "ghBackup", "url",
        ])
        .arg(&up.bare)
        .arg("--dest")
        .arg(&dest));
    let (key, id, _, _) = parse_push_output(&stdout(&out));
    assert_eq!(key, "ghBackup");
    let restored = tmp.path().join("restored");
    ok(forgesafe_pw()
        .args([
            "location",
            "pull",
            "-p",
            &profile,
            "-s",
            "forge",
            "--snapshot",
            &id,
        ])
        .arg(&restored));
    let mirror = restored.join("local/srv/project.git");
    assert_fsck_clean(&mirror);
    assert_eq!(local_refs(&mirror), ls_remote(up.bare.to_str().unwrap()));
    ok(restic().arg("-r").arg(&repo).args(["check", "--read-data"]));
}

#[test]
fn the_readme_demo_mirrors_pushes_and_restores_a_local_git_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let up = Upstream::create(&tmp.path().join("srv/checkout.git"), tmp.path());
    let data = tmp.path().join("forgesafe-data");
    let first = ok(forgesafe()
        .args(["demo", "--source"])
        .arg(&up.bare)
        .arg("--data")
        .arg(&data));
    let (_, _, logical, physical) = parse_push_output(&stdout(&first));
    assert!(physical > 0 && logical > 0);
    assert!(stderr(&first).contains("identical"), "{}", stderr(&first));
    let again = ok(forgesafe()
        .args(["demo", "--source"])
        .arg(&up.bare)
        .arg("--data")
        .arg(&data));
    let (_, _, _, physical_again) = parse_push_output(&stdout(&again));
    assert!(
        physical_again < physical / 4,
        "a repeated demo must add little: {physical_again} of {physical}"
    );
    assert_fsck_clean(&data.join("restored/local/srv/checkout.git"));
}

#[test]
fn a_gitea_account_is_mirrored_with_its_metadata_in_giteas_dialect() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("octo".into(), TOKEN.into())),
        ..Default::default()
    });
    let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let mut repo = gh_repo(1, "app", &server);
    let stars = repo
        .as_object_mut()
        .unwrap()
        .remove("stargazers_count")
        .unwrap();
    repo["stars_count"] = stars;
    let gitea = FakeGithub::start(TOKEN, vec![repo], 50);
    let mut meta = app_meta();
    meta.issues[0]["pull_request"] = serde_json::Value::Null; // Gitea's plain issue
    gitea.set_meta("octo/app", meta);
    let dest = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!("source:\n  gitea:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\n      issues: true\ndestination:\n  local:\n    - path: {}\n", gitea.base_url(), dest.display()),
    )
    .unwrap();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 new, 0 updated, 0 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        local_refs(&dest.join("127.0.0.1/octo/app.git")),
        ls_remote(app.bare.to_str().unwrap())
    );
    let meta = dest.join("127.0.0.1/octo/app.metadata");
    assert!(
        meta.join("issues/1.json").exists(),
        "a Gitea issue (pull_request: null) is an issue"
    );
    let pull: serde_json::Value =
        serde_json::from_slice(&fs::read(meta.join("pulls/2.json")).unwrap()).unwrap();
    assert_eq!(
        pull["review_comments"][0]["body"], "nit",
        "review comments come from the per-review endpoint"
    );
    assert!(
        meta.join("milestones/11.json").exists(),
        "Gitea milestones are keyed by id"
    );
    let requests = gitea.requests();
    assert!(
        requests.iter().all(|r| r.target.starts_with("/api/v1/")),
        "{:?}",
        requests.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert!(requests
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("token {TOKEN}")[..])));
    assert!(requests.iter().any(|r| r.target.contains("limit=50")));
    assert_no_token(&out, &dest);
}

#[test]
fn a_gitlab_account_is_mirrored_with_token_auth_and_its_own_project_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("oauth2".into(), TOKEN.into())),
        ..Default::default()
    });
    let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let gitlab = FakeGithub::start(TOKEN, vec![gh_repo(1, "app", &server)], 100);
    let dest = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!("source:\n  gitlab:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\n      wiki: true\ndestination:\n  local:\n    - path: {}\n", gitlab.base_url(), dest.display()),
    )
    .unwrap();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 new, 0 updated, 0 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        local_refs(&dest.join("127.0.0.1/octo/app.git")),
        ls_remote(app.bare.to_str().unwrap())
    );
    let requests = gitlab.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.target.starts_with("/api/v4/projects?membership=true")),
        "{:?}",
        requests.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert!(requests
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}")[..])));
    assert_no_token(&out, &dest);
    // Unchanged: the listing is a 304 and nothing is fetched.
    let out = collect(&conf);
    assert!(
        stderr(&out).contains("0 new, 0 updated, 1 unchanged, 0 failed; 0 bytes fetched"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_gitlab_projects_issues_merge_requests_and_releases_are_kept_in_gitlabs_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("oauth2".into(), TOKEN.into())),
        ..Default::default()
    });
    Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let gitlab = FakeGithub::start(TOKEN, vec![gh_repo(1, "app", &server)], 1); // one item per page: pagination is exercised
    gitlab.set_meta("octo/app", app_meta());
    let dest = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!("source:\n  gitlab:\n    - token: GH_TOKEN_FOR_TEST\n      url: {}\n      issues: true\ndestination:\n  local:\n    - path: {}\n", gitlab.base_url(), dest.display()),
    )
    .unwrap();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 new, 0 updated, 0 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("not collected"),
        "no warning about GitLab metadata any more: {}",
        stderr(&out)
    );
    let meta = dest.join("127.0.0.1/octo/app.metadata");
    let read = |rel: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(meta.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
            .unwrap()
    };
    let issue = read("issues/1.json");
    assert_eq!(issue["state"], "opened");
    let notes: Vec<&str> = issue["discussions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["notes"][0]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        ["me too", "and me"],
        "both discussions, across two pages"
    );
    let mr = read("merge_requests/2.json");
    assert!(
        mr["diff_refs"].is_object(),
        "the single merge request is stored, not only the list entry"
    );
    assert_eq!(
        mr["approvals"]["approved_by"][0]["user"]["username"],
        "reviewer"
    );
    assert_eq!(mr["discussions"][0]["notes"][0]["body"], "looks good");
    assert!(
        !meta.join("issues/2.json").exists() && !meta.join("pulls").exists(),
        "merge requests live apart from issues"
    );
    let releases: Vec<_> = fs::read_dir(meta.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&fs::read(&releases[0]).unwrap()).unwrap()
            ["tag_name"],
        "v1.0.0"
    );
    assert!(meta.join("labels/bug.json").exists() && meta.join("milestones/1.json").exists());
    assert_no_token(&out, &dest);

    // A new comment on the merge request: the next run asks with updated_after and refetches only it.
    gitlab.edit_meta("octo/app", |m| {
        m.issues[1]["updated_at"] = json!("2024-03-01T00:00:00Z");
        m.comments
            .get_mut(&2)
            .unwrap()
            .push(comment_json(202, "merged, thanks"));
    });
    gitlab.clear_requests();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    let targets: Vec<String> = gitlab.requests().iter().map(|r| r.target.clone()).collect();
    assert!(
        targets
            .iter()
            .any(|t| t.contains("/merge_requests?")
                && t.contains("updated_after=2024-02-02T00:00:00Z")),
        "{targets:?}"
    );
    assert!(
        !targets.iter().any(|t| t.contains("/issues/1/discussions")),
        "the unchanged issue is not read again: {targets:?}"
    );
    assert_eq!(
        read("merge_requests/2.json")["discussions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn asset_json(api: &str, id: u64, name: &str, content: &str) -> serde_json::Value {
    json!({"id": id, "name": name, "size": content.len(), "content_type": "application/gzip", "state": "uploaded",
           "url": format!("{api}/api/v3/repos/octo/app/releases/assets/{id}"),
           "browser_download_url": format!("https://github.com/octo/app/releases/download/v1.0.0/{name}"),
           "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"})
}

#[test]
fn release_assets_follow_the_storage_redirect_without_the_token_and_stay_in_step_with_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("x-access-token".into(), TOKEN.into())),
        ..Default::default()
    });
    Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let github = FakeGithub::start(TOKEN, vec![gh_repo(1, "app", &server)], 100);
    // A second server stands for the object storage GitHub redirects asset downloads to; it
    // knows no token, so a leaked Authorization header would also be answered with 401.
    let storage = FakeGithub::start("storage-knows-no-token", vec![], 100);
    github.redirect_assets_to(&storage.base_url());
    let api = github.base_url();
    let (tarball, sums) = (
        "\u{1f}gzip bytes of the build",
        "abc123  app-linux.tar.gz\n",
    );
    storage.put_file("octo/app/71", tarball);
    storage.put_file("octo/app/72", sums);
    let mut meta = app_meta();
    meta.releases = vec![json!({"id": 5, "tag_name": "v1.0.0", "name": "One",
        "assets": [asset_json(&api, 71, "app-linux.tar.gz", tarball), asset_json(&api, 72, "SHA256SUMS", sums)]})];
    github.set_meta("octo/app", meta);
    let dest = tmp.path().join("volume");
    let conf = write_config(tmp.path(), &api, &dest);
    fs::write(
        &conf,
        fs::read_to_string(&conf).unwrap().replace(
            "      issues: true\n",
            "      issues: true\n      releaseassets: true\n",
        ),
    )
    .unwrap();

    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 release asset files downloaded"),
        "{}",
        stderr(&out)
    );
    let assets = dest.join("127.0.0.1/octo/app.metadata/release-assets/v1.0.0");
    assert_eq!(
        fs::read_to_string(assets.join("app-linux.tar.gz")).unwrap(),
        tarball
    );
    assert_eq!(fs::read_to_string(assets.join("SHA256SUMS")).unwrap(), sums);
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(assets.join("assets.json")).unwrap()).unwrap();
    assert_eq!(record["SHA256SUMS"]["id"], 72);
    let asset_requests: Vec<_> = github
        .requests()
        .into_iter()
        .filter(|r| r.target.contains("/releases/assets/"))
        .collect();
    assert_eq!(asset_requests.len(), 2);
    assert!(
        asset_requests
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}")[..])),
        "the forge's own route gets the token"
    );
    let fetched = storage.requests();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(
        fetched.iter().all(|r| r.header("authorization").is_none()),
        "the token must not follow the redirect to storage: {fetched:?}"
    );
    assert_no_token(&out, &dest);

    // Unchanged upstream: nothing is downloaded again.
    storage.clear_requests();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        storage.requests().is_empty() && !stderr(&out).contains("release asset"),
        "{}",
        stderr(&out)
    );

    // SHA256SUMS re-uploaded (a new id, new bytes) and the tarball deleted from the release.
    let new_sums = "def456  app-linux.tar.gz\n";
    storage.put_file("octo/app/73", new_sums);
    github.edit_meta("octo/app", |m| {
        m.releases[0]["assets"] = json!([asset_json(&api, 73, "SHA256SUMS", new_sums)])
    });
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(assets.join("SHA256SUMS")).unwrap(),
        new_sums
    );
    assert!(
        !assets.join("app-linux.tar.gz").exists(),
        "an asset removed upstream goes (older snapshots keep it)"
    );

    // A download shorter than the size the forge announced is refused: the repository counts as
    // failed, and neither a short file nor a temporary file is left.
    let mut broken = asset_json(&api, 74, "big.iso", "x".repeat(1000).as_str());
    broken["size"] = json!(1000);
    storage.put_file("octo/app/74", "only part of it");
    github.edit_meta("octo/app", |m| {
        m.releases[0]["assets"].as_array_mut().unwrap().push(broken)
    });
    let out = collect(&conf);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("FAILED octo/app")
            && stderr(&out).contains("big.iso")
            && stderr(&out).contains("announced 1000"),
        "{}",
        stderr(&out)
    );
    let left: Vec<String> = fs::read_dir(&assets)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "only SHA256SUMS and assets.json: {left:?}");
}

#[test]
fn gitea_release_assets_come_from_its_download_route_with_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("octo".into(), TOKEN.into())),
        ..Default::default()
    });
    Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let gitea = FakeGithub::start(TOKEN, vec![gh_repo(1, "app", &server)], 100);
    let content = "a Gitea attachment\n";
    gitea.put_file("octo/app/v2/notes.txt", content);
    let meta = RepoMeta {
        releases: vec![
            json!({"id": 9, "tag_name": "v2", "assets": [{"id": 3, "name": "notes.txt", "size": content.len(),
            "uuid": "0b5e", "created_at": "2024-05-01T00:00:00Z",
            "browser_download_url": format!("{}/octo/app/releases/download/v2/notes.txt", gitea.base_url())}]}),
        ],
        ..Default::default()
    };
    gitea.set_meta("octo/app", meta);
    let dest = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!("source:\n  gitea:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\n      issues: true\n      releaseassets: true\ndestination:\n  local:\n    - path: {}\n", gitea.base_url(), dest.display()),
    )
    .unwrap();
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(dest.join("127.0.0.1/octo/app.metadata/release-assets/v2/notes.txt"))
            .unwrap(),
        content
    );
    let download = gitea
        .requests()
        .into_iter()
        .find(|r| r.target.contains("/releases/download/"))
        .unwrap();
    assert_eq!(
        download.header("authorization"),
        Some(&format!("token {TOKEN}")[..]),
        "a private repository's attachment needs the token"
    );
    assert_no_token(&out, &dest);
}

#[test]
fn the_summary_and_failures_go_through_the_log_and_config_warnings_are_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let good = Upstream::create(&tmp.path().join("srv/good.git"), tmp.path());
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!(
            "cron: \"0 1 * * *\"\nsource:\n  any:\n    - url: {}\n    - url: {}\ndestination:\n  local:\n    - path: {}\n      bare: true\n",
            good.bare.display(),
            tmp.path().join("srv/missing.git").display(),
            tmp.path().join("volume").display()
        ),
    )
    .unwrap();
    let collect = |extra: &[&str]| {
        run_expect(
            forgesafe()
                .args(extra)
                .args(["collect", "--config"])
                .arg(&conf),
            69,
        )
    };

    // Human format, default verbosity: the warning once, the summary and the failure.
    let err = stderr(&collect(&[]));
    assert_eq!(
        err.matches("`cron` is acted on by `forgesafe serve` only")
            .count(),
        1,
        "each config warning once: {err}"
    );
    assert!(
        err.contains("INFO forgesafe collect: 1 new, 0 updated, 0 unchanged, 1 failed"),
        "{err}"
    );
    assert!(
        err.contains("ERROR forgesafe collect: FAILED srv/missing: repository:"),
        "{err}"
    );

    // JSON lines: the same events as objects with a level and a message.
    let err = stderr(&collect(&["--log-format", "json"]));
    let events: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let message = |level: &str, text: &str| {
        events
            .iter()
            .filter(|e| {
                e["level"] == level && e["message"].as_str().is_some_and(|m| m.contains(text))
            })
            .count()
    };
    assert_eq!(
        message(
            "WARN",
            "conf.yml: `cron` is acted on by `forgesafe serve` only"
        ),
        1,
        "{err}"
    );
    assert_eq!(
        message(
            "INFO",
            "forgesafe collect: 0 new, 0 updated, 1 unchanged, 1 failed"
        ),
        1,
        "{err}"
    );
    assert_eq!(
        message("ERROR", "forgesafe collect: FAILED srv/missing"),
        1,
        "{err}"
    );
    assert!(
        err.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()
                || l.starts_with("forgesafe: error: ")),
        "{err}"
    );

    // --quiet: errors only, so the failure but neither the summary nor the warning.
    let err = stderr(&collect(&["--quiet"]));
    assert!(
        err.contains("FAILED srv/missing") && err.contains("collect incomplete"),
        "{err}"
    );
    assert!(!err.contains("unchanged") && !err.contains("cron"), "{err}");
}

#[test]
fn dest_and_parallel_given_before_the_source_are_used() {
    let tmp = tempfile::tempdir().unwrap();
    let up = Upstream::create(&tmp.path().join("srv/app.git"), tmp.path());
    let dest = tmp.path().join("volume");
    ok(forgesafe()
        .args(["collect", "--parallel", "1", "--dest"])
        .arg(&dest)
        .arg("url")
        .arg(&up.bare));
    assert_eq!(
        local_refs(&dest.join("local/srv/app.git")),
        ls_remote(up.bare.to_str().unwrap())
    );
    let out = run_expect(forgesafe().args(["collect", "url"]).arg(&up.bare), 69);
    assert!(
        stderr(&out).contains("needs --dest DIR"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_collect_reports_force_pushes_deleted_refs_and_repositories_gone_once_each() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("x-access-token".into(), TOKEN.into())),
        ..Default::default()
    });
    let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    app.checkout_new_branch("feature");
    let first_tip = app.commit("f.txt", "one\n");
    app.commit("f.txt", "two\n");
    app.push(&["feature"]);
    app.checkout_new_branch("old");
    app.push(&["old"]);
    Upstream::create(&server.path("private/octo/lib.git"), tmp.path());
    let github = FakeGithub::start(
        TOKEN,
        vec![gh_repo(1, "app", &server), gh_repo(2, "lib", &server)],
        100,
    );
    let dest = tmp.path().join("volume");
    let conf = write_config(tmp.path(), &github.base_url(), &dest);
    let changes_dir = dest.join(".forgesafe/changes");
    assert!(collect(&conf).status.success());
    assert!(!changes_dir.exists(), "nothing changed upstream, no report");

    // A fast-forward is not a rewrite; a force-push, a deleted branch and a repository gone are.
    app.checkout("main");
    app.commit("m.txt", "forward\n");
    app.push(&["main"]);
    app.checkout("feature");
    let old_tip = git(&app.work, &["rev-parse", "HEAD"]);
    git(&app.work, &["reset", "-q", "--hard", &first_tip]);
    let new_tip = app.commit("f.txt", "rewritten\n");
    app.force_push(&["feature"]);
    git(&app.work, &["push", "-q", "origin", "--delete", "old"]);
    github.set_repos(vec![gh_repo(1, "app", &server)]);
    let out = collect(&conf);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "octo/app: refs/heads/feature was FORCE-PUSHED upstream (old tip {}",
            &old_tip[..12]
        )),
        "{err}"
    );
    assert!(
        err.contains("octo/app: refs/heads/old was DELETED upstream"),
        "{err}"
    );
    assert!(
        err.contains("127.0.0.1/octo/lib.git is GONE from the forge's listing"),
        "{err}"
    );
    let reports: Vec<_> = fs::read_dir(&changes_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(&reports[0]).unwrap()).unwrap();
    assert_eq!(
        report["repositories"].as_array().unwrap().len(),
        1,
        "main moved forward: not a rewrite: {report}"
    );
    let app_changes = &report["repositories"][0];
    assert_eq!(app_changes["mirror"], "127.0.0.1/octo/app.git");
    assert_eq!(
        app_changes["force_pushed"],
        serde_json::json!([{"ref": "refs/heads/feature", "old": old_tip, "new": new_tip}])
    );
    // `old` was branched from feature's old tip.
    assert_eq!(
        app_changes["deleted"],
        serde_json::json!([{"ref": "refs/heads/old", "old": old_tip}])
    );
    assert_eq!(
        report["gone"],
        serde_json::json!(["127.0.0.1/octo/lib.git"])
    );
    assert!(
        report.get("earlier_snapshot").is_none(),
        "a collect alone knows no snapshots"
    );
    // The mirrors record follows the new tips.
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(dest.join(".forgesafe/mirrors.json")).unwrap()).unwrap();
    assert_eq!(
        record["mirrors"]["127.0.0.1/octo/app.git"]["refs"]["refs/heads/feature"],
        serde_json::json!(new_tip)
    );

    // The gone repository is reported once: the next run has nothing new to say.
    assert!(collect(&conf).status.success());
    assert_eq!(fs::read_dir(&changes_dir).unwrap().count(), 1);
}

const DEST_TOKEN: &str = "gitea_forgesafeDestinationToken0123456";

#[test]
fn a_gitea_destination_is_kept_a_live_mirror_after_each_collect_force_pushes_and_deletions_included(
) {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("x-access-token".into(), TOKEN.into())),
        ..Default::default()
    });
    let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    app.checkout_new_branch("feature");
    app.commit("f.txt", "feature\n");
    app.push(&["feature"]);
    app.checkout("main");
    app.commit("two.txt", "two\n");
    app.annotated_tag("v1");
    app.push(&["main", "v1"]);
    let lib = Upstream::create(&server.path("private/octo/lib.git"), tmp.path());
    let github = FakeGithub::start(
        TOKEN,
        vec![gh_repo(1, "app", &server), gh_repo(2, "lib", &server)],
        100,
    );

    // The second forge: Gitea's API (fake, real socket) creating real repositories that real
    // git http-backend serves with receive-pack, behind basic auth.
    let second = common::destination_forge::DestinationForge::start("oauth2", DEST_TOKEN);
    let (dest_git, gitea) = (&second.server, &second.api);

    let volume = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!(
            "source:\n  github:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\ndestination:\n  local:\n    - path: {}\n  gitea:\n    - token: GITEA_TOKEN_FOR_TEST\n      url: {}\n      user: backups\n      mirror:\n        enabled: true\n",
            github.base_url(),
            volume.display(),
            gitea.base_url()
        ),
    )
    .unwrap();
    let collect = || {
        let out = forgesafe()
            .env("GH_TOKEN_FOR_TEST", TOKEN)
            .env("GITEA_TOKEN_FOR_TEST", DEST_TOKEN)
            .args(["collect", "--config"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        for stream in [stdout(&out), stderr(&out)] {
            assert!(
                !stream.contains(TOKEN) && !stream.contains(DEST_TOKEN),
                "a token in the output: {stream}"
            );
        }
        out
    };
    let mirrored_equals_upstream = |upstream: &Upstream, name: &str| {
        let pushed = dest_git.path(&format!("private/backups/{name}.git"));
        assert_eq!(
            local_refs(&pushed),
            ls_remote(upstream.bare.to_str().unwrap()),
            "{name} on the second forge"
        );
        assert_fsck_clean(&pushed);
    };

    let out = collect();
    assert!(
        !stderr(&out).contains("destination.gitea"),
        "no warning for a gitea destination that asks for pushes: {}",
        stderr(&out)
    );
    mirrored_equals_upstream(&app, "app");
    mirrored_equals_upstream(&lib, "lib");
    let creates = gitea
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.target == "/api/v1/orgs/backups/repos")
        .count();
    assert_eq!(creates, 2, "one repository created per source repository");

    // Upstream rewrites main and deletes a branch; the next collect repeats both there.
    app.rewrite_last_commit("two.txt", "rewritten\n");
    app.force_push(&["main"]);
    git(&app.work, &["push", "-q", "origin", ":feature"]);
    gitea.clear_requests();
    collect();
    mirrored_equals_upstream(&app, "app");
    mirrored_equals_upstream(&lib, "lib");
    assert!(
        !local_refs(&dest_git.path("private/backups/app.git")).contains_key("refs/heads/feature")
    );
    assert!(
        gitea.requests().iter().all(|r| r.method == "GET"),
        "nothing created the second time"
    );

    // Nothing of the second forge's token was written into the volume or the pushed mirrors.
    assert_no_file_holds(&volume, DEST_TOKEN);
    assert_no_file_holds(&dest_git.root, DEST_TOKEN);
}

#[test]
fn metadata_is_read_a_bounded_number_of_repositories_at_a_time_and_a_steady_state_is_all_304s() {
    let tmp = tempfile::tempdir().unwrap();
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("x-access-token".into(), TOKEN.into())),
        ..Default::default()
    });
    let names: Vec<String> = (0..12).map(|i| format!("repo{i:02}")).collect();
    let mut repos = Vec::new();
    for (i, name) in names.iter().enumerate() {
        Upstream::create(
            &server.path(&format!("private/octo/{name}.git")),
            tmp.path(),
        );
        repos.push(gh_repo(i as u64 + 1, name, &server));
    }
    let github = FakeGithub::start(TOKEN, repos, 100);
    for name in &names {
        let full_name = format!("octo/{name}");
        github.set_meta(
            &full_name,
            RepoMeta {
                issues: vec![issue_json(
                    &full_name,
                    1,
                    "one",
                    "2024-02-01T00:00:00Z",
                    false,
                )],
                ..Default::default()
            },
        );
    }
    // As far from the forge as a cluster is from github.com.
    github.set_latency(std::time::Duration::from_millis(50));
    let dest = tmp.path().join("vol");
    let conf = write_config(tmp.path(), &github.base_url(), &dest);
    let collect_with = |api_parallel: &str| {
        let out = forgesafe()
            .env("GH_TOKEN_FOR_TEST", TOKEN)
            .args(["collect", "--api-parallel", api_parallel, "--config"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };

    collect_with("4");
    let most = github.most_in_flight();
    assert!(
        (2..=4).contains(&most),
        "requests in flight at once: {most} (bound 4)"
    );
    for name in &names {
        assert!(
            dest.join(format!("127.0.0.1/octo/{name}.metadata/issues/1.json"))
                .exists(),
            "{name}'s issue"
        );
    }

    // One request at a time when asked.
    github.reset_most_in_flight();
    collect_with("1");
    assert_eq!(github.most_in_flight(), 1);

    // The steady state (the second run without changes) is conditional requests only, answered
    // 304, at any parallelism.
    github.clear_requests();
    github.reset_most_in_flight();
    let out = collect_with("4");
    let requests = github.requests();
    let fresh: Vec<_> = requests
        .iter()
        .filter(|r| r.header("if-none-match").is_none() && r.target != "/api/v3/user")
        .map(|r| r.target.clone())
        .collect();
    assert!(
        fresh.is_empty(),
        "unconditional requests in a steady state: {fresh:?}"
    );
    assert!(
        requests.len() >= names.len() * 4,
        "{} requests",
        requests.len()
    );
    assert!(
        stderr(&out).contains(&format!("({} answered 304)", requests.len() - 1)),
        "{}",
        stderr(&out)
    );
    assert!(github.most_in_flight() >= 2);
}
