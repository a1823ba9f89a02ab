//! The action runner's semantics (Kanister's order of events), driven with the real built-in
//! functions running their commands locally (`local: true`), so no cluster is involved.

mod common;

use common::executor::{run_phases, RunSetup};
use serde_json::json;
use std::time::Duration;

const CHAINED: &str = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
metadata: {name: chained}
actions:
  backup:
    outputArtifacts:
      cloud:
        keyValue: {snap: "{{ .Phases.two.Output.snap }}"}
        kopiaSnapshot: "{{ .Phases.two.Output.snap }}"
    phases:
    - func: KubeExec
      name: one
      args:
        namespace: "{{ .Deployment.Namespace }}"
        pod: "{{ index .Deployment.Pods 0 }}"
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"path\",\"value\":\"/backups/{{ .Options.id }}\"}"; echo "###Phase-output###: {\"key\":\"time\",\"value\":\"{{ .Time }}\"}"']
    - func: KubeExec
      name: two
      args:
        namespace: ns
        pod: p
        command: [sh, -c, 'sleep 0.05; echo "###Phase-output###: {\"key\":\"snap\",\"value\":\"snap-of-{{ .Phases.one.Output.path }}\"}"; echo "###Phase-output###: {\"key\":\"time\",\"value\":\"{{ .Time }}\"}"; echo "###Phase-output###: {\"key\":\"current\",\"value\":\"{{ .CurrentPhase.Name }}\"}"']
"####;

#[tokio::test]
async fn later_phases_and_artifacts_read_earlier_outputs() {
    let ctx = json!({"Deployment": {"Namespace": "ns", "Pods": ["p"]}, "Options": {"id": "42"}});
    let outcome = run_phases(CHAINED, "backup", ctx, RunSetup::local())
        .await
        .0
        .unwrap();
    let names: Vec<&str> = outcome.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    assert_eq!(outcome.phases[1].output["snap"], "snap-of-/backups/42");
    assert_eq!(outcome.phases[1].output["current"], "two");
    // .Time is fixed once per action: both phases saw the same instant.
    assert_eq!(
        outcome.phases[0].output["time"],
        outcome.phases[1].output["time"]
    );
    assert!(outcome.phases[0].output["time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(
        outcome.artifacts,
        json!({"cloud": {"keyValue": {"snap": "snap-of-/backups/42"}, "kopiaSnapshot": "snap-of-/backups/42"}})
    );
}

fn failing_blueprint(dir: &std::path::Path) -> String {
    format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    outputArtifacts:
      never: {{keyValue: {{k: "{{{{ .Phases.second.Output.k }}}}"}}}}
    phases:
    - func: KubeExec
      name: first
      args:
        namespace: ns
        pod: p
        command: [sh, -c, 'for i in $(seq 1 15); do echo line$i; done; echo oops >&2; exit 3']
    - func: KubeExec
      name: second
      args: {{namespace: ns, pod: p, command: [touch, "{dir}/second-ran"]}}
    deferPhase:
      func: KubeExec
      name: cleanup
      args: {{namespace: ns, pod: p, command: [touch, "{dir}/defer-ran"]}}
"#,
        dir = dir.display()
    )
}

#[tokio::test]
async fn a_failing_phase_stops_the_rest_but_the_defer_phase_runs() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_phases(
        &failing_blueprint(dir.path()),
        "backup",
        json!({}),
        RunSetup::local(),
    )
    .await
    .0
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("action \"backup\", phase \"first\", function KubeExec"),
        "{text}"
    );
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(
        text.contains("line6\nline7") && text.contains("line15"),
        "{text}"
    );
    assert!(!text.contains("line5\n"), "only the last 10 lines: {text}");
    assert!(text.contains("oops"), "stderr tail: {text}");
    assert!(!dir.path().join("second-ran").exists());
    assert!(dir.path().join("defer-ran").exists());
}

#[tokio::test]
async fn a_timeout_stops_the_action_and_still_runs_the_defer_phase() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - {{func: KubeExec, name: slow, args: {{namespace: ns, pod: p, command: [sh, -c, 'sleep 30; touch {dir}/slow-ended']}}}}
    deferPhase: {{func: KubeExec, name: after, args: {{namespace: ns, pod: p, command: [touch, '{dir}/defer-ran']}}}}
"#,
        dir = dir.path().display()
    );
    let setup = RunSetup::local().timeout(Duration::from_millis(500));
    let err = run_phases(&yaml, "backup", json!({}), setup)
        .await
        .0
        .unwrap_err();
    // The action returned while the slow command was still running: it did not wait for it.
    assert!(
        !dir.path().join("slow-ended").exists(),
        "the action waited for the slow command"
    );
    let text = format!("{err:#}");
    assert!(
        text.contains("timed out after 500ms in phase \"slow\" (KubeExec)"),
        "{text}"
    );
    assert!(dir.path().join("defer-ran").exists());
}

#[tokio::test]
async fn a_failing_defer_phase_is_reported() {
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  delete:
    phases:
    - {func: KubeExec, name: ok, args: {namespace: ns, pod: p, command: ['true']}}
    deferPhase: {func: KubeExec, name: bad, args: {namespace: ns, pod: p, command: [sh, -c, 'exit 5']}}
"#;
    let text = format!(
        "{:#}",
        run_phases(yaml, "delete", json!({}), RunSetup::local())
            .await
            .0
            .unwrap_err()
    );
    assert!(text.contains("deferPhase failed"), "{text}");
    assert!(
        text.contains("phase \"bad\"") && text.contains("exited with code 5"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_functions_and_missing_args_are_named() {
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  a:
    phases:
    - {func: BackupDataAll, name: x, args: {}}
  b:
    phases:
    - {func: KubeExec, name: y, args: {namespace: ns, command: ['true']}}
"#;
    let text = format!(
        "{:#}",
        run_phases(yaml, "a", json!({}), RunSetup::local())
            .await
            .0
            .unwrap_err()
    );
    assert!(
        text.contains("unknown phase function \"BackupDataAll\""),
        "{text}"
    );
    let text = format!(
        "{:#}",
        run_phases(yaml, "b", json!({}), RunSetup::local())
            .await
            .0
            .unwrap_err()
    );
    assert!(
        text.contains("phase \"y\", function KubeExec")
            && text.contains("missing required argument \"pod\""),
        "{text}"
    );
}

#[tokio::test]
async fn secrets_from_the_context_never_reach_the_log() {
    use base64::Engine;
    let secret = "hunter2-correct-horse";
    let key_secret = "profile-secret-key-9";
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeExec
      name: leak
      args:
        namespace: ns
        pod: p
        command: [sh, -c, 'echo "pw={{ .Secrets.db.Data.password | toString }}"; echo "key={{ .Profile.Credential.KeyPair.Secret }}" >&2']
"####;
    let ctx = json!({
        "Secrets": {"db": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "ns"},
                           "data": {"password": base64::engine::general_purpose::STANDARD.encode(secret)}}},
        "Profile": {"Location": {"type": "s3Compliant", "bucket": "b"},
                    "Credential": {"Type": "keyPair", "KeyPair": {"ID": "id", "Secret": key_secret}}}
    });
    let (result, log) = run_phases(yaml, "backup", ctx, RunSetup::local()).await;
    result.unwrap();
    assert!(
        log.contains("pw=***"),
        "the command's stdout is logged, redacted: {log}"
    );
    assert!(log.contains("key=***"), "stderr too: {log}");
    assert!(!log.contains(secret) && !log.contains(key_secret), "{log}");
}
