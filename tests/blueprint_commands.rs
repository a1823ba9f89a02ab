//! The blueprint commands called in-process, as the CLI calls them: options in, output on the
//! sink given (no stdout involved).

mod common;

use common::capture_sink;
use forgesafe::blueprint::commands::{lint_files, render_template, LintOptions, TemplateOptions};
use forgesafe::blueprint::run::{run_async, RunOptions};
use serde_json::json;
use std::path::Path;

const BLUEPRINT: &str = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: inproc}
actions:
  backup:
    outputArtifacts:
      out: {keyValue: {bucket: "{{ .Phases.one.Output.bucket }}", volume: "{{ .Options.volume }}", from: "{{ .ArtifactsIn.out.KeyValue.bucket }}"}}
    phases:
    - func: KubeExec
      name: one
      args:
        namespace: ns
        pod: p
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"bucket\",\"value\":\"{{ .Profile.Location.Bucket }}\"}"']
"####;

#[tokio::test]
async fn blueprint_run_writes_the_artifacts_to_its_sink_and_to_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bp.yaml");
    std::fs::write(&file, BLUEPRINT).unwrap();
    let artifacts_out = tmp.path().join("artifacts.json");
    let options = RunOptions {
        file,
        action: "backup".into(),
        // Lower-case keys, as in a Profile custom resource: templates still see Go's fields.
        profile: Some(r#"{"location": {"type": "local", "path": "/repo", "bucket": "bk"}}"#.into()),
        options: vec!["volume=/data".into()],
        artifacts_in: Some(r#"{"out": {"keyValue": {"bucket": "s1"}}}"#.into()),
        artifacts_out: Some(artifacts_out.clone()),
        local: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let (sink, lines) = capture_sink();
    let outcome = run_async(&options, &mut out, sink).await.unwrap();
    let expected = json!({"out": {"keyValue": {"bucket": "bk", "volume": "/data", "from": "s1"}}});
    assert_eq!(outcome.artifacts, expected);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
        expected
    );
    assert_eq!(
        std::fs::read_to_string(&artifacts_out).unwrap().trim(),
        String::from_utf8(out).unwrap().trim()
    );
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("running locally")));
}

#[tokio::test]
async fn blueprint_run_refuses_a_blueprint_lint_finds_fault_with_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bp.yaml");
    let marker = tmp.path().join("ran");
    std::fs::write(
        &file,
        format!(
            "apiVersion: cr.kanister.io/v1alpha1\nkind: Blueprint\nactions:\n  backup:\n    phases:\n    - func: KubeExec\n      name: x\n      args: {{namespace: ns, pod: p, command: [touch, {}]}}\n    - func: KubeExex\n      name: y\n",
            marker.display()
        ),
    )
    .unwrap();
    let options = RunOptions {
        file,
        action: "backup".into(),
        local: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let e = run_async(&options, &mut out, capture_sink().0)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown phase function \"KubeExex\" (did you mean KubeExec?)"),
        "{e}"
    );
    assert!(out.is_empty() && !marker.exists());
}

#[test]
fn lint_writes_each_finding_to_its_sink_and_fails() {
    let seed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/blueprint/testdata/gickup-blueprint.yaml");
    let mut out = Vec::new();
    let e = lint_files(
        &LintOptions {
            files: vec![seed],
            kind: None,
        },
        &mut out,
    )
    .unwrap_err();
    let report = String::from_utf8(out).unwrap();
    assert!(
        report.contains(":27:3: action \"restore\" has no `phases`"),
        "{report}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{} problem(s) found in 1 blueprint(s)",
            report.lines().count()
        )
    );
}

#[test]
fn template_render_reads_its_template_and_writes_the_result() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx.json");
    std::fs::write(&ctx, json!({"Options": {"name": "forge"}}).to_string()).unwrap();
    let mut out = Vec::new();
    let options = TemplateOptions { context: Some(ctx) };
    render_template(
        &options,
        &mut "{{ .Options.name | upper }}".as_bytes(),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, b"FORGE");
}
