//! Everything forgesafe asks of the Kubernetes API, and the only user of the `kube` crate:
//! a client from kubeconfig or in-cluster config, exec with captured and streamed output,
//! task pods, the scale subresource, and reading the objects a template context is built from.
//!
//! Callers see plain JSON and small structs, never kube or k8s-openapi types, so the crate can be
//! upgraded in this one file.

use crate::command_output::{read_lines, Captured};
pub use crate::command_output::{OnLine, StreamKind};
use ::kube::api::{
    Api, AttachParams, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams,
    PostParams,
};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::core::{ApiResource, GroupVersionKind};
use ::kube::{Client, Config};
use anyhow::{anyhow, bail, Context as _, Result};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A connection to one cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
}

impl Cluster {
    /// `KUBECONFIG` (or `~/.kube/config`), else the in-cluster service account.
    pub async fn from_environment() -> Result<Cluster> {
        install_crypto_provider();
        let client = Client::try_default()
            .await
            .context("no Kubernetes client configuration (set KUBECONFIG, or run in a pod)")?;
        Ok(Cluster { client })
    }

    /// The current context of the kubeconfig file at `path`.
    pub async fn from_kubeconfig_file(path: &Path) -> Result<Cluster> {
        install_crypto_provider();
        let kubeconfig = Kubeconfig::read_from(path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("using kubeconfig {}", path.display()))?;
        Ok(Cluster {
            client: Client::try_from(config)?,
        })
    }
}

/// Both rustls providers are compiled in (dependencies ask for ring, we for aws-lc-rs), and
/// rustls then refuses to pick one: name it before the first connection. Idempotent.
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

// ---------------------------------------------------------------------------------------------
// exec

/// Runs `command` in `pod` through the `exec` subresource (WebSocket, v4/v5 channel protocol).
/// The exit code comes from the status channel (0 on `Success`, N for a `Failure` whose cause is
/// `ExitCode` N); a `Failure` without one (the container does not exist) becomes the error.
pub async fn exec(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    on_line: OnLine<'_>,
) -> Result<Captured> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let mut params = AttachParams::default()
        .stdin(false)
        .stdout(true)
        .stderr(true);
    if let Some(c) = container {
        params = params.container(c);
    }
    let mut attached = pods
        .exec(pod, command.to_vec(), &params)
        .await
        .with_context(|| format!("exec in pod {namespace}/{pod}"))?;
    let stdout = attached.stdout().expect("stdout requested");
    let stderr = attached.stderr().expect("stderr requested");
    let status = attached.take_status().expect("status taken once");
    // If this future is dropped (the action timed out), close the WebSocket instead of leaving
    // kube's background task reading it until the remote command ends.
    let mut attached = AbortOnDrop(Some(attached));
    // Both streams must be drained while the command runs, or its output would block it.
    let (out, err, status) = tokio::join!(
        read_lines(stdout, StreamKind::Stdout, on_line),
        read_lines(stderr, StreamKind::Stderr, on_line),
        status
    );
    let attached = attached.0.take().expect("still attached");
    attached
        .join()
        .await
        .with_context(|| format!("exec stream of pod {namespace}/{pod}"))?;
    let mut result = Captured {
        stdout: out?,
        stderr: err?,
        ..Default::default()
    };
    match status {
        None => result.error = Some("the exec stream ended without an exit status".into()),
        Some(s) if s.status.as_deref() == Some("Success") => result.exit_code = Some(0),
        Some(s) => {
            let code = s.details.as_ref().and_then(|d| {
                d.causes
                    .iter()
                    .flatten()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
                    .and_then(|c| c.message.as_deref()?.parse().ok())
            });
            match code {
                Some(code) => result.exit_code = Some(code),
                None => {
                    result.error = Some(format!("exec failed: {}", s.message.unwrap_or_default()))
                }
            }
        }
    }
    Ok(result)
}

struct AbortOnDrop(Option<::kube::api::AttachedProcess>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(attached) = &self.0 {
            attached.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// task pods (KubeTask)

/// How a pod ended.
#[derive(Debug, Clone)]
pub struct PodEnd {
    pub succeeded: bool,
    pub exit_code: Option<i32>,
    pub message: String,
}

/// Creates `pod` (JSON; `metadata.generateName` allowed) and returns the name it got.
pub async fn create_pod(cluster: &Cluster, namespace: &str, pod: Value) -> Result<String> {
    let pod: Pod = serde_json::from_value(pod).context("the task pod is not a valid Pod")?;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating a pod in namespace {namespace}"))?;
    created
        .metadata
        .name
        .ok_or_else(|| anyhow!("the API server returned a pod without a name"))
}

/// Polls until the pod is `Succeeded` or `Failed`. (Polling rather than a watch: one GET per
/// interval is plenty for pods that run for minutes, and works through any proxy.)
pub async fn wait_pod_finished(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    interval: Duration,
) -> Result<PodEnd> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    loop {
        let pod = pods
            .get(name)
            .await
            .with_context(|| format!("reading pod {namespace}/{name}"))?;
        let status = pod.status.unwrap_or_default();
        let phase = status.phase.unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            let terminated = status
                .container_statuses
                .unwrap_or_default()
                .into_iter()
                .find_map(|c| c.state.and_then(|s| s.terminated));
            return Ok(PodEnd {
                succeeded: phase == "Succeeded",
                exit_code: terminated.as_ref().map(|t| t.exit_code),
                message: status
                    .message
                    .or_else(|| terminated.and_then(|t| t.message))
                    .unwrap_or_default(),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

pub async fn pod_logs(cluster: &Cluster, namespace: &str, name: &str) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    pods.logs(name, &LogParams::default())
        .await
        .with_context(|| format!("reading the logs of pod {namespace}/{name}"))
}

pub async fn delete_pod(cluster: &Cluster, namespace: &str, name: &str) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    pods.delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting pod {namespace}/{name}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// workloads and the scale subresource (ScaleWorkload)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    /// Accepts Kanister's spellings (`deployment`, `Deployment`, `statefulset`, …).
    pub fn parse(kind: &str) -> Result<WorkloadKind> {
        match kind.to_ascii_lowercase().as_str() {
            "deployment" | "deployments" => Ok(WorkloadKind::Deployment),
            "statefulset" | "statefulsets" => Ok(WorkloadKind::StatefulSet),
            _ => bail!("unsupported workload kind {kind:?} (use deployment or statefulset)"),
        }
    }

    /// The kind as Kubernetes spells it (also the name of Kanister's template parameter for it,
    /// `.Deployment`, `.StatefulSet`).
    pub fn kind_name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// Replica counts of a workload: wanted (`spec.replicas`) and ready (`status.readyReplicas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    pub wanted: i32,
    pub current: i32,
    pub ready: i32,
}

pub async fn replicas(
    cluster: &Cluster,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> Result<Replicas> {
    let object = get_workload(cluster, kind, namespace, name).await?;
    let int = |v: &Value| v.as_i64().unwrap_or(0) as i32;
    Ok(Replicas {
        // An unset spec.replicas means 1 (the API server's default).
        wanted: object["spec"]["replicas"]
            .as_i64()
            .map(|n| n as i32)
            .unwrap_or(1),
        current: int(&object["status"]["replicas"]),
        ready: int(&object["status"]["readyReplicas"]),
    })
}

/// Sets the replica count through the `scale` subresource (what `kubectl scale` does).
pub async fn scale(
    cluster: &Cluster,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    replicas: i32,
) -> Result<()> {
    let patch = Patch::Merge(json!({ "spec": { "replicas": replicas } }));
    let params = PatchParams::default();
    let result = match kind {
        WorkloadKind::Deployment => {
            Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
                .patch_scale(name, &params, &patch)
                .await
        }
        WorkloadKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(cluster.client.clone(), namespace)
                .patch_scale(name, &params, &patch)
                .await
        }
    };
    result.with_context(|| format!("scaling {kind:?} {namespace}/{name} to {replicas}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// reading objects (for the template context)

/// A Deployment or StatefulSet as Kubernetes JSON.
pub async fn get_workload(
    cluster: &Cluster,
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
) -> Result<Value> {
    let what = || format!("reading {kind:?} {namespace}/{name}");
    Ok(match kind {
        WorkloadKind::Deployment => serde_json::to_value(
            Api::<Deployment>::namespaced(cluster.client.clone(), namespace)
                .get(name)
                .await
                .with_context(what)?,
        )?,
        WorkloadKind::StatefulSet => serde_json::to_value(
            Api::<StatefulSet>::namespaced(cluster.client.clone(), namespace)
                .get(name)
                .await
                .with_context(what)?,
        )?,
    })
}

/// The pods of `namespace` that match `label_selector` (`k=v,k2=v2`), as Kubernetes JSON.
pub async fn list_pods(
    cluster: &Cluster,
    namespace: &str,
    label_selector: &str,
) -> Result<Vec<Value>> {
    let pods = Api::<Pod>::namespaced(cluster.client.clone(), namespace)
        .list(&ListParams::default().labels(label_selector))
        .await?;
    pods.items
        .into_iter()
        .map(|p| Ok(serde_json::to_value(p)?))
        .collect()
}

pub async fn get_secret(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value> {
    get_namespaced::<Secret>(cluster, namespace, name).await
}

pub async fn get_config_map(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value> {
    get_namespaced::<ConfigMap>(cluster, namespace, name).await
}

/// One namespaced object of a built-in kind, as Kubernetes JSON.
async fn get_namespaced<K>(cluster: &Cluster, namespace: &str, name: &str) -> Result<Value>
where
    K: ::kube::Resource<Scope = ::kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
{
    let object = Api::<K>::namespaced(cluster.client.clone(), namespace)
        .get(name)
        .await
        .with_context(|| format!("reading {} {namespace}/{name}", K::kind(&())))?;
    Ok(serde_json::to_value(object)?)
}

/// Which custom resource to read: its API group, version, kind and plural name.
#[derive(Debug, Clone, Copy)]
pub struct CustomResourceType<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub plural: &'a str,
}

/// A namespaced custom resource as JSON (`apiVersion`, `kind`, `metadata` and its own fields).
pub async fn get_custom_resource(
    cluster: &Cluster,
    resource_type: CustomResourceType<'_>,
    namespace: &str,
    name: &str,
) -> Result<Value> {
    let gvk = GroupVersionKind::gvk(
        resource_type.group,
        resource_type.version,
        resource_type.kind,
    );
    let resource = ApiResource::from_gvk_with_plural(&gvk, resource_type.plural);
    let object =
        Api::<DynamicObject>::namespaced_with(cluster.client.clone(), namespace, &resource)
            .get(name)
            .await
            .with_context(|| format!("reading {} {namespace}/{name}", resource_type.kind))?;
    Ok(serde_json::to_value(object)?)
}
