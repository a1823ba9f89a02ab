//! `backup --shard INDEX/COUNT`: several pods back up one account into one repository at once,
//! each repository mirrored by exactly one shard, and `snapshots --shards-of` finds a run whole.

mod common;

use common::git::Upstream;
use common::*;
use std::collections::BTreeSet;

fn mirrored(dest: &std::path::Path) -> BTreeSet<String> {
    common::git::all_files(dest)
        .into_iter()
        .filter_map(|p| {
            p.to_str()
                .and_then(|s| s.strip_suffix("/HEAD"))
                .map(str::to_string)
        })
        .filter(|p| p.ends_with(".git"))
        .map(|p| {
            std::path::Path::new(&p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn three_shards_at_once_mirror_every_repository_exactly_once_into_one_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..9).map(|i| format!("project-{i}")).collect();
    let upstreams: Vec<Upstream> = names
        .iter()
        .map(|n| Upstream::create(&tmp.path().join("srv").join(format!("{n}.git")), tmp.path()))
        .collect();
    let repo = tmp.path().join("repo");
    let profile = local_profile(&repo);
    ok(forgesafe_pw().args(["init", "-p", &profile]));

    // The three pods of an Indexed Job, started together.
    let pods: Vec<_> = (0..3)
        .map(|index| {
            let mut cmd = forgesafe_pw();
            cmd.args([
                "backup",
                "-p",
                &profile,
                "-s",
                "forge/acme",
                "--run-id",
                "job-1",
                "--shard",
                &format!("{index}/3"),
                "--dest",
            ])
            .arg(tmp.path().join(format!("volume-{index}")))
            .arg("url");
            for u in &upstreams {
                cmd.arg(&u.bare);
            }
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for pod in pods {
        let out = pod.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let per_shard: Vec<BTreeSet<String>> = (0..3)
        .map(|i| mirrored(&tmp.path().join(format!("volume-{i}"))))
        .collect();
    let all: BTreeSet<String> = per_shard.iter().flatten().cloned().collect();
    let expected: BTreeSet<String> = names.iter().map(|n| format!("{n}.git")).collect();
    assert_eq!(all, expected, "every repository is mirrored");
    assert_eq!(
        per_shard.iter().map(BTreeSet::len).sum::<usize>(),
        names.len(),
        "by exactly one shard: {per_shard:?}"
    );

    let out = ok(forgesafe_pw().args(["snapshots", "-p", &profile, "--shards-of", "forge/acme"]));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["run"].as_str(), Some("job-1"));
    assert_eq!(runs[0]["complete"].as_bool(), Some(true), "{runs}");
    let paths: BTreeSet<&str> = runs[0]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "forge/acme/shard-0-of-3",
            "forge/acme/shard-1-of-3",
            "forge/acme/shard-2-of-3"
        ])
    );

    // The same assignment on the next run: no shard takes another's repositories.
    let again = ok(forgesafe_pw()
        .args(["collect", "--shard", "1/3", "--dest"])
        .arg(tmp.path().join("volume-1-again"))
        .arg("url")
        .args(upstreams.iter().map(|u| &u.bare)));
    drop(again);
    assert_eq!(mirrored(&tmp.path().join("volume-1-again")), per_shard[1]);

    ok(forgesafe_pw().args(["check", "--read-data", "-p", &profile]));
    ok(restic_local(&repo).args(["check", "--read-data"]));
    let bad = run_expect(
        forgesafe_pw().args([
            "collect", "--shard", "3/3", "--dest", "/tmp/x", "url", "/srv/a",
        ]),
        69,
    );
    assert!(
        stderr(&bad).contains("INDEX must be below COUNT"),
        "{}",
        stderr(&bad)
    );
}
