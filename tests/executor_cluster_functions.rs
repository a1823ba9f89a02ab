//! Phase functions and context building against the fake API server (real HTTP and WebSocket on
//! a loopback port, reached through a kubeconfig file), with the real `kube` client.

mod common;

use common::executor::{run_phases, RunSetup};
use common::fake_kube::{running_pod, FakeKube, SECRETS_PRINTING_BLUEPRINT};
use forgesafe::blueprint::context::cluster::read_profile;
use forgesafe::blueprint::context::{build_context, ClusterInputs, ObjectRef};
use forgesafe::blueprint::executor::{BuiltinFunctions, RunOutcome};
use forgesafe::kube::Cluster;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn start() -> (FakeKube, Cluster) {
    let fake = FakeKube::start().await;
    let cluster = Cluster::from_kubeconfig_file(fake.kubeconfig_path())
        .await
        .unwrap();
    (fake, cluster)
}

/// The built-in functions against the fake, polling quickly; `this_pod` is cleared so nothing
/// runs locally.
fn remote(cluster: &Cluster) -> BuiltinFunctions {
    BuiltinFunctions::new()
        .with_cluster(cluster.clone())
        .poll_interval(Duration::from_millis(50))
        .this_pod(None)
}

/// Runs the `backup` action of a blueprint against the fake.
async fn run(cluster: &Cluster, yaml: &str, ctx: Value) -> (anyhow::Result<RunOutcome>, String) {
    run_phases(yaml, "backup", ctx, RunSetup::with(remote(cluster))).await
}

fn pod(ns: &str, name: &str) -> Value {
    running_pod(
        ns,
        name,
        json!({"app": "web"}),
        json!([{"name": "c1", "image": "i"}]),
        json!([]),
    )
}

const REMOTE_EXEC: &str = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeExec
      name: dump
      args:
        namespace: app
        pod: web-0
        container: c1
        command:
        - sh
        - -c
        - |
          echo "log noise ###Phase-output###: {\"key\":\"a\",\"value\":\"from-stdout\"}"
          echo "###Phase-output###: {\"key\":\"b\",\"value\":\"from-stderr\"}" >&2
          big=$(head -c 102400 /dev/zero | tr '\0' x)
          echo "###Phase-output###: {\"key\":\"big\",\"value\":\"$big\"}"
          echo "###Phase-output###: {\"key\":\"a\",\"value\":\"last-wins\"}"
"####;

#[tokio::test]
async fn kube_exec_remote_parses_stdout_only() {
    let (fake, cluster) = start().await;
    fake.put("pods", pod("app", "web-0"));
    let (result, _) = run(&cluster, REMOTE_EXEC, json!({})).await;
    let outcome = result.unwrap();
    let out = &outcome.phases[0].output;
    assert_eq!(out["a"], "last-wins");
    assert!(
        !out.contains_key("b"),
        "a marker on stderr is no output: {:?}",
        out.keys()
    );
    assert_eq!(out["big"].as_str().unwrap().len(), 102400);
    let calls = fake.exec_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].namespace.as_str(), calls[0].pod.as_str()),
        ("app", "web-0")
    );
    assert_eq!(calls[0].container.as_deref(), Some("c1"));
    assert_eq!(calls[0].command[0], "sh");
}

#[tokio::test]
async fn kube_exec_remote_failure_carries_exit_code_and_tails() {
    let (fake, cluster) = start().await;
    fake.put("pods", pod("app", "web-0"));
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - {func: KubeExec, name: bad, args: {namespace: app, pod: web-0, command: [sh, -c, 'echo partial; echo disk full >&2; exit 4']}}
"#;
    let (result, _) = run(&cluster, yaml, json!({})).await;
    let text = format!("{:#}", result.unwrap_err());
    assert!(text.contains("phase \"bad\", function KubeExec"), "{text}");
    assert!(text.contains("exited with code 4"), "{text}");
    assert!(
        text.contains("partial") && text.contains("disk full"),
        "{text}"
    );
}

#[tokio::test]
async fn kube_exec_in_a_missing_pod_names_it() {
    let (_fake, cluster) = start().await;
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - {func: KubeExec, name: nowhere, args: {namespace: app, pod: ghost-0, command: ['true']}}
"#;
    let (result, _) = run(&cluster, yaml, json!({})).await;
    let text = format!("{:#}", result.unwrap_err());
    assert!(
        text.contains("phase \"nowhere\", function KubeExec"),
        "{text}"
    );
    assert!(text.contains("exec in pod app/ghost-0"), "{text}");
}

#[tokio::test]
async fn kube_exec_all_runs_every_pod_in_parallel_and_merges_outputs() {
    let (fake, cluster) = start().await;
    fake.put("pods", pod("app", "web-0"));
    fake.put("pods", pod("app", "web-1"));
    let marks = tempfile::tempdir().unwrap();
    // A barrier: each command marks its start, then waits until both have started, so neither
    // can finish unless both run at once. (Run one after the other, the first would wait for
    // the second in vain and give up: the guard is a hang guard, not a speed claim.)
    let yaml = format!(
        r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeExecAll
      name: all
      args:
        namespace: app
        pods: "{{{{ index .Deployment.Pods 0 }}}} {{{{ index .Deployment.Pods 1 }}}}"
        containers: c1
        command:
        - sh
        - -c
        - |
          echo start >> {marks}/log
          tries=0
          until [ "$(grep -c start {marks}/log)" = 2 ]; do
            tries=$((tries + 1)); [ $tries -lt 1200 ] || {{ echo "the other command never started" >&2; exit 9; }}
            sleep 0.1
          done
          echo end >> {marks}/log
          echo "###Phase-output###: {{\"key\":\"done\",\"value\":\"yes\"}}"
"####,
        marks = marks.path().display()
    );
    let (result, _) = run(
        &cluster,
        &yaml,
        json!({"Deployment": {"Pods": ["web-0", "web-1"]}}),
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(outcome.phases[0].output["done"], "yes");
    let mut pods: Vec<String> = fake.exec_calls().into_iter().map(|c| c.pod).collect();
    pods.sort();
    assert_eq!(pods, ["web-0", "web-1"]);
    let log = std::fs::read_to_string(marks.path().join("log")).unwrap();
    assert_eq!(log, "start\nstart\nend\nend\n", "both commands ran at once");
}

#[tokio::test]
async fn kube_task_runs_a_pod_reads_its_logs_and_deletes_it() {
    let (fake, cluster) = start().await;
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - func: KubeTask
      name: task
      args:
        namespace: jobs
        image: busybox
        podOverride: {containers: [{name: container, imagePullPolicy: IfNotPresent}]}
        command: [sh, -c, 'echo working; echo "###Phase-output###: {\"key\":\"result\",\"value\":\"42\"}"']
    - func: KubeTask
      name: failing
      args: {namespace: jobs, image: busybox, command: [sh, -c, 'echo before failing; exit 2']}
"####;
    let (result, log) = run(&cluster, yaml, json!({})).await;
    let text = format!("{:#}", result.unwrap_err());
    assert!(
        text.contains("phase \"failing\", function KubeTask"),
        "{text}"
    );
    assert!(
        text.contains("exited with code 2") && text.contains("before failing"),
        "{text}"
    );
    assert!(
        log.contains("working"),
        "task logs are streamed to the log: {log}"
    );
    assert!(log.contains("\"key\":\"result\""), "{log}");
    // Both task pods were deleted, the failed one included.
    assert_eq!(fake.deleted_pods().len(), 2, "{:?}", fake.deleted_pods());
    assert!(fake.pod_names("jobs").is_empty());
}

#[tokio::test]
async fn kube_task_outputs_come_from_the_logs() {
    let (fake, cluster) = start().await;
    let yaml = r####"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    outputArtifacts:
      out: {keyValue: {result: "{{ .Phases.task.Output.result }}"}}
    phases:
    - func: KubeTask
      name: task
      args:
        namespace: jobs
        image: busybox
        command: [sh, -c, 'echo "###Phase-output###: {\"key\":\"result\",\"value\":\"42\"}"']
"####;
    let (result, _) = run(&cluster, yaml, json!({})).await;
    let outcome = result.unwrap();
    assert_eq!(
        outcome.artifacts,
        json!({"out": {"keyValue": {"result": "42"}}})
    );
    assert_eq!(fake.deleted_pods().len(), 1);
}

#[tokio::test]
async fn scale_workload_outputs_the_original_count_and_waits_for_ready() {
    let (fake, cluster) = start().await;
    fake.put(
        "deployments",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {}},
               "status": {"replicas": 2, "readyReplicas": 2}}),
    );
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - {func: ScaleWorkload, name: down, args: {replicas: "0"}}
    - {func: KubeExec, name: check, args: {namespace: ns, pod: p, command: ['true']}}
    deferPhase:
      func: ScaleWorkload
      name: up
      args:
        namespace: "{{ .Deployment.Namespace }}"
        name: "{{ .Deployment.Name }}"
        kind: deployment
        replicas: "{{ .Phases.down.Output.originalReplicaCount }}"
"#;
    let ctx = json!({"Deployment": {"Name": "web", "Namespace": "app"}});
    let started = Instant::now();
    let setup = RunSetup::with(remote(&cluster).local(true));
    let outcome = run_phases(yaml, "backup", ctx, setup).await.0.unwrap();
    assert_eq!(outcome.phases[0].output["originalReplicaCount"], json!(2));
    assert_eq!(outcome.phases[2].name, "up");
    assert_eq!(outcome.phases[2].output["originalReplicaCount"], json!(0));
    // Each scale waited for the fake's delayed readiness.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    let web = fake.get("deployments", "app", "web").unwrap();
    assert_eq!(web["spec"]["replicas"], 2);
}

#[tokio::test]
async fn a_timed_out_kube_task_still_deletes_its_pod() {
    let (fake, cluster) = start().await;
    let yaml = r#"
apiVersion: cr.kanister.io/v1alpha1
kind: Blueprint
actions:
  backup:
    phases:
    - {func: KubeTask, name: slow, args: {namespace: jobs, image: busybox, command: [sleep, '30']}}
"#;
    let setup = RunSetup::with(remote(&cluster)).timeout(Duration::from_millis(700));
    let text = format!(
        "{:#}",
        run_phases(yaml, "backup", json!({}), setup)
            .await
            .0
            .unwrap_err()
    );
    assert!(
        text.contains("timed out after 700ms in phase \"slow\" (KubeTask)"),
        "{text}"
    );
    // The delete is sent from a background task once the phase's future is dropped. The wait is
    // a hang guard (a minute for what takes milliseconds), not a speed claim.
    for _ in 0..1200 {
        if !fake.deleted_pods().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.deleted_pods().len(), 1);
    assert!(fake.pod_names("jobs").is_empty());
}

async fn context(fake: &FakeKube, cluster: &Cluster) -> Value {
    fake.seed_workload();
    let object = ObjectRef {
        kind: "Deployment".into(),
        namespace: "app".into(),
        name: "web".into(),
    };
    let wanted = ClusterInputs {
        secret_names: &["s".to_string()],
        config_map_names: &["cfg".to_string()],
    };
    let mut ctx = build_context(cluster, &object, &wanted).await.unwrap();
    ctx["Profile"] = read_profile(cluster, "kanister", "store").await.unwrap();
    ctx
}

#[tokio::test]
async fn build_context_gives_kanisters_parameters() {
    use forgesafe::blueprint::template::render;
    let (fake, cluster) = start().await;
    let ctx = context(&fake, &cluster).await;
    assert_eq!(
        ctx["Deployment"],
        json!({"Name": "web", "Namespace": "app", "Pods": ["web-a", "web-b"],
               "Containers": [["app", "sidecar"], ["app", "sidecar"]],
               "PersistentVolumeClaims": {"web-a": {"web-data": "/data"}, "web-b": {"web-data": "/data"}}})
    );
    assert_eq!(ctx["Object"]["metadata"]["name"], "web");
    assert_eq!(ctx["Namespace"]["Name"], "app");
    assert_eq!(
        render("{{ .Secrets.s.Data.k | toString }}", &ctx).unwrap(),
        "s3cr3t-from-cluster"
    );
    assert_eq!(
        render("{{ .ConfigMaps.cfg.Data.mode }}", &ctx).unwrap(),
        "full"
    );
    assert_eq!(
        render("{{ toJson .Profile }}", &ctx).unwrap(),
        r#"{"Location":{"type":"s3Compliant","bucket":"bk","endpoint":"http://minio:9000","prefix":"pre","region":"us-east-1"},"Credential":{"Type":"keyPair","KeyPair":{"ID":"AKIAFAKE123","Secret":"store-secret-key-456"},"Secret":null,"KopiaServerSecret":null},"SkipSSLVerify":false}"#
    );
}

#[tokio::test]
async fn secrets_read_from_the_cluster_are_redacted_in_remote_exec_logs() {
    let (fake, cluster) = start().await;
    let ctx = context(&fake, &cluster).await;
    let (result, log) = run(&cluster, SECRETS_PRINTING_BLUEPRINT, ctx).await;
    result.unwrap();
    assert_eq!(fake.exec_calls().len(), 1, "ran through the API server");
    assert!(log.contains("pw ***") && log.contains("key ***"), "{log}");
    assert!(
        !log.contains("s3cr3t-from-cluster") && !log.contains("store-secret-key-456"),
        "{log}"
    );
}

#[tokio::test]
async fn build_context_binds_a_stateful_set_under_its_own_name() {
    let (fake, cluster) = start().await;
    fake.put(
        "statefulsets",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "app"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}, "serviceName": "db", "template": {}}}),
    );
    fake.seed_workload(); // its pod db-0 (app: db) is the stateful set's
    let object = ObjectRef {
        kind: "StatefulSet".into(),
        namespace: "app".into(),
        name: "db".into(),
    };
    let ctx = build_context(&cluster, &object, &ClusterInputs::default())
        .await
        .unwrap();
    assert_eq!(ctx["StatefulSet"]["Pods"], json!(["db-0"]));
    assert_eq!(ctx["StatefulSet"]["Containers"], json!([["db"]]));
    assert!(ctx.get("Deployment").is_none() && ctx.get("Profile").is_none());
}
