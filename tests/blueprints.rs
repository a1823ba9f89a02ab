//! forgesafe's own blueprints in blueprints/: lint-clean, and their actions do what they say when
//! their rendered commands run (backup -> restore from the output artifact -> delete), with a
//! real S3 server behind the profile. Rendering and output parsing are forgesafe's own
//! (`blueprint render`, Kanister's phase-output rules); the commands run locally, as KubeExec
//! does when the target pod is the sidecar itself.

mod common;

use common::git::{assert_fsck_clean, local_refs, ls_remote, Upstream};
use common::s3::S3Server;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

fn blueprint_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints");
    let mut files: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    assert!(files.len() >= 2, "blueprints/ must hold forge-backup.yaml and a generic volume blueprint");
    files
}

#[test]
fn every_shipped_blueprint_is_lint_clean() {
    for file in blueprint_files() {
        let out = forgesafe().args(["blueprint", "lint", "--kind", "Deployment"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{}:\n{}{}", file.display(), stdout(&out), stderr(&out));
    }
}

#[test]
fn the_gickup_articles_blueprint_is_caught_with_both_bugs() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/blueprint/testdata/gickup-blueprint.yaml");
    let out = run_expect(forgesafe().args(["blueprint", "lint"]).arg(&seed), 69);
    let report = stdout(&out);
    assert!(report.contains(":27:3: action \"restore\" has no `phases`"), "{report}");
    assert!(report.contains("esBackup") && report.contains("did you mean ghBackup?"), "{report}");
}

/// Renders `action` with `ctx`, runs each phase's command locally, and returns the phase outputs
/// and the rendered output artifacts.
fn run_action(blueprint: &Path, action: &str, ctx: &mut Value, bin_dir: &Path) -> Value {
    let ctx_file = tempfile::NamedTempFile::new().unwrap();
    fs::write(ctx_file.path(), ctx.to_string()).unwrap();
    let rendered: Value = serde_json::from_slice(
        &ok(forgesafe().args(["blueprint", "render"]).arg(blueprint).args(["--action", action, "--context"]).arg(ctx_file.path())).stdout,
    )
    .unwrap();
    for phase in rendered["phases"].as_array().unwrap() {
        assert_eq!(phase["func"], "KubeExec");
        let command: Vec<String> = phase["args"]["command"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
        let out = ok(std::process::Command::new(&command[0]).args(&command[1..]).env("PATH", path).env("FORGESAFE_PASSWORD", PASSWORD));
        // Kanister's rule: outputs come from stdout only, marker anywhere in a line.
        let mut outputs = serde_json::Map::new();
        for line in stdout(&out).lines() {
            if let Some(pos) = line.find("###Phase-output###:") {
                let kv: Value = serde_json::from_str(line[pos + 19..].trim()).unwrap();
                outputs.insert(kv["key"].as_str().unwrap().to_string(), kv["value"].clone());
            }
        }
        ctx["Phases"][phase["name"].as_str().unwrap()] = json!({ "Output": outputs });
    }
    // Output artifacts render after all phases, from their outputs.
    fs::write(ctx_file.path(), ctx.to_string()).unwrap();
    let rendered: Value = serde_json::from_slice(
        &ok(forgesafe().args(["blueprint", "render"]).arg(blueprint).args(["--action", action, "--context"]).arg(ctx_file.path())).stdout,
    )
    .unwrap();
    rendered["outputArtifacts"].clone()
}

#[test]
fn forge_backup_blueprint_backs_up_restores_from_its_artifact_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_forgesafe")).parent().unwrap().to_path_buf();
    let server = S3Server::start();
    server.create_bucket("kasten");
    let up = Upstream::create(&tmp.path().join("forge/team/app.git"), tmp.path());
    up.commit("main.rs", "fn main() {}\n");
    up.push(&["main"]);
    let volume = tmp.path().join("backups");
    let conf = tmp.path().join("conf.yml");
    fs::write(&conf, format!("source:\n  any:\n    - url: {}\ndestination:\n  local:\n    - path: /unused\n      structured: true\n", up.bare.display())).unwrap();
    let profile: Value = serde_json::from_str(&server.profile("kasten", "k10/forge")).unwrap();
    let mut ctx = json!({
        "Deployment": {"Name": "forge-backup", "Namespace": "forge", "Pods": ["forge-backup-7d9f-abc"], "Containers": [["forgesafe"]]},
        "Profile": profile,
        "Options": {"volume": volume, "configPath": conf},
        "Phases": {},
        "ArtifactsIn": {}
    });
    let blueprint = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/forge-backup.yaml");

    let artifacts = run_action(&blueprint, "backup", &mut ctx, &bin_dir);
    let snapshot = artifacts["forgeBackup"]["kopiaSnapshot"].as_str().unwrap().to_string();
    let id = serde_json::from_str::<Value>(&snapshot).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);

    // Restore into an emptied volume from the artifact, as Kasten passes it back.
    fs::remove_dir_all(&volume).unwrap();
    fs::create_dir_all(volume.join("stale")).unwrap();
    let mut ctx = json!({
        "Deployment": ctx["Deployment"].clone(), "Profile": ctx["Profile"].clone(), "Options": ctx["Options"].clone(),
        "Phases": {}, "ArtifactsIn": {"forgeBackup": {"KopiaSnapshot": snapshot}}
    });
    run_action(&blueprint, "restore", &mut ctx, &bin_dir);
    assert!(!volume.join("stale").exists(), "the volume is replaced by the snapshot");
    let mirror = volume.join("local/team/app.git");
    assert_fsck_clean(&mirror);
    assert_eq!(local_refs(&mirror), ls_remote(up.bare.to_str().unwrap()));

    run_action(&blueprint, "delete", &mut ctx, &bin_dir);
    let snaps = ok(server.restic("kasten", "k10/forge").args(["snapshots", "--json"]));
    assert_eq!(serde_json::from_slice::<Value>(&snaps.stdout).unwrap().as_array().unwrap().len(), 0, "snapshot not deleted");
    ok(server.restic("kasten", "k10/forge").args(["check"]));
}
