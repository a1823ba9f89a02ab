//! Configuration from the environment, as a sidecar gets it: a KubeExec aimed at our own pod
//! (POD_NAME) runs in the forgesafe process itself, and the cluster client comes from KUBECONFIG.
//! The variables are set on the forgesafe child process, never on this test process, so tests
//! running at the same time cannot see each other's.

mod common;

use common::fake_kube::{running_pod, FakeKube};
use common::{forgesafe, stderr};
use serde_json::{json, Value};
use std::process::Output;

/// `forgesafe blueprint run` of the `backup` action of `yaml` with `env`, on a blocking thread so
/// the fake keeps answering meanwhile. Returns the output and the child's process id.
async fn blueprint_run(yaml: &str, env: &[(&str, &str)]) -> (Output, u32) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bp.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut cmd = forgesafe();
    cmd.args(["blueprint", "run"])
        .arg(&file)
        .args(["--action", "backup"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || {
        let child = cmd.spawn().expect("cannot start forgesafe");
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        drop(dir);
        assert!(
            out.status.success(),
            "blueprint run failed:\n{}",
            stderr(&out)
        );
        (out, pid)
    })
    .await
    .unwrap()
}

fn artifacts(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("blueprint run prints the artifacts as JSON")
}

#[tokio::test]
async fn kube_exec_on_our_own_pod_runs_locally() {
    let fake = FakeKube::start().await;
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    outputArtifacts:
      here: {keyValue: {pid: "{{ .Phases.here.Output.pid }}"}}
    phases:
    - func: KubeExec
      name: here
      args:
        namespace: app
        pod: forgesafe-sidecar-0
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"pid\",\"value\":\"$PPID\"}"']
"####;
    let kubeconfig = fake.kubeconfig_path().to_str().unwrap().to_string();
    let env = [
        ("POD_NAME", "forgesafe-sidecar-0"),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    let (out, pid) = blueprint_run(yaml, &env).await;
    // The command's parent is the forgesafe process: it ran there.
    assert_eq!(artifacts(&out)["here"]["keyValue"]["pid"], pid.to_string());
    assert!(
        fake.exec_calls().is_empty(),
        "no exec reached the API server"
    );
    assert!(stderr(&out).contains("running locally"), "{}", stderr(&out));
}

#[tokio::test]
async fn without_a_cluster_given_the_client_comes_from_kubeconfig() {
    let fake = FakeKube::start().await;
    fake.put(
        "pods",
        running_pod(
            "app",
            "web-0",
            json!({}),
            json!([{"name": "c", "image": "i"}]),
            json!([]),
        ),
    );
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    outputArtifacts:
      remote: {keyValue: {ok: "{{ .Phases.remote.Output.ok }}"}}
    phases:
    - func: KubeExec
      name: remote
      args:
        namespace: app
        pod: web-0
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"ok\",\"value\":\"yes\"}"']
"####;
    let kubeconfig = fake.kubeconfig_path().to_str().unwrap().to_string();
    let env = [
        ("POD_NAME", "forgesafe-sidecar-0"),
        ("KUBECONFIG", kubeconfig.as_str()),
    ];
    let (out, _) = blueprint_run(yaml, &env).await;
    assert_eq!(artifacts(&out)["remote"]["keyValue"]["ok"], "yes");
    assert_eq!(fake.exec_calls().len(), 1);
}
