//! Configuration from the environment: a KubeExec aimed at our own pod (POD_NAME) runs in this
//! process, and without an explicit cluster the client comes from KUBECONFIG.
//! Its own test binary, because it sets process-wide environment variables.

mod common;

use common::fake_kube::FakeKube;
use common::{blueprint, capture_sink};
use forgesafe::blueprint::executor::{run_action, BuiltinFunctions, RunRequest};
use forgesafe::kube::Cluster;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn kube_exec_on_our_own_pod_runs_locally() {
    std::env::set_var("POD_NAME", "forgesafe-sidecar-0");
    let fake = FakeKube::start().await;
    let cluster = Cluster::from_kubeconfig_file(fake.kubeconfig_path())
        .await
        .unwrap();
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeExec
      name: here
      args:
        namespace: app
        pod: forgesafe-sidecar-0
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"pid\",\"value\":\"$PPID\"}"']
"####;
    let functions = BuiltinFunctions::new().with_cluster(cluster);
    let mut req = RunRequest::new(blueprint(yaml), "backup", json!({}), Arc::new(functions));
    let (sink, lines) = capture_sink();
    req.log = sink;
    let outcome = run_action(req).await.unwrap();
    // The command's parent is this test process: it ran here.
    assert_eq!(
        outcome.phases[0].output["pid"],
        std::process::id().to_string()
    );
    assert!(
        fake.exec_calls().is_empty(),
        "no exec reached the API server"
    );
    assert!(lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("running locally")));
}

#[tokio::test]
async fn without_a_cluster_given_the_client_comes_from_kubeconfig() {
    std::env::set_var("POD_NAME", "forgesafe-sidecar-0");
    let fake = FakeKube::start().await;
    fake.put(
        "pods",
        common::fake_kube::running_pod(
            "app",
            "web-0",
            json!({}),
            json!([{"name": "c", "image": "i"}]),
            json!([]),
        ),
    );
    std::env::set_var("KUBECONFIG", fake.kubeconfig_path());
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeExec
      name: remote
      args:
        namespace: app
        pod: web-0
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"ok\",\"value\":\"yes\"}"']
"####;
    let mut req = RunRequest::new(
        blueprint(yaml),
        "backup",
        json!({}),
        Arc::new(BuiltinFunctions::new()),
    );
    req.log = capture_sink().0;
    let outcome = run_action(req).await.unwrap();
    assert_eq!(outcome.phases[0].output["ok"], "yes");
    assert_eq!(fake.exec_calls().len(), 1);
}
