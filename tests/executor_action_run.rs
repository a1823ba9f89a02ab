//! The action runner's semantics (Kanister's order of events), driven with the real built-in
//! functions running their commands locally (`local: true`), so no cluster is involved.

mod common;

use common::{blueprint, capture_sink};
use forgesafe::blueprint::executor::{run_action, BuiltinFunctions, RunRequest};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn request(yaml: &str, action: &str, context: serde_json::Value) -> RunRequest {
    let mut req = RunRequest::new(
        blueprint(yaml),
        action,
        context,
        Arc::new(BuiltinFunctions::new().local(true)),
    );
    req.log = capture_sink().0;
    req
}

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
    let outcome = run_action(request(CHAINED, "backup", ctx)).await.unwrap();
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
    let err = run_action(request(&failing_blueprint(dir.path()), "backup", json!({})))
        .await
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
    - {{func: KubeExec, name: slow, args: {{namespace: ns, pod: p, command: [sleep, '30']}}}}
    deferPhase: {{func: KubeExec, name: after, args: {{namespace: ns, pod: p, command: [touch, '{}/defer-ran']}}}}
"#,
        dir.path().display()
    );
    let mut req = request(&yaml, "backup", json!({}));
    req.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = run_action(req).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
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
        run_action(request(yaml, "delete", json!({})))
            .await
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
        run_action(request(yaml, "a", json!({}))).await.unwrap_err()
    );
    assert!(
        text.contains("unknown phase function \"BackupDataAll\""),
        "{text}"
    );
    let text = format!(
        "{:#}",
        run_action(request(yaml, "b", json!({}))).await.unwrap_err()
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
    let mut req = request(yaml, "backup", ctx);
    let (sink, lines) = capture_sink();
    req.log = sink;
    run_action(req).await.unwrap();
    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("pw=***"),
        "the command's stdout is logged, redacted: {log}"
    );
    assert!(log.contains("key=***"), "stderr too: {log}");
    assert!(!log.contains(secret) && !log.contains(key_secret), "{log}");
}
