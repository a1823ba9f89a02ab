//! The fake forge of the tests (`tests/common/fake_github.rs`: GitHub's REST API, version
//! 2022-11-28, on a real socket, with ETags and 304s) as a process of its own, for the
//! benchmarks: `bench/collector-scale.sh` runs it with an account of generated repositories and
//! every answer delayed, to stand for github.com seen from a cluster far away.
//!
//! ```sh
//! cargo run --release --features bench-fixtures --example fake_forge -- \
//!     --repos 1000 --latency-ms 50 --git-base http://127.0.0.1:8080 --token TOKEN
//! ```
//! prints the API's base URL on one line, then serves until its stdin closes. Repository `i` is
//! `octo/repoNNNN` with `clone_url` `<git-base>/repoNNNN.git`, two issues (one with comments),
//! one pull request with a review, a release, a label and a milestone.

// The modules the fake uses, at the crate root where its `super::` finds them.
#[path = "../tests/common/accept_loop.rs"]
mod accept_loop;
#[path = "../tests/common/fake_github.rs"]
#[allow(dead_code)]
mod fake_github;
#[path = "../tests/common/http_request.rs"]
mod http_request;

use std::io::{Read, Write};

use fake_github::{comment_json, issue_json, repo_json, FakeGithub, RepoMeta};
use serde_json::json;

fn main() {
    let mut repos = 100usize;
    let mut latency_ms = 0u64;
    let mut git_base = String::from("http://127.0.0.1");
    let mut token = String::from("ghp_benchToken");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--repos" => repos = value.parse().expect("--repos N"),
            "--latency-ms" => latency_ms = value.parse().expect("--latency-ms N"),
            "--git-base" => git_base = value,
            "--token" => token = value,
            other => panic!("unknown flag {other}"),
        }
    }
    let names: Vec<String> = (0..repos).map(|i| format!("repo{i:04}")).collect();
    let listed = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut repo = repo_json(i as u64 + 1, "octo", name, true);
            repo["clone_url"] = json!(format!("{git_base}/{name}.git"));
            repo
        })
        .collect();
    let forge = FakeGithub::start(&token, listed, 100);
    for name in &names {
        let full_name = format!("octo/{name}");
        let mut meta = RepoMeta {
            labels: vec![json!({"id": 1, "name": "bug", "color": "d73a4a"})],
            milestones: vec![json!({"id": 11, "number": 1, "title": "v1", "state": "open"})],
            releases: vec![json!({"id": 5, "tag_name": "v1.0.0", "name": "One", "assets": []})],
            issues: vec![
                issue_json(&full_name, 1, "It breaks", "2024-02-01T00:00:00Z", false),
                issue_json(&full_name, 2, "Fix it", "2024-02-02T00:00:00Z", true),
            ],
            ..Default::default()
        };
        meta.comments.insert(1, vec![comment_json(101, "me too")]);
        meta.pulls.insert(2, json!({"id": 9002, "number": 2, "title": "Fix it", "state": "open", "updated_at": "2024-02-02T00:00:00Z"}));
        meta.reviews.insert(
            2,
            vec![json!({"id": 301, "state": "APPROVED", "body": "ship it"})],
        );
        forge.set_meta(&full_name, meta);
    }
    // A first collect of a large account needs more than a personal token's 5,000 requests an
    // hour (forgesafe then waits for the quota, or stops and says when to run again); the
    // benchmark measures speed, so its quota is that of a large GitHub App installation.
    forge.set_quota(100_000);
    forge.set_latency(std::time::Duration::from_millis(latency_ms));
    println!("{}", forge.base_url());
    std::io::stdout().flush().unwrap();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
