//! ScaleWorkload: set a Deployment's or StatefulSet's replicas through the scale subresource,
//! wait (bounded) until that many are ready, and output the count it had before.

use super::{FunctionEnv, PhaseFunction};
use crate::blueprint::executor::args::{optional_bool, optional_str, required_i64};
use crate::blueprint::executor::log_sink::emit;
use crate::blueprint::executor::phase_call::{Outputs, PhaseCall};
use crate::kube::{self, WorkloadKind};
use anyhow::{anyhow, bail, Result};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::time::Instant;

pub const NAME: &str = "ScaleWorkload";
pub const ARG_NAMESPACE: &str = "namespace";
pub const ARG_NAME: &str = "name";
pub const ARG_KIND: &str = "kind";
pub const ARG_REPLICAS: &str = "replicas";
pub const ARG_WAIT_FOR_READY: &str = "waitForReady";
pub const OUTPUT_ORIGINAL_REPLICA_COUNT: &str = "originalReplicaCount";

/// Kind, name and namespace default to the workload the action is bound to.
pub const FUNCTION: PhaseFunction = PhaseFunction {
    name: NAME,
    required_args: &[ARG_REPLICAS],
    run: Some(run),
};

pub fn run<'a>(env: &'a FunctionEnv, call: &'a PhaseCall<'a>) -> BoxFuture<'a, Result<Outputs>> {
    Box::pin(scale_workload(env, call))
}

async fn scale_workload(env: &FunctionEnv, call: &PhaseCall<'_>) -> Result<Outputs> {
    let (kind, namespace, name) = target(call)?;
    let replicas = i32::try_from(required_i64(call.args, ARG_REPLICAS)?)?;
    if replicas < 0 {
        bail!("argument {ARG_REPLICAS:?} must not be negative, got {replicas}");
    }
    let wait = optional_bool(call.args, ARG_WAIT_FOR_READY)?.unwrap_or(true);
    let cluster = env.cluster().await?;
    let original = kube::replicas(cluster, kind, &namespace, &name)
        .await?
        .wanted;
    emit(
        call.log,
        &format!("scaling {kind:?} {namespace}/{name} from {original} to {replicas} replicas"),
    );
    kube::scale(cluster, kind, &namespace, &name, replicas).await?;
    if wait {
        let deadline = Instant::now() + env.scale_wait;
        loop {
            let now = kube::replicas(cluster, kind, &namespace, &name).await?;
            if now.ready == replicas && now.current == replicas {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "{kind:?} {namespace}/{name}: {} of {replicas} replicas ready after {:?}",
                    now.ready,
                    env.scale_wait
                );
            }
            tokio::time::sleep(env.poll_interval).await;
        }
    }
    Ok(Outputs::from([(
        OUTPUT_ORIGINAL_REPLICA_COUNT.to_string(),
        json!(original),
    )]))
}

/// Kind, namespace and name from the args, each falling back to the object the action is bound
/// to (`.StatefulSet` or `.Deployment` in the context), as Kanister does.
fn target(call: &PhaseCall<'_>) -> Result<(WorkloadKind, String, String)> {
    let bound = [WorkloadKind::StatefulSet, WorkloadKind::Deployment]
        .into_iter()
        .find_map(|k| {
            call.context
                .get(k.kind_name())
                .filter(|v| v.is_object())
                .map(|v| (k, v))
        });
    let from_bound = |field: &str| {
        bound
            .and_then(|(_, v)| v.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let kind = match optional_str(call.args, ARG_KIND)?.filter(|k| !k.is_empty()) {
        Some(k) => WorkloadKind::parse(&k)?,
        None => bound
            .map(|(k, _)| k)
            .ok_or_else(|| anyhow!("no {ARG_KIND:?} argument and no workload bound"))?,
    };
    let name = optional_str(call.args, ARG_NAME)?
        .filter(|n| !n.is_empty())
        .or_else(|| from_bound("Name"))
        .ok_or_else(|| anyhow!("no {ARG_NAME:?} argument and no workload bound"))?;
    let namespace = optional_str(call.args, ARG_NAMESPACE)?
        .filter(|n| !n.is_empty())
        .or_else(|| from_bound("Namespace"))
        .ok_or_else(|| anyhow!("no {ARG_NAMESPACE:?} argument and no workload bound"))?;
    Ok((kind, namespace, name))
}
