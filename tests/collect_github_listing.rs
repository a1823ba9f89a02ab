//! Listing repositories from a fake GitHub REST API (see `tests/common/fake_github.rs`).

mod common;

use std::time::{Duration, Instant};

use common::fake_github::{repo_json, FakeGithub, Throttle};
use forgesafe::collect::forge::{Forge, Github, ListingCache, RepoListing};
use forgesafe::http::RetryPolicy;
use forgesafe::secret::Secret;

const TOKEN: &str = "ghp_faketoken0123456789abcdefABCDEF0000";

fn five_repos() -> Vec<serde_json::Value> {
    ["zeta", "alpha", "mid", "beta", "omega"]
        .iter()
        .enumerate()
        .map(|(i, name)| repo_json(i as u64 + 1, "alice", name, i % 2 == 0))
        .collect()
}

fn client(server: &FakeGithub) -> Github {
    Github::new(&server.base_url(), Some(Secret::new(TOKEN))).unwrap()
}

fn names(list: &forgesafe::collect::forge::RepoList) -> Vec<String> {
    list.repos.iter().map(|r| r.full_name.clone()).collect()
}

#[test]
fn follows_link_pagination_and_sends_the_token_only_in_the_authorization_header() {
    let server = FakeGithub::start(TOKEN, five_repos(), 2);
    let mut cache = ListingCache::default();
    let list = client(&server)
        .list_repos(&RepoListing::Authenticated, &mut cache)
        .unwrap();
    assert_eq!(
        names(&list),
        [
            "alice/alpha",
            "alice/beta",
            "alice/mid",
            "alice/omega",
            "alice/zeta"
        ]
    );
    assert!(list.changed);
    assert_eq!(list.requests, 3);
    let alpha = &list.repos[0];
    assert_eq!(alpha.owner.login, "alice");
    assert_eq!(alpha.clone_url, "https://github.com/alice/alpha.git");
    assert_eq!(
        alpha.wiki_clone_url(),
        "https://github.com/alice/alpha.wiki.git"
    );
    assert_eq!(alpha.default_branch.as_deref(), Some("main"));

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].target,
        "/user/repos?affiliation=owner,collaborator,organization_member&per_page=100"
    );
    assert!(
        requests[1].target.ends_with("&page=2") && requests[2].target.ends_with("&page=3"),
        "Link followed verbatim"
    );
    for request in &requests {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert!(request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("forgesafe/")));
        assert!(!request.target.contains(TOKEN));
        let others = request
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        assert!(
            others.clone().all(|(_, v)| !v.contains(TOKEN)),
            "token only in Authorization"
        );
    }
}

#[test]
fn unchanged_listing_costs_only_304s_and_a_change_is_seen() {
    let server = FakeGithub::start(TOKEN, five_repos(), 2);
    let client = client(&server);
    let mut cache = ListingCache::default();
    let first = client
        .list_repos(&RepoListing::Authenticated, &mut cache)
        .unwrap();
    let quota_after_first = server.quota_remaining();
    server.clear_requests();

    let again = client
        .list_repos(&RepoListing::Authenticated, &mut cache)
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.repos, first.repos);
    assert_eq!(server.quota_remaining(), quota_after_first, "304s are free");
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("if-none-match").is_some()));

    // A cache that went through serde (as forgesafe persists it) works the same.
    let mut reloaded: ListingCache =
        serde_json::from_str(&serde_json::to_string(&cache).unwrap()).unwrap();
    assert!(
        !client
            .list_repos(&RepoListing::Authenticated, &mut reloaded)
            .unwrap()
            .changed
    );

    let mut repos = five_repos();
    repos.push(repo_json(6, "alice", "zz-new", false));
    server.set_repos(repos);
    let changed = client
        .list_repos(&RepoListing::Authenticated, &mut cache)
        .unwrap();
    assert!(changed.changed);
    assert_eq!(changed.repos.len(), 6);
    assert_eq!(changed.repos.last().unwrap().name, "zz-new");
}

#[test]
fn rate_limits_are_waited_out_as_github_documents() {
    let server = FakeGithub::start(TOKEN, five_repos(), 100);
    let client = client(&server).with_retry_policy(RetryPolicy {
        max_wait: Duration::from_secs(5),
        first_backoff: Duration::from_millis(200),
        max_attempts: 4,
    });
    let mut cache = ListingCache::default();

    server.throttle_next(Throttle::RetryAfter(1));
    let started = Instant::now();
    assert_eq!(
        client
            .list_repos(&RepoListing::Authenticated, &mut cache)
            .unwrap()
            .repos
            .len(),
        5
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after respected"
    );

    server.throttle_next(Throttle::QuotaExhausted { reset_in_secs: 0 });
    let started = Instant::now();
    let mut cache = ListingCache::default();
    assert_eq!(
        client
            .list_repos(&RepoListing::Authenticated, &mut cache)
            .unwrap()
            .repos
            .len(),
        5
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited until x-ratelimit-reset (+1 s)"
    );

    server.throttle_next(Throttle::SecondaryWithoutHints);
    server.throttle_next(Throttle::SecondaryWithoutHints);
    let started = Instant::now();
    let mut cache = ListingCache::default();
    assert_eq!(
        client
            .list_repos(&RepoListing::Authenticated, &mut cache)
            .unwrap()
            .repos
            .len(),
        5
    );
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "exponential backoff: 200 ms then 400 ms"
    );
}

#[test]
fn a_limit_longer_than_we_wait_fails_at_once_with_a_clear_message() {
    let server = FakeGithub::start(TOKEN, five_repos(), 100);
    let client = client(&server).with_retry_policy(RetryPolicy {
        max_wait: Duration::from_secs(10),
        ..RetryPolicy::forge_api()
    });
    server.throttle_next(Throttle::QuotaExhausted {
        reset_in_secs: 3000,
    });
    let err = client
        .list_repos(&RepoListing::Authenticated, &mut ListingCache::default())
        .unwrap_err();
    // At once: the one throttled request and no other (a retry would have waited first).
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    let message = format!("{err:#}");
    assert!(
        message.contains("lifts in about 300"),
        "the wait it refused is the quota's reset: {message}"
    );
    assert!(
        message.contains("rate limit") && message.contains("run again later"),
        "{message}"
    );
    assert!(!message.contains(TOKEN));
}

#[test]
fn bad_token_and_unknown_user_are_clear_errors() {
    let server = FakeGithub::start(TOKEN, five_repos(), 100);
    let wrong = Github::new(&server.base_url(), Some(Secret::new("ghp_wrong"))).unwrap();
    let message = format!(
        "{:#}",
        wrong
            .list_repos(&RepoListing::Authenticated, &mut ListingCache::default())
            .unwrap_err()
    );
    assert!(
        message.contains("rejected the token") && message.contains("Bad credentials"),
        "{message}"
    );
    assert!(!message.contains("ghp_wrong"));

    let message = format!(
        "{:#}",
        client(&server)
            .list_repos(
                &RepoListing::User("nobody".into()),
                &mut ListingCache::default()
            )
            .unwrap_err()
    );
    assert!(message.contains("not found (404)"), "{message}");
}

#[test]
fn anonymous_listing_of_a_user_sends_no_authorization_and_sees_public_repos() {
    let server = FakeGithub::start(TOKEN, five_repos(), 100);
    let anonymous = Github::new(&server.base_url(), None).unwrap();
    let list = anonymous
        .list_repos(
            &RepoListing::User("alice".into()),
            &mut ListingCache::default(),
        )
        .unwrap();
    assert_eq!(names(&list), ["alice/alpha", "alice/beta"]);
    assert!(list.repos.iter().all(|r| !r.private));
    let requests = server.requests();
    assert_eq!(requests[0].target, "/users/alice/repos?per_page=100");
    assert!(requests[0].header("authorization").is_none());
}

#[test]
fn a_gickup_source_entry_selects_repositories_with_gickups_rules() {
    use forgesafe::collect::config::{parse_str, Source};
    use forgesafe::collect::forge::select_repos;

    let mut repos = five_repos(); // alpha beta mid omega zeta, owner alice, stars = id
    repos[0]["archived"] = true.into(); // zeta
    repos[2]["fork"] = true.into(); // mid
    repos[3]["language"] = "Go".into(); // beta
    repos[4]["pushed_at"] = "2001-01-01T00:00:00Z".into(); // omega: long inactive
    repos.push(repo_json(6, "acme", "shared", false)); // an organisation's repository
    repos.push(repo_json(7, "other", "kept-by-include", false));
    let server = FakeGithub::start(TOKEN, repos, 100);
    let listed = client(&server)
        .list_repos(&RepoListing::Authenticated, &mut ListingCache::default())
        .unwrap()
        .repos;
    // A fixed "now", so that `lastactivity` gives the same answer in every year.
    let june_2024 = std::time::UNIX_EPOCH + Duration::from_secs(1_717_200_000);
    let select = |yaml: &str| {
        let text = format!("source:\n  github:\n    - token: {TOKEN}\n{yaml}destination:\n  local:\n    - path: /b\n      bare: true\n");
        let loaded = parse_str(&text, "conf.yml", &|_| None).unwrap();
        let Source::Forge(source) = &loaded.config.jobs[0].sources[0] else {
            panic!()
        };
        let mut names: Vec<String> = select_repos(&listed, source, june_2024)
            .unwrap()
            .into_iter()
            .map(|r| r.full_name)
            .collect();
        names.sort();
        names
    };

    assert_eq!(
        select(""),
        [
            "acme/shared",
            "alice/alpha",
            "alice/beta",
            "alice/mid",
            "alice/omega",
            "alice/zeta",
            "other/kept-by-include"
        ]
    );
    assert_eq!(
        select("      filter:\n        excludearchived: true\n        excludeforks: true\n        languages: [rust]\n        lastactivity: 1y\n"),
        ["acme/shared", "alice/alpha", "other/kept-by-include"]
    );
    assert_eq!(
        select("      filter:\n        stars: 6\n"),
        ["acme/shared", "other/kept-by-include"]
    );
    assert_eq!(
        select("      include: [alpha, kept-by-include]\n      exclude: [alpha]\n"),
        ["alice/alpha", "other/kept-by-include"]
    );
    assert_eq!(
        select("      exclude: [alpha]\n      excludeorgs: [other]\n      includeorgs: [acme]\n"),
        ["acme/shared"]
    );
}
