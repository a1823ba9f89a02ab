//! Mirroring over ssh (gickup's `ssh: true` / `sshkey`) against a real OpenSSH server: the
//! key the config names is used, host keys are pinned on the volume, a changed host key or a
//! refused key fails the repository with a clear message instead of prompting, and the last
//! good mirror is kept.

mod common;

use common::fake_github::{repo_json, FakeGithub};
use common::git::{local_refs, ls_remote, Upstream};
use common::ssh_server::SshServer;
use common::*;
use serde_json::json;
use std::fs;

#[test]
fn a_repository_is_mirrored_over_ssh_with_the_given_key_and_the_host_key_is_pinned() {
    let tmp = tempfile::tempdir().unwrap();
    let ssh = SshServer::start();
    let app = Upstream::create(&tmp.path().join("srv/octo/app.git"), tmp.path());
    app.checkout_new_branch("feature");
    app.commit("f.txt", "feature\n");
    app.push(&["feature"]);
    let dest = tmp.path().join("volume");
    let url = ssh.url(&app.bare);
    let collect = |key: &std::path::Path| {
        forgesafe()
            .args(["collect", "url", &url, "--dest"])
            .arg(&dest)
            .arg("--ssh-key")
            .arg(key)
            .env("HOME", tmp.path())
            .output()
            .unwrap()
    };

    let out = collect(&ssh.client_key);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        ssh.log()
    );
    let mirror = dest.join("127.0.0.1/octo/app.git");
    assert_eq!(local_refs(&mirror), ls_remote(app.bare.to_str().unwrap()));
    let known_hosts = fs::read_to_string(dest.join(".forgesafe/known_hosts")).unwrap();
    assert!(
        known_hosts.contains(&format!("[127.0.0.1]:{}", ssh.port)),
        "the host key is pinned on the volume: {known_hosts}"
    );
    assert!(
        !fs::read_to_string(mirror.join("config"))
            .unwrap()
            .contains("sshCommand"),
        "the ssh command stays in memory"
    );

    app.checkout("main");
    app.commit("g.txt", "more\n");
    app.push(&["main"]);
    let out = collect(&ssh.client_key);
    assert!(
        stderr(&out).contains("0 new, 1 updated, 0 unchanged, 0 failed"),
        "{}",
        stderr(&out)
    );
    let good = local_refs(&mirror);
    assert_eq!(good, ls_remote(app.bare.to_str().unwrap()));

    // A key the server does not accept: a clear failure, no prompt, the mirror untouched. With
    // stdin closed and no controlling terminal (a new session), the run ends, with the refusal
    // named.
    app.commit("h.txt", "unseen\n");
    app.push(&["main"]);
    let mut without_terminal = forgesafe();
    without_terminal
        .args(["collect", "url", &url, "--dest"])
        .arg(&dest)
        .arg("--ssh-key")
        .arg(&ssh.stranger_key)
        .env("HOME", tmp.path());
    unsafe {
        use std::os::unix::process::CommandExt;
        without_terminal.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = run_expect(&mut without_terminal, 69);
    assert!(stderr(&out).contains("FAILED octo/app"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused the ssh key"),
        "the server refused the key and ssh asked nothing: {}",
        stderr(&out)
    );
    assert_eq!(local_refs(&mirror), good);

    // The server's host key changes (or someone sits in between): refused, mirror kept.
    fs::write(
        dest.join(".forgesafe/known_hosts"),
        format!("[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n", ssh.port),
    )
    .unwrap();
    let out = collect(&ssh.client_key);
    assert!(!out.status.success());
    assert!(
        stderr(&out).to_lowercase().contains("host key"),
        "the message says why: {}",
        stderr(&out)
    );
    assert_eq!(local_refs(&mirror), good);
}

#[test]
fn a_gickup_config_with_ssh_true_clones_over_ssh_and_keeps_the_token_for_the_api() {
    const TOKEN: &str = "ghp_sshTestToken0123456789abcdefABCDEF";
    let tmp = tempfile::tempdir().unwrap();
    let ssh = SshServer::start();
    let app = Upstream::create(&tmp.path().join("srv/octo/app.git"), tmp.path());
    let mut repo = repo_json(1, "octo", "app", true);
    repo["clone_url"] = json!("https://127.0.0.1:1/octo/app.git"); // would fail if used
    repo["ssh_url"] = json!(ssh.url(&app.bare));
    repo["has_wiki"] = json!(false);
    let github = FakeGithub::start(TOKEN, vec![repo], 100);
    let dest = tmp.path().join("volume");
    let conf = tmp.path().join("conf.yml");
    let write_conf = |key: &std::path::Path| {
        fs::write(
            &conf,
            format!(
                "source:\n  github:\n    - token: GH_TOKEN_FOR_TEST\n      url: {}\n      ssh: true\n      sshkey: {}\ndestination:\n  local:\n    - path: {}\n",
                github.base_url(),
                key.display(),
                dest.display()
            ),
        )
        .unwrap()
    };
    let collect = || {
        forgesafe()
            .env("GH_TOKEN_FOR_TEST", TOKEN)
            .env("HOME", tmp.path())
            .args(["collect", "--config"])
            .arg(&conf)
            .output()
            .unwrap()
    };

    write_conf(&tmp.path().join("no-such-key"));
    let out = collect();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("sshkey") && stderr(&out).contains("no such file"),
        "{}",
        stderr(&out)
    );
    assert!(
        github.requests().is_empty(),
        "a bad key path fails before any network call"
    );

    write_conf(&ssh.client_key);
    let out = collect();
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        ssh.log()
    );
    assert!(
        !stderr(&out).contains("ssh` is not acted on")
            && !stderr(&out).contains("sshkey: not acted on"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        local_refs(&dest.join("127.0.0.1/octo/app.git")),
        ls_remote(app.bare.to_str().unwrap())
    );
    for file in common::git::all_files(&dest) {
        assert!(
            !fs::read(&file)
                .unwrap()
                .windows(TOKEN.len())
                .any(|w| w == TOKEN.as_bytes()),
            "token in {}",
            file.display()
        );
    }
}
