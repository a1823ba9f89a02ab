//! No secret (access key, secret key, repository password) may appear in anything forgesafe
//! prints, at any verbosity, in either log format, on success or failure.

mod common;

use common::s3::S3Server;
use common::tree::make_tree;
use common::*;
use std::process::{Command, Output, Stdio};

fn assert_no_secrets(label: &str, out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [ACCESS_KEY, SECRET_KEY, PASSWORD] {
            assert!(
                !text.contains(secret),
                "{label}: output contains a secret:\n{text}"
            );
        }
    }
}

fn loud(mut cmd: Command, format: &str) -> Command {
    cmd.env("FORGESAFE_LOG", "trace")
        .env("FORGESAFE_LOG_FORMAT", format)
        .arg("-vvv");
    cmd
}

#[test]
fn no_command_prints_a_secret_at_any_verbosity() {
    let server = S3Server::start();
    server.create_bucket("secrets");
    let profile = server.profile("secrets", "p");
    let dead = server.profile_at("http://127.0.0.1:9", "secrets", "p");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 21, 100_000);
    let profile_file = tmp.path().join("profile.json");
    std::fs::write(&profile_file, &profile).unwrap();
    let at_file = format!("@{}", profile_file.display());
    let mut total_bytes_seen = 0;

    for format in ["human", "json"] {
        let run = |args: &[&str], code: i32, env: &[(&str, &str)]| -> Output {
            let mut cmd = loud(forgesafe_pw(), format);
            cmd.args(args).env("FORGESAFE_RETRIES", "0");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = run_expect(&mut cmd, code);
            assert_no_secrets(&format!("{format} {args:?}"), &out);
            out
        };
        let src_s = src.to_str().unwrap();
        let pushed = run(
            &["location", "push", "-p", &profile, "-s", "v", src_s],
            0,
            &[],
        );
        total_bytes_seen += pushed.stderr.len();
        let id = parse_push_output(&stdout(&pushed)).1;
        let target = tmp.path().join(format!("t-{format}"));
        run(
            &[
                "location",
                "pull",
                "-p",
                &at_file,
                "-s",
                "v",
                "--snapshot",
                &id,
                target.to_str().unwrap(),
            ],
            0,
            &[],
        );
        run(&["snapshots", "-p", &profile], 0, &[]);
        run(&["check", "-p", &profile], 0, &[]);
        run(&["init", "-p", &profile], 0, &[]);
        run(
            &[
                "location",
                "delete",
                "-p",
                &profile,
                "-s",
                "v",
                "--snapshot",
                &id,
            ],
            0,
            &[],
        );
        // Failures: wrong password, unreachable endpoint, bad bucket, unknown snapshot, bad arguments.
        run(
            &["location", "push", "-p", &profile, "-s", "v", src_s],
            69,
            &[("FORGESAFE_PASSWORD", "wrong-password-here")],
        );
        run(
            &["location", "push", "-p", &dead, "-s", "v", src_s],
            69,
            &[],
        );
        run(
            &[
                "location",
                "push",
                "-p",
                &server.profile("no-such-bucket", "p"),
                "-s",
                "v",
                src_s,
            ],
            69,
            &[],
        );
        run(
            &[
                "location",
                "pull",
                "-p",
                &profile,
                "-s",
                "v",
                "--snapshot",
                "0123abcd",
                target.to_str().unwrap(),
            ],
            69,
            &[],
        );
        run(
            &[
                "location",
                "push",
                "-p",
                &profile,
                "--bogus-flag",
                SECRET_KEY,
            ],
            69,
            &[],
        );
        run(
            &[
                "location",
                "push",
                "-p",
                &profile,
                "-s",
                "v",
                "/nonexistent/path",
            ],
            69,
            &[],
        );
    }
    // The check above is only meaningful if the logs were really verbose.
    assert!(
        total_bytes_seen > 10_000,
        "trace logging produced only {total_bytes_seen} bytes"
    );
}

#[test]
fn secrets_from_a_kubernetes_secret_credential_are_not_printed_either() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let profile = serde_json::json!({
        "Location": {"type": "s3Compliant", "bucket": "b", "endpoint": "http://127.0.0.1:9", "region": "us-east-1"},
        "Credential": {"Type": "secret", "Secret": {"data": {"aws_access_key_id": b64(ACCESS_KEY), "aws_secret_access_key": b64(SECRET_KEY)}}}
    })
    .to_string();
    let mut cmd = loud(forgesafe_pw(), "json");
    cmd.env("FORGESAFE_RETRIES", "0").args([
        "location",
        "push",
        "-p",
        &profile,
        "-s",
        "v",
        "/etc/hostname",
    ]);
    let out = run_expect(&mut cmd, 69);
    assert_no_secrets("secret credential", &out);
    assert!(
        stderr(&out).contains("cannot open the repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_repository_care_commands_print_no_secret_either() {
    let server = S3Server::start();
    server.create_bucket("care");
    let profile = server.profile("care", "p");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src, 22, 50_000);
    let src_s = src.to_str().unwrap();
    for format in ["human", "json"] {
        let run = |args: &[&str], code: i32| {
            let mut cmd = loud(forgesafe_pw(), format);
            cmd.args(args).env("FORGESAFE_RETRIES", "0");
            let out = run_expect(&mut cmd, code);
            assert_no_secrets(&format!("{format} {args:?}"), &out);
            out
        };
        run(
            &[
                "location",
                "push",
                "-p",
                &profile,
                "-s",
                "v",
                "--keep-last",
                "1",
                "--max-repository-size",
                "1GiB",
                src_s,
            ],
            0,
        );
        run(
            &[
                "forget",
                "-p",
                &profile,
                "-s",
                "v",
                "--keep-last",
                "1",
                "--prune",
                "--json",
            ],
            0,
        );
        run(&["stats", "-p", &profile, "--json"], 0);
        run(
            &[
                "health",
                "-p",
                &profile,
                "-s",
                "v",
                "--max-age",
                "1h",
                "--json",
            ],
            0,
        );
        run(
            &["health", "-p", &profile, "-s", "never", "--max-age", "1h"],
            1,
        );
        run(&["unlock", "-p", &profile, "--remove-all"], 0);
        run(&["drill", "-p", &profile, "-s", "v", "--json"], 0);
        run(&["drill", "-p", &profile, "-s", "never"], 69);
        run(&["ls", "-p", &profile, "-s", "v", "--json"], 0);
        run(&["repos", "-p", &profile, "-s", "v"], 0);
        run(&["diff", "-p", &profile, "-s", "v", "latest", "latest"], 0);
        let target = tmp.path().join("restored");
        run(
            &[
                "restore",
                "-p",
                &profile,
                "-s",
                "v",
                "--repo",
                "octo/none",
                target.to_str().unwrap(),
            ],
            69,
        );
        run(
            &[
                "location",
                "pull",
                "-p",
                &profile,
                "-s",
                "v",
                "--include",
                "none",
                target.to_str().unwrap(),
            ],
            69,
        );
        run(
            &[
                "location",
                "push",
                "-p",
                &profile,
                "-s",
                "v",
                "--max-snapshot-size",
                "1KiB",
                src_s,
            ],
            69,
        );
        run(
            &[
                "location",
                "delete",
                "-p",
                &profile,
                "-s",
                "other",
                "--snapshot",
                "latest",
            ],
            69,
        );
    }
}

/// `collect`, `backup` and `demo` at trace level, in both formats: the forge token (sent to
/// the API and to git over HTTP) and the repository password (given, and the demo's own)
/// appear in no output, on success or failure.
#[test]
fn collect_backup_and_demo_print_no_secret_at_any_verbosity() {
    use common::fake_github::{comment_json, issue_json, repo_json, FakeGithub, RepoMeta};
    use common::git::Upstream;
    use common::git_http_server::{GitHttpServer, ServerOptions};
    const TOKEN: &str = "ghp_secretsTestToken0123456789abcdefXYZ";
    const WRONG_TOKEN: &str = "ghp_wrongTokenThatIsAlsoSecret0123";
    const WRONG_PASSWORD: &str = "wrong-password-here";
    const DEST_TOKEN: &str = "gitea_secretsDestinationToken0123456789";

    let tmp = tempfile::tempdir().unwrap();
    // A second forge that `restore --to-forge` pushes into (Gitea's API shape, real git
    // http-backend receiving the push behind basic auth).
    let second = common::destination_forge::DestinationForge::start("oauth2", DEST_TOKEN);
    let (dest_git, dest_api) = (&second.server, &second.api);
    let server = GitHttpServer::start_with(ServerOptions {
        basic_auth: Some(("x-access-token".into(), TOKEN.into())),
        ..Default::default()
    });
    let app = Upstream::create(&server.path("private/octo/app.git"), tmp.path());
    let mut repo = repo_json(1, "octo", "app", true);
    repo["clone_url"] = server.url("private/octo/app.git").into();
    let github = FakeGithub::start(TOKEN, vec![repo], 100);
    let mut meta = RepoMeta {
        issues: vec![issue_json(
            "octo/app",
            1,
            "It breaks",
            "2024-02-01T00:00:00Z",
            false,
        )],
        ..Default::default()
    };
    meta.comments.insert(1, vec![comment_json(101, "me too")]);
    github.set_meta("octo/app", meta);
    let conf = tmp.path().join("conf.yml");
    std::fs::write(
        &conf,
        format!(
            "source:\n  github:\n    - token: GH_TOKEN_FOR_TEST\n      user: octo\n      url: {}\n      issues: true\ndestination:\n  local:\n    - path: {}\n",
            github.base_url(),
            tmp.path().join("volume").display()
        ),
    )
    .unwrap();
    let profile =
        serde_json::json!({"Location": {"type": "local", "path": tmp.path().join("repository")}})
            .to_string();
    let mut total_bytes_seen = 0;
    let mut serve_bytes_seen = 0;

    for format in ["human", "json"] {
        let data = tmp.path().join(format!("demo-{format}"));
        let mut run = |args: &[&str], code: i32, env: &[(&str, &str)]| {
            let mut cmd = loud(forgesafe_pw(), format);
            cmd.env("GH_TOKEN_FOR_TEST", TOKEN)
                .env("DEST_TOKEN_FOR_TEST", DEST_TOKEN)
                .args(args)
                .envs(env.iter().copied());
            let out = run_expect(&mut cmd, code);
            let demo_password = std::fs::read_to_string(data.join("password")).unwrap_or_default();
            for stream in [&out.stdout, &out.stderr] {
                let text = String::from_utf8_lossy(stream);
                for secret in [
                    TOKEN,
                    WRONG_TOKEN,
                    DEST_TOKEN,
                    PASSWORD,
                    WRONG_PASSWORD,
                    demo_password.trim(),
                ]
                .into_iter()
                .filter(|s| !s.is_empty())
                {
                    assert!(
                        !text.contains(secret),
                        "{format} {args:?}: output contains a secret:\n{text}"
                    );
                }
            }
            total_bytes_seen += out.stderr.len();
        };
        let conf = conf.to_str().unwrap();
        run(&["collect", "--config", conf], 0, &[]);
        run(
            &["backup", "--config", conf, "-p", &profile, "-s", "forge"],
            0,
            &[],
        );
        run(
            &[
                "demo",
                "--source",
                app.bare.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ],
            0,
            &[],
        );
        // Back into a forge: created through its API, pushed over smart HTTP; then refused
        // (not empty), and once with a token the forge rejects.
        let api = dest_api.base_url();
        let as_repo = format!("team/app-{format}");
        let to_forge = [
            "restore",
            "-p",
            &profile,
            "-s",
            "forge",
            "--repo",
            "octo/app",
            "--to-forge",
            &api,
            "--forge-type",
            "gitea",
            "--token-env",
            "DEST_TOKEN_FOR_TEST",
            "--as",
            &as_repo,
        ];
        run(&to_forge, 0, &[]);
        run(&to_forge, 69, &[]);
        run(&to_forge, 69, &[("DEST_TOKEN_FOR_TEST", WRONG_TOKEN)]);
        // serve with a schedule: its first run starts after 1s; the run is over when the log says so.
        let mut cmd = loud(forgesafe_pw(), format);
        cmd.env("GH_TOKEN_FOR_TEST", TOKEN).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            conf,
            "-p",
            &profile,
            "-s",
            "forge",
            "--schedule",
            "@every 1s",
        ]);
        let out = serve_until(cmd, "scheduled backup run succeeded");
        for secret in [TOKEN, PASSWORD] {
            assert!(
                !out.contains(secret),
                "{format} serve: output contains a secret:\n{out}"
            );
        }
        serve_bytes_seen += out.len();
        // Failures: a token the forge rejects, a wrong repository password.
        run(
            &["collect", "--config", conf],
            69,
            &[("GH_TOKEN_FOR_TEST", WRONG_TOKEN)],
        );
        run(
            &["backup", "--config", conf, "-p", &profile, "-s", "forge"],
            69,
            &[("FORGESAFE_PASSWORD", WRONG_PASSWORD)],
        );
    }
    for request in dest_api.requests() {
        assert!(
            !request.target.contains(DEST_TOKEN),
            "a token in a URL: {}",
            request.target
        );
    }
    common::git::assert_no_file_holds(&dest_git.root, DEST_TOKEN);
    // The check above is only meaningful if the logs were really verbose.
    assert!(
        total_bytes_seen > 10_000,
        "trace logging produced only {total_bytes_seen} bytes"
    );
    assert!(
        serve_bytes_seen > 10_000,
        "serve's trace logging produced only {serve_bytes_seen} bytes"
    );
}

/// Runs `serve` until its stderr shows `line`, then stops it with SIGTERM; returns all it printed.
fn serve_until(mut cmd: Command, line: &str) -> String {
    use std::io::{BufRead, BufReader, Read};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    loop {
        let mut next = String::new();
        assert!(
            stderr.read_line(&mut next).unwrap() > 0,
            "serve ended before logging {line:?}:\n{seen}"
        );
        seen.push_str(&next);
        if next.contains(line) {
            break;
        }
    }
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    stderr.read_to_string(&mut seen).unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{seen}");
    seen
}

// ---------------------------------------------------------------------------------------------
// blueprint run and template render: a profile's keys and a Secret from the context

const PROFILE_KEY_ID: &str = "AKIABLUEPRINTPROFILE9";
const PROFILE_KEY_SECRET: &str = "bp-profile-secret-Vw3nR8tL2qZ6";
const CONTEXT_SECRET: &str = "ctx-secret-from-a-Secret-Hk5pM1";

/// Neither a secret nor its base64 form (how a Kubernetes Secret holds it) is in any output.
fn assert_none_of(label: &str, out: &Output, secrets: &[&str]) {
    use base64::Engine;
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in secrets {
            let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
            assert!(
                !text.contains(secret) && !text.contains(&encoded),
                "{label}: output contains {secret}:\n{text}"
            );
        }
    }
}

/// Runs `cmd` with `input` on its stdin; panics with both streams unless it exits `code`.
fn run_with_stdin(cmd: &mut Command, input: &str, code: i32) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

const SECRET_BLUEPRINT: &str = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: secrets}
actions:
  backup:
    outputArtifacts:
      done: {keyValue: {ok: "{{ .Phases.use.Output.ok }}"}}
    phases:
    - func: KubeExec
      name: use
      args:
        namespace: ns
        pod: p
        command: [sh, -c, 'echo "id={{ .Profile.Credential.KeyPair.ID }} key={{ .Profile.Credential.KeyPair.Secret }}"; echo "pw={{ .Secrets.db.Data.password | toString }}" >&2; echo "###Phase-output###: {\"key\":\"ok\",\"value\":\"yes\"}"']
  fail:
    phases:
    - func: KubeExec
      name: leak
      args: {namespace: ns, pod: p, command: [sh, -c, 'echo "key={{ .Profile.Credential.KeyPair.Secret }}"; echo "pw={{ .Secrets.db.Data.password | toString }}" >&2; exit 3']}
  badTemplate:
    phases:
    - func: KubeExec
      name: render
      args: {namespace: ns, pod: p, command: ['{{ range .Profile.Credential.KeyPair.Secret }}x{{ end }}']}
"####;

#[test]
fn blueprint_run_and_template_render_print_no_secret_at_any_verbosity() {
    use base64::Engine;
    let tmp = tempfile::tempdir().unwrap();
    let profile = serde_json::json!({
        "Location": {"type": "s3Compliant", "bucket": "b", "endpoint": "http://127.0.0.1:9"},
        "Credential": {"Type": "keyPair", "KeyPair": {"ID": PROFILE_KEY_ID, "Secret": PROFILE_KEY_SECRET}}
    });
    let profile_file = tmp.path().join("profile.json");
    std::fs::write(&profile_file, profile.to_string()).unwrap();
    let at_file = format!("@{}", profile_file.display());
    let secret = base64::engine::general_purpose::STANDARD.encode(CONTEXT_SECRET);
    let secrets_ctx = serde_json::json!({"Secrets": {"db": {"apiVersion": "v1", "kind": "Secret", "data": {"password": secret}}}});
    let ctx = tmp.path().join("ctx.json");
    std::fs::write(&ctx, secrets_ctx.to_string()).unwrap();
    // template render takes the profile from the context file.
    let mut with_profile = secrets_ctx.clone();
    with_profile["Profile"] = profile.clone();
    let template_ctx = tmp.path().join("template-ctx.json");
    std::fs::write(&template_ctx, with_profile.to_string()).unwrap();
    let bp = tmp.path().join("bp.yaml");
    std::fs::write(&bp, SECRET_BLUEPRINT).unwrap();
    let all = [PROFILE_KEY_ID, PROFILE_KEY_SECRET, CONTEXT_SECRET];
    let mut total_bytes_seen = 0;

    for format in ["human", "json"] {
        let run = |action: &str, code: i32, env: &[(&str, &str)], profile_arg: &[&str]| -> Output {
            let mut cmd = loud(forgesafe(), format);
            cmd.args(["blueprint", "run"])
                .arg(&bp)
                .args(["--action", action, "--local", "--context"])
                .arg(&ctx)
                .args(profile_arg);
            cmd.envs(env.iter().copied());
            let out = run_expect(&mut cmd, code);
            assert_none_of(
                &format!("{format} blueprint run {action} {profile_arg:?}"),
                &out,
                &all,
            );
            out
        };
        let out = run("backup", 0, &[], &["--profile", &at_file]);
        assert!(
            stderr(&out).contains("key=***") && stderr(&out).contains("pw=***"),
            "the command's output is logged, redacted:\n{}",
            stderr(&out)
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
            serde_json::json!({"done": {"keyValue": {"ok": "yes"}}})
        );
        total_bytes_seen += out.stderr.len();
        let profile_text = profile.to_string();
        run(
            "backup",
            0,
            &[("FORGESAFE_PROFILE", profile_text.as_str())],
            &[],
        );
        let out = run("fail", 69, &[], &["--profile", &at_file]);
        assert!(
            stderr(&out).contains("exited with code 3"),
            "{}",
            stderr(&out)
        );
        let out = run("badTemplate", 69, &[], &["--profile", &at_file]);
        assert!(
            stderr(&out).contains("range can't iterate over ***"),
            "{}",
            stderr(&out)
        );

        let render = |template: &str, code: i32| -> Output {
            let mut cmd = loud(forgesafe(), format);
            cmd.args(["template", "render", "--context"])
                .arg(&template_ctx);
            let out = run_with_stdin(&mut cmd, template, code);
            assert_none_of(
                &format!("{format} template render {template:?}"),
                &out,
                &all,
            );
            out
        };
        let out = render("{{ if .Profile.Credential.KeyPair.Secret }}key set{{ end }} {{ len (.Secrets.db.Data.password | toString) }}", 0);
        assert_eq!(stdout(&out), format!("key set {}", CONTEXT_SECRET.len()));
        let out = render(
            "{{ range .Profile.Credential.KeyPair.Secret }}x{{ end }}",
            69,
        );
        assert!(
            stderr(&out).contains("range can't iterate over ***"),
            "{}",
            stderr(&out)
        );
    }
    // The check above is only meaningful if the logs were really verbose.
    assert!(
        total_bytes_seen > 2_000,
        "trace logging produced only {total_bytes_seen} bytes"
    );
}

#[tokio::test]
async fn blueprint_run_against_a_cluster_prints_no_secret_it_read_there() {
    use common::fake_kube::{FakeKube, SECRETS_PRINTING_BLUEPRINT, SEEDED_SECRET_VALUES};
    let fake = FakeKube::start().await;
    fake.seed_workload();
    let tmp = tempfile::tempdir().unwrap();
    let bp = tmp.path().join("bp.yaml");
    std::fs::write(&bp, SECRETS_PRINTING_BLUEPRINT).unwrap();
    for format in ["human", "json"] {
        let mut cmd = loud(forgesafe(), format);
        cmd.args(["blueprint", "run"]).arg(&bp);
        cmd.args([
            "--action",
            "backup",
            "--object",
            "Deployment/app/web",
            "--profile-ref",
            "kanister/store",
        ]);
        cmd.env("KUBECONFIG", fake.kubeconfig_path())
            .env("POD_NAME", "not-a-pod-of-the-fake");
        let out = tokio::task::spawn_blocking(move || run_expect(&mut cmd, 0))
            .await
            .unwrap();
        assert_none_of(
            &format!("{format} blueprint run against the cluster"),
            &out,
            SEEDED_SECRET_VALUES,
        );
        assert!(
            stderr(&out).contains("pw ***") && stderr(&out).contains("key *** ***"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        fake.exec_calls().len(),
        2,
        "both runs went through the API server's exec"
    );
}
