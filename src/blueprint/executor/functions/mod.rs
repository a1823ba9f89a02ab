//! The phase functions forgesafe runs itself (one file each, listed in `registry`), and the
//! environment they share (the cluster connection, whether to run commands locally, polling
//! bounds).

mod exec_in_pod;
mod kube_exec;
mod kube_exec_all;
mod kube_task;
mod outputs;
mod pod_override;
mod registry;
mod scale_workload;

pub use registry::{registry, PhaseFunction, Registry};

use super::phase_call::{Outputs, PhaseCall, PhaseFunctions};
use crate::kube::Cluster;
use anyhow::Result;
use futures::future::BoxFuture;
use std::time::Duration;

/// What the phase functions share.
pub struct FunctionEnv {
    cluster: tokio::sync::OnceCell<Cluster>,
    /// Run every exec'd command in this process instead (`local: true`).
    pub run_locally: bool,
    /// Our own pod's name: a command aimed at it runs locally, no API round trip needed.
    pub this_pod: Option<String>,
    /// How often to look at a task pod or a scaling workload.
    pub poll_interval: Duration,
    /// Longest ScaleWorkload waits for the ready replica count to match.
    pub scale_wait: Duration,
}

impl FunctionEnv {
    /// The cluster given at construction, else one from KUBECONFIG / in-cluster config,
    /// connected on first use (a run of local-only phases needs no cluster at all).
    pub async fn cluster(&self) -> Result<&Cluster> {
        self.cluster
            .get_or_try_init(Cluster::from_environment)
            .await
    }

    pub fn runs_locally(&self, pod: &str) -> bool {
        self.run_locally || self.this_pod.as_deref() == Some(pod)
    }
}

/// The production `PhaseFunctions`: looks the function up in the registry and runs it.
pub struct BuiltinFunctions {
    pub env: FunctionEnv,
    registry: Registry,
}

impl BuiltinFunctions {
    /// Cluster from the environment (lazily), this pod from `POD_NAME` or the hostname.
    pub fn new() -> Self {
        BuiltinFunctions {
            env: FunctionEnv {
                cluster: tokio::sync::OnceCell::new(),
                run_locally: false,
                this_pod: this_pod_name(),
                poll_interval: Duration::from_secs(2),
                scale_wait: Duration::from_secs(10 * 60),
            },
            registry: registry(),
        }
    }

    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.env.cluster = tokio::sync::OnceCell::new_with(Some(cluster));
        self
    }

    pub fn local(mut self, run_locally: bool) -> Self {
        self.env.run_locally = run_locally;
        self
    }

    /// Overrides which pod counts as ours (`None`: none, every exec goes through the API).
    pub fn this_pod(mut self, pod: Option<String>) -> Self {
        self.env.this_pod = pod;
        self
    }

    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.env.poll_interval = interval;
        self
    }
}

impl Default for BuiltinFunctions {
    fn default() -> Self {
        Self::new()
    }
}

impl PhaseFunctions for BuiltinFunctions {
    fn run<'a>(&'a self, call: PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>> {
        Box::pin(async move {
            let runner = self.registry.runner(call.func, call.args)?;
            runner(&self.env, &call).await
        })
    }
}

/// `POD_NAME` (set through the downward API), else the hostname, which Kubernetes sets to the
/// pod's name.
fn this_pod_name() -> Option<String> {
    if let Ok(name) = std::env::var("POD_NAME") {
        if !name.is_empty() {
            return Some(name);
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
