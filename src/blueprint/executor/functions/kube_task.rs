//! KubeTask: run a command in a new pod, wait for it, take outputs from its logs, and delete
//! the pod afterwards, also when the phase fails or the action times out.

use super::outputs::outputs_from_stdout;
use super::pod_override;
use super::{FunctionEnv, PhaseFunction};
use crate::blueprint::executor::args::{optional_str, required_list, required_str};
use crate::blueprint::executor::log_sink::emit;
use crate::blueprint::executor::phase_call::{Outputs, PhaseCall};
use crate::command_output::Captured;
use crate::kube::{self, Cluster};
use anyhow::{bail, Result};
use futures::future::BoxFuture;
use serde_json::{json, Value};

pub const NAME: &str = "KubeTask";
pub const ARG_NAMESPACE: &str = "namespace";
pub const ARG_IMAGE: &str = "image";
pub const ARG_COMMAND: &str = "command";
pub const ARG_POD_OVERRIDE: &str = "podOverride";

/// `namespace` is optional: the task then runs in our own namespace.
pub const FUNCTION: PhaseFunction = PhaseFunction {
    name: NAME,
    required_args: &[ARG_IMAGE, ARG_COMMAND],
    run: Some(run),
};

/// Kanister's name prefix for task pods, so they are recognisable in `kubectl get pods`.
const GENERATE_NAME: &str = "kanister-job-";
const CONTAINER_NAME: &str = "container";

pub fn run<'a>(env: &'a FunctionEnv, call: &'a PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>> {
    Box::pin(kube_task(env, call))
}

async fn kube_task(env: &FunctionEnv, call: &PhaseCall<'_>) -> Result<Outputs> {
    let namespace = match optional_str(call.args, ARG_NAMESPACE)?.filter(|n| !n.is_empty()) {
        Some(ns) => ns,
        None => own_namespace(),
    };
    let image = required_str(call.args, ARG_IMAGE)?;
    let command = required_list(call.args, ARG_COMMAND)?;
    let mut spec = json!({
        "restartPolicy": "Never",
        "containers": [{ "name": CONTAINER_NAME, "image": image, "command": command }],
    });
    match call.args.get(ARG_POD_OVERRIDE) {
        None | Some(Value::Null) => {}
        Some(o @ Value::Object(_)) => pod_override::merge(&mut spec, o),
        Some(other) => bail!("argument {ARG_POD_OVERRIDE:?} must be a map, got {other}"),
    }
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "generateName": GENERATE_NAME, "namespace": namespace },
        "spec": spec,
    });

    let cluster = env.cluster().await?;
    let name = kube::create_pod(cluster, &namespace, pod).await?;
    emit(
        call.log,
        &format!(
            "{namespace}/{name}: task pod created for: {}",
            command.join(" ")
        ),
    );
    let mut cleanup = DeleteOnDrop {
        cluster: cluster.clone(),
        namespace: namespace.clone(),
        name: Some(name.clone()),
    };

    let result = wait_and_read(env, cluster, &namespace, &name, call).await;
    cleanup.delete_now().await;
    result
}

async fn wait_and_read(
    env: &FunctionEnv,
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    call: &PhaseCall<'_>,
) -> Result<Outputs> {
    let end = kube::wait_pod_finished(cluster, namespace, name, env.poll_interval).await?;
    let logs = kube::pod_logs(cluster, namespace, name).await?;
    for line in logs.lines() {
        emit(call.log, &format!("{namespace}/{name}: {line}"));
    }
    let captured = Captured {
        stdout: logs,
        stderr: String::new(),
        exit_code: end.exit_code.or(if end.succeeded { Some(0) } else { None }),
        error: (!end.succeeded && end.exit_code.is_none())
            .then(|| format!("pod failed: {}", end.message)),
    };
    let captured = captured.into_result(&format!("task pod {namespace}/{name}"))?;
    // Pod logs interleave stdout and stderr; Kanister parses KubeTask outputs from them as is.
    outputs_from_stdout(&captured.stdout)
}

/// Without a `namespace` argument the task runs in our own namespace (`POD_NAMESPACE`, else the
/// service account's), as Kanister runs it in the controller's; outside a cluster, `default`.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// Deletes the task pod when dropped without `delete_now` (the action timed out and its future
/// was dropped mid-wait), so no pod is left behind.
struct DeleteOnDrop {
    cluster: Cluster,
    namespace: String,
    name: Option<String>,
}

impl DeleteOnDrop {
    async fn delete_now(&mut self) {
        if let Some(name) = self.name.take() {
            if let Err(e) = kube::delete_pod(&self.cluster, &self.namespace, &name).await {
                tracing::warn!("could not delete task pod {}/{name}: {e:#}", self.namespace);
            }
        }
    }
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            let (cluster, namespace) = (self.cluster.clone(), self.namespace.clone());
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = kube::delete_pod(&cluster, &namespace, &name).await {
                        tracing::warn!("could not delete task pod {namespace}/{name}: {e:#}");
                    }
                });
            }
        }
    }
}
