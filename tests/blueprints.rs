//! forgesafe's own blueprints in blueprints/: lint-clean, and their actions do what they say when
//! their rendered commands run (backup -> restore from the output artifact -> delete), with a
//! real S3 server behind the profile. Rendering and output parsing are forgesafe's own
//! (`blueprint render`, Kanister's phase-output rules); the commands run locally, as KubeExec
//! does when the target pod is the sidecar itself.

mod common;

use common::git::{assert_fsck_clean, local_refs, ls_remote, Upstream};
use common::git_http_server::GitHttpServer;
use common::s3::S3Server;
use common::tree::{assert_same_tree, make_tree};
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

fn blueprint_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "blueprints/ must hold forge-backup.yaml and a generic volume blueprint"
    );
    files
}

#[test]
fn every_shipped_blueprint_is_lint_clean() {
    for file in blueprint_files() {
        let out = forgesafe()
            .args(["blueprint", "lint", "--kind", "Deployment"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}:\n{}{}",
            file.display(),
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn the_gickup_articles_blueprint_is_caught_with_both_bugs() {
    let seed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/blueprint/testdata/gickup-blueprint.yaml");
    let out = run_expect(forgesafe().args(["blueprint", "lint"]).arg(&seed), 69);
    let report = stdout(&out);
    assert!(
        report.contains(":27:3: action \"restore\" has no `phases`"),
        "{report}"
    );
    assert!(
        report.contains("esBackup") && report.contains("did you mean ghBackup?"),
        "{report}"
    );
}

/// `forgesafe blueprint run` of one action, locally (as KubeExec does when the target pod is the
/// sidecar itself), with forgesafe on PATH for the blueprint's commands.
fn run_action(
    blueprint: &Path,
    action: &str,
    args: &[&str],
    bin_dir: &Path,
) -> std::process::Output {
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let out = ok(forgesafe_pw()
        .env("PATH", path)
        .args(["blueprint", "run"])
        .arg(blueprint)
        .args(["--action", action, "--local"])
        .args(args));
    for secret in [ACCESS_KEY, SECRET_KEY, PASSWORD] {
        assert!(
            !stdout(&out).contains(secret) && !stderr(&out).contains(secret),
            "{action}: a secret reached the output"
        );
    }
    out
}

#[test]
fn forge_backup_blueprint_backs_up_restores_from_its_artifact_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_forgesafe"))
        .parent()
        .unwrap()
        .to_path_buf();
    let server = S3Server::start();
    server.create_bucket("kasten");
    // The forge: real git smart HTTP.
    let forge = GitHttpServer::start();
    let up = Upstream::create(&forge.path("team/app.git"), tmp.path());
    up.commit("main.rs", "fn main() {}\n");
    up.push(&["main"]);
    let volume = tmp.path().join("backups");
    let conf = tmp.path().join("conf.yml");
    fs::write(
        &conf,
        format!(
            "source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /unused\n",
            forge.url("team/app.git")
        ),
    )
    .unwrap();
    let profile = server.profile("kasten", "k10/forge");
    let ctx = tmp.path().join("ctx.json");
    fs::write(&ctx, json!({"Deployment": {"Name": "forge-backup", "Namespace": "forge", "Pods": ["forge-backup-7d9f-abc"], "Containers": [["forgesafe"]]}}).to_string()).unwrap();
    let blueprint = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/forge-backup.yaml");
    let artifacts = tmp.path().join("artifacts.json");
    let common_args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--profile".into(),
            profile.clone(),
            "--context".into(),
            ctx.display().to_string(),
            "--option".into(),
            format!("volume={}", volume.display()),
            "--option".into(),
            format!("configPath={}", conf.display()),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let args = common_args(&["--artifacts-out", artifacts.to_str().unwrap()]);
    let out = run_action(
        &blueprint,
        "backup",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &bin_dir,
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        serde_json::from_slice::<Value>(&fs::read(&artifacts).unwrap()).unwrap()
    );
    let snapshot = printed["forgeBackup"]["kopiaSnapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let id = serde_json::from_str::<Value>(&snapshot).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 64);

    // Keep a byte-for-byte copy of what was backed up, then restore into an emptied volume from
    // the artifact file, as Kasten passes it back.
    let backed_up = tmp.path().join("backed-up");
    ok(std::process::Command::new("cp")
        .arg("-a")
        .arg(&volume)
        .arg(&backed_up));
    fs::remove_dir_all(&volume).unwrap();
    fs::create_dir_all(volume.join("stale")).unwrap();
    let args = common_args(&["--artifacts-in", artifacts.to_str().unwrap()]);
    run_action(
        &blueprint,
        "restore",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &bin_dir,
    );
    assert!(
        !volume.join("stale").exists(),
        "the volume is replaced by the snapshot"
    );
    assert_same_tree(&backed_up, &volume);
    let mirror = volume.join("127.0.0.1/team/app.git");
    assert_fsck_clean(&mirror);
    assert_eq!(local_refs(&mirror), ls_remote(up.bare.to_str().unwrap()));

    run_action(
        &blueprint,
        "delete",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &bin_dir,
    );
    let snaps = ok(server
        .restic("kasten", "k10/forge")
        .args(["snapshots", "--json"]));
    assert_eq!(
        serde_json::from_slice::<Value>(&snaps.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0,
        "snapshot not deleted"
    );
    ok(server.restic("kasten", "k10/forge").args(["check"]));
}

#[test]
fn a_failing_phase_fails_the_run_with_its_output_and_the_artifacts_are_not_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let bp = tmp.path().join("bp.yaml");
    fs::write(&bp, "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nmetadata:\n  name: t\nactions:\n  backup:\n    outputArtifacts:\n      out:\n        keyValue:\n          v: \"{{ .Phases.one.Output.v }}\"\n    phases:\n    - func: KubeExec\n      name: one\n      args:\n        namespace: ns\n        pod: p\n        command: [sh, -c, \"echo progress-line; echo broken >&2; exit 3\"]\n").unwrap();
    let out = run_expect(
        forgesafe()
            .args(["blueprint", "run"])
            .arg(&bp)
            .args(["--action", "backup", "--local"]),
        69,
    );
    assert!(
        out.stdout.is_empty(),
        "no artifacts after a failure: {}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("backup") && err.contains("one") && err.contains("broken"),
        "{err}"
    );
}

#[test]
fn volume_backup_blueprint_round_trips_a_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_forgesafe"))
        .parent()
        .unwrap()
        .to_path_buf();
    let data = tmp.path().join("data");
    make_tree(&data, 31, 300_000);
    let original = tmp.path().join("original");
    make_tree(&original, 31, 300_000);
    let profile =
        json!({"Location": {"type": "local", "path": tmp.path().join("repo")}}).to_string();
    let ctx = tmp.path().join("ctx.json");
    fs::write(&ctx, json!({"Deployment": {"Name": "app", "Namespace": "prod", "Pods": ["app-0"], "Containers": [["forgesafe"]]}}).to_string()).unwrap();
    let blueprint = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/volume-backup.yaml");
    let artifacts = tmp.path().join("artifacts.json");
    let volume_opt = format!("volume={}", data.display());
    let base = [
        "--profile",
        profile.as_str(),
        "--context",
        ctx.to_str().unwrap(),
        "--option",
        volume_opt.as_str(),
    ];

    run_action(
        &blueprint,
        "backup",
        &[&base[..], &["--artifacts-out", artifacts.to_str().unwrap()]].concat(),
        &bin_dir,
    );
    fs::remove_dir_all(data.join("src")).unwrap();
    fs::write(data.join("added-after-backup"), "x").unwrap();
    run_action(
        &blueprint,
        "restore",
        &[&base[..], &["--artifacts-in", artifacts.to_str().unwrap()]].concat(),
        &bin_dir,
    );
    assert_same_tree(&original, &data);
    run_action(
        &blueprint,
        "delete",
        &[&base[..], &["--artifacts-in", artifacts.to_str().unwrap()]].concat(),
        &bin_dir,
    );
    let listed = ok(forgesafe_pw().args(["snapshots", "-p", &profile]));
    assert_eq!(stdout(&listed).trim(), "[]");
}
